// The sqlitekv engine: SqlitekvEngine is one opener's handle on a shared
// SqlitekvStore.
#include "sqlite/sqlitekv_engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/file_util.h"

#include "sqlite/sqlitekv_store.h"
#include "sqlite/sqlitekv_txn.h"

namespace manifold {
namespace {

constexpr std::chrono::milliseconds kCompactWait{2000};

Capabilities SqlitekvCapabilities() {
  Capabilities caps;
  caps.persistent = true;
  caps.multi_process = true;  // SQLite's WAL locking works across processes
  caps.native_compression = false;
  caps.empty_keys = true;
  caps.max_key_size = 0;  // SQLITE_LIMIT_LENGTH only
  return caps;
}

class SqlitekvEngine final : public Engine {
 public:
  SqlitekvEngine(std::shared_ptr<SqlitekvStore> store, const Options& options)
      : store_(std::move(store)), read_only_(options.read_only), sync_(options.sync) {}

  std::string_view name() const override { return "sqlitekv"; }
  Capabilities capabilities() const override { return SqlitekvCapabilities(); }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override { return SqlitekvReadTxn::Begin(store_); }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    if (read_only_) {
      return Status::ReadOnly(store_->label() + " is opened read-only: writes are not allowed");
    }
    return SqlitekvWriteTxn::Begin(store_, sync_, wait);
  }

  Result<uint64_t> EstimatedSize() override { return store_->FileBytes(); }

  // VACUUM rebuilds the file without free pages; the checkpoint then moves
  // it out of the WAL and truncates the WAL. Readers keep their snapshots:
  // a checkpoint they hold up is simply partial.
  Status Compact() override {
    if (read_only_) return Status::ReadOnly(store_->label() + " is opened read-only");
    MANIFOLD_RETURN_IF_ERROR(store_->gate().Acquire(kCompactWait, store_->label()));
    WriteGateHold hold(&store_->gate());
    Result<SqlitekvConnection*> conn = store_->writer();
    if (!conn.ok()) return conn.status();
    MANIFOLD_RETURN_IF_ERROR((*conn)->Exec("VACUUM"));
    int rc = sqlite3_wal_checkpoint_v2((*conn)->db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                       nullptr, nullptr);
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) {
      return (*conn)->Error(rc, "cannot checkpoint the WAL");
    }
    return Status::OK();
  }

  // VACUUM INTO on a pooled reader: SQLite writes the new file from one read
  // transaction (a WAL snapshot), so the copy is consistent and the writer is
  // never blocked. The copy is fsynced here (VACUUM INTO itself may not).
  Status Backup(const std::string& path) override {
    Result<std::unique_ptr<SqlitekvConnection>> conn = store_->AcquireReader();
    if (!conn.ok()) return conn.status();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2((*conn)->db(), "VACUUM INTO ?", -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_bind_text(stmt, 1, path.c_str(), static_cast<int>(path.size()),
                             SQLITE_TRANSIENT);
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    Status s = rc == SQLITE_OK ? Status::OK()
                               : (*conn)->Error(rc, "cannot back up to '" + path + "'");
    sqlite3_finalize(stmt);
    store_->ReleaseReader(std::move(*conn));
    if (!s.ok()) return s;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("sqlitekv: cannot open the backup", path, errno);
    int sync_rc = ::fsync(fd);
    int sync_err = errno;
    ::close(fd);
    if (sync_rc != 0) return ErrnoStatus("sqlitekv: cannot fsync the backup", path, sync_err);
    return SyncParentDirectory(path);
  }

  // SQLite's PRAGMA quick_check on a snapshot: page structure, record
  // formats and key order of every table.
  Status Check() override {
    Result<std::unique_ptr<SqlitekvConnection>> conn = store_->AcquireReader();
    if (!conn.ok()) return conn.status();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2((*conn)->db(), "PRAGMA quick_check", -1, &stmt, nullptr);
    std::string problems;
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
      rc = sqlite3_step(stmt);
      if (rc != SQLITE_ROW) break;
      std::string line(ColumnBytes(stmt, 0));
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    Status s = rc == SQLITE_DONE ? Status::OK() : (*conn)->Error(rc, "quick_check failed");
    sqlite3_finalize(stmt);
    MANIFOLD_RETURN_IF_ERROR(s);
    if (!problems.empty()) return Status::Corruption(store_->label() + ": " + problems);
    store_->ReleaseReader(std::move(*conn));
    return Status::OK();
  }

 private:
  std::shared_ptr<SqlitekvStore> store_;
  const bool read_only_;
  const SyncMode sync_;
};

}  // namespace

EngineInfo SqlitekvEngineInfo() {
  EngineInfo info;
  info.name = "sqlitekv";
  info.library_version = sqlite3_libversion();
  info.capabilities = SqlitekvCapabilities();
  info.available = true;
  return info;  // no options of its own
}

Result<std::unique_ptr<Engine>> OpenSqlitekvEngine(const Options& options) {
  if (!options.engine_options.empty()) {
    return Status::InvalidArgument("sqlitekv: unknown option '" +
                                   options.engine_options.begin()->first +
                                   "' (sqlitekv has no options of its own)");
  }
  SqlitekvStoreOptions store_options;
  store_options.create_if_missing = options.create_if_missing;
  store_options.read_only = options.read_only;
  Result<std::shared_ptr<SqlitekvStore>> store = SqlitekvStore::Get(options.path, store_options);
  if (!store.ok()) return store.status();
  return std::unique_ptr<Engine>(std::make_unique<SqlitekvEngine>(std::move(*store), options));
}

}  // namespace manifold
