// StoreSession: one connection's transaction state on one store, shared by
// every manifold table of that connection on that store, so that tables sharing
// a store commit together.
//
// SQLite calls xBegin/xSync/xCommit/xRollback and the savepoint callbacks once
// per table; the session turns them into one engine WriteTxn: the first Begin
// opens it, the first Sync commits it, and it ends when the last table that
// joined has left. Reads outside a write transaction share one snapshot while
// any cursor holds it. Not thread-safe: used by one SQLite connection, which
// SQLite serializes.
#ifndef MANIFOLD_EXTENSION_STORE_SESSION_H_
#define MANIFOLD_EXTENSION_STORE_SESSION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "manifold/engine.h"

namespace manifold {

// Something that reads through the session's write transaction and must let
// go of engine cursors before that transaction ends (a SELECT may still be
// stepping when COMMIT runs).
class WriteTxnReader {
 public:
  virtual ~WriteTxnReader() = default;
  // Drops every engine object borrowed from the write transaction; the reader
  // repositions itself on its next move.
  virtual void DetachFromWriteTxn() noexcept = 0;
};

class StoreSession {
 public:
  // `label` names the store in messages ("lmdb store '/x/app.lmdb'").
  StoreSession(std::string label, std::unique_ptr<Engine> engine);
  ~StoreSession();
  StoreSession(const StoreSession&) = delete;
  StoreSession& operator=(const StoreSession&) = delete;

  Engine& engine() { return *engine_; }
  const std::string& label() const { return label_; }

  // Joins the write transaction, opening it (waiting up to `wait` for the
  // store's write lock, then Busy) if no table of this session holds it.
  Status Begin(std::chrono::milliseconds wait);
  // Commits the write transaction once; later calls in the same transaction
  // return OK. Commit errors are reported here (SQLite ignores xCommit's).
  Status Sync();
  // Leaves the transaction (xCommit). The last table to leave ends it,
  // committing it first if no Sync did.
  Status Leave();
  // Rolls back the transaction (if still live) and leaves it (xRollback).
  void RollbackAndLeave() noexcept;

  // Savepoints with SQLite's level numbers (-1: the start of the
  // transaction). Several tables pass the same level in turn: a level already
  // open at the top is not marked again.
  Status Savepoint(int level);
  Status Release(int level);
  Status RollbackTo(int level);

  // Returns the live write transaction, or null.
  WriteTxn* write_txn() { return write_.get(); }
  bool in_transaction() const { return joined_ > 0; }

  // Returns the read snapshot shared by this connection's cursors on the
  // store; a new one when no cursor holds the current one.
  Result<std::shared_ptr<ReadTxn>> Snapshot();

  // Readers of the write transaction, detached before it ends.
  void AddReader(WriteTxnReader* reader) { readers_.insert(reader); }
  void RemoveReader(WriteTxnReader* reader) { readers_.erase(reader); }

 private:
  void DetachReaders() noexcept;
  void EndWrite() noexcept;

  std::string label_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<WriteTxn> write_;
  int joined_ = 0;                 // tables inside the current transaction
  std::vector<int> open_levels_;   // savepoint levels open, ascending
  // The level whose Savepoint() failed, until a mark is made, a rollback
  // below it or a release at or below it.
  std::optional<int> failed_mark_;
  std::weak_ptr<ReadTxn> snapshot_;
  std::set<WriteTxnReader*> readers_;
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_STORE_SESSION_H_
