// CheckBtreeFile: a full read-only integrity walk of a btree file.
#include <vector>

#include "btree/btree_engine.h"
#include "btree/file.h"
#include "btree/store.h"
#include "btree/tree.h"

namespace manifold {
namespace btree {
namespace {

class Checker {
 public:
  // `free`: the free pages of a logged commit (kept in memory), or null to
  // read the freelist from the file.
  explicit Checker(const Snapshot& snap, const std::vector<uint64_t>* free = nullptr)
      : meta_(snap.meta),
        pages_(snap.pages(/*verify_checksums=*/true)),
        used_(meta_.page_count),
        free_(free) {
    used_[0] = used_[1] = true;
  }

  Status Run() {
    uint64_t keyspaces = 0;
    MANIFOLD_RETURN_IF_ERROR(Tree(meta_.catalog_root, /*catalog=*/true, &keyspaces));
    MANIFOLD_RETURN_IF_ERROR(Freelist());
    MANIFOLD_RETURN_IF_ERROR(CommitRecord());
    for (uint64_t pgno = 2; pgno < meta_.page_count; ++pgno) {
      if (!used_[pgno]) return BadPage(pgno, "neither in use nor free (lost)");
    }
    return Status::OK();
  }

 private:
  Status Claim(uint64_t pgno) {
    if (pgno < 2 || pgno >= meta_.page_count) return BadPage(pgno, "page number out of range");
    if (used_[pgno]) return BadPage(pgno, "used twice");
    used_[pgno] = true;
    return Status::OK();
  }

  Status Chain(uint64_t first, uint64_t len) {
    const uint64_t payload = meta_.page_size - kHeaderSize;
    uint64_t pgno = first;
    for (uint64_t left = len; left > 0; left -= std::min(left, payload)) {
      MANIFOLD_RETURN_IF_ERROR(Claim(pgno));
      const uint8_t* page = pages_.Get(pgno);
      if (page == nullptr) return BadPage(pgno, "checksum mismatch");
      if (PageTypeOf(page) != kOverflowPage) return BadPage(pgno, "expected an overflow page");
      pgno = PageLink(page);
    }
    return Status::OK();
  }

  Status Tree(uint64_t root, bool catalog, uint64_t* entries) {
    *entries = 0;
    if (root == 0) return Status::OK();
    int leaf_depth = -1;
    return Node(root, 0, std::nullopt, std::nullopt, catalog, entries, &leaf_depth);
  }

  // Checks the subtree at pgno: every key k satisfies lo <= k < hi.
  Status Node(uint64_t pgno, int depth, std::optional<std::string> lo,
              std::optional<std::string> hi, bool catalog, uint64_t* entries, int* leaf_depth) {
    if (depth >= kMaxDepth) return BadPage(pgno, "tree is too deep (a cycle?)");
    MANIFOLD_RETURN_IF_ERROR(Claim(pgno));
    Result<const uint8_t*> page = GetNode(pages_, pgno);
    if (!page.ok()) return page.status();
    const bool leaf = PageTypeOf(*page) == kLeafPage;
    const size_t count = CellCount(*page);
    std::vector<std::string> keys;
    std::vector<Cell> cells(count);
    std::string scratch;
    for (size_t i = 0; i < count; ++i) {
      MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, *page, pgno, i, &cells[i]));
      const Cell& c = cells[i];
      if (c.key_overflows()) MANIFOLD_RETURN_IF_ERROR(Chain(c.key_overflow_page(), c.key_len));
      if (leaf && c.value_overflows()) {
        MANIFOLD_RETURN_IF_ERROR(Chain(c.value_overflow_page(), c.value_len));
      }
      Bytes key;
      MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, c, &scratch, &key));
      keys.emplace_back(key);
      if (!keys.empty() && keys.size() > 1 && CompareBytes(keys[keys.size() - 2], key) >= 0) {
        return BadPage(pgno, "keys out of order");
      }
      if ((lo && CompareBytes(key, *lo) < 0) || (hi && CompareBytes(key, *hi) >= 0)) {
        return BadPage(pgno, "key outside the range its parent gives");
      }
    }
    if (leaf) {
      if (*leaf_depth == -1) *leaf_depth = depth;
      if (*leaf_depth != depth) return BadPage(pgno, "leaves at different depths");
      if (count == 0) return BadPage(pgno, "empty leaf");
      *entries += count;
      if (catalog) {
        for (size_t i = 0; i < count; ++i) {
          std::string value_buf;
          Bytes value;
          MANIFOLD_RETURN_IF_ERROR(CellValue(pages_, cells[i], &value_buf, &value));
          if (value.size() != kCatalogValueSize) return BadPage(pgno, "malformed catalog entry");
          const uint8_t* v = reinterpret_cast<const uint8_t*>(value.data());
          uint64_t n = 0;
          MANIFOLD_RETURN_IF_ERROR(Tree(Load64(v + 8), false, &n));
          if (n != Load64(v + 16)) {
            return Status::Corruption("btree keyspace '" + keys[i] + "' holds " + std::to_string(n) +
                                      " keys, its catalog entry says " +
                                      std::to_string(Load64(v + 16)));
          }
        }
      }
      return Status::OK();
    }
    for (size_t i = 0; i <= count; ++i) {
      uint64_t child = i == 0 ? PageLink(*page) : cells[i - 1].child;
      std::optional<std::string> clo = i == 0 ? lo : std::optional<std::string>(keys[i - 1]);
      std::optional<std::string> chi = i == count ? hi : std::optional<std::string>(keys[i]);
      MANIFOLD_RETURN_IF_ERROR(Node(child, depth + 1, clo, chi, catalog, entries, leaf_depth));
    }
    return Status::OK();
  }

  Status Freelist() {
    if (free_ != nullptr) {
      for (uint64_t free_pgno : *free_) {
        Status s = Claim(free_pgno);
        if (!s.ok()) return Status::Corruption("btree freelist (in memory): " + s.message());
      }
      return Status::OK();
    }
    for (uint64_t pgno = meta_.freelist_head; pgno != 0;) {
      MANIFOLD_RETURN_IF_ERROR(Claim(pgno));
      const uint8_t* page = pages_.Get(pgno);
      if (page == nullptr || PageTypeOf(page) != kFreelistPage) {
        return BadPage(pgno, "expected a freelist page");
      }
      for (uint64_t i = 0; i < CellCount(page); ++i) {
        uint64_t free_pgno = Load64(page + kHeaderSize + 16 * i);
        Status s = Claim(free_pgno);
        if (!s.ok()) return Status::Corruption("btree freelist: " + s.message());
      }
      pgno = PageLink(page);
    }
    return Status::OK();
  }

  // The pages holding the commit record (their entries are pages claimed above).
  Status CommitRecord() {
    uint64_t seen = 0;
    for (uint64_t pgno = meta_.commit_record; seen < meta_.commit_pages;) {
      MANIFOLD_RETURN_IF_ERROR(Claim(pgno));
      const uint8_t* page = pages_.Get(pgno);
      if (page == nullptr || PageTypeOf(page) != kCommitRecordPage || CellCount(page) == 0) {
        return BadPage(pgno, "expected a commit record page");
      }
      seen += CellCount(page);
      pgno = PageLink(page);
    }
    return Status::OK();
  }

  Meta meta_;
  Pages pages_;
  std::vector<bool> used_;
  const std::vector<uint64_t>* free_;
};

}  // namespace
}  // namespace btree

Status CheckBtreeFile(const std::string& path) {
  Result<std::unique_ptr<btree::File>> file =
      btree::OpenPosixFile(path, /*read_only=*/true, /*create=*/false);
  if (!file.ok()) return file.status();
  btree::StoreOptions options;
  options.path = path;
  options.read_only = true;
  // With commits in its log that are not in the file yet, the file alone
  // is not what the store holds: Store::Open says so.
  std::unique_ptr<btree::File> log;
  Result<std::unique_ptr<btree::File>> log_file =
      btree::OpenPosixFile(path + "-log", /*read_only=*/true, /*create=*/false);
  if (log_file.ok()) log = std::move(*log_file);
  Result<std::shared_ptr<btree::Store>> store =
      btree::Store::Open(options, std::move(*file), std::move(log));
  if (!store.ok()) return store.status();
  return CheckBtreeStore(**store);
}

Status CheckBtreeStore(btree::Store& store) {
  std::vector<uint64_t> free;
  bool logged = false;
  Result<btree::Snapshot> snap = store.BeginCheck(&free, &logged);
  if (!snap.ok()) return snap.status();
  struct EndRead {  // also when the check runs out of memory
    btree::Store& store;
    uint64_t txn_id;
    ~EndRead() { store.EndRead(txn_id); }
  } end_read{store, snap->meta.txn_id};
  return btree::Checker(*snap, logged ? &free : nullptr).Run().WithContext(store.path());
}

}  // namespace manifold
