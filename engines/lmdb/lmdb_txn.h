// LmdbReadTxn and LmdbWriteTxn: manifold transactions over an LmdbEnv.
//
// A read transaction is an LMDB read-only transaction (a snapshot). A write
// transaction is a top-level LMDB write transaction plus one nested LMDB
// transaction per open savepoint; every read, write and cursor goes through
// the innermost one, since LMDB forbids using a parent while a child is live.
// Not thread-safe: one thread at a time (MDB_NOTLS lets them move).
#ifndef MANIFOLD_ENGINES_LMDB_LMDB_TXN_H_
#define MANIFOLD_ENGINES_LMDB_LMDB_TXN_H_

#include <lmdb.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/write_gate.h"
#include "lmdb/lmdb_cursor.h"
#include "lmdb/lmdb_env.h"
#include "manifold/engine.h"

namespace manifold {

class LmdbReadTxn final : public ReadTxn, private LmdbCursorHost {
 public:
  // Begins a snapshot of `env`.
  static Result<std::unique_ptr<ReadTxn>> Begin(std::shared_ptr<LmdbEnv> env);
  ~LmdbReadTxn() override;

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

 private:
  LmdbReadTxn(std::shared_ptr<LmdbEnv> env, MDB_txn* txn) : env_(std::move(env)), txn_(txn) {}
  MDB_txn* innermost() override { return txn_; }
  void AddCursor(LmdbCursor*) override {}
  void RemoveCursor(LmdbCursor*) override {}
  // Get's first lookup in a keyspace (and the main database's): out of line.
  Status GetChecked(const Keyspace& ks, Bytes key, std::string* value);

  std::shared_ptr<LmdbEnv> env_;
  MDB_txn* txn_;
  // The keyspace Get last found a value in (0: none; slot 0 is never a
  // keyspace's), with the handle generation it was checked at.
  MDB_dbi loaded_dbi_ = 0;
  uint64_t loaded_generation_ = 0;
  std::string loaded_name_;
};

class LmdbWriteTxn final : public WriteTxn, private LmdbCursorHost {
 public:
  // Begins the store's write transaction, waiting up to `wait` for another
  // writer of this or another process. `sync` is the opener's durability; it
  // is made good after commit when the environment was opened with less.
  static Result<std::unique_ptr<WriteTxn>> Begin(std::shared_ptr<LmdbEnv> env, SyncMode sync,
                                                 std::chrono::milliseconds wait);
  ~LmdbWriteTxn() override;

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

  Result<Keyspace> CreateKeyspace(std::string_view name) override;
  Status DropKeyspace(std::string_view name) override;
  Status Put(const Keyspace& ks, Bytes key, Bytes value) override;
  // One descent with MDB_NOOVERWRITE; MDB_APPEND while keys come in order.
  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override;
  Status Delete(const Keyspace& ks, Bytes key) override;
  Status Savepoint(int level) override;
  Status RollbackTo(int level) override;
  Status Release(int level) override;
  Status Commit() override;
  void Rollback() override;

 private:
  struct Level {
    int level;
    MDB_txn* txn;
  };
  // A named-database slot this transaction opened, and at which nesting depth
  // (0: the top-level transaction): LMDB closes it if that depth aborts.
  struct OpenedSlot {
    std::string name;
    MDB_dbi dbi;
    size_t depth;
  };

  LmdbWriteTxn(std::shared_ptr<LmdbEnv> env, SyncMode sync)
      : env_(std::move(env)), sync_(sync) {}

  MDB_txn* innermost() override {
    return savepoints_.empty() ? root_ : savepoints_.back().txn;
  }
  void AddCursor(LmdbCursor* cursor) override { cursors_.push_back(cursor); }
  void RemoveCursor(LmdbCursor* cursor) override;
  void DetachCursors();

  // Returns OK if the transaction can still be used.
  Status CheckUsable() const;
  // Checks that `ks` names an open slot, caching the answer.
  Status CheckKeyspace(const Keyspace& ks);
  // Finds the slot for `name` (opened by this transaction or shared).
  std::optional<MDB_dbi> FindSlot(std::string_view name) const;
  // True if `name` is a named database in this transaction's current state.
  Result<bool> NamedDbExists(std::string_view name);
  // Opens a slot for `name` in the innermost transaction.
  Result<Keyspace> OpenSlot(std::string_view name, unsigned flags);
  // Put and Insert: mdb_put with `flags`.
  Status Store(const Keyspace& ks, Bytes key, Bytes value, unsigned flags);
  // Records a failure that leaves the innermost LMDB transaction unusable.
  Status Poison(Status status);
  // Aborts or finishes everything and releases the locks.
  void Finish();

  std::shared_ptr<LmdbEnv> env_;
  SyncMode sync_;
  WriteGateHold gate_;
  bool writers_locked_ = false;
  bool writer_live_set_ = false;  // env_->set_writer_live(true) done
  bool counted_ = false;  // counted by env_->BeginTxn, not yet EndTxn()
  MDB_txn* root_ = nullptr;
  std::vector<Level> savepoints_;
  std::vector<OpenedSlot> opened_;
  std::vector<char> checked_slots_;  // by dbi: CheckKeyspace passed
  MDB_dbi append_missed_ = ~MDB_dbi{0};  // an Insert here was not past the last key
  bool dropped_ = false;
  bool over_ = false;
  Status poison_;
  size_t poison_depth_ = 0;
  std::vector<LmdbCursor*> cursors_;
};

// Returns InvalidArgument unless LMDB can store `key`.
Status CheckLmdbKey(Bytes key, size_t max_key_size);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_LMDB_LMDB_TXN_H_
