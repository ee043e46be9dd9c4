// MemoryStore: one in-memory store of named keyspaces, shared by every Engine
// handle opened on its name in this process and alive while any of them (or a
// transaction of theirs) refers to it.
//
// The whole state of a store is a MemoryCatalog: keyspace names mapped to
// persistent trees. The committed catalog is immutable and published as a
// shared_ptr, so a reader's snapshot is one pointer copy and is never blocked
// by the writer, which builds its next catalog on the side and swaps it in at
// commit. Thread-safe.
#ifndef MANIFOLD_ENGINES_MEMORY_MEMORY_STORE_H_
#define MANIFOLD_ENGINES_MEMORY_MEMORY_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/write_gate.h"
#include "memory/persistent_tree.h"

namespace manifold {

// One keyspace: its tree and the id that tells a handle to this keyspace from
// one to an earlier keyspace of the same name (dropped, then created again).
struct MemoryKeyspace {
  uint64_t id = 0;
  PersistentTree tree;
};

// Keyspace name -> keyspace, in byte order. Copying it copies tree roots only.
using MemoryCatalog = std::map<std::string, MemoryKeyspace, std::less<>>;

class MemoryStore {
 public:
  // `label` names the store in messages ("memory store 'x'").
  explicit MemoryStore(std::string label)
      : label_(std::move(label)), committed_(std::make_shared<const MemoryCatalog>()) {}

  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  const std::string& label() const { return label_; }

  // Returns the committed state as of now. Never waits for the writer.
  std::shared_ptr<const MemoryCatalog> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }

  // Makes `catalog` the committed state. REQUIRES: the caller holds gate().
  void Publish(std::shared_ptr<const MemoryCatalog> catalog) {
    std::shared_ptr<const MemoryCatalog> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old = std::exchange(committed_, std::move(catalog));
    }
    // `old` may be the last reference to a large tree: free it outside the lock.
  }

  // The single-writer lock of this store.
  WriteGate& gate() { return gate_; }

  // Returns an id no keyspace of this store has had before.
  uint64_t NewKeyspaceId() { return next_keyspace_id_.fetch_add(1) + 1; }

 private:
  const std::string label_;
  WriteGate gate_;
  mutable std::mutex mu_;  // guards committed_ (the pointer, not the catalog)
  std::shared_ptr<const MemoryCatalog> committed_;
  std::atomic<uint64_t> next_keyspace_id_{0};
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_MEMORY_STORE_H_
