// After fork(), the child holds copies of its parent's open stores: LMDB
// environments, RocksDB databases whose background threads did not come
// along, btree files whose flock it shares, SQLite connections. Using one
// would write the same files as the parent from a second, unsynchronized copy
// of the store's state, and closing one would undo the parent's locks or
// reader slots (mdb_env_close clears the reader slots of the pid recorded at
// open, which is the parent's). So a store belongs to the process that opened
// it:
//
// - OwnerProcess records that process; Check() is the clear error for any
//   other.
// - GuardAgainstFork(engine) wraps an engine handle: in another process every
//   call returns that error, and the destructor leaks the handle (and the
//   transactions made through it) instead of closing anything.
// - StoreRegistry (store_registry.h) never hands an inherited store to a new
//   opener in the child (it opens the store afresh, which the engine's own
//   locks then allow or refuse with Busy), and never closes one there.
//
// Memory stores are copied by fork() like any other memory: the child's copy
// is its own, so the memory engine needs no guard.
#ifndef MANIFOLD_ENGINES_COMMON_FORK_GUARD_H_
#define MANIFOLD_ENGINES_COMMON_FORK_GUARD_H_

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/engine.h"
#include "manifold/status.h"

namespace manifold {

namespace fork_guard_internal {

// Counts the fork()s this process descends from, bumped in each child by a
// pthread_atfork handler: comparing it is a load, where getpid() is a system
// call on every engine operation.
inline std::atomic<uint64_t> fork_generation{0};

// Registers the handler that counts fork()s, once per process; called by
// every OwnerProcess before it reads the count.
inline void CountForks() {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr,
                     [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  (void)registered;
}

}  // namespace fork_guard_internal

class OwnerProcess {
 public:
  OwnerProcess()
      : pid_(::getpid()),
        generation_((fork_guard_internal::CountForks(),
                     fork_guard_internal::fork_generation.load(std::memory_order_relaxed))) {}
  bool inherited() const {
    return fork_guard_internal::fork_generation.load(std::memory_order_relaxed) != generation_;
  }
  // OK in the owning process; else an error naming `what` and both processes.
  // The check is one load, inlined into every guarded call; the error is built
  // out of line.
  Status Check(std::string_view what) const {
    if (__builtin_expect(!inherited(), 1)) return Status::OK();
    return Inherited(what);
  }

 private:
  [[gnu::noinline, gnu::cold]] Status Inherited(std::string_view what) const {
    return Status::NotSupported(std::string(what) + " was opened by process " +
                                std::to_string(pid_) + " before fork(); process " +
                                std::to_string(::getpid()) +
                                " must open its own connection (and store) to use it");
  }

  pid_t pid_;             // for the message
  uint64_t generation_;   // fork_generation in the owning process
};

namespace fork_guard_internal {

#define MANIFOLD_FORK_CHECK() MANIFOLD_RETURN_IF_ERROR(owner_.Check(what_))

template <typename Base>
class GuardedRead : public Base {
 public:
  GuardedRead(std::unique_ptr<Base> inner, OwnerProcess owner, std::string what)
      : inner_(std::move(inner)), owner_(owner), what_(std::move(what)) {}
  ~GuardedRead() override {
    if (owner_.inherited()) (void)inner_.release();  // the parent's: never ended here
  }
  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    MANIFOLD_FORK_CHECK();
    return inner_->OpenKeyspace(name);
  }
  Result<std::vector<std::string>> ListKeyspaces() override {
    MANIFOLD_FORK_CHECK();
    return inner_->ListKeyspaces();
  }
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Get(ks, key, value);
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    MANIFOLD_FORK_CHECK();
    return inner_->NewCursor(ks);
  }

 protected:
  std::unique_ptr<Base> inner_;
  OwnerProcess owner_;
  std::string what_;
};

class GuardedWrite : public GuardedRead<WriteTxn> {
 public:
  using GuardedRead<WriteTxn>::GuardedRead;
  Result<Keyspace> CreateKeyspace(std::string_view name) override {
    MANIFOLD_FORK_CHECK();
    return inner_->CreateKeyspace(name);
  }
  Status DropKeyspace(std::string_view name) override {
    MANIFOLD_FORK_CHECK();
    return inner_->DropKeyspace(name);
  }
  Status Put(const Keyspace& ks, Bytes key, Bytes value) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Put(ks, key, value);
  }
  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Insert(ks, key, value);
  }
  Status Delete(const Keyspace& ks, Bytes key) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Delete(ks, key);
  }
  Status Savepoint(int level) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Savepoint(level);
  }
  Status RollbackTo(int level) override {
    MANIFOLD_FORK_CHECK();
    return inner_->RollbackTo(level);
  }
  Status Release(int level) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Release(level);
  }
  Status Commit() override {
    MANIFOLD_FORK_CHECK();
    return inner_->Commit();
  }
  void Rollback() override {
    if (!owner_.inherited()) inner_->Rollback();
  }
};

class GuardedEngine : public Engine {
 public:
  GuardedEngine(std::unique_ptr<Engine> inner, std::string what)
      : inner_(std::move(inner)), what_(std::move(what)) {}
  ~GuardedEngine() override {
    if (owner_.inherited()) (void)inner_.release();  // the parent's: never closed here
  }
  std::string_view name() const override { return inner_->name(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    MANIFOLD_FORK_CHECK();
    Result<std::unique_ptr<ReadTxn>> txn = inner_->BeginRead();
    if (!txn.ok()) return txn.status();
    return std::unique_ptr<ReadTxn>(
        std::make_unique<GuardedRead<ReadTxn>>(std::move(*txn), owner_, what_));
  }
  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    MANIFOLD_FORK_CHECK();
    Result<std::unique_ptr<WriteTxn>> txn = inner_->BeginWrite(wait);
    if (!txn.ok()) return txn.status();
    return std::unique_ptr<WriteTxn>(std::make_unique<GuardedWrite>(std::move(*txn), owner_, what_));
  }
  Result<uint64_t> EstimatedSize() override {
    MANIFOLD_FORK_CHECK();
    return inner_->EstimatedSize();
  }
  Status Compact() override {
    MANIFOLD_FORK_CHECK();
    return inner_->Compact();
  }
  Status Check() override {
    MANIFOLD_FORK_CHECK();
    return inner_->Check();
  }
  Result<uint64_t> StoredBytes(std::string_view keyspace) override {
    MANIFOLD_FORK_CHECK();
    return inner_->StoredBytes(keyspace);
  }
  Status Backup(const std::string& path) override {
    MANIFOLD_FORK_CHECK();
    return inner_->Backup(path);
  }

 private:
  std::unique_ptr<Engine> inner_;
  OwnerProcess owner_;
  std::string what_;
};

#undef MANIFOLD_FORK_CHECK

}  // namespace fork_guard_internal

// Wraps `engine` (opened by this process) so that it refuses every use in a
// forked child with OwnerProcess::Check's error, naming `what`. Engines that
// keep nothing outside the process's memory (not persistent) need no guard
// and are returned as they are.
inline std::unique_ptr<Engine> GuardAgainstFork(std::unique_ptr<Engine> engine,
                                                std::string what) {
  if (engine == nullptr || !engine->capabilities().persistent) return engine;
  return std::make_unique<fork_guard_internal::GuardedEngine>(std::move(engine), std::move(what));
}

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_FORK_GUARD_H_
