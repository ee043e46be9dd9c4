// LmdbCursor: an ordered cursor over one LMDB database (keyspace), owned by a
// read or write transaction. Not thread-safe (used with its transaction).
#ifndef MANIFOLD_ENGINES_LMDB_LMDB_CURSOR_H_
#define MANIFOLD_ENGINES_LMDB_LMDB_CURSOR_H_

#include <lmdb.h>

#include <cstdint>
#include <string>

#include "manifold/engine.h"

namespace manifold {

class LmdbCursor;
class LmdbEnv;

// What a cursor needs from the transaction that owns it.
class LmdbCursorHost {
 public:
  virtual ~LmdbCursorHost() = default;
  // The LMDB transaction reads go through now: the innermost savepoint of a
  // write transaction. Null once the transaction is over.
  virtual MDB_txn* innermost() = 0;
  // Changes whenever the state seen through innermost() may have changed
  // (a write, a savepoint begun, released or rolled back). Constant for reads.
  // A plain member: a cursor reads it at every move.
  uint64_t epoch() const { return epoch_; }
  virtual void AddCursor(LmdbCursor* cursor) = 0;
  virtual void RemoveCursor(LmdbCursor* cursor) = 0;

 protected:
  uint64_t epoch_ = 0;  // the owner bumps it
};

// The MDB_cursor under an LmdbCursor belongs to one LMDB transaction. A write
// transaction changes its innermost LMDB transaction at every savepoint
// boundary, and LMDB frees cursors of a nested transaction when it ends, so
// the owner Detach()es every live cursor before such a change; the cursor
// reopens itself on the new innermost transaction at its next use. It keeps a
// copy of its current key, and after a write or savepoint change (epoch) it
// re-seeks from that key instead of trusting LMDB's cursor fix-ups. A cursor
// of a read transaction keeps no copy: the pages of a read snapshot stay
// mapped and unchanged while the transaction lives, so LMDB's key is stable.
class LmdbCursor final : public Cursor {
 public:
  // `copy_keys`: the host writes (keys on its pages may move or change).
  LmdbCursor(LmdbCursorHost* host, const LmdbEnv* env, MDB_dbi dbi, bool copy_keys);
  ~LmdbCursor() override;

  bool Valid() const override { return valid_; }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(Bytes target) override;
  void SeekForPrev(Bytes target) override;
  void Next() override;
  void Prev() override;
  Bytes key() const override { return key_view_; }
  Bytes value() override;
  Status status() const override { return status_; }
  // One mdb_cursor_get and the entry it lands on, when the position is
  // current (else as Next() and Prev()).
  bool NextEntry(Bytes* key, Bytes* value) override { return Step(key, value, MDB_NEXT); }
  bool PrevEntry(Bytes* key, Bytes* value) override { return Step(key, value, MDB_PREV); }
  // On a read snapshot: one mdb_cursor_get per entry, landing once at the
  // end (else the steps of Cursor::ReadFrom).
  size_t ReadFrom(Bytes target, size_t limit, EntryVisitor visit) override;

  MDB_dbi dbi() const { return dbi_; }
  // Opens the MDB_cursor now (on the owner's innermost transaction).
  Status Attach() { return EnsureOpen() ? Status::OK() : status_; }
  // Closes the MDB_cursor; the position (key) is kept. Called by the owner
  // before its innermost LMDB transaction changes.
  void Detach();
  // Ends the cursor for good with `status` (its keyspace was dropped).
  void Invalidate(Status status);

 private:
  bool EnsureOpen();
  // Runs one mdb_cursor_get and lands on its result.
  void Move(MDB_val* key, MDB_cursor_op op);
  bool Step(Bytes* key, Bytes* value, MDB_cursor_op op);
  void Land(int rc, const MDB_val& key, const MDB_val& value);
  // Land's end and errors: no current entry.
  [[gnu::noinline, gnu::cold]] void Missed(int rc);
  // True if the position may be stale (a write or savepoint change since).
  bool Stale() const { return mc_ == nullptr || position_epoch_ != host_->epoch(); }

  LmdbCursorHost* host_;
  const LmdbEnv* env_;
  const MDB_dbi dbi_;
  MDB_cursor* mc_ = nullptr;
  const bool copy_keys_;
  bool valid_ = false;
  Bytes key_view_;   // the current key: key_, or LMDB's own bytes
  std::string key_;  // its copy, if copy_keys_
  MDB_val value_{0, nullptr};
  uint64_t position_epoch_ = 0;
  uint64_t value_epoch_ = 0;
  Status status_;
  Status dead_;  // set by Invalidate: every later move fails with it
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_LMDB_LMDB_CURSOR_H_
