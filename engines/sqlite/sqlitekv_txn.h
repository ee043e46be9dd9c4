// SqlitekvReadTxn and SqlitekvWriteTxn: manifold transactions over a
// SqlitekvStore.
//
// A read transaction is a read-only connection from the store's pool holding
// an SQLite read transaction (BEGIN, then a first read), which in WAL mode
// is a snapshot that neither blocks nor is blocked by the writer. A write
// transaction is BEGIN IMMEDIATE on the store's writer connection, taken
// after the store's WriteGate; manifold savepoint levels map onto SQLite
// SAVEPOINT / RELEASE / ROLLBACK TO, and keyspace DDL is transactional with
// the rest. Not thread-safe: one thread at a time.
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_TXN_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_TXN_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/write_gate.h"
#include "manifold/engine.h"
#include "sqlite/sqlitekv_cursor.h"
#include "sqlite/sqlitekv_store.h"

namespace manifold {

class SqlitekvReadTxn final : public ReadTxn, private SqlitekvCursorHost {
 public:
  // Begins a snapshot of `store`.
  static Result<std::unique_ptr<ReadTxn>> Begin(std::shared_ptr<SqlitekvStore> store);
  ~SqlitekvReadTxn() override;

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

 private:
  SqlitekvReadTxn(std::shared_ptr<SqlitekvStore> store,
                  std::unique_ptr<SqlitekvConnection> conn)
      : store_(std::move(store)), conn_(std::move(conn)) {}

  Result<std::shared_ptr<TableEntry>> CursorTable(const Keyspace& ks) override {
    return conn_->Lookup(ks);
  }
  SqlitekvConnection& connection() override { return *conn_; }
  uint64_t epoch() const override { return 0; }
  Status NoteFailure(Status status) override { return status; }
  void AddCursor(SqlitekvCursor*) override {}
  void RemoveCursor(SqlitekvCursor*) override {}

  std::shared_ptr<SqlitekvStore> store_;
  std::unique_ptr<SqlitekvConnection> conn_;
};

class SqlitekvWriteTxn final : public WriteTxn, private SqlitekvCursorHost {
 public:
  // Begins the store's write transaction, waiting up to `wait` for another
  // writer of this or another process. Commits are durable per `sync`.
  static Result<std::unique_ptr<WriteTxn>> Begin(std::shared_ptr<SqlitekvStore> store,
                                                 SyncMode sync, std::chrono::milliseconds wait);
  ~SqlitekvWriteTxn() override;

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

  Result<Keyspace> CreateKeyspace(std::string_view name) override;
  Status DropKeyspace(std::string_view name) override;
  Status Put(const Keyspace& ks, Bytes key, Bytes value) override;
  Status Delete(const Keyspace& ks, Bytes key) override;
  Status Savepoint(int level) override;
  Status RollbackTo(int level) override;
  Status Release(int level) override;
  Status Commit() override;
  void Rollback() override;

 private:
  // An open SQLite savepoint and the manifold level it stands for.
  struct Level {
    int level;
    std::string name;
  };

  SqlitekvWriteTxn(std::shared_ptr<SqlitekvStore> store, SqlitekvConnection* conn,
                   WriteGateHold gate)
      : store_(std::move(store)), conn_(conn), gate_(std::move(gate)) {}

  Result<std::shared_ptr<TableEntry>> CursorTable(const Keyspace& ks) override;
  SqlitekvConnection& connection() override { return *conn_; }
  uint64_t epoch() const override { return epoch_; }
  Status NoteFailure(Status status) override;
  void AddCursor(SqlitekvCursor* cursor) override { cursors_.push_back(cursor); }
  void RemoveCursor(SqlitekvCursor* cursor) override;
  void DetachCursors();

  // Returns OK if the transaction can still be used.
  Status CheckUsable() const;
  // Returns a table name for keyspace `name` no other table has.
  Result<std::string> NewTableName(std::string_view name);
  // Runs `sql` as a step of this transaction (DDL, savepoints).
  Status Run(const std::string& sql);
  // Rolls back whatever is open and releases the locks.
  void Finish();

  std::shared_ptr<SqlitekvStore> store_;
  SqlitekvConnection* conn_;
  WriteGateHold gate_;
  std::vector<Level> savepoints_;
  uint64_t next_savepoint_ = 0;
  bool changed_schema_ = false;  // DDL ran: a rollback must forget the catalog cache
  bool over_ = false;
  Status poison_;  // the SQLite transaction ended under us
  uint64_t epoch_ = 1;
  std::vector<SqlitekvCursor*> cursors_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_TXN_H_
