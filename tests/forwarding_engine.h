// An engine and a write transaction that forward every call to another one,
// for tests that change one call (fail a savepoint, count commits) and leave
// the rest as the wrapped engine does it.
#ifndef MANIFOLD_TESTS_FORWARDING_ENGINE_H_
#define MANIFOLD_TESTS_FORWARDING_ENGINE_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/engine.h"

namespace manifold::testing {

class ForwardingWriteTxn : public WriteTxn {
 public:
  explicit ForwardingWriteTxn(std::unique_ptr<WriteTxn> inner) : inner_(std::move(inner)) {}
  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    return inner_->OpenKeyspace(name);
  }
  Result<std::vector<std::string>> ListKeyspaces() override { return inner_->ListKeyspaces(); }
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    return inner_->Get(ks, key, value);
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    return inner_->NewCursor(ks);
  }
  Result<Keyspace> CreateKeyspace(std::string_view name) override {
    return inner_->CreateKeyspace(name);
  }
  Status DropKeyspace(std::string_view name) override { return inner_->DropKeyspace(name); }
  Status Put(const Keyspace& ks, Bytes key, Bytes value) override {
    return inner_->Put(ks, key, value);
  }
  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override {
    return inner_->Insert(ks, key, value);
  }
  Status Delete(const Keyspace& ks, Bytes key) override { return inner_->Delete(ks, key); }
  Status Savepoint(int level) override { return inner_->Savepoint(level); }
  Status RollbackTo(int level) override { return inner_->RollbackTo(level); }
  Status Release(int level) override { return inner_->Release(level); }
  Status Commit() override { return inner_->Commit(); }
  void Rollback() override { inner_->Rollback(); }

 protected:
  std::unique_ptr<WriteTxn> inner_;
};

// Forwards to `inner`; write transactions go through Wrap().
class ForwardingEngine : public Engine {
 public:
  explicit ForwardingEngine(std::unique_ptr<Engine> inner) : inner_(std::move(inner)) {}
  std::string_view name() const override { return inner_->name(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  Result<std::unique_ptr<ReadTxn>> BeginRead() override { return inner_->BeginRead(); }
  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    Result<std::unique_ptr<WriteTxn>> txn = inner_->BeginWrite(wait);
    if (!txn.ok()) return txn.status();
    return Wrap(std::move(*txn));
  }
  Result<uint64_t> EstimatedSize() override { return inner_->EstimatedSize(); }
  Status Compact() override { return inner_->Compact(); }
  Status Check() override { return inner_->Check(); }
  Result<uint64_t> StoredBytes(std::string_view keyspace) override {
    return inner_->StoredBytes(keyspace);
  }
  Status Backup(const std::string& path) override { return inner_->Backup(path); }

 protected:
  virtual std::unique_ptr<WriteTxn> Wrap(std::unique_ptr<WriteTxn> txn) = 0;

 private:
  std::unique_ptr<Engine> inner_;
};

}  // namespace manifold::testing

#endif  // MANIFOLD_TESTS_FORWARDING_ENGINE_H_
