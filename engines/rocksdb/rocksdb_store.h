// RocksdbStore: one open RocksDB database, shared by every Engine handle of
// this process that reaches the same directory (StoreRegistry, keyed by device
// and inode), and RocksdbColumnFamily, a reference-counted column family handle.
//
// Keyspaces are column families. RocksDB's "default" column family always
// exists and cannot be dropped, so it is not a user keyspace: ListKeyspaces
// hides it and CreateKeyspace/DropKeyspace refuse the name (see
// kDefaultColumnFamilyName).
//
// Thread-safety: a RocksdbStore is thread-safe; `mu` guards `keyspaces`. The
// DB itself is thread-safe. Writes are serialized by `gate`.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_STORE_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_STORE_H_

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/write_gate.h"
#include "rocksdb/rocksdb_io_watch.h"
#include "manifold/engine.h"
#include "manifold/options.h"

namespace manifold {

// A column family handle that stays usable while anyone (the store's catalog,
// a transaction that captured it, a cursor) holds it: a reader whose snapshot
// predates a DropKeyspace keeps reading the dropped column family, whose data
// RocksDB keeps until the last handle is destroyed.
class RocksdbColumnFamily {
 public:
  // Takes ownership of `handle`, which belongs to `db`. REQUIRES: `db`
  // outlives this object (every holder also holds the store).
  RocksdbColumnFamily(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* handle)
      : db_(db), handle_(handle), name_(handle->GetName()), id_(handle->GetID()) {}
  RocksdbColumnFamily(const RocksdbColumnFamily&) = delete;
  RocksdbColumnFamily& operator=(const RocksdbColumnFamily&) = delete;
  ~RocksdbColumnFamily() { db_->DestroyColumnFamilyHandle(handle_).PermitUncheckedError(); }

  rocksdb::ColumnFamilyHandle* handle() const { return handle_; }
  const std::string& name() const { return name_; }
  // RocksDB's column family id: unique for the life of the database, never
  // reused after a drop, so it is safe as Keyspace::id.
  uint32_t id() const { return id_; }
  Keyspace keyspace() const { return Keyspace{name_, id_}; }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* handle_;
  std::string name_;
  uint32_t id_;
};

using ColumnFamilyMap = std::map<uint32_t, std::shared_ptr<RocksdbColumnFamily>>;

// What an opener asked for that is fixed per store (the first opener decides).
struct RocksdbStoreSettings {
  bool read_only = false;
  bool create_if_missing = false;
  Compression compression = Compression::kNone;
  int compression_level = 3;
  uint64_t block_cache_size = 0;
};

struct RocksdbStore {
  // Opens the database at `path` (all its column families). Busy when another
  // process holds it for writing; NotFound, creating nothing, when it does not
  // exist and settings.create_if_missing is false (or read_only).
  static Result<std::shared_ptr<RocksdbStore>> Open(const std::string& path,
                                                    const RocksdbStoreSettings& settings);

  RocksdbStore() = default;
  RocksdbStore(const RocksdbStore&) = delete;
  RocksdbStore& operator=(const RocksdbStore&) = delete;
  ~RocksdbStore();

  // Returns a copy of the committed keyspaces (not "default").
  ColumnFamilyMap Keyspaces() {
    std::lock_guard<std::mutex> lock(mu);
    return keyspaces;
  }

  // Full when the file system holding the store has less room than a batch
  // of `batch_bytes` needs plus a reserve of 1 MiB. Debian's RocksDB 7.8 is
  // built with assertions and can abort the process when a write-ahead-log
  // write fails for want of space; refusing the commit first keeps the
  // clean SQLITE_FULL the path taken.
  Status CheckRoom(uint64_t batch_bytes) const;

  std::string path;
  bool read_only = false;
  // Long scans of read snapshots read ahead (rocksdb_read_ahead.h): set for
  // zstd stores with a block cache of at least 8 MiB to read into.
  bool read_ahead = false;
  // Set by any I/O error under the store, also one RocksDB handled itself.
  std::shared_ptr<IoWatch> io_watch = std::make_shared<IoWatch>();
  // Set once a commit wrote the log without syncing it (sync=normal or off):
  // a clean close then syncs it (SyncWAL), unless io_watch saw an error.
  std::atomic<bool> unsynced_log{false};
  std::unique_ptr<rocksdb::Env> env;  // RocksDB's, watched by io_watch; outlives db
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ColumnFamilyOptions cf_options;  // for column families created later
  std::shared_ptr<RocksdbColumnFamily> default_cf;
  WriteGate gate;

  std::mutex mu;
  ColumnFamilyMap keyspaces;  // guarded by mu: committed keyspaces, by id
};

// The column family RocksDB always has; not a user keyspace.
inline constexpr std::string_view kDefaultColumnFamilyName = "default";

// Converts a RocksDB status into manifold's, prefixing `context`.
Status FromRocksdb(const rocksdb::Status& status, std::string_view context);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_STORE_H_
