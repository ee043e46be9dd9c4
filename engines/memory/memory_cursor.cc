#include "memory/memory_cursor.h"

#include <utility>

#include "memory/memory_txn.h"

namespace manifold {

MemoryCursor::MemoryCursor(TreeNodePtr root) { path_.Reset(std::move(root)); }

MemoryCursor::MemoryCursor(const MemoryWriteTxn* txn, Keyspace ks) : txn_(txn), ks_(std::move(ks)) {}

bool MemoryCursor::Refresh(Bytes* anchor, std::string* anchor_copy, bool* changed) {
  *changed = false;
  status_ = Status::OK();
  if (txn_ == nullptr) return true;  // a snapshot never changes
  Result<TreeNodePtr> root = txn_->CurrentRoot(ks_);
  if (!root.ok()) {
    status_ = root.status();
    path_.Reset(nullptr);
    return false;
  }
  // Versions are immutable and path_ holds its root alive, so an equal
  // pointer means an unchanged keyspace.
  if (*root == path_.root()) return true;
  if (anchor != nullptr) {
    anchor_copy->assign(anchor->data(), anchor->size());
    *anchor = *anchor_copy;
  }
  path_.Reset(std::move(*root));
  *changed = true;
  return true;
}

void MemoryCursor::SeekToFirst() {
  bool changed;
  if (Refresh(nullptr, nullptr, &changed)) path_.SeekToFirst();
}

void MemoryCursor::SeekToLast() {
  bool changed;
  if (Refresh(nullptr, nullptr, &changed)) path_.SeekToLast();
}

void MemoryCursor::Seek(Bytes target) {
  std::string copy;
  bool changed;
  if (Refresh(&target, &copy, &changed)) path_.SeekAfter(target, /*inclusive=*/true);
}

void MemoryCursor::SeekForPrev(Bytes target) {
  std::string copy;
  bool changed;
  if (Refresh(&target, &copy, &changed)) path_.SeekBefore(target, /*inclusive=*/true);
}

void MemoryCursor::Next() {
  if (!Valid()) return;  // REQUIRES: Valid(); stay put rather than crash
  Bytes current = key();
  std::string copy;
  bool changed;
  if (!Refresh(&current, &copy, &changed)) return;
  if (changed) {
    path_.SeekAfter(current, /*inclusive=*/false);
  } else {
    path_.Next();
  }
}

void MemoryCursor::Prev() {
  if (!Valid()) return;
  Bytes current = key();
  std::string copy;
  bool changed;
  if (!Refresh(&current, &copy, &changed)) return;
  if (changed) {
    path_.SeekBefore(current, /*inclusive=*/false);
  } else {
    path_.Prev();
  }
}

}  // namespace manifold
