// StoreRegistry<T>: one open store per (device, inode) per process, shared and
// reference-counted. LMDB and RocksDB forbid opening one store twice in a
// process, and a path spelled two ways (a symlink, "./x") must still reach the
// same store. Thread-safe.
//
// A store belongs to the process that opened it (fork_guard.h): in a forked
// child, GetOrOpen does not hand out the parent's copy but opens the store
// again (the engine's own locks then allow it or refuse it with Busy), and a
// copy inherited from the parent is never closed in the child (its last
// release there leaks it): closing it would release the parent's locks or
// reader slots, or flush the parent's state into the files.
//
// A store closes on the thread that drops its last handle, outside the
// registry lock. Until that close has finished, the store still holds its
// file locks (RocksDB's LOCK, btree's writer lock): GetOrOpen of the same
// store waits for it rather than opening a second copy that those locks would
// refuse.
#ifndef MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_
#define MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <unistd.h>

#include "common/file_util.h"
#include "manifold/status.h"

namespace manifold {

template <typename Store>
class StoreRegistry {
 public:
  // Returns the open store for `path`, or opens it with `open` and registers it.
  // `open` runs under the registry lock, so a store is never opened twice.
  // `path` must exist when `open` returns OK (the key is its device and inode).
  Result<std::shared_ptr<Store>> GetOrOpen(
      const std::string& path, const std::function<Result<std::shared_ptr<Store>>()>& open) {
    std::lock_guard<std::mutex> lock(mu_);
    Result<FileId> id = GetFileId(path);
    const pid_t pid = ::getpid();
    if (id.ok()) {
      auto it = stores_.find(*id);
      if (it != stores_.end()) {
        if (it->second.pid == pid) {
          if (std::shared_ptr<Store> store = it->second.store.lock()) return store;
          it->second.closed->Wait();  // its last handle is gone; its close may still run
        }
        stores_.erase(it);  // closed, or the parent's (after fork)
      }
    }
    Result<std::shared_ptr<Store>> opened = open();
    if (!opened.ok()) return opened;
    Result<FileId> new_id = GetFileId(path);
    if (!new_id.ok()) return new_id.status();
    // The handle given out closes the store in its own process only, and
    // then says so to whoever waits to open it again.
    Store* raw = opened->get();
    auto closed = std::make_shared<CloseSignal>();
    std::shared_ptr<Store> store(raw, [owner = std::move(*opened), pid, closed](Store*) mutable {
      std::shared_ptr<Store> last = std::move(owner);
      if (::getpid() != pid) {
        new std::shared_ptr<Store>(std::move(last));  // leaked
      } else {
        last.reset();  // closes the store (when no one else holds `owner`'s copy)
      }
      closed->Set();
    });
    stores_[*new_id] = Entry{store, pid, std::move(closed)};
    return store;
  }

 private:
  // Set once a store's last handle has been released and the store closed.
  class CloseSignal {
   public:
    void Set() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
      }
      cv_.notify_all();
    }
    void Wait() {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return done_; });
    }

   private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
  };
  struct Entry {
    std::weak_ptr<Store> store;
    pid_t pid;
    std::shared_ptr<CloseSignal> closed;
  };
  std::mutex mu_;
  std::map<FileId, Entry> stores_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_
