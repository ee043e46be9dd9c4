// Reading a B+tree: page access for one snapshot (plus a write transaction's
// dirty pages), key search, overflow chains, and a cursor path. Every page
// number, offset and length read from the file is bounds-checked, and every
// descent is depth-limited, so a damaged file gives Corruption, never a crash.
// Not thread-safe; a snapshot's Pages may be copied freely.
#ifndef MANIFOLD_ENGINES_BTREE_TREE_H_
#define MANIFOLD_ENGINES_BTREE_TREE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "btree/format.h"
#include "manifold/engine.h"

namespace manifold::btree {

// A page written by the current write transaction, not yet in the file.
struct DirtyPage {
  uint64_t gen = 0;  // savepoint epoch of its last copy (see Mutator)
  std::unique_ptr<uint8_t[]> data;
};
using DirtyMap = std::unordered_map<uint64_t, DirtyPage>;

// The pages that logged commits wrote since the last checkpoint: they live
// here, in memory, until the checkpoint writes them to the file (FORMAT.md,
// "The commit log"). The writer adds pages; readers look them up without a
// lock. A page number is reused only when no open snapshot uses the page
// it held, so replacing (and freeing) that page cannot pull it from under
// a reader. Page numbers are below capacity(), fixed at creation.
class Overlay {
 public:
  static constexpr uint64_t kChunk = 512;

  explicit Overlay(uint64_t capacity)
      : capacity_(capacity),
        chunks_(std::make_unique<std::atomic<Chunk*>[]>((capacity + kChunk - 1) / kChunk)) {}
  Overlay(const Overlay&) = delete;
  Overlay& operator=(const Overlay&) = delete;
  ~Overlay() {
    for (uint64_t c = 0; c < (capacity_ + kChunk - 1) / kChunk; ++c) {
      Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
      if (chunk == nullptr) continue;
      for (auto& page : chunk->pages) delete[] page.load(std::memory_order_relaxed);
      delete chunk;
    }
  }

  uint64_t capacity() const { return capacity_; }
  size_t size() const { return size_; }

  const uint8_t* Get(uint64_t pgno) const {
    if (pgno >= capacity_) return nullptr;
    const Chunk* chunk = chunks_[pgno / kChunk].load(std::memory_order_acquire);
    return chunk == nullptr ? nullptr : chunk->pages[pgno % kChunk].load(std::memory_order_acquire);
  }

  // Writer only: makes room for page `pgno` (< capacity()), so that Put of
  // it cannot throw.
  void Reserve(uint64_t pgno) {
    std::atomic<Chunk*>& slot = chunks_[pgno / kChunk];
    if (slot.load(std::memory_order_relaxed) == nullptr) {
      slot.store(new Chunk(), std::memory_order_release);
    }
  }

  // Writer only: takes `page` as page `pgno` (reserved), freeing the one it replaces.
  void Put(uint64_t pgno, std::unique_ptr<uint8_t[]> page) {
    Reserve(pgno);
    Chunk* chunk = chunks_[pgno / kChunk].load(std::memory_order_relaxed);
    const uint8_t* old =
        chunk->pages[pgno % kChunk].exchange(page.release(), std::memory_order_acq_rel);
    if (old == nullptr) ++size_;
    delete[] old;
  }

  // Writer only: calls f(pgno, page) for every page, in page number order.
  template <typename F>
  void ForEach(F f) const {
    for (uint64_t c = 0; c < (capacity_ + kChunk - 1) / kChunk; ++c) {
      const Chunk* chunk = chunks_[c].load(std::memory_order_relaxed);
      if (chunk == nullptr) continue;
      for (uint64_t i = 0; i < kChunk; ++i) {
        const uint8_t* page = chunk->pages[i].load(std::memory_order_relaxed);
        if (page != nullptr) f(c * kChunk + i, page);
      }
    }
  }

 private:
  struct Chunk {
    std::atomic<const uint8_t*> pages[kChunk] = {};
  };
  const uint64_t capacity_;
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  size_t size_ = 0;
};

// The pages one reader sees.
struct Pages {
  const uint8_t* base = nullptr;  // the mapping of the file
  uint64_t mapped_pages = 0;      // pages inside the mapping
  uint64_t page_count = 0;        // pages of the snapshot (meta page_count)
  uint32_t page_size = kDefaultPageSize;
  bool verify_checksums = false;
  const DirtyMap* dirty = nullptr;
  const Overlay* overlay = nullptr;  // pages logged commits have not written yet

  // Returns the page, or nullptr when `pgno` is outside the snapshot or (with
  // verify_checksums) its checksum fails.
  const uint8_t* Get(uint64_t pgno) const {
    if (dirty != nullptr && !dirty->empty()) {
      auto it = dirty->find(pgno);
      if (it != dirty->end()) return it->second.data.get();
    }
    if (pgno < 2 || pgno >= page_count) return nullptr;
    const uint8_t* page = overlay != nullptr ? overlay->Get(pgno) : nullptr;
    if (page == nullptr) {
      if (pgno >= mapped_pages) return nullptr;
      page = base + pgno * page_size;
    }
    if (verify_checksums && !PageChecksumHolds(page, pgno, page_size)) return nullptr;
    return page;
  }
};

Status BadPage(uint64_t pgno, std::string_view what);

// Returns the node page `pgno` after checking its type and slot array.
Result<const uint8_t*> GetNode(const Pages& pages, uint64_t pgno);
// As GetNode, but nullptr for a page that fails the checks (GetNode says
// why): a cursor step asks for its leaf twice, and builds no Result for it.
inline const uint8_t* NodeOrNull(const Pages& pages, uint64_t pgno) {
  const uint8_t* page = pages.Get(pgno);
  if (page == nullptr) return nullptr;
  const uint8_t type = PageTypeOf(page);
  if (type != kBranchPage && type != kLeafPage) return nullptr;
  const uint32_t upper = CellAreaStart(page);
  if (kHeaderSize + 2ull * CellCount(page) > upper || upper > pages.page_size) return nullptr;
  return page;
}
// Decodes cell i or returns Corruption naming the page.
Status GetCell(const Pages& pages, const uint8_t* page, uint64_t pgno, size_t i, Cell* cell);

// Appends the bytes of an overflow chain of `len` bytes starting at `first`.
Status ReadOverflow(const Pages& pages, uint64_t first, uint64_t len, std::string* out);

// The key of a cell: inline bytes, or the overflow chain copied into *scratch.
Status CellKey(const Pages& pages, const Cell& cell, std::string* scratch, Bytes* key);
// The value of a leaf cell, likewise.
Status CellValue(const Pages& pages, const Cell& cell, std::string* scratch, Bytes* value);

// Position of `key` in a node: for a leaf the first cell >= key (*exact when
// equal); for a branch the child to descend into.
Status SearchNode(const Pages& pages, const uint8_t* page, uint64_t pgno, Bytes key, size_t* index,
                  bool* exact, std::string* scratch);

// Returns the child pointer i (0: leftmost) of a branch page.
Status ChildAt(const Pages& pages, const uint8_t* page, uint64_t pgno, size_t i, uint64_t* child);

// Looks up `key` in the tree at `root`; NotFound when absent.
Status TreeGet(const Pages& pages, uint64_t root, Bytes key, std::string* value);

// A position in a tree: one (page, index) per level, leaf last.
class TreePath {
 public:
  // All of these leave the path on a leaf cell (valid()) or at the end (!valid()).
  Status First(const Pages& pages, uint64_t root);
  Status Last(const Pages& pages, uint64_t root);
  Status Seek(const Pages& pages, uint64_t root, Bytes key, bool* exact);
  Status Next(const Pages& pages);
  Status Prev(const Pages& pages);
  bool valid() const { return valid_; }
  void Invalidate() { valid_ = false; }
  // REQUIRES: valid().
  Status Current(const Pages& pages, Cell* cell) const;
  // Next() and Current() in one, when the next cell is in the same leaf and
  // decodes: true. Otherwise false with nothing changed (Next() then climbs,
  // or reports what is wrong).
  bool NextInLeaf(const Pages& pages, Cell* cell);
  // The leaf page and slot of the current cell. REQUIRES: valid().
  uint64_t leaf_pgno() const { return levels_.back().pgno; }
  size_t leaf_index() const { return levels_.back().index; }

 private:
  struct Level {
    uint64_t pgno;
    size_t index;
  };
  Status DescendEdge(const Pages& pages, uint64_t pgno, bool leftmost);
  std::vector<Level> levels_;
  bool valid_ = false;
  std::string scratch_;
};

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_TREE_H_
