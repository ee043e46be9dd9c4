// LmdbEnv: one open LMDB environment (a directory holding data.mdb and
// lock.mdb), shared by every LmdbEngine handle of this process that reaches the
// same directory. It owns what LMDB keeps per environment and per process:
// the MDB_env, the table of named-database handles (MDB_dbi), the accounting of
// live transactions that lets the map grow, and the write locks (in-process
// WriteGate, then an flock on "<dir>/manifold-write.lock" for other processes).
//
// Thread-safe. Transactions themselves (lmdb_txn.h) are used by one thread at a
// time; the environment is opened with MDB_NOTLS, so they may move between
// threads and one thread may hold several read transactions.
#ifndef MANIFOLD_ENGINES_LMDB_LMDB_ENV_H_
#define MANIFOLD_ENGINES_LMDB_LMDB_ENV_H_

#include <lmdb.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/write_gate.h"
#include "manifold/options.h"
#include "manifold/status.h"

namespace manifold {

// Settings fixed when an environment is first opened in this process; later
// openers of the same directory share the environment as it is.
struct LmdbEnvOptions {
  size_t map_size = size_t{256} << 20;  // initial map; grows by itself
  unsigned max_readers = 126;           // concurrent read transactions, all processes
  unsigned max_keyspaces = 1024;        // named databases (MDB_dbi slots)
  bool create_if_missing = false;
  bool read_only = false;
  SyncMode sync = SyncMode::kFull;
};

class LmdbEnv {
 public:
  // Returns the environment for the directory `path`, opening it (and, with
  // create_if_missing, creating the directory) if this process has not.
  static Result<std::shared_ptr<LmdbEnv>> Get(const std::string& path,
                                              const LmdbEnvOptions& options);

  // Closes the environment. REQUIRES: no transaction of it is live.
  ~LmdbEnv();
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  MDB_env* env() const { return env_; }
  const std::string& path() const { return path_; }
  // "lmdb store '<path>'", for messages; built once.
  const std::string& label() const { return label_; }
  bool read_only() const { return read_only_; }
  SyncMode sync() const { return sync_; }
  MDB_dbi main_dbi() const { return main_dbi_; }
  // The longest key LMDB accepts (511 in Debian's build).
  size_t max_key_size() const { return max_key_size_; }

  // Returns a Status for LMDB error `rc`, naming this store and `what`.
  Status Error(int rc, std::string_view what) const;
  // True when data.mdb has (almost) no room left to grow: less than 1 MiB
  // free on its file system, or within 1 MiB of RLIMIT_FSIZE. LMDB reports a
  // short write, which is how a full disk shows, as EIO; with no room it is
  // a full disk, not an I/O error.
  bool OutOfRoom() const;

  // --- Transactions -------------------------------------------------------

  // Begins an LMDB transaction (child of `parent` when not null) and counts it
  // as live, so that the map is never resized under it. Adopts a map grown by
  // another process (MDB_MAP_RESIZED) and clears stale readers when the reader
  // table is full. `wait` bounds how long it may wait for other transactions
  // of this process to end when the map must be adopted.
  // REQUIRES: for a top-level transaction, EndTxn() after it ends.
  Status BeginTxn(MDB_txn* parent, unsigned flags, std::chrono::milliseconds wait, MDB_txn** txn);
  // Counts one top-level transaction as ended.
  void EndTxn();

  // A read transaction as BeginTxn(nullptr, MDB_RDONLY, ...) would begin,
  // renewed from a handle an earlier one left (mdb_txn_renew) when there is
  // one: mdb_txn_begin callocs a handle sized by max_keyspaces (about 50 KiB
  // at the default 1024) and searches the reader table under its mutex, on
  // every statement of an autocommit connection. REQUIRES: EndRead(*txn).
  Status BeginRead(std::chrono::milliseconds wait, MDB_txn** txn);
  // Ends a read transaction from BeginRead: resets it (its snapshot is
  // released at once) and keeps the handle, with its reader slot, for the
  // next BeginRead; past idle_reader_limit() handles it is freed instead.
  void EndRead(MDB_txn* txn);
  // Reset read handles kept: each holds one of the store's max_readers reader
  // slots (without pinning a snapshot), so stores with few slots keep none.
  size_t idle_reader_limit() const { return options_.max_readers >= 32 ? 2 : 0; }

  // Grows the map when less than half of it (or less than kMinFreeBytes) is
  // free. Called by BeginWrite before its transaction begins, since LMDB
  // cannot grow the map under a live write transaction. Waits up to `wait` for
  // the other transactions of this process to end when space is short;
  // otherwise tries once and leaves the map alone if any are live.
  Status GrowMapIfNeeded(std::chrono::milliseconds wait);

  // --- Writer locks -------------------------------------------------------

  WriteGate& gate() { return gate_; }
  // Takes the cross-process write lock (flock on manifold-write.lock),
  // waiting up to `wait`; Busy if another process still holds it.
  Status LockWriters(std::chrono::milliseconds wait);
  void UnlockWriters();

  // --- Keyspace handles ---------------------------------------------------
  //
  // LMDB hands out MDB_dbi slots per environment, and allocates a new slot
  // from the calling transaction's view of the table: two transactions that
  // open new slots at once would be given the same slot. So slots are opened
  // only (a) by a short helper transaction that scans the main database for
  // named databases and commits (RefreshHandles), never while a write
  // transaction is live, and (b) by the live write transaction itself, for
  // keyspaces it creates. Read transactions never open slots.

  // Makes the handle table cover every named database committed up to now.
  // Cheap when nothing was committed since the last refresh. Does nothing
  // while a write transaction is live.
  // `by_writer`: called by BeginWrite before its transaction begins, while
  // it has marked the writer live.
  Status RefreshHandlesIfStale(bool by_writer = false);
  // Forces the next RefreshHandlesIfStale() to scan.
  void MarkHandlesStale() { known_txnid_.store(kUnknownTxnid); }
  // The committed transaction id the handle table is known to cover.
  uint64_t known_txnid() const { return known_txnid_.load(); }
  void set_known_txnid(uint64_t txnid) { known_txnid_.store(txnid); }
  // Returns the last committed transaction id.
  uint64_t LastTxnid();

  // Returns the shared slot of named database `name`, if one is open.
  std::optional<MDB_dbi> FindHandle(std::string_view name);
  // True if slot `dbi` is open for `name` (the handle was not dropped).
  bool HandleIs(MDB_dbi dbi, std::string_view name);
  // Publishes slots opened by a committed write transaction.
  void AddHandles(const std::map<std::string, MDB_dbi>& handles);
  // Records slot `dbi` as open for `name`. REQUIRES: handle_mutex() held
  // exclusively.
  void SetHandleLocked(const std::string& name, MDB_dbi dbi);
  // Forgets the slot of a dropped database.
  // REQUIRES: handle_mutex() held exclusively.
  void RemoveHandleLocked(std::string_view name);
  // As HandleIs. REQUIRES: handle_mutex() held.
  bool HandleIsLocked(MDB_dbi dbi, std::string_view name) const;
  // Names with an open slot, for ListKeyspaces.
  bool HasHandle(std::string_view name) { return FindHandle(name).has_value(); }

  // Held shared by readers while LMDB may look a slot up by name (first use of
  // a slot in a transaction), and exclusively while mdb_drop closes a slot.
  std::shared_mutex& handle_mutex() { return handle_mu_; }
  // Changes whenever the handle table does (a slot opened, dropped or
  // renumbered). A reader that checked a handle at one generation knows it
  // still holds while the generation is the same.
  uint64_t handle_generation() const { return handle_generation_.load(std::memory_order_acquire); }

  // Set while a write transaction is live (RefreshHandles stays out).
  void set_writer_live(bool live);

  // --- Compaction ---------------------------------------------------------

  // Returns the size of data.mdb in bytes.
  Result<uint64_t> DataFileSize() const;
  // Copies the store compactly and swaps the copy in when no other
  // transaction, handle or process has the environment open. `sole_handle`:
  // the caller holds the only reference of this process. Stores true in
  // *swapped if the copy replaced data.mdb.
  Status Compact(bool sole_handle, bool* swapped);
  // Writes a compacted copy (MDB_CP_COMPACT) of the committed state as of now
  // into the new directory `path` (data.mdb), synced. Counts as a live
  // transaction meanwhile, so the map is not resized under the copy.
  Status Backup(const std::string& path);

  static constexpr uint64_t kUnknownTxnid = ~uint64_t{0};
  static constexpr size_t kMinFreeBytes = size_t{256} << 20;

 private:
  LmdbEnv(std::string path, const LmdbEnvOptions& options);
  Status Open(const LmdbEnvOptions& options);
  Status OpenEnv();
  Status RefreshHandles(bool by_writer);
  // REQUIRES: txn_mu_ held and no live transaction.
  Status SetMapSizeLocked(size_t size);
  // Waits up to `wait` for live_txns_ to reach 0 with txn_mu_ held.
  bool WaitForNoTxns(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds wait);
  // Frees the kept read handles, releasing their reader slots.
  // REQUIRES: txn_mu_ held.
  void FreeIdleReadersLocked();

  const std::string path_;
  const std::string label_;
  const bool read_only_;
  const SyncMode sync_;
  const LmdbEnvOptions options_;
  MDB_env* env_ = nullptr;
  MDB_dbi main_dbi_ = 1;
  size_t max_key_size_ = 511;
  int write_lock_fd_ = -1;  // manifold-write.lock: writers, exclusive
  int open_lock_fd_ = -1;   // manifold-open.lock: every opener, shared

  WriteGate gate_;

  // Live transactions of this process; the map is resized only at zero.
  std::mutex txn_mu_;
  std::condition_variable txn_cv_;
  int live_txns_ = 0;
  std::vector<MDB_txn*> idle_readers_;  // reset read handles; guarded by txn_mu_

  std::shared_mutex handle_mu_;
  std::map<std::string, MDB_dbi, std::less<>> handles_;  // guarded by handle_mu_
  std::vector<std::string> slot_names_;                  // by slot; guarded by handle_mu_
  bool writer_live_ = false;                             // guarded by handle_mu_
  std::atomic<uint64_t> handle_generation_{0};           // bumped under handle_mu_
  std::atomic<uint64_t> known_txnid_{kUnknownTxnid};
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_LMDB_LMDB_ENV_H_
