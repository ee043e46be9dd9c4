// Store: one open btree file in this process. It owns the file, its mapping,
// the committed meta, the freelist and the set of live readers, and it
// performs commits. Engine handles, transactions and cursors share it.
// Thread-safe: readers register under a mutex; one writer at a time holds
// gate() (in-process) and the file lock (across processes).
#ifndef MANIFOLD_ENGINES_BTREE_STORE_H_
#define MANIFOLD_ENGINES_BTREE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "btree/file.h"
#include "btree/format.h"
#include "btree/mutator.h"
#include "btree/tree.h"
#include "common/write_gate.h"
#include "manifold/options.h"

namespace manifold::btree {

// A committed state and the mapping it is read through.
struct Snapshot {
  Meta meta;
  std::shared_ptr<const Mapping> mapping;

  Pages pages(bool verify_checksums) const {
    Pages p;
    p.base = mapping->data();
    p.page_size = meta.page_size;
    p.mapped_pages = mapping->size() / meta.page_size;
    p.page_count = meta.page_count;
    p.verify_checksums = verify_checksums;
    return p;
  }
};

struct StoreOptions {
  std::string path;  // for messages
  bool create = false;
  bool read_only = false;
  SyncMode sync = SyncMode::kFull;
  uint32_t page_size = kDefaultPageSize;  // for a new file only
  bool verify_checksums = false;
};

class Store {
 public:
  // Opens the store in `file`: picks the newest meta slot that passes its
  // checks, initializing an empty file when options.create.
  static Result<std::shared_ptr<Store>> Open(const StoreOptions& options,
                                             std::unique_ptr<File> file);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return options_.path; }
  bool read_only() const { return options_.read_only; }
  bool verify_checksums() const { return options_.verify_checksums; }
  WriteGate& gate() { return gate_; }

  // Returns the newest committed state and registers a reader of it; every
  // successful call needs one EndRead(snapshot.meta.txn_id).
  Result<Snapshot> BeginRead();
  void EndRead(uint64_t txn_id);

  // For the writer (holding gate()): the committed state, and the free pages
  // no live reader can see.
  Snapshot BeginWrite(std::vector<uint64_t>* reusable);

  // Writes the transaction's dirty pages and the freelist, then `meta` (its
  // catalog root and keyspace counter; the rest is filled in here) into the
  // next meta slot, syncing per the sync mode. `limit` (Compact) drops every
  // page at or above it from the file, unless the free pages below it cannot
  // hold the freelist and commit record (PageCount() then says). On error
  // nothing visible changes.
  Status Commit(Mutator& mutator, Meta meta, uint64_t limit = 0);

  // Bytes of the file in use.
  uint64_t EstimatedSize();
  // Pages of the newest commit's snapshot.
  uint64_t PageCount();

  // Shrinks the file to the store's page count. Busy while readers are live.
  Status TruncateFile();
  // Number of live readers.
  size_t ReaderCount();

 private:
  struct FreeEntry {
    uint64_t pgno;
    uint64_t freed_by;  // 0: free for any writer
  };

  Store(const StoreOptions& options, std::unique_ptr<File> file)
      : options_(options), file_(std::move(file)) {}
  Status Load(uint64_t file_size);
  static bool FreePagesBelowHoldTheCommit(Mutator& mutator, const std::vector<uint64_t>& freed,
                                          const std::vector<FreeEntry>& pending, uint64_t limit);
  Status LoadFreelist(const Snapshot& snap, std::vector<FreeEntry>* entries,
                      std::vector<uint64_t>* chain);
  // Checks that every page the commit of snap.meta wrote holds what it wrote
  // (its commit record against the meta's digest); fills the record's pages.
  Status VerifyCommit(const Snapshot& snap, std::vector<uint64_t>* record_chain);
  Status Initialize();
  Status WritePages(const DirtyMap& dirty, uint32_t page_size);

  const StoreOptions options_;
  std::unique_ptr<File> file_;
  WriteGate gate_;

  std::mutex mu_;  // guards the fields below
  Meta meta_;
  std::shared_ptr<const Mapping> mapping_;
  // Live readers per snapshot: (txn id, count); few entries, so a vector.
  std::vector<std::pair<uint64_t, uint64_t>> readers_;
  std::vector<FreeEntry> free_;
  std::vector<uint64_t> freelist_chain_;  // pages holding free_ on disk
  std::vector<uint64_t> record_chain_;    // pages holding meta_'s commit record
  uint64_t file_size_ = 0;
  // Entries the current writer may not reuse yet (set by BeginWrite).
  std::vector<FreeEntry> pending_;
};

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_STORE_H_
