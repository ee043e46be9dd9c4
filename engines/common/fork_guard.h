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
// - GuardStore(engine, ...) (poison.h) wraps an engine handle: in another
//   process every call returns that error, and the destructor leaks the
//   handle (and the transactions made through it) instead of closing
//   anything.
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
#include <string>
#include <string_view>

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

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_FORK_GUARD_H_
