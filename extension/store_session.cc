#include "store_session.h"

#include <utility>

namespace manifold {

StoreSession::StoreSession(std::string label, std::unique_ptr<Engine> engine)
    : label_(std::move(label)), engine_(std::move(engine)) {}

StoreSession::~StoreSession() {
  DetachReaders();
  EndWrite();
}

void StoreSession::DetachReaders() noexcept {
  // Allocates nothing (it runs on the way to a rollback, also when memory is
  // out), and takes each reader out before detaching it, since a reader may
  // unregister itself while detaching.
  while (!readers_.empty()) {
    WriteTxnReader* reader = *readers_.begin();
    readers_.erase(readers_.begin());
    reader->DetachFromWriteTxn();
  }
}

void StoreSession::EndWrite() noexcept {
  // The transaction leaves write_ first: whatever happens, the session holds
  // no write transaction afterwards (destroying it rolls it back).
  std::unique_ptr<WriteTxn> write = std::move(write_);
  open_levels_.clear();
  failed_mark_.reset();
  if (write == nullptr) return;
  try {
    write->Rollback();
  } catch (...) {
    // Out of memory while rolling back: the destructor below rolls back.
  }
}

Status StoreSession::Begin(std::chrono::milliseconds wait) {
  if (joined_ == 0 && write_ == nullptr) {
    // SQLite's level -1 is the start of the transaction (ROLLBACK TO the
    // savepoint that began it): engine levels are SQLite's plus one, and
    // engine level 0 marks the start.
    std::vector<int> levels(1, -1);
    Result<std::unique_ptr<WriteTxn>> txn = engine_->BeginWrite(wait);
    if (!txn.ok()) return txn.status();
    // Only a transaction that is fully set up becomes the session's: on an
    // error or exception here, SQLite sends no xRollback for this table, and
    // the transaction must not outlive this call (it holds the store's write
    // lock).
    MANIFOLD_RETURN_IF_ERROR((*txn)->Savepoint(0));
    write_ = std::move(*txn);
    open_levels_.swap(levels);
    failed_mark_.reset();
  }
  ++joined_;
  return Status::OK();
}

Status StoreSession::Sync() {
  if (write_ == nullptr) return Status::OK();
  DetachReaders();
  Status s = write_->Commit();
  write_.reset();  // over after any result
  open_levels_.clear();
  failed_mark_.reset();
  return s;
}

Status StoreSession::Leave() {
  Status s;
  if (joined_ > 0) --joined_;
  if (joined_ == 0 && write_ != nullptr) s = Sync();
  return s;
}

void StoreSession::RollbackAndLeave() noexcept {
  if (joined_ > 0) --joined_;
  if (write_ != nullptr) {
    DetachReaders();
    EndWrite();
  }
}

Status StoreSession::Savepoint(int level) {
  if (write_ == nullptr) return Status::OK();
  if (!open_levels_.empty() && open_levels_.back() == level) return Status::OK();
  // Until the mark is made, `level` is a mark that failed: see RollbackTo.
  // Set first, as the reserve may throw (out of memory).
  failed_mark_ = level;
  open_levels_.reserve(open_levels_.size() + 1);
  while (!open_levels_.empty() && open_levels_.back() >= level) open_levels_.pop_back();
  MANIFOLD_RETURN_IF_ERROR(write_->Savepoint(level + 1));
  open_levels_.push_back(level);
  failed_mark_.reset();
  return Status::OK();
}

Status StoreSession::Release(int level) {
  if (write_ == nullptr) return Status::OK();
  if (failed_mark_ && *failed_mark_ >= level) failed_mark_.reset();
  while (!open_levels_.empty() && open_levels_.back() >= level) open_levels_.pop_back();
  return write_->Release(level + 1);
}

Status StoreSession::RollbackTo(int level) {
  if (write_ == nullptr) return Status::OK();
  // A failed mark stays failed for every table that rolls back to its level
  // (SQLite sends the rollback to each table of the store in turn).
  const bool failed_here = failed_mark_ == level;
  if (failed_mark_ && *failed_mark_ > level) failed_mark_.reset();
  // Savepoint `level` stays open. Its own mark, if this store has one, holds
  // its state; a mark above it may hold later writes of this store, which the
  // rollback must undo.
  for (size_t i = 0; i < open_levels_.size() && open_levels_[i] <= level; ++i) {
    if (open_levels_[i] == level) {
      open_levels_.resize(i + 1);
      return write_->RollbackTo(level + 1);
    }
  }
  if (failed_here) {
    // The mark of `level` failed (out of memory, an engine error). SQLite
    // marks a table when the statement that first writes it starts, so the
    // failure failed that statement before it wrote anything, and this is the
    // statement's rollback: the state of `level` is the current one. (Taken
    // for a savepoint older than the store's transaction, below, it would
    // undo what other tables of the store wrote before.)
    while (!open_levels_.empty() && open_levels_.back() >= level) open_levels_.pop_back();
    return Status::OK();
  }
  // No mark at `level`: SQLite made that savepoint before this store joined
  // the transaction. Every savepoint made after the join is marked (SQLite
  // sends it to every table that joined), but at the join SQLite marks only
  // its top level, and when that is the level of the joining statement it is
  // released at the statement's end. The state of an older savepoint is the
  // state at the join.
  open_levels_.assign(1, -1);
  return write_->RollbackTo(0);
}

Result<std::shared_ptr<ReadTxn>> StoreSession::Snapshot() {
  if (std::shared_ptr<ReadTxn> snapshot = snapshot_.lock()) return snapshot;
  Result<std::unique_ptr<ReadTxn>> txn = engine_->BeginRead();
  if (!txn.ok()) return txn.status();
  std::shared_ptr<ReadTxn> snapshot(std::move(*txn));
  snapshot_ = snapshot;
  return snapshot;
}

}  // namespace manifold
