#include "memory/persistent_tree.h"

#include <cstring>
#include <new>
#include <optional>
#include <utility>

namespace manifold {
namespace {

// A node below kMinFill entries (children) is merged with a neighbour when
// the two fit in one node, so deletes do not leave a tree of near-empty leaves.
constexpr int kMinFill = kTreeFanout / 4;

const TreeLeaf* AsLeaf(const TreeNode* node) { return static_cast<const TreeLeaf*>(node); }
const TreeBranch* AsBranch(const TreeNode* node) { return static_cast<const TreeBranch*>(node); }

// The first entry of `leaf` whose key is >= key (> key when !inclusive).
int LeafBound(const TreeLeaf* leaf, Bytes key, bool inclusive) {
  int lo = 0;
  int hi = leaf->count;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    const int c = CompareBytes(leaf->entries[mid]->key(), key);
    if (c < 0 || (c == 0 && !inclusive)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// The child of `branch` whose range holds `key`.
int ChildFor(const TreeBranch* branch, Bytes key) {
  int lo = 1;
  int hi = branch->count;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (CompareBytes(branch->keys[mid], key) <= 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo - 1;
}

// `node` itself, to change in place, when `owned`: nothing but its parent (or
// the tree's root) refers to it, and likewise up to the root. Else a copy of
// it, which *copy owns.
template <typename Node>
Node* Writable(const TreeNodePtr& node, bool owned, std::shared_ptr<Node>* copy) {
  if (owned) return const_cast<Node*>(static_cast<const Node*>(node.get()));
  *copy = std::make_shared<Node>(*static_cast<const Node*>(node.get()));
  return copy->get();
}

// What a change of `node` hands back to its parent: the copy Writable made,
// if it made one, else `node` (changed in place).
template <typename Node>
TreeNodePtr Finish(const TreeNodePtr& node, std::shared_ptr<Node> copy) {
  return copy != nullptr ? TreeNodePtr(std::move(copy)) : node;
}

// The upper half of a node that split, for its parent to insert.
struct Split {
  TreeNodePtr right;
  std::string key;  // the least key under `right`
};

TreeNodePtr Insert(const TreeNodePtr& node, bool owned, EntryRef entry,
                   std::optional<Split>* split, std::optional<uint64_t>* replaced);

TreeNodePtr InsertIntoLeaf(const TreeNodePtr& node, bool owned, EntryRef entry,
                           std::optional<Split>* split, std::optional<uint64_t>* replaced) {
  const TreeLeaf* leaf = AsLeaf(node.get());
  const int pos = LeafBound(leaf, entry->key(), /*inclusive=*/true);
  const bool replace = pos < leaf->count && CompareBytes(leaf->entries[pos]->key(), entry->key()) == 0;
  if (replace || leaf->count < kTreeFanout) {
    std::shared_ptr<TreeLeaf> copy;
    TreeLeaf* target = Writable(node, owned, &copy);
    if (replace) {
      const TreeEntry& old = *target->entries[pos];
      *replaced = old.key().size() + old.value().size();
    } else {
      for (int i = target->count; i > pos; --i) target->entries[i] = std::move(target->entries[i - 1]);
      ++target->count;
    }
    target->entries[pos] = std::move(entry);
    return Finish(node, std::move(copy));
  }
  // Full: split. Rows that arrive in key order (pos at the end) leave the
  // left leaf full and start a new one, so a bulk load packs its leaves.
  auto right = std::make_shared<TreeLeaf>();
  std::shared_ptr<TreeLeaf> copy;
  TreeLeaf* left = Writable(node, owned, &copy);
  const int total = kTreeFanout + 1;
  const int keep = pos == kTreeFanout ? kTreeFanout : total / 2;
  // Entry i of the kTreeFanout + 1 (the new one at pos) goes to the left leaf
  // below `keep`, else to the right one.
  for (int i = total - 1; i >= keep; --i) {
    EntryRef& slot = right->entries[i - keep];
    if (i == pos) {
      slot = std::move(entry);
    } else {
      slot = std::move(left->entries[i > pos ? i - 1 : i]);
    }
  }
  right->count = total - keep;
  if (pos < keep) {
    for (int i = keep - 1; i > pos; --i) left->entries[i] = std::move(left->entries[i - 1]);
    left->entries[pos] = std::move(entry);
  }
  left->count = keep;
  *split = Split{right, std::string(right->entries[0]->key())};
  return Finish(node, std::move(copy));
}

TreeNodePtr InsertIntoBranch(const TreeNodePtr& node, bool owned, EntryRef entry,
                             std::optional<Split>* split, std::optional<uint64_t>* replaced) {
  const TreeBranch* branch = AsBranch(node.get());
  const int idx = ChildFor(branch, entry->key());
  std::optional<Split> below;
  const TreeNodePtr& child = branch->children[idx];
  TreeNodePtr new_child =
      Insert(child, owned && child.use_count() == 1, std::move(entry), &below, replaced);
  std::shared_ptr<TreeBranch> copy;
  TreeBranch* target = Writable(node, owned, &copy);
  target->children[idx] = std::move(new_child);
  if (!below.has_value()) return Finish(node, std::move(copy));
  const int pos = idx + 1;  // where the new child goes
  if (target->count < kTreeFanout) {
    for (int i = target->count; i > pos; --i) {
      target->children[i] = std::move(target->children[i - 1]);
      target->keys[i] = std::move(target->keys[i - 1]);
    }
    target->children[pos] = std::move(below->right);
    target->keys[pos] = std::move(below->key);
    ++target->count;
    return Finish(node, std::move(copy));
  }
  // Full: split as a leaf does; the right branch's least key goes up.
  auto right = std::make_shared<TreeBranch>();
  const int total = kTreeFanout + 1;
  const int keep = pos == kTreeFanout ? kTreeFanout : total / 2;
  std::string up;
  for (int i = total - 1; i >= keep; --i) {
    TreeNodePtr moved_child;
    std::string moved_key;
    if (i == pos) {
      moved_child = std::move(below->right);
      moved_key = std::move(below->key);
    } else {
      const int from = i > pos ? i - 1 : i;
      moved_child = std::move(target->children[from]);
      moved_key = std::move(target->keys[from]);
    }
    right->children[i - keep] = std::move(moved_child);
    if (i == keep) {
      up = std::move(moved_key);
    } else {
      right->keys[i - keep] = std::move(moved_key);
    }
  }
  right->count = total - keep;
  if (pos < keep) {
    for (int i = keep - 1; i > pos; --i) {
      target->children[i] = std::move(target->children[i - 1]);
      target->keys[i] = std::move(target->keys[i - 1]);
    }
    target->children[pos] = std::move(below->right);
    target->keys[pos] = std::move(below->key);
  }
  target->count = keep;
  *split = Split{right, std::move(up)};
  return Finish(node, std::move(copy));
}

// Returns `node` with `entry` put in: changed in place when `owned`, else a
// copy. When the node had to split, its upper half is in *split; when the
// entry replaced one of the same key, *replaced is that one's size.
TreeNodePtr Insert(const TreeNodePtr& node, bool owned, EntryRef entry,
                   std::optional<Split>* split, std::optional<uint64_t>* replaced) {
  return node->leaf ? InsertIntoLeaf(node, owned, std::move(entry), split, replaced)
                    : InsertIntoBranch(node, owned, std::move(entry), split, replaced);
}

// A new node holding `left`'s entries (children) then `right`'s; `separator`
// is the least key under `right` (for branches).
TreeNodePtr Merge(const TreeNode* left, const TreeNode* right, const std::string& separator) {
  if (left->leaf) {
    auto merged = std::make_shared<TreeLeaf>(*AsLeaf(left));
    for (int i = 0; i < right->count; ++i) {
      merged->entries[merged->count++] = AsLeaf(right)->entries[i];
    }
    return merged;
  }
  auto merged = std::make_shared<TreeBranch>(*AsBranch(left));
  for (int i = 0; i < right->count; ++i) {
    merged->children[merged->count] = AsBranch(right)->children[i];
    merged->keys[merged->count] = i == 0 ? separator : AsBranch(right)->keys[i];
    ++merged->count;
  }
  return merged;
}

// Removes child `i` (and the key that bounds it) from `branch`.
void RemoveChild(TreeBranch* branch, int i) {
  for (int j = i; j + 1 < branch->count; ++j) {
    branch->children[j] = std::move(branch->children[j + 1]);
    branch->keys[j] = std::move(branch->keys[j + 1]);
  }
  --branch->count;
  branch->children[branch->count] = nullptr;
  branch->keys[branch->count].clear();
  branch->keys[0].clear();  // unused; child 0 may have been removed
}

// REQUIRES: `key` is in the subtree. Returns it without `key`, changed in
// place when `owned`. A node left with no entries (children) is returned as
// it is, for the parent to drop.
TreeNodePtr Remove(const TreeNodePtr& node, bool owned, Bytes key) {
  if (node->leaf) {
    const int pos = LeafBound(AsLeaf(node.get()), key, /*inclusive=*/true);
    std::shared_ptr<TreeLeaf> copy;
    TreeLeaf* target = Writable(node, owned, &copy);
    for (int i = pos; i + 1 < target->count; ++i) target->entries[i] = std::move(target->entries[i + 1]);
    --target->count;
    target->entries[target->count] = EntryRef();
    return Finish(node, std::move(copy));
  }
  const TreeBranch* branch = AsBranch(node.get());
  const int idx = ChildFor(branch, key);
  const TreeNodePtr& child = branch->children[idx];
  TreeNodePtr new_child = Remove(child, owned && child.use_count() == 1, key);
  std::shared_ptr<TreeBranch> copy;
  TreeBranch* target = Writable(node, owned, &copy);
  target->children[idx] = std::move(new_child);
  const TreeNode* changed = target->children[idx].get();
  if (changed->count == 0) {
    RemoveChild(target, idx);
  } else if (changed->count < kMinFill && target->count > 1) {
    const int left = idx > 0 ? idx - 1 : idx;
    const int right = left + 1;
    if (target->children[left]->count + target->children[right]->count <= kTreeFanout) {
      target->children[left] = Merge(target->children[left].get(), target->children[right].get(),
                                     target->keys[right]);
      RemoveChild(target, right);
    }
  }
  return Finish(node, std::move(copy));
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
  if (node == nullptr) return nullptr;
  while (!node->leaf) node = AsBranch(node)->children[ChildFor(AsBranch(node), key)].get();
  const TreeLeaf* leaf = AsLeaf(node);
  const int pos = LeafBound(leaf, key, /*inclusive=*/true);
  if (pos < leaf->count && CompareBytes(leaf->entries[pos]->key(), key) == 0) {
    return leaf->entries[pos].get();
  }
  return nullptr;
}

// A node is changed in place when nothing but the path from this tree's root
// refers to it (use_count 1 all the way down): such a node belongs to no
// snapshot, savepoint, cursor or other version. A cursor holds its version's
// root, so the root of a tree a cursor walks is shared and every write copies
// its path. Below the first shared node the path is copied; the copies are
// then owned, so the next Put of the same transaction changes them in place,
// and a bulk load into one transaction allocates about one leaf per
// kTreeFanout rows.
void PersistentTree::Put(Bytes key, Bytes value) {
  EntryRef entry = EntryRef::Make(key, value);
  // root_ stays as it is until the new version is complete.
  const bool owned = root_ == nullptr || root_.use_count() == 1;
  TreeNodePtr root = root_ != nullptr ? root_ : std::make_shared<TreeLeaf>();
  std::optional<Split> split;
  std::optional<uint64_t> replaced;  // read by the insert before it lets go
  root = Insert(root, owned, std::move(entry), &split, &replaced);
  if (split.has_value()) {
    auto top = std::make_shared<TreeBranch>();
    top->children[0] = std::move(root);
    top->children[1] = std::move(split->right);
    top->keys[1] = std::move(split->key);
    top->count = 2;
    root = std::move(top);
  }
  if (replaced.has_value()) {
    payload_bytes_ -= *replaced;
  } else {
    ++size_;
  }
  payload_bytes_ += key.size() + value.size();
  root_ = std::move(root);
}

bool PersistentTree::Erase(Bytes key) {
  const TreeEntry* old = Find(key);
  if (old == nullptr) return false;  // no path copy for a delete that changes nothing
  payload_bytes_ -= old->key().size() + old->value().size();
  --size_;
  TreeNodePtr root = Remove(root_, root_.use_count() == 1, key);
  // A root branch with one child hands over to it; an empty tree has no root.
  while (!root->leaf && root->count == 1) root = AsBranch(root.get())->children[0];
  if (root->count == 0) root = nullptr;
  root_ = std::move(root);
  return true;
}

void TreePath::Reset(TreeNodePtr root) {
  path_.clear();
  root_ = std::move(root);
}

void TreePath::DescendFirst(const TreeNode* node) {
  while (!node->leaf) {
    path_.push_back(Step{node, 0});
    node = AsBranch(node)->children[0].get();
  }
  path_.push_back(Step{node, 0});
}

void TreePath::DescendLast(const TreeNode* node) {
  while (!node->leaf) {
    path_.push_back(Step{node, node->count - 1});
    node = AsBranch(node)->children[node->count - 1].get();
  }
  path_.push_back(Step{node, node->count - 1});
}

void TreePath::NextLeaf() {
  path_.pop_back();
  while (!path_.empty()) {
    Step& up = path_.back();
    if (up.index + 1 < up.node->count) {
      ++up.index;
      DescendFirst(AsBranch(up.node)->children[up.index].get());
      return;
    }
    path_.pop_back();
  }
}

void TreePath::PrevLeaf() {
  path_.pop_back();
  while (!path_.empty()) {
    Step& up = path_.back();
    if (up.index > 0) {
      --up.index;
      DescendLast(AsBranch(up.node)->children[up.index].get());
      return;
    }
    path_.pop_back();
  }
}

void TreePath::SeekToFirst() {
  path_.clear();
  if (root_ == nullptr || root_->count == 0) return;
  DescendFirst(root_.get());
}

void TreePath::SeekToLast() {
  path_.clear();
  if (root_ == nullptr || root_->count == 0) return;
  DescendLast(root_.get());
}

const TreeNode* TreePath::DescendTo(Bytes target) {
  path_.clear();
  if (root_ == nullptr || root_->count == 0) return nullptr;
  const TreeNode* node = root_.get();
  while (!node->leaf) {
    const int idx = ChildFor(AsBranch(node), target);
    path_.push_back(Step{node, idx});
    node = AsBranch(node)->children[idx].get();
  }
  return node;
}

void TreePath::SeekAfter(Bytes target, bool inclusive) {
  const TreeNode* leaf = DescendTo(target);
  if (leaf == nullptr) return;
  const int pos = LeafBound(AsLeaf(leaf), target, inclusive);
  path_.push_back(Step{leaf, pos});
  if (pos == leaf->count) NextLeaf();  // the answer starts the next leaf
}

void TreePath::SeekBefore(Bytes target, bool inclusive) {
  const TreeNode* leaf = DescendTo(target);
  if (leaf == nullptr) return;
  const int pos = LeafBound(AsLeaf(leaf), target, !inclusive) - 1;
  path_.push_back(Step{leaf, pos});
  if (pos < 0) PrevLeaf();  // the answer ends the previous leaf
}

void TreePath::Next() {
  Step& at = path_.back();
  if (++at.index < at.node->count) return;
  NextLeaf();
}

void TreePath::Prev() {
  Step& at = path_.back();
  if (--at.index >= 0) return;
  PrevLeaf();
}

}  // namespace manifold
