#include "sqlite/sqlitekv_txn.h"

#include <algorithm>
#include <functional>
#include <new>
#include <utility>

namespace manifold {
namespace {

using Clock = std::chrono::steady_clock;

// A keyspace name that reads well as a table name: printable UTF-8, short.
bool IsPlainName(std::string_view name) {
  if (name.empty() || name.size() > 100) return false;
  size_t i = 0;
  while (i < name.size()) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    size_t extra = 0;
    if (c < 0x20 || c == 0x7f) return false;
    if (c < 0x80) {
      extra = 0;
    } else if ((c & 0xe0) == 0xc0 && c >= 0xc2) {
      extra = 1;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
    } else if ((c & 0xf8) == 0xf0 && c <= 0xf4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= name.size()) return false;  // a sequence cut short
    for (size_t j = 1; j <= extra; ++j) {
      if ((static_cast<unsigned char>(name[i + j]) & 0xc0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out += kDigits[(static_cast<unsigned char>(c) >> 4) & 0xf];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

// A Status for a key or value SQLite would not bind, naming the limit.
Status TooBig(const SqlitekvConnection& conn, std::string_view what, size_t size) {
  int limit = sqlite3_limit(conn.db(), SQLITE_LIMIT_LENGTH, -1);
  return Status::InvalidArgument("sqlitekv store '" + conn.path() + "': " + std::string(what) +
                                 " of " + std::to_string(size) +
                                 " bytes is longer than SQLite's limit of " +
                                 std::to_string(limit) + " bytes (SQLITE_LIMIT_LENGTH)");
}

Status ReadValue(SqlitekvConnection& conn, const std::shared_ptr<TableEntry>& table, Bytes key,
                 std::string* value) {
  Result<Statement> stmt = conn.Borrow(table, StatementKind::kGet);
  if (!stmt.ok()) return stmt.status();
  Status missing = Status::KeyNotFound();
  int bound = BindBytes(stmt->get(), 1, key);
  if (bound == SQLITE_TOOBIG) return missing;  // too long to be stored
  if (bound != SQLITE_OK) return conn.Error(bound, "cannot read keyspace '" + table->name + "'");
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return missing;
  if (rc != SQLITE_ROW) return conn.Error(rc, "cannot read keyspace '" + table->name + "'");
  Bytes bytes = ColumnBytes(stmt->get(), 0);
  value->assign(bytes.data(), bytes.size());
  return Status::OK();
}

Result<std::vector<std::string>> ListNames(SqlitekvConnection& conn) {
  std::vector<std::string> names;
  if (!conn.has_catalog()) return names;
  Result<Statement> stmt = conn.BorrowCatalog(StatementKind::kCatalogList);
  if (!stmt.ok()) return stmt.status();
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    names.emplace_back(ColumnBytes(stmt->get(), 0));
  }
  if (rc != SQLITE_DONE) return conn.Error(rc, "cannot list keyspaces");
  return names;
}

}  // namespace

// ---------------------------------------------------------------------------
// SqlitekvReadTxn

Result<std::unique_ptr<ReadTxn>> SqlitekvReadTxn::Begin(std::shared_ptr<SqlitekvStore> store) {
  Result<std::unique_ptr<SqlitekvConnection>> conn = store->AcquireReader();
  if (!conn.ok()) return conn.status();
  MANIFOLD_RETURN_IF_ERROR((*conn)->Exec("BEGIN"));
  // The first read starts the snapshot; this one also notices schema changes.
  Status s = (*conn)->Revalidate();
  if (!s.ok()) {
    (*conn)->Exec("ROLLBACK").IgnoreError();
    return s;  // the connection is closed, not pooled
  }
  return std::unique_ptr<ReadTxn>(new SqlitekvReadTxn(std::move(store), std::move(*conn)));
}

SqlitekvReadTxn::~SqlitekvReadTxn() {
  // A connection whose snapshot would not end is closed instead of pooled.
  // Straight to SQLite, and no exception out of a destructor: when memory
  // is out, the connection is closed rather than pooled.
  if (sqlite3_exec(conn_->db(), "ROLLBACK", nullptr, nullptr, nullptr) != SQLITE_OK) return;
  try {
    store_->ReleaseReader(std::move(conn_));
  } catch (const std::bad_alloc&) {
  }
}

Result<Keyspace> SqlitekvReadTxn::OpenKeyspace(std::string_view name) {
  return conn_->FindByName(name);
}

Result<std::vector<std::string>> SqlitekvReadTxn::ListKeyspaces() { return ListNames(*conn_); }

Status SqlitekvReadTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  Result<std::shared_ptr<TableEntry>> table = conn_->Lookup(ks);
  if (!table.ok()) return table.status();
  return ReadValue(*conn_, *table, key, value);
}

Result<std::unique_ptr<Cursor>> SqlitekvReadTxn::NewCursor(const Keyspace& ks) {
  Result<std::shared_ptr<TableEntry>> table = conn_->Lookup(ks);
  if (!table.ok()) return table.status();
  return std::unique_ptr<Cursor>(
      std::make_unique<SqlitekvCursor>(static_cast<SqlitekvCursorHost*>(this), ks));
}

// ---------------------------------------------------------------------------
// SqlitekvWriteTxn

Result<std::unique_ptr<WriteTxn>> SqlitekvWriteTxn::Begin(std::shared_ptr<SqlitekvStore> store,
                                                          SyncMode sync,
                                                          std::chrono::milliseconds wait) {
  const auto deadline = Clock::now() + wait;
  // In-process writers queue on the gate, so two writers of one thread get
  // Busy instead of waiting on each other inside SQLite.
  MANIFOLD_RETURN_IF_ERROR(store->gate().Acquire(wait, store->label()));
  WriteGateHold hold(&store->gate());
  Result<SqlitekvConnection*> conn = store->writer();
  if (!conn.ok()) return conn.status();
  MANIFOLD_RETURN_IF_ERROR(store->SetSync(sync));
  // Writers of other processes: SQLite's own write lock, waited for up to
  // what is left of `wait`.
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  sqlite3* db = (*conn)->db();
  // A transaction whose rollback could not run (out of memory) ends now.
  if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_busy_timeout(db, static_cast<int>(std::max<int64_t>(0, left.count())));
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  sqlite3_busy_timeout(db, store->busy_timeout_ms());
  if ((rc & 0xff) == SQLITE_BUSY) {
    return Status::Busy(store->label() + ": another process is writing (waited " +
                        std::to_string(wait.count()) + " ms)");
  }
  if (rc != SQLITE_OK) return (*conn)->Error(rc, "cannot begin a write transaction");
  std::unique_ptr<SqlitekvWriteTxn> txn(
      new SqlitekvWriteTxn(std::move(store), *conn, std::move(hold)));
  MANIFOLD_RETURN_IF_ERROR(txn->conn_->Revalidate());  // rolls back on failure
  return std::unique_ptr<WriteTxn>(std::move(txn));
}

SqlitekvWriteTxn::~SqlitekvWriteTxn() {
  if (!over_) Finish();
}

void SqlitekvWriteTxn::RemoveCursor(SqlitekvCursor* cursor) {
  cursors_.erase(std::remove(cursors_.begin(), cursors_.end(), cursor), cursors_.end());
}

void SqlitekvWriteTxn::DetachCursors() {
  for (SqlitekvCursor* cursor : cursors_) cursor->Detach();
}

void SqlitekvWriteTxn::Finish() {
  DetachCursors();
  if (sqlite3_get_autocommit(conn_->db()) == 0) {
    // Straight to SQLite: this runs in the destructor, where building a
    // std::string could throw when memory is out. If even SQLite cannot
    // roll back now, the next Begin finishes it.
    sqlite3_exec(conn_->db(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // Keyspaces created or dropped by a rolled-back transaction are not what
  // the connection remembers.
  if (changed_schema_) conn_->ForgetKeyspaces();
  savepoints_.clear();
  over_ = true;
  gate_.Reset();
}

Status SqlitekvWriteTxn::CheckUsable() const {
  if (over_) return Status::Aborted("sqlitekv: the write transaction is over");
  return poison_;
}

Status SqlitekvWriteTxn::NoteFailure(Status status) {
  // Some failures (a full disk, an I/O error) make SQLite roll the whole
  // transaction back; going on would run later writes outside of it.
  if (poison_.ok() && sqlite3_get_autocommit(conn_->db()) != 0) {
    poison_ = Status::Aborted(store_->label() +
                              ": SQLite rolled the write transaction back: " + status.message());
    savepoints_.clear();
  }
  return status;
}

Status SqlitekvWriteTxn::Run(const std::string& sql) {
  int rc = sqlite3_exec(conn_->db(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) return Status::OK();
  return NoteFailure(conn_->Error(rc, sql));
}

Result<std::shared_ptr<TableEntry>> SqlitekvWriteTxn::CursorTable(const Keyspace& ks) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  return conn_->Lookup(ks);
}

Result<Keyspace> SqlitekvWriteTxn::OpenKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  return conn_->FindByName(name);
}

Result<std::vector<std::string>> SqlitekvWriteTxn::ListKeyspaces() {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  return ListNames(*conn_);
}

Status SqlitekvWriteTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  Result<std::shared_ptr<TableEntry>> table = CursorTable(ks);
  if (!table.ok()) return table.status();
  Status s = ReadValue(*conn_, *table, key, value);
  if (!s.ok() && !s.IsNotFound()) return NoteFailure(s);
  return s;
}

Result<std::unique_ptr<Cursor>> SqlitekvWriteTxn::NewCursor(const Keyspace& ks) {
  Result<std::shared_ptr<TableEntry>> table = CursorTable(ks);
  if (!table.ok()) return table.status();
  return std::unique_ptr<Cursor>(
      std::make_unique<SqlitekvCursor>(static_cast<SqlitekvCursorHost*>(this), ks));
}

Result<std::string> SqlitekvWriteTxn::NewTableName(std::string_view name) {
  // Table names are case-insensitive and keyspace names are bytes, so the
  // readable name is only a first choice; the catalog maps one to the other.
  std::string base = IsPlainName(name) ? "ks:" + std::string(name) : "ks#" + Hex(name.substr(0, 32));
  for (int n = 1;; ++n) {
    std::string candidate = n == 1 ? base : base + "#" + std::to_string(n);
    Result<Statement> stmt = conn_->BorrowCatalog(StatementKind::kTableNameTaken);
    if (!stmt.ok()) return stmt.status();
    int rc = sqlite3_bind_text(stmt->get(), 1, candidate.data(),
                               static_cast<int>(candidate.size()), SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_ROW) return NoteFailure(conn_->Error(rc, "cannot read the schema"));
    if (sqlite3_column_int64(stmt->get(), 0) == 0) return candidate;
  }
}

Result<Keyspace> SqlitekvWriteTxn::CreateKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  Result<Keyspace> existing = conn_->FindByName(name);
  if (existing.ok() || !existing.status().IsNotFound()) return existing;
  DetachCursors();
  ++epoch_;
  Result<std::string> table = NewTableName(name);
  if (!table.ok()) return table.status();
  // The table and its catalog row come and go together.
  MANIFOLD_RETURN_IF_ERROR(Run("SAVEPOINT manifold_create_keyspace"));
  changed_schema_ = true;
  Status s = Run("CREATE TABLE " + QuoteIdentifier(*table) +
                 "(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
  uint64_t id = 0;
  if (s.ok()) {
    Result<Statement> stmt = conn_->BorrowCatalog(StatementKind::kCatalogInsert);
    if (!stmt.ok()) {
      s = stmt.status();
    } else {
      int rc = BindBytes(stmt->get(), 1, name);
      if (rc == SQLITE_OK) {
        rc = sqlite3_bind_text(stmt->get(), 2, table->data(), static_cast<int>(table->size()),
                               SQLITE_TRANSIENT);
      }
      if (rc == SQLITE_OK) rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_DONE) {
        s = NoteFailure(conn_->Error(rc, "cannot add keyspace '" + std::string(name) +
                                             "' to the catalog"));
      }
      id = static_cast<uint64_t>(sqlite3_last_insert_rowid(conn_->db()));
    }
  }
  if (!s.ok()) {
    if (poison_.ok()) {
      Run("ROLLBACK TO manifold_create_keyspace").IgnoreError();
      Run("RELEASE manifold_create_keyspace").IgnoreError();
    }
    return s;
  }
  MANIFOLD_RETURN_IF_ERROR(Run("RELEASE manifold_create_keyspace"));
  MANIFOLD_RETURN_IF_ERROR(conn_->NoteOwnSchemaChange());
  conn_->Remember(id, std::string(name), *table);
  return Keyspace{std::string(name), id};
}

Status SqlitekvWriteTxn::DropKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  Result<Keyspace> ks = conn_->FindByName(name);
  if (!ks.ok()) return ks.status();
  Result<std::shared_ptr<TableEntry>> table = conn_->Lookup(*ks);
  if (!table.ok()) return table.status();
  // DROP TABLE needs every statement of the connection reset.
  DetachCursors();
  for (SqlitekvCursor* cursor : cursors_) {
    if (cursor->keyspace_id() == ks->id) {
      cursor->Invalidate(Status::NotFound(store_->label() + ": keyspace '" + std::string(name) +
                                          "' was dropped"));
    }
  }
  ++epoch_;
  std::string table_name = (*table)->table;
  table->reset();
  conn_->ForgetKeyspace(ks->id);
  MANIFOLD_RETURN_IF_ERROR(Run("SAVEPOINT manifold_drop_keyspace"));
  changed_schema_ = true;
  Status s = Run("DROP TABLE " + QuoteIdentifier(table_name));
  if (s.ok()) {
    Result<Statement> stmt = conn_->BorrowCatalog(StatementKind::kCatalogDelete);
    if (!stmt.ok()) {
      s = stmt.status();
    } else {
      sqlite3_bind_int64(stmt->get(), 1, static_cast<int64_t>(ks->id));
      int rc = sqlite3_step(stmt->get());
      if (rc != SQLITE_DONE) {
        s = NoteFailure(conn_->Error(rc, "cannot remove keyspace '" + std::string(name) +
                                             "' from the catalog"));
      }
    }
  }
  if (!s.ok()) {
    if (poison_.ok()) {
      Run("ROLLBACK TO manifold_drop_keyspace").IgnoreError();
      Run("RELEASE manifold_drop_keyspace").IgnoreError();
    }
    return s;
  }
  MANIFOLD_RETURN_IF_ERROR(Run("RELEASE manifold_drop_keyspace"));
  return conn_->NoteOwnSchemaChange();
}

Status SqlitekvWriteTxn::Put(const Keyspace& ks, Bytes key, Bytes value) {
  Result<std::shared_ptr<TableEntry>> table = CursorTable(ks);
  if (!table.ok()) return table.status();
  Result<Statement> stmt = conn_->Borrow(*table, StatementKind::kPut);
  if (!stmt.ok()) return NoteFailure(stmt.status());
  for (int i : {1, 2}) {
    const Bytes bytes = i == 1 ? key : value;
    int bound = BindBytes(stmt->get(), i, bytes);
    if (bound == SQLITE_TOOBIG) return TooBig(*conn_, i == 1 ? "key" : "value", bytes.size());
    if (bound != SQLITE_OK) {
      return NoteFailure(conn_->Error(bound, "cannot write to keyspace '" + ks.name + "'"));
    }
  }
  ++epoch_;
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return Status::OK();
  if ((rc & 0xff) == SQLITE_TOOBIG) return TooBig(*conn_, "row (key and value)", key.size() + value.size());
  return NoteFailure(conn_->Error(rc, "cannot write to keyspace '" + ks.name + "'"));
}

Status SqlitekvWriteTxn::Delete(const Keyspace& ks, Bytes key) {
  Result<std::shared_ptr<TableEntry>> table = CursorTable(ks);
  if (!table.ok()) return table.status();
  Result<Statement> stmt = conn_->Borrow(*table, StatementKind::kDelete);
  if (!stmt.ok()) return NoteFailure(stmt.status());
  int bound = BindBytes(stmt->get(), 1, key);
  if (bound == SQLITE_TOOBIG) return Status::OK();  // too long to be stored
  if (bound != SQLITE_OK) {
    return NoteFailure(conn_->Error(bound, "cannot delete from keyspace '" + ks.name + "'"));
  }
  ++epoch_;
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return Status::OK();
  return NoteFailure(conn_->Error(rc, "cannot delete from keyspace '" + ks.name + "'"));
}

Status SqlitekvWriteTxn::Savepoint(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  MANIFOLD_RETURN_IF_ERROR(Release(level));
  DetachCursors();
  ++epoch_;
  std::string name = "manifold_sp" + std::to_string(next_savepoint_++);
  MANIFOLD_RETURN_IF_ERROR(Run("SAVEPOINT " + name));
  savepoints_.push_back(Level{level, std::move(name)});
  return Status::OK();
}

Status SqlitekvWriteTxn::Release(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  auto it = std::find_if(savepoints_.begin(), savepoints_.end(),
                         [&](const Level& sp) { return sp.level >= level; });
  if (it == savepoints_.end()) return Status::OK();
  DetachCursors();
  ++epoch_;
  // RELEASE also ends every savepoint opened after this one.
  Status s = Run("RELEASE " + it->name);
  savepoints_.erase(it, savepoints_.end());
  return s;
}

Status SqlitekvWriteTxn::RollbackTo(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  auto it = std::find_if(savepoints_.begin(), savepoints_.end(),
                         [&](const Level& sp) { return sp.level >= level; });
  if (it == savepoints_.end()) return Status::OK();
  DetachCursors();
  ++epoch_;
  // ROLLBACK TO keeps the savepoint open and ends the ones after it.
  MANIFOLD_RETURN_IF_ERROR(Run("ROLLBACK TO " + it->name));
  it->level = level;
  savepoints_.erase(it + 1, savepoints_.end());
  if (changed_schema_) conn_->ForgetKeyspaces();  // undone DDL
  return Status::OK();
}

Status SqlitekvWriteTxn::Commit() {
  if (over_) return CheckUsable();
  if (!poison_.ok()) {
    Status failure = poison_;
    Finish();
    return failure;
  }
  DetachCursors();
  ++epoch_;
  int rc = sqlite3_exec(conn_->db(), "COMMIT", nullptr, nullptr, nullptr);
  Status s = rc == SQLITE_OK ? Status::OK() : conn_->Error(rc, "commit failed");
  if (s.ok()) changed_schema_ = false;  // the connection's catalog view is right
  Finish();
  return s;
}

void SqlitekvWriteTxn::Rollback() {
  if (!over_) Finish();
}

}  // namespace manifold
