#include "sqlite/sqlitekv_cursor.h"

#include <utility>

namespace manifold {
namespace {

constexpr uint64_t kNoEpoch = ~uint64_t{0};

bool Ascending(StatementKind kind) {
  return kind == StatementKind::kFirst || kind == StatementKind::kAtOrAfter ||
         kind == StatementKind::kAfter;
}

bool TakesBound(StatementKind kind) {
  return kind != StatementKind::kFirst && kind != StatementKind::kLast;
}

}  // namespace

SqlitekvCursor::SqlitekvCursor(SqlitekvCursorHost* host, Keyspace ks)
    : host_(host), ks_(std::move(ks)) {
  host_->AddCursor(this);
}

SqlitekvCursor::~SqlitekvCursor() {
  stmt_.Reset();
  host_->RemoveCursor(this);
}

void SqlitekvCursor::Detach() {
  stmt_.Reset();
  value_epoch_ = kNoEpoch;  // value_ pointed into the statement's row
}

void SqlitekvCursor::Invalidate(Status status) {
  Detach();
  valid_ = false;
  dead_ = status;
  status_ = std::move(status);
}

void SqlitekvCursor::Fail(Status status) {
  stmt_.Reset();
  valid_ = false;
  status_ = std::move(status);
}

void SqlitekvCursor::Start(StatementKind kind, Bytes bound) {
  stmt_.Reset();
  if (!dead_.ok()) return Fail(dead_);
  Result<std::shared_ptr<TableEntry>> table = host_->CursorTable(ks_);
  if (!table.ok()) return Fail(table.status());
  Result<Statement> stmt = host_->connection().Borrow(*table, kind);
  if (!stmt.ok()) return Fail(stmt.status());
  if (TakesBound(kind)) {
    int rc = BindBytes(stmt->get(), 1, bound);
    if (rc != SQLITE_OK) {
      // Longer than any stored key can be: SQLite refuses to bind it.
      return Fail(host_->connection().Error(rc, "cannot seek keyspace '" + ks_.name + "'"));
    }
  }
  stmt_ = std::move(*stmt);
  ascending_ = Ascending(kind);
  Step();
}

void SqlitekvCursor::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) {
    Bytes key = ColumnBytes(stmt_.get(), 0);
    key_.assign(key.data(), key.size());
    value_ = ColumnBytes(stmt_.get(), 1);
    valid_ = true;
    status_ = Status::OK();
    position_epoch_ = value_epoch_ = host_->epoch();
    return;
  }
  if (rc == SQLITE_DONE) {
    stmt_.Reset();
    valid_ = false;
    status_ = Status::OK();
    return;
  }
  Status failure =
      host_->connection().Error(rc, "cannot read keyspace '" + ks_.name + "'");
  stmt_.Reset();
  Fail(host_->NoteFailure(std::move(failure)));
}

void SqlitekvCursor::Next() {
  if (!valid_) return;
  if (!Stale() && ascending_) return Step();
  // Re-find the first key after the current one in the current state.
  std::string current = key_;
  Start(StatementKind::kAfter, current);
}

void SqlitekvCursor::Prev() {
  if (!valid_) return;
  if (!Stale() && !ascending_) return Step();
  std::string current = key_;
  Start(StatementKind::kBefore, current);
}

Bytes SqlitekvCursor::value() {
  if (!valid_) return Bytes();
  if (value_epoch_ != host_->epoch()) {
    // A write (or a detach) since the move: the row the value was read from
    // is gone; read the key's value as it is now.
    Status s = host_->Get(ks_, key_, &value_copy_);
    if (s.IsNotFound()) {
      value_copy_.clear();  // the current key was deleted
    } else if (!s.ok()) {
      Fail(std::move(s));
      return Bytes();
    }
    value_ = value_copy_;
    value_epoch_ = host_->epoch();
  }
  return value_;
}

}  // namespace manifold
