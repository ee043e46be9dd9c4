// The rocksdb engine: RocksdbEngine, one handle on a shared RocksdbStore.
#include "rocksdb/rocksdb_engine.h"

#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/version.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/store_registry.h"
#include "rocksdb/rocksdb_store.h"
#include "rocksdb/rocksdb_txn.h"

namespace manifold {
namespace {

constexpr uint64_t kDefaultBlockCacheSize = 32ull << 20;

Capabilities RocksdbCapabilities() {
  Capabilities caps;
  caps.persistent = true;
  // One writing process at a time (RocksDB's LOCK file); read-only opens
  // from other processes work but see the store as of their open.
  caps.multi_process = false;
  caps.native_compression = true;
  caps.empty_keys = true;
  caps.max_key_size = 0;
  return caps;
}

// Stores opened for writing, and stores opened read-only (which take no LOCK
// and so may coexist with a writer in another process). A read-only opener
// joins a writable store of this process when there is one.
StoreRegistry<RocksdbStore>& WritableStores() {
  static StoreRegistry<RocksdbStore> registry;
  return registry;
}
StoreRegistry<RocksdbStore>& ReadOnlyStores() {
  static StoreRegistry<RocksdbStore> registry;
  return registry;
}

class RocksdbEngine final : public Engine {
 public:
  RocksdbEngine(std::shared_ptr<RocksdbStore> store, bool read_only, SyncMode sync)
      : store_(std::move(store)), read_only_(read_only) {
    // full: fsync the WAL at every commit. normal and off: the WAL is written
    // (so the store is never inconsistent) but left to the OS to flush, which
    // survives a process crash; disableWAL would give up consistency across
    // column families on a crash, so it is never used.
    write_options_.sync = sync == SyncMode::kFull;
  }

  std::string_view name() const override { return "rocksdb"; }
  Capabilities capabilities() const override { return RocksdbCapabilities(); }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    return std::unique_ptr<ReadTxn>(std::make_unique<RocksdbReadTxn>(store_));
  }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    if (read_only_ || store_->read_only) {
      return Status::ReadOnly("rocksdb store '" + store_->path + "' is open read-only");
    }
    MANIFOLD_RETURN_IF_ERROR(store_->gate.Acquire(wait, "rocksdb store '" + store_->path + "'"));
    WriteGateHold hold(&store_->gate);
    return std::unique_ptr<WriteTxn>(
        std::make_unique<RocksdbWriteTxn>(store_, std::move(hold), write_options_));
  }

  Result<uint64_t> EstimatedSize() override {
    // Live SST files plus the live write-ahead log: the bytes that hold
    // data. Memtables are not counted (their arena size says little about
    // the disk), their contents are in the WAL.
    uint64_t total = 0;
    ColumnFamilyMap keyspaces = store_->Keyspaces();
    keyspaces.emplace(store_->default_cf->id(), store_->default_cf);
    for (const auto& [id, cf] : keyspaces) {
      uint64_t sst = 0;
      if (store_->db->GetIntProperty(cf->handle(), "rocksdb.live-sst-files-size", &sst)) {
        total += sst;
      }
    }
    if (!store_->read_only) {
      rocksdb::VectorLogPtr wal_files;
      rocksdb::Status s = store_->db->GetSortedWalFiles(wal_files);
      if (!s.ok()) return FromRocksdb(s, "rocksdb: cannot list the WAL of '" + store_->path + "'");
      for (const auto& file : wal_files) total += file->SizeFileBytes();
    }
    return total;
  }

  Status Compact() override {
    if (read_only_ || store_->read_only) {
      return Status::ReadOnly("rocksdb store '" + store_->path + "' is open read-only");
    }
    ColumnFamilyMap keyspaces = store_->Keyspaces();
    keyspaces.emplace(store_->default_cf->id(), store_->default_cf);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    for (const auto& [id, cf] : keyspaces) handles.push_back(cf->handle());
    const std::string where = "rocksdb: cannot compact '" + store_->path + "'";
    // Flush every column family first, so the old WAL files can go and the
    // compaction sees every key.
    MANIFOLD_RETURN_IF_ERROR(FromRocksdb(store_->db->Flush(rocksdb::FlushOptions(), handles), where));
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (const auto& [id, cf] : keyspaces) {
      MANIFOLD_RETURN_IF_ERROR(
          FromRocksdb(store_->db->CompactRange(options, cf->handle(), nullptr, nullptr), where));
    }
    return Status::OK();
  }

  // A RocksDB checkpoint: the live SST files (hard links where the backup is
  // on the same file system, else copies), the manifest and the WAL of one
  // consistent point across every column family, memtables flushed first.
  Status Backup(const std::string& path) override {
    const std::string where = "rocksdb: cannot back up '" + store_->path + "' to '" + path + "'";
    rocksdb::Checkpoint* raw = nullptr;
    MANIFOLD_RETURN_IF_ERROR(FromRocksdb(rocksdb::Checkpoint::Create(store_->db.get(), &raw), where));
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    return FromRocksdb(checkpoint->CreateCheckpoint(path), where);
  }

  // Reads every block of every live SST file and verifies its checksum.
  Status Check() override {
    return FromRocksdb(store_->db->VerifyChecksum(),
                       "rocksdb: checksum verification of '" + store_->path + "' failed");
  }

  // The column family's SST bytes overlapping its key range (compressed, as on
  // disk) plus RocksDB's estimate of its memtable bytes (not yet flushed, so
  // not compressed), both from GetApproximateSizes.
  Result<uint64_t> StoredBytes(std::string_view keyspace) override {
    std::shared_ptr<RocksdbColumnFamily> cf;
    for (const auto& [id, candidate] : store_->Keyspaces()) {
      if (candidate->name() == keyspace) cf = candidate;
    }
    if (cf == nullptr) {
      return Status::NotFound("rocksdb store '" + store_->path + "' has no keyspace '" +
                              std::string(keyspace) + "'");
    }
    std::string first, last;
    {
      std::unique_ptr<rocksdb::Iterator> it(
          store_->db->NewIterator(rocksdb::ReadOptions(), cf->handle()));
      it->SeekToFirst();
      if (it->Valid()) first = it->key().ToString();
      it->SeekToLast();
      if (it->Valid()) last = it->key().ToString();
      MANIFOLD_RETURN_IF_ERROR(FromRocksdb(it->status(), "rocksdb: cannot read '" + store_->path + "'"));
      if (!it->Valid()) return uint64_t{0};
    }
    last.push_back('\0');  // the range's limit is exclusive
    rocksdb::Range range(first, last);
    rocksdb::SizeApproximationOptions options;
    options.include_memtables = true;
    options.include_files = true;
    uint64_t size = 0;
    MANIFOLD_RETURN_IF_ERROR(
        FromRocksdb(store_->db->GetApproximateSizes(options, cf->handle(), &range, 1, &size),
                    "rocksdb: cannot measure '" + store_->path + "'"));
    return size;
  }

 private:
  std::shared_ptr<RocksdbStore> store_;
  bool read_only_;
  rocksdb::WriteOptions write_options_;
};

// Parses a byte count: decimal digits only.
Result<uint64_t> ParseSize(const std::string& name, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
      text.size() > 19) {
    return Status::InvalidArgument("rocksdb: option '" + name + "' must be a byte count, not '" +
                                   text + "'");
  }
  return static_cast<uint64_t>(std::strtoull(text.c_str(), nullptr, 10));
}

}  // namespace

EngineInfo RocksdbEngineInfo() {
  EngineInfo info;
  info.name = "rocksdb";
  info.library_version = std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) +
                         "." + std::to_string(ROCKSDB_PATCH);
  info.capabilities = RocksdbCapabilities();
  info.available = true;
  info.option_names = {"block_cache_size"};
  return info;
}

Result<std::unique_ptr<Engine>> OpenRocksdbEngine(const Options& options) {
  RocksdbStoreSettings settings;
  settings.read_only = options.read_only;
  settings.create_if_missing = options.create_if_missing;
  settings.compression = options.compression;
  settings.compression_level = options.compression_level;
  settings.block_cache_size = kDefaultBlockCacheSize;
  for (const auto& [name, value] : options.engine_options) {
    if (name == "block_cache_size") {
      Result<uint64_t> size = ParseSize(name, value);
      if (!size.ok()) return size.status();
      settings.block_cache_size = *size;
    } else {
      return Status::InvalidArgument("rocksdb: unknown engine option '" + name +
                                     "' (known: block_cache_size)");
    }
  }
  if (options.path.empty()) return Status::InvalidArgument("rocksdb: a path is required");

  auto open = [&]() { return RocksdbStore::Open(options.path, settings); };
  Result<std::shared_ptr<RocksdbStore>> store = Status::Internal("rocksdb: store not opened");
  if (options.read_only) {
    // Join this process's writable store if it has one; otherwise a
    // read-only store, which takes no lock.
    store = WritableStores().GetOrOpen(options.path, [] {
      return Result<std::shared_ptr<RocksdbStore>>(Status::NotFound("not open for writing"));
    });
    if (!store.ok()) store = ReadOnlyStores().GetOrOpen(options.path, open);
  } else {
    store = WritableStores().GetOrOpen(options.path, open);
  }
  if (!store.ok()) return store.status();
  return std::unique_ptr<Engine>(
      std::make_unique<RocksdbEngine>(std::move(*store), options.read_only, options.sync));
}

}  // namespace manifold
