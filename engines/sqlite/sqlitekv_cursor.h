// SqlitekvCursor: an ordered cursor over one keyspace's table, owned by a
// read or write transaction. Not thread-safe (used with its transaction).
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_CURSOR_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_CURSOR_H_

#include <cstdint>
#include <string>

#include "manifold/engine.h"
#include "sqlite/sqlitekv_connection.h"

namespace manifold {

class SqlitekvCursor;

// What a cursor needs from the transaction that owns it.
class SqlitekvCursorHost {
 public:
  virtual ~SqlitekvCursorHost() = default;
  // Returns the table of `ks` on the transaction's connection, or why the
  // cursor cannot read (the transaction is over, the keyspace was dropped).
  virtual Result<std::shared_ptr<TableEntry>> CursorTable(const Keyspace& ks) = 0;
  virtual SqlitekvConnection& connection() = 0;
  // Changes whenever the transaction's state may have changed (a write, a
  // savepoint begun, released or rolled back). Constant for reads.
  virtual uint64_t epoch() const = 0;
  // Reads the current value of `key`, for value() after a write.
  virtual Status Get(const Keyspace& ks, Bytes key, std::string* value) = 0;
  // Records a failed step (which may have ended the SQLite transaction).
  virtual Status NoteFailure(Status status) = 0;
  virtual void AddCursor(SqlitekvCursor* cursor) = 0;
  virtual void RemoveCursor(SqlitekvCursor* cursor) = 0;
};

// A cursor walks one borrowed SELECT statement per direction of travel:
// Seek/Next step an ascending one, SeekForPrev/Prev a descending one, and a
// change of direction starts a new statement from the current key. SQLite
// leaves unspecified whether a running SELECT sees writes made on its
// connection after it started, so after any write of the transaction (the
// epoch moved) the next move starts a fresh statement just past the current
// key, and value() re-reads the value; the owner Detach()es every cursor
// before DDL, savepoints and the end of the transaction, which need no
// statement running.
class SqlitekvCursor final : public Cursor {
 public:
  SqlitekvCursor(SqlitekvCursorHost* host, Keyspace ks);
  ~SqlitekvCursor() override;

  bool Valid() const override { return valid_; }
  void SeekToFirst() override { Start(StatementKind::kFirst, Bytes()); }
  void SeekToLast() override { Start(StatementKind::kLast, Bytes()); }
  void Seek(Bytes target) override { Start(StatementKind::kAtOrAfter, target); }
  void SeekForPrev(Bytes target) override { Start(StatementKind::kAtOrBefore, target); }
  void Next() override;
  void Prev() override;
  Bytes key() const override { return key_; }
  Bytes value() override;
  Status status() const override { return status_; }

  uint64_t keyspace_id() const { return ks_.id; }
  // Ends the running statement; the position (key) is kept.
  void Detach();
  // Ends the cursor for good with `status` (its keyspace was dropped).
  void Invalidate(Status status);

 private:
  // Starts a statement of `kind` (bound to `bound` where it takes one) and
  // lands on its first row.
  void Start(StatementKind kind, Bytes bound);
  // Steps the running statement and lands on its row, or past the end.
  void Step();
  void Fail(Status status);
  bool Stale() const { return !stmt_ || position_epoch_ != host_->epoch(); }

  SqlitekvCursorHost* host_;
  const Keyspace ks_;
  Statement stmt_;
  bool ascending_ = true;  // the running statement's direction
  bool valid_ = false;
  std::string key_;         // a copy: re-seeks start from it
  Bytes value_;             // into the statement's row, or value_copy_
  std::string value_copy_;  // value() re-read after a write
  uint64_t position_epoch_ = 0;
  uint64_t value_epoch_ = 0;
  Status status_;
  Status dead_;  // set by Invalidate: every later move fails with it
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_CURSOR_H_
