#include "lmdb/lmdb_cursor.h"

#include "lmdb/lmdb_env.h"

namespace manifold {
namespace {

MDB_val ToVal(Bytes bytes) { return MDB_val{bytes.size(), const_cast<char*>(bytes.data())}; }

Bytes ToBytes(const MDB_val& val) {
  return Bytes(static_cast<const char*>(val.mv_data), val.mv_size);
}

}  // namespace

LmdbCursor::LmdbCursor(LmdbCursorHost* host, const LmdbEnv* env, MDB_dbi dbi, bool copy_keys)
    : host_(host), env_(env), dbi_(dbi), copy_keys_(copy_keys) {
  host_->AddCursor(this);
}

LmdbCursor::~LmdbCursor() {
  Detach();
  host_->RemoveCursor(this);
}

void LmdbCursor::Detach() {
  if (mc_ != nullptr) mdb_cursor_close(mc_);
  mc_ = nullptr;
}

void LmdbCursor::Invalidate(Status status) {
  Detach();
  valid_ = false;
  dead_ = status;
  status_ = std::move(status);
}

bool LmdbCursor::EnsureOpen() {
  if (!dead_.ok()) {
    valid_ = false;
    status_ = dead_;
    return false;
  }
  if (mc_ != nullptr) return true;
  MDB_txn* txn = host_->innermost();
  if (txn == nullptr) {
    valid_ = false;
    status_ = Status::Aborted("lmdb: the cursor's transaction is over");
    return false;
  }
  int rc = mdb_cursor_open(txn, dbi_, &mc_);
  if (rc != 0) {
    mc_ = nullptr;
    valid_ = false;
    status_ = env_->Error(rc, "cannot open a cursor");
    return false;
  }
  return true;
}

// In line in Move, the step a scan repeats; the end and errors out of line.
[[gnu::always_inline]] inline void LmdbCursor::Land(int rc, const MDB_val& key,
                                                    const MDB_val& value) {
  if (__builtin_expect(rc != 0, 0)) return Missed(rc);
  valid_ = true;
  if (copy_keys_) {
    key_.assign(static_cast<const char*>(key.mv_data), key.mv_size);
    key_view_ = key_;
  } else {
    key_view_ = ToBytes(key);
  }
  value_ = value;
  position_epoch_ = value_epoch_ = host_->epoch();
  if (!status_.ok()) status_ = Status::OK();  // (assigning builds a string)
}

void LmdbCursor::Missed(int rc) {
  valid_ = false;
  status_ = rc == MDB_NOTFOUND ? Status::OK() : env_->Error(rc, "cursor move failed");
}

// In line in every move: a call of its own cost a scan's step about a fifth
// of the wrapper's instructions (saving and restoring registers).
[[gnu::always_inline]] inline void LmdbCursor::Move(MDB_val* key, MDB_cursor_op op) {
  MDB_val value{0, nullptr};
  MDB_val unused{0, nullptr};
  if (key == nullptr) key = &unused;
  int rc = mdb_cursor_get(mc_, key, &value, op);
  Land(rc, *key, value);
}

void LmdbCursor::SeekToFirst() {
  if (EnsureOpen()) Move(nullptr, MDB_FIRST);
}

void LmdbCursor::SeekToLast() {
  if (EnsureOpen()) Move(nullptr, MDB_LAST);
}

void LmdbCursor::Seek(Bytes target) {
  if (!EnsureOpen()) return;
  if (target.empty()) return Move(nullptr, MDB_FIRST);
  // No stored key is longer than the limit, so a longer target orders after
  // its prefix of that length and before anything greater than the prefix.
  bool truncated = target.size() > env_->max_key_size();
  Bytes probe = truncated ? target.substr(0, env_->max_key_size()) : target;
  MDB_val key = ToVal(probe);
  Move(&key, MDB_SET_RANGE);
  if (truncated && valid_ && key_view_ == probe) Move(nullptr, MDB_NEXT);
}

void LmdbCursor::SeekForPrev(Bytes target) {
  Seek(target);
  if (!status_.ok()) return;
  if (!valid_) return SeekToLast();
  if (key_view_ != target) Move(nullptr, MDB_PREV);
}

void LmdbCursor::Next() {
  if (!valid_) return;
  if (Stale()) {
    // Re-find the first key after the current one in the current state.
    std::string current(key_view_);
    if (!EnsureOpen()) return;
    MDB_val key = ToVal(current);
    Move(&key, MDB_SET_RANGE);
    if (valid_ && key_view_ == current) Move(nullptr, MDB_NEXT);
    return;
  }
  Move(nullptr, MDB_NEXT);
}

void LmdbCursor::Prev() {
  if (!valid_) return;
  if (Stale()) {
    std::string current(key_view_);
    if (!EnsureOpen()) return;
    MDB_val key = ToVal(current);
    Move(&key, MDB_SET_RANGE);
    if (valid_) {
      Move(nullptr, MDB_PREV);
    } else if (status_.ok()) {
      Move(nullptr, MDB_LAST);
    }
    return;
  }
  Move(nullptr, MDB_PREV);
}

bool LmdbCursor::Step(Bytes* key, Bytes* value, MDB_cursor_op op) {
  if (__builtin_expect(!valid_ || Stale(), 0)) {
    // Re-found from the kept key, as Next() and Prev() do.
    return op == MDB_NEXT ? Cursor::NextEntry(key, value) : Cursor::PrevEntry(key, value);
  }
  Move(nullptr, op);
  if (!valid_) return false;
  *key = key_view_;
  *value = ToBytes(value_);  // current: Move read it at this epoch
  return true;
}

size_t LmdbCursor::ReadFrom(Bytes target, size_t limit, EntryVisitor visit) {
  // A write transaction's cursor keeps a copy of its key per move, and LMDB
  // takes neither an empty key nor one past its limit to MDB_SET_RANGE: those
  // go one step at a time.
  if (copy_keys_ || limit == 0 || target.empty() || target.size() > env_->max_key_size()) {
    return Cursor::ReadFrom(target, limit, visit);
  }
  if (!EnsureOpen()) return 0;
  MDB_val key = ToVal(target);
  MDB_val value{0, nullptr};
  int rc = mdb_cursor_get(mc_, &key, &value, MDB_SET_RANGE);
  size_t n = 0;
  while (rc == 0) {
    ++n;
    // A snapshot's pages stay mapped and unchanged: the bytes need no copy.
    if (!visit(ToBytes(key), ToBytes(value)) || n == limit) break;
    rc = mdb_cursor_get(mc_, &key, &value, MDB_NEXT);
  }
  Land(rc, key, value);  // on the last entry visited, or past the end
  return n;
}

Bytes LmdbCursor::value() {
  if (!valid_) return Bytes();
  if (value_epoch_ != host_->epoch()) {
    // A write since the move may have moved the page the value was on.
    MDB_txn* txn = host_->innermost();
    MDB_val key = ToVal(key_view_);
    MDB_val value{0, nullptr};
    if (txn != nullptr && mdb_get(txn, dbi_, &key, &value) == 0) {
      value_ = value;
    } else {
      value_ = MDB_val{0, nullptr};  // the current key was deleted
    }
    value_epoch_ = host_->epoch();
  }
  return ToBytes(value_);
}

}  // namespace manifold
