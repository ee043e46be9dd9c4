#include "sqlite/sqlitekv_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>

#include "common/file_util.h"
#include "common/store_registry.h"

namespace manifold {
namespace {

StoreRegistry<SqlitekvStore>& Registry() {
  // Never destroyed: stores released during static destruction still find it.
  static StoreRegistry<SqlitekvStore>* registry = new StoreRegistry<SqlitekvStore>();
  return *registry;
}

const char* SyncPragma(SyncMode sync) {
  switch (sync) {
    case SyncMode::kFull:
      return "PRAGMA synchronous = FULL";
    case SyncMode::kNormal:
      return "PRAGMA synchronous = NORMAL";
    case SyncMode::kOff:
      return "PRAGMA synchronous = OFF";
  }
  return "PRAGMA synchronous = FULL";
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

Result<std::shared_ptr<SqlitekvStore>> SqlitekvStore::Get(const std::string& path,
                                                          const SqlitekvStoreOptions& options) {
  if (path.empty()) return Status::InvalidArgument("sqlitekv needs a file path");
  Result<std::shared_ptr<SqlitekvStore>> store =
      Registry().GetOrOpen(path, [&]() -> Result<std::shared_ptr<SqlitekvStore>> {
        const bool existed = Exists(path);
        if (!existed && (options.read_only || !options.create_if_missing)) {
          return Status::NotFound("sqlitekv store '" + path + "' does not exist");
        }
        std::shared_ptr<SqlitekvStore> opened(new SqlitekvStore(path, options.busy_timeout_ms));
        if (!options.read_only) {
          MANIFOLD_RETURN_IF_ERROR(opened->OpenWriter(/*create=*/!existed));
          if (!existed) MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(path));
        }
        MANIFOLD_RETURN_IF_ERROR(opened->CheckReadable());
        return opened;
      });
  if (!store.ok()) return store.status();
  if (!options.read_only) {
    std::lock_guard<std::mutex> lock((*store)->mu_);
    if (!(*store)->has_writer_) MANIFOLD_RETURN_IF_ERROR((*store)->OpenWriter(/*create=*/false));
  }
  return store;
}

SqlitekvStore::~SqlitekvStore() {
  idle_readers_.clear();
  writer_.reset();  // the last connection of the file: SQLite checkpoints the WAL
}

Status SqlitekvStore::OpenWriter(bool create) {
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
  Result<std::unique_ptr<SqlitekvConnection>> conn =
      SqlitekvConnection::Open(path_, flags, busy_timeout_ms_);
  if (!conn.ok()) return conn.status();
  if (sqlite3_db_readonly((*conn)->db(), "main") == 1) {
    return Status::ReadOnly(label() + ": the file cannot be written (open it with readonly=1)");
  }
  // WAL is what lets a reader keep its snapshot while the writer commits; a
  // store that cannot use it (another program holds it in rollback mode) is
  // refused rather than given readers that block the writer.
  {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2((*conn)->db(), "PRAGMA journal_mode = WAL", -1, &stmt, nullptr);
    std::string mode;
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(stmt);
      if (rc == SQLITE_ROW) mode = std::string(ColumnBytes(stmt, 0));
    }
    Status s = rc == SQLITE_ROW || rc == SQLITE_DONE || rc == SQLITE_OK
                   ? Status::OK()
                   : (*conn)->Error(rc, "cannot switch to WAL mode");
    sqlite3_finalize(stmt);
    MANIFOLD_RETURN_IF_ERROR(s);
    if (mode != "wal") {
      return Status::NotSupported(label() + ": journal_mode is '" + mode +
                                  "', and sqlitekv needs 'wal' (is another program using it?)");
    }
  }
  MANIFOLD_RETURN_IF_ERROR((*conn)->Exec(SyncPragma(SyncMode::kFull)));
  MANIFOLD_RETURN_IF_ERROR((*conn)->Exec(
      "CREATE TABLE IF NOT EXISTS " + std::string(kSqlitekvCatalog) +
      "(id INTEGER PRIMARY KEY AUTOINCREMENT, name BLOB NOT NULL UNIQUE, "
      "table_name TEXT NOT NULL UNIQUE)"));
  writer_ = std::move(*conn);
  writer_sync_ = SyncMode::kFull;
  has_writer_ = true;
  return Status::OK();
}

Status SqlitekvStore::CheckReadable() {
  Result<std::unique_ptr<SqlitekvConnection>> reader = AcquireReader();
  if (!reader.ok()) return reader.status();
  MANIFOLD_RETURN_IF_ERROR((*reader)->Exec("BEGIN"));
  Status s = (*reader)->Revalidate();
  Status end = (*reader)->Exec("ROLLBACK");
  MANIFOLD_RETURN_IF_ERROR(s);
  MANIFOLD_RETURN_IF_ERROR(end);
  ReleaseReader(std::move(*reader));
  return Status::OK();
}

Result<SqlitekvConnection*> SqlitekvStore::writer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!has_writer_) return Status::ReadOnly(label() + " is opened read-only");
  return writer_.get();
}

Status SqlitekvStore::SetSync(SyncMode sync) {
  if (sync == writer_sync_) return Status::OK();
  Result<SqlitekvConnection*> conn = writer();
  if (!conn.ok()) return conn.status();
  MANIFOLD_RETURN_IF_ERROR((*conn)->Exec(SyncPragma(sync)));
  writer_sync_ = sync;
  return Status::OK();
}

Result<std::unique_ptr<SqlitekvConnection>> SqlitekvStore::AcquireReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<SqlitekvConnection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  return SqlitekvConnection::Open(path_, SQLITE_OPEN_READONLY, busy_timeout_ms_);
}

void SqlitekvStore::ReleaseReader(std::unique_ptr<SqlitekvConnection> reader) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_readers_.size() < kMaxIdleReaders) {
      idle_readers_.push_back(std::move(reader));
      return;
    }
  }
  reader.reset();  // closed outside the lock
}

Result<uint64_t> SqlitekvStore::FileBytes() const {
  uint64_t total = 0;
  for (const std::string& file : {path_, path_ + "-wal"}) {
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0) {
      total += static_cast<uint64_t>(st.st_size);
    } else if (errno != ENOENT) {
      return ErrnoStatus("cannot stat", file, errno);
    }
  }
  return total;
}

}  // namespace manifold
