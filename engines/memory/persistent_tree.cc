#include "memory/persistent_tree.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

namespace manifold {
namespace {

int Height(const TreeNodePtr& node) { return node == nullptr ? 0 : node->height; }

TreeNodePtr MakeNode(EntryRef entry, TreeNodePtr left, TreeNodePtr right) {
  auto node = std::make_shared<TreeNode>();
  node->height = 1 + std::max(Height(left), Height(right));
  node->entry = std::move(entry);
  node->left = std::move(left);
  node->right = std::move(right);
  return node;
}

// Builds a node from `entry` and two subtrees whose heights differ by at most
// two, rotating so that the result is AVL-balanced again. Rotations build new
// nodes: the subtrees may be shared with other versions.
TreeNodePtr Balance(EntryRef entry, TreeNodePtr left, TreeNodePtr right) {
  int hl = Height(left);
  int hr = Height(right);
  if (hl > hr + 1) {
    if (Height(left->left) >= Height(left->right)) {
      return MakeNode(left->entry, left->left, MakeNode(std::move(entry), left->right, right));
    }
    const TreeNodePtr& lr = left->right;
    return MakeNode(lr->entry, MakeNode(left->entry, left->left, lr->left),
                    MakeNode(std::move(entry), lr->right, right));
  }
  if (hr > hl + 1) {
    if (Height(right->right) >= Height(right->left)) {
      return MakeNode(right->entry, MakeNode(std::move(entry), left, right->left), right->right);
    }
    const TreeNodePtr& rl = right->left;
    return MakeNode(rl->entry, MakeNode(std::move(entry), left, rl->left),
                    MakeNode(right->entry, rl->right, right->right));
  }
  return MakeNode(std::move(entry), std::move(left), std::move(right));
}

// Returns `node` with `entry` inserted or replacing the entry of equal key.
TreeNodePtr Insert(const TreeNodePtr& node, EntryRef entry) {
  if (node == nullptr) return MakeNode(std::move(entry), nullptr, nullptr);
  int c = CompareBytes(entry->key(), node->entry->key());
  if (c < 0) return Balance(node->entry, Insert(node->left, std::move(entry)), node->right);
  if (c > 0) return Balance(node->entry, node->left, Insert(node->right, std::move(entry)));
  auto copy = std::make_shared<TreeNode>(*node);
  copy->entry = std::move(entry);
  return copy;
}

// The owned node behind `node` (built by MakeNode as a mutable TreeNode).
// REQUIRES: nothing else refers to it (see InsertOwned).
TreeNode* Owned(const TreeNodePtr& node) { return const_cast<TreeNode*>(node.get()); }

void UpdateHeight(TreeNode* node) {
  node->height = 1 + std::max(Height(node->left), Height(node->right));
}

// Rotations of owned nodes, in place. REQUIRES: `node` and the child that
// rises are owned.
TreeNodePtr RotateLeftOwned(TreeNodePtr node) {
  TreeNode* n = Owned(node);
  TreeNodePtr risen = std::move(n->right);
  TreeNode* r = Owned(risen);
  n->right = std::move(r->left);
  UpdateHeight(n);
  r->left = std::move(node);
  UpdateHeight(r);
  return risen;
}

TreeNodePtr RotateRightOwned(TreeNodePtr node) {
  TreeNode* n = Owned(node);
  TreeNodePtr risen = std::move(n->left);
  TreeNode* l = Owned(risen);
  n->left = std::move(l->right);
  UpdateHeight(n);
  l->right = std::move(node);
  UpdateHeight(l);
  return risen;
}

// Balance() for an owned node whose subtrees' heights differ by at most two:
// the rotations keep the nodes they move when those are owned too, so that a
// bulk load leaves each node where it was allocated (in key order, when rows
// come in key order: a scan then walks memory forwards). Nodes shared with
// another version are rebuilt by Balance(). (After an insert, the nodes that
// rise are on the insert's path, which InsertOwned has made owned; the checks
// keep the function safe for any caller.)
TreeNodePtr RebalanceOwned(TreeNodePtr node) {
  TreeNode* n = Owned(node);
  const int hl = Height(n->left);
  const int hr = Height(n->right);
  if (hr > hl + 1) {
    const TreeNodePtr& r = n->right;
    if (r.use_count() == 1) {
      if (Height(r->right) >= Height(r->left)) return RotateLeftOwned(std::move(node));
      if (r->left.use_count() == 1) {
        n->right = RotateRightOwned(std::move(n->right));
        return RotateLeftOwned(std::move(node));
      }
    }
    return Balance(n->entry, n->left, n->right);
  }
  if (hl > hr + 1) {
    const TreeNodePtr& l = n->left;
    if (l.use_count() == 1) {
      if (Height(l->left) >= Height(l->right)) return RotateRightOwned(std::move(node));
      if (l->right.use_count() == 1) {
        n->left = RotateLeftOwned(std::move(n->left));
        return RotateRightOwned(std::move(node));
      }
    }
    return Balance(n->entry, n->left, n->right);
  }
  n->height = 1 + std::max(hl, hr);
  return node;
}

// Insert() for a tree this handle may own: a node that nothing else refers to
// (use_count 1, reached through nodes that are likewise unshared) belongs to
// no snapshot, savepoint, cursor or other version, so it is changed in place
// instead of copied. Below the first shared node, Insert() copies as before;
// the nodes it builds are unshared, so the next Put of the same transaction
// changes them in place. A bulk load into one transaction thus allocates one
// node per row instead of one per tree level.
TreeNodePtr InsertOwned(TreeNodePtr node, EntryRef entry) {
  if (node == nullptr) return MakeNode(std::move(entry), nullptr, nullptr);
  if (node.use_count() != 1) return Insert(node, std::move(entry));
  // Built as a mutable TreeNode by MakeNode (make_shared<TreeNode>).
  auto* mutable_node = const_cast<TreeNode*>(node.get());
  int c = CompareBytes(entry->key(), mutable_node->entry->key());
  if (c == 0) {
    mutable_node->entry = std::move(entry);
    return node;
  }
  TreeNodePtr& child = c < 0 ? mutable_node->left : mutable_node->right;
  child = InsertOwned(std::move(child), std::move(entry));
  return RebalanceOwned(std::move(node));
}

// Returns `node` without its smallest entry, which goes to *min.
TreeNodePtr RemoveMin(const TreeNodePtr& node, EntryRef* min) {
  if (node->left == nullptr) {
    *min = node->entry;
    return node->right;
  }
  return Balance(node->entry, RemoveMin(node->left, min), node->right);
}

// REQUIRES: `key` is in the subtree. Returns it without `key`.
TreeNodePtr Remove(const TreeNodePtr& node, Bytes key) {
  int c = CompareBytes(key, node->entry->key());
  if (c < 0) return Balance(node->entry, Remove(node->left, key), node->right);
  if (c > 0) return Balance(node->entry, node->left, Remove(node->right, key));
  if (node->left == nullptr) return node->right;
  if (node->right == nullptr) return node->left;
  EntryRef successor;
  TreeNodePtr right = RemoveMin(node->right, &successor);
  return Balance(std::move(successor), node->left, std::move(right));
}

}  // namespace

EntryRef EntryRef::Make(Bytes key, Bytes value) {
  void* block = ::operator new(sizeof(TreeEntry) + key.size() + value.size());
  auto* entry = new (block) TreeEntry(key.size(), value.size());
  char* bytes = reinterpret_cast<char*>(entry + 1);
  if (!key.empty()) std::memcpy(bytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(bytes + key.size(), value.data(), value.size());
  return EntryRef(entry);
}

void EntryRef::Release() noexcept {
  if (entry_ == nullptr || entry_->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  entry_->~TreeEntry();
  ::operator delete(const_cast<TreeEntry*>(entry_));
  entry_ = nullptr;
}

const TreeEntry* PersistentTree::Find(Bytes key) const {
  const TreeNode* node = root_.get();
  while (node != nullptr) {
    int c = CompareBytes(key, node->entry->key());
    if (c == 0) return node->entry.get();
    node = c < 0 ? node->left.get() : node->right.get();
  }
  return nullptr;
}

void PersistentTree::Put(Bytes key, Bytes value) {
  const TreeEntry* old = Find(key);
  if (old != nullptr) {
    payload_bytes_ -= old->key().size() + old->value().size();
  } else {
    ++size_;
  }
  payload_bytes_ += key.size() + value.size();
  root_ = InsertOwned(std::move(root_), EntryRef::Make(key, value));
}

bool PersistentTree::Erase(Bytes key) {
  const TreeEntry* old = Find(key);
  if (old == nullptr) return false;  // no path copy for a delete that changes nothing
  payload_bytes_ -= old->key().size() + old->value().size();
  --size_;
  root_ = Remove(root_, key);
  return true;
}

void TreePath::Reset(TreeNodePtr root) {
  path_.clear();
  root_ = std::move(root);
}

void TreePath::SeekToFirst() {
  path_.clear();
  for (const TreeNode* node = root_.get(); node != nullptr; node = node->left.get()) {
    path_.push_back(node);
  }
}

void TreePath::SeekToLast() {
  path_.clear();
  for (const TreeNode* node = root_.get(); node != nullptr; node = node->right.get()) {
    path_.push_back(node);
  }
}

// Both seeks walk one root-to-leaf path and keep it up to the deepest node
// that qualifies: that node is the answer, and the kept prefix is its path.
void TreePath::SeekAfter(Bytes target, bool inclusive) {
  path_.clear();
  size_t keep = 0;
  for (const TreeNode* node = root_.get(); node != nullptr;) {
    path_.push_back(node);
    int c = CompareBytes(node->entry->key(), target);
    if (c > 0 || (c == 0 && inclusive)) {
      keep = path_.size();
      node = node->left.get();
    } else {
      node = node->right.get();
    }
  }
  path_.resize(keep);
}

void TreePath::SeekBefore(Bytes target, bool inclusive) {
  path_.clear();
  size_t keep = 0;
  for (const TreeNode* node = root_.get(); node != nullptr;) {
    path_.push_back(node);
    int c = CompareBytes(node->entry->key(), target);
    if (c < 0 || (c == 0 && inclusive)) {
      keep = path_.size();
      node = node->right.get();
    } else {
      node = node->left.get();
    }
  }
  path_.resize(keep);
}

void TreePath::Next() {
  const TreeNode* node = path_.back();
  if (node->right != nullptr) {
    for (node = node->right.get(); node != nullptr; node = node->left.get()) path_.push_back(node);
  } else {
    // Climb until we leave a left subtree; that parent is the successor.
    for (;;) {
      const TreeNode* child = path_.back();
      path_.pop_back();
      if (path_.empty() || path_.back()->left.get() == child) break;
    }
  }
}

void TreePath::Prev() {
  const TreeNode* node = path_.back();
  if (node->left != nullptr) {
    for (node = node->left.get(); node != nullptr; node = node->right.get()) path_.push_back(node);
    return;
  }
  for (;;) {
    const TreeNode* child = path_.back();
    path_.pop_back();
    if (path_.empty() || path_.back()->right.get() == child) return;
  }
}

}  // namespace manifold
