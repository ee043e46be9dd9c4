#include "sqlite/sqlitekv_connection.h"

#include <new>
#include <utility>

#include "sqlite/sqlitekv_vfs.h"

namespace manifold {
namespace {

// The SQL of each statement kind; `t` is the quoted table name.
std::string StatementSql(StatementKind kind, const std::string& t) {
  // Keys are BLOBs. `k >= x''` keeps every scan to the BLOB part of the key
  // order, so a row another program keyed with TEXT or a number (which sort
  // before BLOBs) is never half visible.
  switch (kind) {
    case StatementKind::kGet:
      return "SELECT v FROM " + t + " WHERE k = ?1";
    case StatementKind::kPut:
      return "INSERT INTO " + t + "(k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v";
    case StatementKind::kDelete:
      return "DELETE FROM " + t + " WHERE k = ?1";
    case StatementKind::kFirst:
      return "SELECT k, v FROM " + t + " WHERE k >= x'' ORDER BY k";
    case StatementKind::kAtOrAfter:
      return "SELECT k, v FROM " + t + " WHERE k >= ?1 ORDER BY k";
    case StatementKind::kAfter:
      return "SELECT k, v FROM " + t + " WHERE k > ?1 ORDER BY k";
    case StatementKind::kLast:
      return "SELECT k, v FROM " + t + " WHERE k >= x'' ORDER BY k DESC";
    case StatementKind::kAtOrBefore:
      return "SELECT k, v FROM " + t + " WHERE k <= ?1 AND k >= x'' ORDER BY k DESC";
    case StatementKind::kBefore:
      return "SELECT k, v FROM " + t + " WHERE k < ?1 AND k >= x'' ORDER BY k DESC";
    case StatementKind::kSchemaVersion:
      return "PRAGMA schema_version";
    case StatementKind::kHasCatalog:
      return "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" +
             std::string(kSqlitekvCatalog) + "'";
    case StatementKind::kCatalogById:
      return "SELECT name, table_name FROM " + std::string(kSqlitekvCatalog) + " WHERE id = ?1";
    case StatementKind::kCatalogByName:
      return "SELECT id, table_name FROM " + std::string(kSqlitekvCatalog) + " WHERE name = ?1";
    case StatementKind::kCatalogList:
      return "SELECT name FROM " + std::string(kSqlitekvCatalog) + " ORDER BY name";
    case StatementKind::kCatalogInsert:
      return "INSERT INTO " + std::string(kSqlitekvCatalog) + "(name, table_name) VALUES (?1, ?2)";
    case StatementKind::kCatalogDelete:
      return "DELETE FROM " + std::string(kSqlitekvCatalog) + " WHERE id = ?1";
    case StatementKind::kTableNameTaken:
      return "SELECT count(*) FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE";
    case StatementKind::kNumKinds:
      break;
  }
  return "";
}

}  // namespace

Status SqliteStatus(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::OK();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(std::move(message));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return Status::ReadOnly(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(message));
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return Status::Full(std::move(message));
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return Status::InvalidArgument(std::move(message));
    case SQLITE_CONSTRAINT:
      return Status::Constraint(std::move(message));
    case SQLITE_ABORT:
    case SQLITE_INTERRUPT:
      return Status::Aborted(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return Status::IOError(std::move(message));
    case SQLITE_MISUSE:
    case SQLITE_INTERNAL:
      return Status::Internal(std::move(message));
    default:
      return Status::IOError(std::move(message));
  }
}

int BindBytes(sqlite3_stmt* stmt, int index, Bytes bytes) {
  // A null pointer would bind NULL, not the empty BLOB.
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  return sqlite3_bind_blob64(stmt, index, data, bytes.size(), SQLITE_TRANSIENT);
}

Bytes ColumnBytes(sqlite3_stmt* stmt, int col) {
  // sqlite3_column_blob first: sqlite3_column_bytes then reports its size.
  const void* data = sqlite3_column_blob(stmt, col);
  int size = sqlite3_column_bytes(stmt, col);
  if (data == nullptr || size <= 0) return Bytes();
  return Bytes(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// ---------------------------------------------------------------------------
// TableEntry and Statement

TableEntry::~TableEntry() {
  for (std::vector<sqlite3_stmt*>& list : idle) {
    for (sqlite3_stmt* stmt : list) sqlite3_finalize(stmt);
  }
}

Statement::Statement(Statement&& other) noexcept
    : entry_(std::move(other.entry_)),
      kind_(other.kind_),
      stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Reset();
    entry_ = std::move(other.entry_);
    kind_ = other.kind_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_stmt* stmt = std::exchange(stmt_, nullptr);
  // A reset ends the statement's read, which DROP TABLE and COMMIT need.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (entry_->retired) {
    sqlite3_finalize(stmt);
  } else {
    // Runs in destructors: out of memory, the statement is finalized
    // instead of pooled.
    try {
      entry_->idle[static_cast<size_t>(kind_)].push_back(stmt);
    } catch (const std::bad_alloc&) {
      sqlite3_finalize(stmt);
    }
  }
  entry_.reset();
}

// ---------------------------------------------------------------------------
// SqlitekvConnection

Result<std::unique_ptr<SqlitekvConnection>> SqlitekvConnection::Open(const std::string& path,
                                                                     int flags, int busy_ms) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, SqlitekvVfsName());
  if (rc != SQLITE_OK) {
    std::string message = "sqlitekv store '" + path + "': cannot open: " +
                          (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return SqliteStatus(rc, std::move(message));
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_ms);
  return std::unique_ptr<SqlitekvConnection>(new SqlitekvConnection(db, path));
}

SqlitekvConnection::SqlitekvConnection(sqlite3* db, std::string path)
    : db_(db), path_(std::move(path)), catalog_(MakeEntry(0, "", "")) {}

SqlitekvConnection::~SqlitekvConnection() {
  // Every statement is finalized before the connection closes.
  ForgetKeyspaces();
  catalog_->retired = true;
  catalog_.reset();
  sqlite3_close_v2(db_);
}

std::shared_ptr<TableEntry> SqlitekvConnection::MakeEntry(uint64_t id, std::string name,
                                                          std::string table) {
  auto entry = std::make_shared<TableEntry>();
  entry->id = id;
  entry->name = std::move(name);
  entry->table = std::move(table);
  return entry;
}

Status SqlitekvConnection::Error(int rc, std::string_view what) const {
  if ((rc & 0xff) == SQLITE_IOERR) {
    // After an I/O error (a failed fsync above all) the pages SQLite wrote
    // may be gone from the page cache: no checkpoint at close, which would
    // copy them into the database file and fsync again. The store is
    // poisoned until reopened (common/poison.h); the next open recovers from
    // the WAL as it is on disk.
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
  std::string message = "sqlitekv store '" + path_ + "': " + std::string(what) + ": ";
  // The connection's message belongs to its latest failure; a code from
  // elsewhere (a bind) has only the generic text.
  if ((sqlite3_extended_errcode(db_) & 0xff) == (rc & 0xff)) {
    message += sqlite3_errmsg(db_);
  } else {
    message += sqlite3_errstr(rc);
  }
  return SqliteStatus(rc, std::move(message));
}

Status SqlitekvConnection::Exec(const std::string& sql) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return Status::OK();
  return Error(rc, sql);
}

Result<Statement> SqlitekvConnection::Borrow(const std::shared_ptr<TableEntry>& entry,
                                             StatementKind kind) {
  std::vector<sqlite3_stmt*>& idle = entry->idle[static_cast<size_t>(kind)];
  if (!idle.empty()) {
    sqlite3_stmt* stmt = idle.back();
    idle.pop_back();
    return Statement(entry, kind, stmt);
  }
  std::string sql = StatementSql(kind, QuoteIdentifier(entry->table));
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    if (entry->id != 0) {
      return Error(rc, "cannot use the table of keyspace '" + entry->name + "'");
    }
    return Error(rc, "cannot prepare '" + sql + "'");
  }
  return Statement(entry, kind, stmt);
}

Result<int64_t> SqlitekvConnection::ReadSchemaVersion() {
  Result<Statement> stmt = BorrowCatalog(StatementKind::kSchemaVersion);
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return Error(rc, "cannot read the schema version");
  return sqlite3_column_int64(stmt->get(), 0);
}

Status SqlitekvConnection::Revalidate() {
  Result<int64_t> version = ReadSchemaVersion();
  if (!version.ok()) return version.status();
  if (*version == schema_version_) return Status::OK();
  ForgetKeyspaces();
  Result<Statement> stmt = BorrowCatalog(StatementKind::kHasCatalog);
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc != SQLITE_ROW) return Error(rc, "cannot look for the keyspace catalog");
  has_catalog_ = sqlite3_column_int64(stmt->get(), 0) != 0;
  schema_version_ = *version;
  return Status::OK();
}

void SqlitekvConnection::ForgetKeyspaces() {
  for (auto& [id, entry] : tables_) entry->retired = true;
  tables_.clear();
  schema_version_ = -1;
}

void SqlitekvConnection::ForgetKeyspace(uint64_t id) {
  auto it = tables_.find(id);
  if (it == tables_.end()) return;
  it->second->retired = true;
  tables_.erase(it);
}

Status SqlitekvConnection::NoteOwnSchemaChange() {
  Result<int64_t> version = ReadSchemaVersion();
  if (!version.ok()) return version.status();
  schema_version_ = *version;
  return Status::OK();
}

Result<std::shared_ptr<TableEntry>> SqlitekvConnection::Lookup(const Keyspace& ks) {
  auto it = tables_.find(ks.id);
  if (it != tables_.end() && it->second->name == ks.name) return it->second;
  Status gone =
      Status::NotFound("sqlitekv store '" + path_ + "': keyspace '" + ks.name + "' was dropped");
  if (it != tables_.end() || !has_catalog_) return gone;
  Result<Statement> stmt = BorrowCatalog(StatementKind::kCatalogById);
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(stmt->get(), 1, static_cast<int64_t>(ks.id));
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return gone;
  if (rc != SQLITE_ROW) return Error(rc, "cannot read the keyspace catalog");
  if (ColumnBytes(stmt->get(), 0) != ks.name) return gone;
  auto entry = MakeEntry(ks.id, ks.name, std::string(ColumnBytes(stmt->get(), 1)));
  tables_[ks.id] = entry;
  return entry;
}

Result<Keyspace> SqlitekvConnection::FindByName(std::string_view name) {
  Status missing = Status::NotFound("sqlitekv store '" + path_ + "': keyspace '" +
                                    std::string(name) + "' does not exist");
  if (!has_catalog_) return missing;
  Result<Statement> stmt = BorrowCatalog(StatementKind::kCatalogByName);
  if (!stmt.ok()) return stmt.status();
  int rc = BindBytes(stmt->get(), 1, name);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return missing;
  if (rc != SQLITE_ROW) return Error(rc, "cannot read the keyspace catalog");
  uint64_t id = static_cast<uint64_t>(sqlite3_column_int64(stmt->get(), 0));
  if (tables_.find(id) == tables_.end()) {
    tables_[id] = MakeEntry(id, std::string(name), std::string(ColumnBytes(stmt->get(), 1)));
  }
  return Keyspace{std::string(name), id};
}

void SqlitekvConnection::Remember(uint64_t id, std::string name, std::string table) {
  tables_[id] = MakeEntry(id, std::move(name), std::move(table));
}

}  // namespace manifold
