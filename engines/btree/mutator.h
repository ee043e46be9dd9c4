// Mutator: the copy-on-write path of one write transaction. It never changes
// a page of the committed snapshot: the first change to such a page copies it
// to a newly allocated page number (dirty, in memory until commit) and records
// the old one as freed by this transaction. Dirty pages are changed in place
// unless a savepoint taken after their last copy still needs them ("frozen"),
// in which case they are copied again. Not thread-safe: one per transaction.
#ifndef MANIFOLD_ENGINES_BTREE_MUTATOR_H_
#define MANIFOLD_ENGINES_BTREE_MUTATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "btree/tree.h"

namespace manifold::btree {

class Mutator {
 public:
  // `base` is the committed snapshot; `reusable` the free pages no reader can
  // see. Allocation takes the lowest reusable page first, then grows the file.
  Mutator(const Pages& base, std::vector<uint64_t> reusable);

  // The pages this transaction sees (its dirty pages over the snapshot).
  const Pages& pages() const { return pages_; }

  // Sets key to value in the tree at *root (0: empty), updating *root.
  // *inserted says whether the key is new.
  Status Put(uint64_t* root, Bytes key, Bytes value, bool* inserted) {
    return Store(root, key, value, /*overwrite=*/true, inserted);
  }
  // As Put, but a present key is left as it is (*inserted false), found by
  // the same descent that would insert it.
  Status Insert(uint64_t* root, Bytes key, Bytes value, bool* inserted) {
    return Store(root, key, value, /*overwrite=*/false, inserted);
  }
  // Removes key; *deleted says whether it was there.
  Status Delete(uint64_t* root, Bytes key, bool* deleted);
  // Frees every page of the tree (and its overflow chains).
  Status FreeTree(uint64_t root);

  // Copies every page of the tree at *root that lies at or above `limit` (and
  // the pages on the path to it) to the lowest free pages; for Compact().
  Status Relocate(uint64_t* root, uint64_t limit);
  // Packs leaves, for Compact(). Takes the cells of whole leaves, from the
  // leaf holding the first key >= `from` on, about `budget` bytes of them, out
  // of the tree at *root and puts them back so that every leaf fills before
  // the next begins: in ascending order at the end of the leaf before the
  // gap, in descending order at the front of the leaf after it (a full leaf
  // splits off only the new cell either way). A cell moves as it is: its
  // overflow chains stay where they are. *next is the first key left for the
  // next call; *done when the tree's last leaf was packed. Keys that do not
  // ascend (a damaged tree) are Corruption.
  Status Repack(uint64_t* root, Bytes from, size_t budget, std::string* next, bool* done);
  // What a tree's leaves hold: how many there are, their cells, and the
  // bytes of those cells (each with its two-byte slot).
  struct LeafUse {
    uint64_t leaves = 0;
    uint64_t cells = 0;
    uint64_t bytes = 0;
  };
  Status MeasureLeaves(uint64_t root, LeafUse* use);
  // Adds the pages of a tree (overflow chains included) to *count and raises
  // *max_pgno to the highest of them.
  Status CountPages(uint64_t root, uint64_t* count, uint64_t* max_pgno);

  // Savepoint support: the allocation state at a savepoint.
  struct Mark {
    uint64_t epoch = 0;
    uint64_t page_count = 0;
    size_t alloc_log = 0;
    size_t freed = 0;
    size_t retired = 0;
    size_t undo = 0;
  };
  Mark Savepoint();
  // Restores the state as of `mark`; `mark` stays the newest open savepoint.
  void RollbackTo(const Mark& mark);
  // The newest open savepoint is now `top` (nullptr: none). Replaced dirty
  // pages that no open savepoint needs any more become free for reuse.
  void Released(const Mark* top);

  // Commit support: forgets every savepoint, freeing the pages only they
  // needed. The accessors below then give what the commit writes: the dirty
  // pages, the snapshot pages freed, the unused free pages, the page count.
  void FinishForCommit();
  // Allocates a dirty page (for the freelist chain); returns its bytes.
  uint64_t AllocatePage(uint8_t** data);
  DirtyMap& dirty() { return dirty_; }
  const std::vector<uint64_t>& freed() const { return freed_; }
  std::vector<uint64_t>& available() { return avail_; }
  uint64_t page_count() const { return pages_.page_count; }
  void set_page_count(uint64_t n) { pages_.page_count = n; }
  void AddFreed(uint64_t pgno) { freed_.push_back(pgno); }

  // Largest cell stored inline; longer keys or values go to overflow pages.
  size_t max_cell() const { return max_cell_; }

 private:
  struct PathLevel {
    uint64_t pgno;
    size_t index;
  };

  Status Store(uint64_t* root, Bytes key, Bytes value, bool overwrite, bool* inserted);
  // A new dirty page, zero-filled unless the caller overwrites all of it.
  uint8_t* Allocate(uint64_t* pgno, bool zeroed = true);
  void FreePage(uint64_t pgno);
  // Makes page `pgno` writable; *out_pgno is where it now lives.
  Result<uint8_t*> Writable(uint64_t pgno, uint64_t* out_pgno);
  uint8_t* DirtyData(uint64_t pgno) { return dirty_.at(pgno).data.get(); }
  Status WriteOverflow(Bytes data, uint64_t* first);
  Status FreeOverflow(uint64_t first, uint64_t len);
  Status FreeCellChains(const Cell& cell, bool leaf);
  Status Descend(uint64_t root, Bytes key, std::vector<PathLevel>* path, bool* exact);
  // Copies the pages of `path` (root first), updating parents and *root.
  Status TouchPath(uint64_t* root, std::vector<PathLevel>* path);
  Status SetChild(uint8_t* page, uint64_t pgno, size_t i, uint64_t child);
  // Inserts an encoded cell at level d of path, splitting upward as needed.
  Status InsertAt(uint64_t* root, std::vector<PathLevel>& path, size_t d, size_t index,
                  std::string_view cell);
  // After a removal at level d: drop empty nodes, merge small ones.
  Status Rebalance(uint64_t* root, std::vector<PathLevel>& path, size_t d);
  Status RemoveChild(uint64_t* root, std::vector<PathLevel>& path, size_t d, size_t child);
  Status BranchCell(Bytes key, uint64_t child, std::string* cell);
  Status FullCellKey(const uint8_t* page, uint64_t pgno, size_t i, std::string* key);
  Status RelocateChain(uint64_t* first, uint64_t len, uint64_t limit, bool* moved);
  Status RelocateNode(uint64_t* pgno, uint64_t limit, int depth);
  Status FreeNode(uint64_t pgno, int depth);
  Status CountNode(uint64_t pgno, int depth, uint64_t* count, uint64_t* max_pgno);
  Status MeasureNode(uint64_t pgno, int depth, LeafUse* use);
  Status CountChain(uint64_t first, uint64_t len, uint64_t* count, uint64_t* max_pgno);

  Pages pages_;
  DirtyMap dirty_;
  std::vector<uint64_t> avail_;  // free for reuse now; kept sorted descending
  std::vector<uint64_t> freed_;  // snapshot pages this transaction stopped using
  // Dirty pages replaced while a savepoint still needs them: (page, gen).
  std::vector<std::pair<uint64_t, uint64_t>> retired_;
  // While savepoints are open: allocations, and avail_ changes to undo.
  std::vector<uint64_t> alloc_log_;
  struct Undo {
    bool was_push;
    uint64_t pgno;
  };
  std::vector<Undo> undo_;
  uint64_t epoch_ = 1;
  uint64_t frozen_ = 0;  // dirty pages with gen <= frozen_ belong to a savepoint
  bool marks_open_ = false;
  size_t max_cell_;
  size_t max_inline_key_;
  std::string scratch_;
  std::string cell_;               // the cell Put is inserting
  std::vector<PathLevel> path_;    // the path Put and Delete edit
};

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_MUTATOR_H_
