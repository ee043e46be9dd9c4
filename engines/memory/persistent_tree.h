// PersistentTree: the memory engine's ordered map, an immutable AVL tree whose
// updates copy only the O(log n) nodes on the path they change. A copy of a
// tree is O(1) and independent of the original, so a snapshot, a savepoint or
// a commit is just a copy of a root pointer. TreePath is a position in one
// version of a tree (a cursor's state).
//
// Thread-safety: a tree version is immutable and may be read by any number of
// threads at once; a PersistentTree object (the handle that points at one
// version) and a TreePath are used by one thread at a time.
#ifndef MANIFOLD_ENGINES_MEMORY_PERSISTENT_TREE_H_
#define MANIFOLD_ENGINES_MEMORY_PERSISTENT_TREE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "manifold/engine.h"

namespace manifold {

// One key and its value, in one allocation: the bytes follow the header, so
// reading an entry touches one block (a scan reads one after another). Shared,
// through EntryRef, by every tree version that holds it, so that copying a
// path never copies the (possibly large) bytes.
class TreeEntry {
 public:
  TreeEntry(const TreeEntry&) = delete;
  TreeEntry& operator=(const TreeEntry&) = delete;

  Bytes key() const { return Bytes(bytes(), key_size_); }
  Bytes value() const { return Bytes(bytes() + key_size_, value_size_); }

 private:
  friend class EntryRef;
  TreeEntry(size_t key_size, size_t value_size) : key_size_(key_size), value_size_(value_size) {}
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }

  // References from EntryRefs; tree versions on several threads share entries.
  mutable std::atomic<uint64_t> refs_{1};
  size_t key_size_;
  size_t value_size_;
};

// A counted reference to a TreeEntry, as shared_ptr is, but with the count in
// the entry: no control block of its own to allocate and to read.
class EntryRef {
 public:
  EntryRef() = default;
  // A new entry holding copies of `key` and `value`.
  static EntryRef Make(Bytes key, Bytes value);

  EntryRef(const EntryRef& other) noexcept : entry_(other.entry_) {
    if (entry_ != nullptr) entry_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  EntryRef(EntryRef&& other) noexcept : entry_(std::exchange(other.entry_, nullptr)) {}
  EntryRef& operator=(EntryRef other) noexcept {
    std::swap(entry_, other.entry_);
    return *this;
  }
  ~EntryRef() { Release(); }

  const TreeEntry* get() const { return entry_; }
  const TreeEntry* operator->() const { return entry_; }
  const TreeEntry& operator*() const { return *entry_; }

 private:
  explicit EntryRef(const TreeEntry* entry) : entry_(entry) {}
  void Release() noexcept;

  const TreeEntry* entry_ = nullptr;
};

struct TreeNode;
using TreeNodePtr = std::shared_ptr<const TreeNode>;

// A node is never changed after it is built.
struct TreeNode {
  EntryRef entry;
  TreeNodePtr left;   // keys < entry->key
  TreeNodePtr right;  // keys > entry->key
  int height = 1;     // of the subtree rooted here; a leaf is 1
};

class PersistentTree {
 public:
  // Approximate bytes a stored entry costs beside its key and value: the node
  // and its shared_ptr control block, and the entry's header.
  static constexpr uint64_t kEntryOverhead =
      sizeof(TreeNode) + 2 * sizeof(void*) + sizeof(TreeEntry);

  // Creates an empty tree.
  PersistentTree() = default;

  // Returns the entry for `key`, or nullptr. The entry lives as long as any
  // tree version (or TreePath) that holds it; at least until this tree changes.
  const TreeEntry* Find(Bytes key) const;

  // Sets `key` to `value`, replacing any old value. O(log n) new nodes.
  void Put(Bytes key, Bytes value);

  // Removes `key`; returns false (and changes nothing) if it was absent.
  bool Erase(Bytes key);

  // Returns the root of the current version (nullptr when empty).
  const TreeNodePtr& root() const { return root_; }
  // Returns the number of entries.
  uint64_t size() const { return size_; }
  // Returns the bytes of all keys and values.
  uint64_t payload_bytes() const { return payload_bytes_; }

 private:
  TreeNodePtr root_;
  uint64_t size_ = 0;
  uint64_t payload_bytes_ = 0;
};

// A position in one version of a tree, kept as the path of nodes from the root
// to the current node. It holds the root, so the version (and every entry it
// returned) stays alive while the path does.
class TreePath {
 public:
  // Creates an unplaced path over an empty tree.
  TreePath() = default;

  // Moves to the tree rooted at `root`, unplaced.
  void Reset(TreeNodePtr root);

  // Places the path on the first (last) entry; unplaced if the tree is empty.
  void SeekToFirst();
  void SeekToLast();
  // Places the path on the first entry whose key is >= target, or > target
  // when `inclusive` is false; unplaced if there is none.
  void SeekAfter(Bytes target, bool inclusive);
  // Places the path on the last entry whose key is <= target, or < target
  // when `inclusive` is false; unplaced if there is none.
  void SeekBefore(Bytes target, bool inclusive);
  // REQUIRES: Valid(). Moves to the next (previous) entry, or unplaced.
  void Next();
  void Prev();

  bool Valid() const { return !path_.empty(); }
  // REQUIRES: Valid(). Lives as long as this path's root.
  const TreeEntry& entry() const { return *path_.back()->entry; }
  const TreeNodePtr& root() const { return root_; }

 private:
  TreeNodePtr root_;
  // Nodes from root_ down to the current one. Raw pointers: root_ owns them.
  std::vector<const TreeNode*> path_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_PERSISTENT_TREE_H_
