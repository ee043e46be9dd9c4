// MemoryCursor: the memory engine's Cursor over one keyspace.
//
// A cursor of a read transaction walks one fixed tree version. A cursor of a
// write transaction follows that transaction's writes: before every move it
// compares the version it walks with the transaction's current one and, if
// they differ, finds its place again by key in the new version (so Next() goes
// to the first key after the current one in the current state). Tree versions
// are immutable, so until then it keeps walking, and key()/value() keep
// pointing into, the version it holds.
//
// Thread-safety: used by one thread at a time, as its transaction.
#ifndef MANIFOLD_ENGINES_MEMORY_MEMORY_CURSOR_H_
#define MANIFOLD_ENGINES_MEMORY_MEMORY_CURSOR_H_

#include <string>

#include "manifold/engine.h"
#include "memory/persistent_tree.h"

namespace manifold {

class MemoryWriteTxn;

class MemoryCursor final : public Cursor {
 public:
  // A cursor over the tree version rooted at `root`.
  explicit MemoryCursor(TreeNodePtr root);
  // A cursor over `ks` as `txn` has it at each move. REQUIRES: `txn` outlives
  // the cursor.
  MemoryCursor(const MemoryWriteTxn* txn, Keyspace ks);

  bool Valid() const override { return status_.ok() && path_.Valid(); }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(Bytes target) override;
  void SeekForPrev(Bytes target) override;
  void Next() override;
  void Prev() override;
  Bytes key() const override { return path_.entry().key(); }
  Bytes value() override { return path_.entry().value(); }
  Status status() const override { return status_; }

 private:
  // Brings path_ to the owning transaction's current version of the keyspace
  // (unplaced if it changed) and returns true; on error, fails the cursor and
  // returns false. `anchor` may point into the version being let go, so it is
  // first copied into *anchor_copy and repointed there. Sets *changed.
  bool Refresh(Bytes* anchor, std::string* anchor_copy, bool* changed);

  const MemoryWriteTxn* const txn_ = nullptr;  // null for a read snapshot
  const Keyspace ks_;
  TreePath path_;
  Status status_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_MEMORY_CURSOR_H_
