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
#include "btree/log.h"
#include "btree/mutator.h"
#include "btree/tree.h"
#include "common/fork_guard.h"
#include "common/write_gate.h"
#include "manifold/options.h"

namespace manifold::btree {

// A committed state and the mapping it is read through.
struct Snapshot {
  Meta meta;
  std::shared_ptr<const Mapping> mapping;
  std::shared_ptr<const Overlay> overlay;  // null: every page is in the file

  Pages pages(bool verify_checksums) const {
    Pages p;
    p.overlay = overlay.get();
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
  uint64_t log_size = CommitLog::kDefaultCapacity;  // the commit log's capacity
};

class Store {
 public:
  // Opens the store in `file`: picks the newest meta slot that passes its
  // checks, initializing an empty file when options.create. `log` is the
  // store's commit log (FORMAT.md), or null when it has none: when the log
  // holds commits after its checkpoint, the store opens at that checkpoint
  // and TakeRecovery() hands the commits to the engine to replay.
  static Result<std::shared_ptr<Store>> Open(const StoreOptions& options,
                                             std::unique_ptr<File> file,
                                             std::unique_ptr<File> log = nullptr);

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  // Checkpoints (best effort) so the log is empty after a clean close.
  ~Store();

  // The logged commits to replay (once), oldest first.
  std::vector<std::string> TakeRecovery() { return std::move(recovery_); }
  // Gives a store opened without a log file its new, empty one.
  void AttachLog(std::unique_ptr<File> log);
  // After recovery: brings the log in line with the store's sync mode (a
  // fresh generation under sync=full, emptied otherwise).
  Status SettleLog();
  // Whether small commits go to the log (sync=full, writable, a log file).
  bool logging() const {
    return log_ != nullptr && !options_.read_only && options_.sync == SyncMode::kFull;
  }
  // Makes every commit durable in the store file and starts the log over.
  Status Checkpoint();

  const std::string& path() const { return options_.path; }
  bool read_only() const { return options_.read_only; }
  bool verify_checksums() const { return options_.verify_checksums; }
  WriteGate& gate() { return gate_; }

  // Returns the newest committed state and registers a reader of it; every
  // successful call needs one EndRead(snapshot.meta.txn_id).
  Result<Snapshot> BeginRead();
  void EndRead(uint64_t txn_id);
  // As BeginRead, for the integrity check and Backup: when the snapshot is
  // of a logged commit, whose freelist is in memory only, *logged is set and
  // *free holds its free pages.
  Result<Snapshot> BeginCheck(std::vector<uint64_t>* free, bool* logged);

  // For the writer (holding gate()): the committed state, and the free pages
  // no live reader can see.
  Snapshot BeginWrite(std::vector<uint64_t>* reusable);

  // Writes the transaction's dirty pages and the freelist, then `meta` (its
  // catalog root and keyspace counter; the rest is filled in here) into the
  // meta slot that does not hold the checkpoint, syncing per the sync mode.
  // `rows` is the transaction's changes in the log's form: when the store
  // logs and they are small enough, they are appended to the log and synced
  // there, and the commit's pages wait in the overlay (nothing is written to
  // the store file); null (or too large) makes the commit a checkpoint. `limit` (Compact) drops every page at or above it
  // from the file, unless the free pages below it cannot hold the freelist
  // and commit record (PageCount() then says). On error nothing visible
  // changes.
  Status Commit(Mutator& mutator, Meta meta, uint64_t limit = 0,
                const std::string* rows = nullptr);

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
  Status Load(uint64_t file_size, const CommitLog::Header* base);
  static bool FreePagesBelowHoldTheCommit(Mutator& mutator, const std::vector<uint64_t>& freed,
                                          const std::vector<FreeEntry>& pending, uint64_t limit);
  Status LoadFreelist(const Snapshot& snap, std::vector<FreeEntry>* entries,
                      std::vector<uint64_t>* chain);
  // Checks that every page the commit of snap.meta wrote holds what it wrote
  // (its commit record against the meta's digest); fills the record's pages.
  Status VerifyCommit(const Snapshot& snap, std::vector<uint64_t>* record_chain);
  Status Initialize();
  // Writes the pages, sorted by page number, in runs of consecutive pages.
  Status WritePages(const std::vector<std::pair<uint64_t, const uint8_t*>>& pages,
                    uint32_t page_size);
  // Appends a commit's record to the log; a failure that leaves the record
  // in doubt (its sync failed) stops every later commit.
  Status LogRecord(uint64_t txn, const std::string& record);
  // After a checkpoint: copies its meta slot (as encoded) into the other slot, so that both
  // slots of a store at rest hold it. Otherwise that slot would keep the
  // checkpoint before, perhaps many commits older, for open to fall back to
  // should the newest slot be damaged.
  void MirrorBase(const uint8_t* meta_bytes, uint32_t page_size);

  const StoreOptions options_;
  std::unique_ptr<File> file_;
  WriteGate gate_;
  OwnerProcess owner_;
  std::unique_ptr<CommitLog> log_;
  bool log_current_ = false;  // the log's header names meta_ and holds no record
  Status log_broken_;         // a log write failed in a way that needs a reopen
  std::vector<std::string> recovery_;

  std::mutex mu_;  // guards the fields below
  Meta meta_;
  std::shared_ptr<const Mapping> mapping_;
  // Live readers per snapshot: (txn id, count); few entries, so a vector.
  std::vector<std::pair<uint64_t, uint64_t>> readers_;
  std::vector<FreeEntry> free_;
  std::vector<uint64_t> freelist_chain_;  // pages holding free_ on disk
  std::vector<uint64_t> record_chain_;    // pages holding meta_'s commit record
  uint64_t file_size_ = 0;
  uint64_t meta_slot_ = 0;  // the slot holding meta_
  // The slot of the checkpoint: the newest commit known durable in the
  // store file. Log records follow it; its slot and its pages are not
  // written until the next checkpoint. Without logging every commit is one.
  uint64_t base_slot_ = 0;
  bool unsynced_ = false;  // commits after the checkpoint (meta_ is a logged one)
  // The pages of the logged commits since the checkpoint (null: none); every
  // snapshot since shares it. None is in the checkpoint's snapshot, so a
  // page here is free to reuse once no reader sees it.
  std::shared_ptr<Overlay> overlay_;
  // Pages of the checkpoint's snapshot freed since it: not reusable before
  // the next checkpoint, kept apart from free_ so that no writer scans them.
  std::vector<FreeEntry> held_;
  // Entries the current writer may not reuse yet (set by BeginWrite).
  std::vector<FreeEntry> pending_;
};

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_STORE_H_
