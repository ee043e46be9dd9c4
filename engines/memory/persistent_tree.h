// PersistentTree: the memory engine's ordered map, an immutable B+tree whose
// updates copy only the nodes on the path they change (a leaf and its
// branches). A copy of a tree is O(1) and independent of the original, so a
// snapshot, a savepoint or a commit is just a copy of a root pointer. Leaves
// hold up to kTreeFanout entries side by side, so a scan walks an array and
// not a chain of pointers. TreePath is a position in one version of a tree (a
// cursor's state).
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

// Entries per leaf and children per branch, at most.
constexpr int kTreeFanout = 32;

struct TreeNode;
using TreeNodePtr = std::shared_ptr<const TreeNode>;

// A node is never changed once another version or a cursor may see it (see
// PersistentTree::Put). Leaves and branches share this header; `leaf` says
// which one a node is. Only an empty tree's root is an empty leaf.
struct TreeNode {
  const bool leaf;
  int count = 0;  // entries of a leaf, children of a branch

 protected:
  explicit TreeNode(bool is_leaf) : leaf(is_leaf) {}
};

struct TreeLeaf : TreeNode {
  TreeLeaf() : TreeNode(true) {}
  EntryRef entries[kTreeFanout];  // [0, count), in key order
};

struct TreeBranch : TreeNode {
  TreeBranch() : TreeNode(false) {}
  TreeNodePtr children[kTreeFanout];  // [0, count)
  // keys[i] (i >= 1): every key under children[i - 1] is < keys[i] <= every
  // key under children[i]. keys[0] is unused.
  std::string keys[kTreeFanout];
};

class PersistentTree {
 public:
  // Approximate bytes a stored entry costs beside its key and value: its
  // header, and its slot in a leaf (leaves are half to wholly full).
  static constexpr uint64_t kEntryOverhead = sizeof(TreeEntry) + 2 * sizeof(EntryRef);

  // Creates an empty tree.
  PersistentTree() = default;

  // Returns the entry for `key`, or nullptr. The entry lives as long as any
  // tree version (or TreePath) that holds it; at least until this tree changes.
  const TreeEntry* Find(Bytes key) const;

  // Sets `key` to `value`, replacing any old value. Copies the O(log n) nodes
  // on the key's path that another version or a cursor may see, and changes
  // the others in place.
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
  const TreeEntry& entry() const {
    const Step& at = path_.back();
    return *static_cast<const TreeLeaf*>(at.node)->entries[at.index];
  }
  const TreeNodePtr& root() const { return root_; }

 private:
  struct Step {
    const TreeNode* node;
    int index;  // the child (branch) or entry (leaf) the path goes through
  };
  // Descends from path_.back()'s chosen child (or from the root when the path
  // is empty) to the first (last) entry of that subtree.
  void DescendFirst(const TreeNode* node);
  void DescendLast(const TreeNode* node);
  // Clears the path and walks the branches toward `target`, recording them;
  // returns the leaf reached (not yet on the path), or null for an empty tree.
  const TreeNode* DescendTo(Bytes target);
  // From the end of a leaf, moves to the first (last) entry of the next
  // (previous) leaf, or unplaced.
  void NextLeaf();
  void PrevLeaf();

  TreeNodePtr root_;
  // From root_ down to the current entry's leaf. Raw pointers: root_ owns them.
  std::vector<Step> path_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_PERSISTENT_TREE_H_
