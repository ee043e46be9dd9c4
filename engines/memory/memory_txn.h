// The memory engine's transactions. A MemoryReadTxn holds one committed
// catalog (its snapshot); a MemoryWriteTxn holds the store's write gate and a
// working catalog that it publishes at Commit(). Savepoints are copies of the
// working catalog, which copy tree roots only.
//
// Thread-safety: as engine.h says, a transaction and its cursors are used by
// one thread at a time.
#ifndef MANIFOLD_ENGINES_MEMORY_MEMORY_TXN_H_
#define MANIFOLD_ENGINES_MEMORY_MEMORY_TXN_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/savepoint_stack.h"
#include "common/write_gate.h"
#include "manifold/engine.h"
#include "memory/memory_store.h"

namespace manifold {

// Returns the InvalidArgument for a handle `ks` to a keyspace that is gone.
Status StaleKeyspace(const Keyspace& ks, const std::string& label);

// Returns the keyspace of `catalog` that `ks` names, or InvalidArgument if the
// handle is stale (the keyspace was dropped, or is not in this snapshot).
// `label` names the store in the message.
Result<const MemoryKeyspace*> FindMemoryKeyspace(const MemoryCatalog& catalog, const Keyspace& ks,
                                                 const std::string& label);

class MemoryReadTxn final : public ReadTxn {
 public:
  MemoryReadTxn(std::shared_ptr<MemoryStore> store, std::shared_ptr<const MemoryCatalog> snapshot);

  Result<Keyspace> OpenKeyspace(std::string_view name) override;
  Result<std::vector<std::string>> ListKeyspaces() override;
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override;
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override;

 private:
  const std::shared_ptr<MemoryStore> store_;
  const std::shared_ptr<const MemoryCatalog> snapshot_;
};

class MemoryWriteTxn final : public WriteTxn {
 public:
  // REQUIRES: `hold` holds store->gate().
  MemoryWriteTxn(std::shared_ptr<MemoryStore> store, WriteGateHold hold);
  ~MemoryWriteTxn() override;

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

  // Returns the root of `ks` in the working state, for this transaction's
  // cursors; Aborted once the transaction is over.
  Result<TreeNodePtr> CurrentRoot(const Keyspace& ks) const;

 private:
  // Aborted once the transaction is over.
  Status CheckOpen() const;
  // Returns the working keyspace `ks` names, or an error.
  Result<MemoryKeyspace*> FindWorking(const Keyspace& ks);

  const std::shared_ptr<MemoryStore> store_;  // outlives hold_, which points into it
  WriteGateHold hold_;
  bool open_ = true;
  MemoryCatalog working_;
  SavepointStack<MemoryCatalog> savepoints_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_MEMORY_TXN_H_
