// StoreRegistry<T>: one open store per (device, inode) per process, shared and
// reference-counted. LMDB and RocksDB forbid opening one store twice in a
// process, and a path spelled two ways (a symlink, "./x") must still reach the
// same store. Thread-safe.
#ifndef MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_
#define MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

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
    if (id.ok()) {
      auto it = stores_.find(*id);
      if (it != stores_.end()) {
        if (std::shared_ptr<Store> store = it->second.lock()) return store;
        stores_.erase(it);
      }
    }
    Result<std::shared_ptr<Store>> store = open();
    if (!store.ok()) return store;
    Result<FileId> new_id = GetFileId(path);
    if (!new_id.ok()) return new_id.status();
    stores_[*new_id] = *store;
    return store;
  }

 private:
  std::mutex mu_;
  std::map<FileId, std::weak_ptr<Store>> stores_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_STORE_REGISTRY_H_
