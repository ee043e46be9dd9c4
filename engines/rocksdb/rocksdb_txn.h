// The rocksdb engine's transactions.
//
// RocksdbReadTxn reads one DB snapshot. RocksdbWriteTxn collects its writes in
// a WriteBatchWithIndex and applies them with one DB::Write at Commit().
//
// Why a WriteBatchWithIndex and not TransactionDB or OptimisticTransactionDB:
// manifold already allows one writer per store (WriteGate in this process,
// RocksDB's LOCK file across processes), so there is nothing for RocksDB's
// lock manager or conflict check to do. The indexed batch gives
// read-your-writes (GetFromBatchAndDB, NewIteratorWithBase), its own
// savepoints, and an atomic, all-column-family commit in one DB::Write, with
// no extra per-key locking cost.
//
// Keyspace changes (column families) are not part of a WriteBatch, so a write
// transaction keeps its own catalog of keyspaces: CreateKeyspace makes the
// column family at once but shows it only to this transaction until Commit();
// DropKeyspace hides it and drops it physically only after the commit.
// Rollback drops what the transaction created. A crash in the middle leaves
// at worst an empty keyspace (created by a transaction that never committed)
// or a keyspace whose drop was committed just before the crash; never a
// half-applied batch.
//
// Thread-safety: none; a transaction is used by one thread at a time.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_TXN_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_TXN_H_

#include <rocksdb/utilities/write_batch_with_index.h>

#include <memory>
#include <string>
#include <vector>

#include "common/write_gate.h"
#include "manifold/engine.h"
#include "rocksdb/rocksdb_store.h"

namespace manifold {

class RocksdbReadTxn final : public ReadTxn {
 public:
  // Takes a snapshot of `store` as of now.
  explicit RocksdbReadTxn(std::shared_ptr<RocksdbStore> store);
  ~RocksdbReadTxn() override;

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

 private:
  std::shared_ptr<RocksdbStore> store_;
  ColumnFamilyMap keyspaces_;  // as of the snapshot
  const rocksdb::Snapshot* snapshot_ = nullptr;
  rocksdb::ReadOptions read_options_;  // reads at snapshot_; made once, not per Get
};

class RocksdbWriteTxn final : public WriteTxn {
 public:
  // REQUIRES: `gate` holds store->gate.
  RocksdbWriteTxn(std::shared_ptr<RocksdbStore> store, WriteGateHold gate,
                  rocksdb::WriteOptions write_options);
  ~RocksdbWriteTxn() override;

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
  struct Mark {
    int level;
    ColumnFamilyMap keyspaces;  // this transaction's catalog at the savepoint
    uint32_t pending_count;     // pending_.Count() when it was set, before indexing
  };

  Status CheckLive() const;
  // Returns the keyspace's column family in this transaction's catalog.
  Result<std::shared_ptr<RocksdbColumnFamily>> Find(const Keyspace& ks) const;
  // The same, as the bare handle (nullptr when missing), for the hot paths.
  rocksdb::ColumnFamilyHandle* HandleOf(const Keyspace& ks) const;
  // Deletes every key of `cf` through the batch.
  Status DeleteAllKeys(const std::shared_ptr<RocksdbColumnFamily>& cf);
  // Drops every column family this transaction created that `keep` lacks.
  void DropCreatedExcept(const ColumnFamilyMap& keep);
  // Ends the transaction: gate released, batch discarded.
  void Finish();
  // Moves the writes so far from pending_ into the indexed batch_, with
  // their savepoints, so that they can be read back. Once per transaction.
  Status Index();
  // The batch savepoint operations, on whichever batch holds the writes.
  void SetSavePoint();
  Status PopSavePoint();
  Status RollbackToSavePoint();

  std::shared_ptr<RocksdbStore> store_;
  WriteGateHold gate_;
  rocksdb::WriteOptions write_options_;
  // Writes go to pending_, a plain batch, until the transaction first reads
  // (Get, a cursor, emptying a keyspace): a write-only transaction such as a
  // bulk load never pays for the index. From then on they go to batch_.
  rocksdb::WriteBatch pending_;
  rocksdb::WriteBatchWithIndex batch_;
  bool indexed_ = false;
  ColumnFamilyMap base_;       // the committed catalog when the transaction began
  ColumnFamilyMap keyspaces_;  // this transaction's catalog
  std::vector<std::shared_ptr<RocksdbColumnFamily>> created_;  // made by this txn
  std::vector<Mark> marks_;    // one per batch savepoint, oldest first
  uint64_t generation_ = 0;    // bumped by every change, for cursors
  bool done_ = false;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_TXN_H_
