// The btree engine's Engine, transactions and cursor, over Store (the file,
// meta and freelist), Mutator (the copy-on-write path) and TreePath (reads).
#include "btree/btree_engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <map>

#include "btree/file.h"
#include "btree/mutator.h"
#include "btree/store.h"
#include "btree/tree.h"
#include "common/file_util.h"
#include "common/store_registry.h"

namespace manifold {
namespace btree {
namespace {

constexpr std::chrono::milliseconds kCompactWait{2000};
// The cell bytes one transaction of Compact()'s leaf packing moves: 256
// pages' worth (1 MiB at 4 KiB pages), at most 4 MiB.
size_t RepackBytes(uint32_t page_size) { return std::min<size_t>(size_t{page_size} << 8, 4 << 20); }

// A keyspace as a write transaction sees it. Shared with its cursors, which
// follow root changes and notice a drop.
struct KeyspaceState {
  std::string name;
  uint64_t id = 0;
  uint64_t root = 0;
  uint64_t count = 0;
  bool dirty = false;    // root or count differ from the catalog
  bool dropped = false;  // handles to it are invalid
};

std::string EncodeCatalogValue(uint64_t id, uint64_t root, uint64_t count) {
  uint8_t buf[kCatalogValueSize];
  Store64(buf, id);
  Store64(buf + 8, root);
  Store64(buf + 16, count);
  return std::string(reinterpret_cast<char*>(buf), sizeof(buf));
}

Status DecodeCatalogValue(Bytes value, uint64_t page_count, KeyspaceState* ks) {
  if (value.size() != kCatalogValueSize) return Status::Corruption("btree catalog entry is malformed");
  const uint8_t* p = reinterpret_cast<const uint8_t*>(value.data());
  ks->id = Load64(p);
  ks->root = Load64(p + 8);
  ks->count = Load64(p + 16);
  if (ks->root == 1 || ks->root >= page_count) {
    return Status::Corruption("btree catalog entry for '" + ks->name + "' points outside the file");
  }
  return Status::OK();
}

Status LookupKeyspace(const Pages& pages, uint64_t catalog_root, std::string_view name,
                      KeyspaceState* ks) {
  std::string value;
  Status s = TreeGet(pages, catalog_root, name, &value);
  if (s.IsNotFound()) return Status::NotFound("keyspace '" + std::string(name) + "' does not exist");
  MANIFOLD_RETURN_IF_ERROR(s);
  ks->name = std::string(name);
  return DecodeCatalogValue(value, pages.page_count, ks);
}

Result<std::vector<std::string>> ListCatalog(const Pages& pages, uint64_t catalog_root) {
  std::vector<std::string> names;
  TreePath path;
  std::string scratch;
  for (Status s = path.First(pages, catalog_root);; s = path.Next(pages)) {
    MANIFOLD_RETURN_IF_ERROR(s);
    if (!path.valid()) break;
    Cell cell;
    MANIFOLD_RETURN_IF_ERROR(path.Current(pages, &cell));
    Bytes key;
    MANIFOLD_RETURN_IF_ERROR(CellKey(pages, cell, &scratch, &key));
    names.emplace_back(key);
  }
  return names;
}

Status KeyspaceGone(const Keyspace& ks) {
  return Status::NotFound("keyspace '" + ks.name + "' was dropped");
}

// A commit's record in the log (FORMAT.md, "The commit log"): its changes in
// order, each an op byte and varint-prefixed byte strings.
enum LogOp : uint8_t { kLogCreate = 1, kLogDrop = 2, kLogPut = 3, kLogDelete = 4 };

void AppendBytes(std::string* out, Bytes bytes) {
  uint8_t len[10];
  out->append(reinterpret_cast<const char*>(len), PutVarint(len, bytes.size()));
  out->append(bytes);
}

// Reads the next varint-prefixed byte string of a record; false at a malformed one.
bool NextBytes(Bytes* record, Bytes* bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(record->data());
  uint64_t n = 0;
  const size_t used = GetVarint(p, p + record->size(), &n);
  if (used == 0 || n > record->size() - used) return false;
  *bytes = record->substr(used, n);
  record->remove_prefix(used + n);
  return true;
}

// Where a cursor finds its tree's current root.
class RootSource {
 public:
  virtual ~RootSource() = default;
  virtual Result<uint64_t> root() const = 0;
  // Bumped by every write in the transaction; 0 forever for read transactions.
  virtual uint64_t version() const = 0;
};

class BtreeCursor final : public Cursor {
 public:
  BtreeCursor(const Pages* pages, std::unique_ptr<RootSource> source)
      : pages_(pages), source_(std::move(source)) {}

  bool Valid() const override { return valid_; }
  void SeekToFirst() override {
    Position([&](uint64_t root) { return path_.First(*pages_, root); });
  }
  void SeekToLast() override {
    Position([&](uint64_t root) { return path_.Last(*pages_, root); });
  }
  void Seek(Bytes target) override {
    Position([&](uint64_t root) {
      bool exact = false;
      return path_.Seek(*pages_, root, target, &exact);
    });
  }
  void SeekForPrev(Bytes target) override {
    Position([&](uint64_t root) { return SeekBefore(root, target, /*inclusive=*/true); });
  }
  void Next() override {
    if (!valid_) return;  // keeps the error of a failed value()
    if (!Stale()) {
      Position([&](uint64_t) { return path_.Next(*pages_); });
      return;
    }
    std::string last = key_copy_;
    Position([&](uint64_t root) {
      bool exact = false;
      MANIFOLD_RETURN_IF_ERROR(path_.Seek(*pages_, root, last, &exact));
      if (path_.valid() && exact) return path_.Next(*pages_);
      return Status::OK();
    });
  }
  void Prev() override {
    if (!valid_) return;
    if (!Stale()) {
      Position([&](uint64_t) { return path_.Prev(*pages_); });
      return;
    }
    std::string last = key_copy_;
    Position([&](uint64_t root) { return SeekBefore(root, last, /*inclusive=*/false); });
  }
  Bytes key() const override { return key_; }
  Bytes value() override {
    Bytes v;
    Status s = CellValue(*pages_, cell_, &value_buf_, &v);
    if (!s.ok()) {
      valid_ = false;
      status_ = s;
      return Bytes();
    }
    return v;
  }
  Status status() const override { return status_; }
  // The base's seek and steps, called directly: no call through the
  // interface per entry. On a read snapshot a step inside a leaf decodes the
  // next cell in place.
  size_t ReadFrom(Bytes target, size_t limit, EntryVisitor visit) override {
    Seek(target);
    size_t n = 0;
    while (n < limit && valid_) {
      Bytes v = value();
      if (!valid_) break;  // the value could not be read: status() says why
      ++n;
      if (!visit(key_, v) || n == limit) break;
      if (version_ == 0 && path_.NextInLeaf(*pages_, &cell_)) {
        Status s = CellKey(*pages_, cell_, &key_buf_, &key_);
        if (!s.ok()) {
          valid_ = false;
          status_ = std::move(s);
          break;
        }
        continue;
      }
      Next();
    }
    return n;
  }

 private:
  bool Stale() const { return source_->version() != version_; }

  // The last key < target (or <= target when inclusive).
  Status SeekBefore(uint64_t root, Bytes target, bool inclusive) {
    bool exact = false;
    MANIFOLD_RETURN_IF_ERROR(path_.Seek(*pages_, root, target, &exact));
    if (path_.valid() && exact && inclusive) return Status::OK();
    if (path_.valid()) return path_.Prev(*pages_);
    return path_.Last(*pages_, root);
  }

  // Moves the path and reads the cell and key it lands on, if any.
  template <typename Move>
  Status Settle(Move& move, uint64_t root) {
    MANIFOLD_RETURN_IF_ERROR(move(root));
    if (!path_.valid()) return Status::OK();
    MANIFOLD_RETURN_IF_ERROR(path_.Current(*pages_, &cell_));
    return CellKey(*pages_, cell_, &key_buf_, &key_);
  }

  template <typename Move>
  void Position(Move move) {
    valid_ = false;
    Result<uint64_t> root = source_->root();
    if (!root.ok()) {
      status_ = root.status();
      return;
    }
    version_ = source_->version();
    // status_ is assigned only when it changes: a step repeats this per row.
    Status s = Settle(move, *root);
    if (!s.ok()) {
      status_ = std::move(s);
      return;
    }
    if (!status_.ok()) status_ = Status::OK();
    if (!path_.valid()) return;
    // A write transaction's cursor re-finds its place by key after writes.
    if (version_ != 0) {
      key_copy_.assign(key_);
      key_ = key_copy_;
    }
    valid_ = true;
  }

  const Pages* pages_;
  std::unique_ptr<RootSource> source_;
  TreePath path_;
  bool valid_ = false;
  Status status_;
  uint64_t version_ = 0;
  Cell cell_;
  Bytes key_;
  std::string key_buf_, key_copy_, value_buf_;
};

class BtreeReadTxn final : public ReadTxn {
 public:
  BtreeReadTxn(std::shared_ptr<Store> store, Snapshot snapshot)
      : store_(std::move(store)),
        snapshot_(std::move(snapshot)),
        pages_(snapshot_.pages(store_->verify_checksums())) {}
  ~BtreeReadTxn() override { store_->EndRead(snapshot_.meta.txn_id); }

  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    KeyspaceState ks;
    MANIFOLD_RETURN_IF_ERROR(LookupKeyspace(pages_, snapshot_.meta.catalog_root, name, &ks));
    Remember(ks.id, ks.root);
    return Keyspace{ks.name, ks.id};
  }

  Result<std::vector<std::string>> ListKeyspaces() override {
    return ListCatalog(pages_, snapshot_.meta.catalog_root);
  }

  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    Result<uint64_t> root = Root(ks);
    if (!root.ok()) return root.status();
    return TreeGet(pages_, *root, key, value);
  }

  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    Result<uint64_t> root = Root(ks);
    if (!root.ok()) return root.status();
    class FixedRoot final : public RootSource {
     public:
      explicit FixedRoot(uint64_t root) : root_(root) {}
      Result<uint64_t> root() const override { return root_; }
      uint64_t version() const override { return 0; }

     private:
      uint64_t root_;
    };
    return std::unique_ptr<Cursor>(
        std::make_unique<BtreeCursor>(&pages_, std::make_unique<FixedRoot>(*root)));
  }

 private:
  void Remember(uint64_t id, uint64_t root) {
    for (auto& [known, r] : roots_) {
      if (known == id) return;
    }
    roots_.push_back({id, root});
  }

  Result<uint64_t> Root(const Keyspace& ks) {
    for (const auto& [id, root] : roots_) {
      if (id == ks.id) return root;
    }
    KeyspaceState state;
    Status s = LookupKeyspace(pages_, snapshot_.meta.catalog_root, ks.name, &state);
    if (s.IsNotFound() || (s.ok() && state.id != ks.id)) return KeyspaceGone(ks);
    MANIFOLD_RETURN_IF_ERROR(s);
    Remember(state.id, state.root);
    return state.root;
  }

  std::shared_ptr<Store> store_;
  Snapshot snapshot_;
  Pages pages_;
  std::vector<std::pair<uint64_t, uint64_t>> roots_;  // keyspace id -> root
};

class BtreeWriteTxn final : public WriteTxn {
 public:
  BtreeWriteTxn(std::shared_ptr<Store> store, WriteGateHold hold)
      : store_(std::move(store)), hold_(std::move(hold)) {
    logged_ = store_->logging();
    std::vector<uint64_t> reusable;
    base_ = store_->BeginWrite(&reusable);
    meta_ = base_.meta;
    mutator_ = std::make_unique<Mutator>(base_.pages(store_->verify_checksums()),
                                         std::move(reusable));
  }
  ~BtreeWriteTxn() override { End(); }

  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> ks = Find(name);
    if (!ks.ok()) return ks.status();
    return Keyspace{(*ks)->name, (*ks)->id};
  }

  Result<std::vector<std::string>> ListKeyspaces() override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    return ListCatalog(mutator_->pages(), meta_.catalog_root);
  }

  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> state = Resolve(ks);
    if (!state.ok()) return state.status();
    return TreeGet(mutator_->pages(), (*state)->root, key, value);
  }

  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> state = Resolve(ks);
    if (!state.ok()) return state.status();
    class LiveRoot final : public RootSource {
     public:
      LiveRoot(std::shared_ptr<KeyspaceState> ks, const uint64_t* version)
          : ks_(std::move(ks)), version_(version) {}
      Result<uint64_t> root() const override {
        if (ks_->dropped) return Status::NotFound("keyspace '" + ks_->name + "' was dropped");
        return ks_->root;
      }
      uint64_t version() const override { return *version_; }

     private:
      std::shared_ptr<KeyspaceState> ks_;
      const uint64_t* version_;
    };
    return std::unique_ptr<Cursor>(std::make_unique<BtreeCursor>(
        &mutator_->pages(), std::make_unique<LiveRoot>(*state, &version_)));
  }

  Result<Keyspace> CreateKeyspace(std::string_view name) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> found = Find(name);
    if (found.ok()) return Keyspace{(*found)->name, (*found)->id};
    if (!found.status().IsNotFound()) return found.status();
    auto ks = std::make_shared<KeyspaceState>();
    ks->name = std::string(name);
    ks->id = meta_.next_keyspace_id++;
    bool inserted = false;
    MANIFOLD_RETURN_IF_ERROR(Fail(mutator_->Put(&meta_.catalog_root, name,
                                                EncodeCatalogValue(ks->id, 0, 0), &inserted)));
    keyspaces_[ks->name] = ks;
    ++version_;
    Log(kLogCreate, name);
    return Keyspace{ks->name, ks->id};
  }

  Status DropKeyspace(std::string_view name) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> found = Find(name);
    if (!found.ok()) return found.status();
    std::shared_ptr<KeyspaceState> ks = *found;
    MANIFOLD_RETURN_IF_ERROR(Fail(mutator_->FreeTree(ks->root)));
    bool deleted = false;
    MANIFOLD_RETURN_IF_ERROR(Fail(mutator_->Delete(&meta_.catalog_root, name, &deleted)));
    ks->dropped = true;
    keyspaces_.erase(ks->name);
    ++version_;
    Log(kLogDrop, name);
    return Status::OK();
  }

  Status Put(const Keyspace& ks, Bytes key, Bytes value) override {
    return Write(ks, key, value, /*overwrite=*/true);
  }

  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override {
    return Write(ks, key, value, /*overwrite=*/false);
  }

  Status Delete(const Keyspace& ks, Bytes key) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> state = Resolve(ks);
    if (!state.ok()) return state.status();
    bool deleted = false;
    MANIFOLD_RETURN_IF_ERROR(Fail(mutator_->Delete(&(*state)->root, key, &deleted)));
    if (deleted) {
      --(*state)->count;
      (*state)->dirty = true;
      ++version_;
      Log(kLogDelete, ks.name, key);
    }
    return Status::OK();
  }

  Status Savepoint(int level) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    while (!savepoints_.empty() && savepoints_.back().level >= level) savepoints_.pop_back();
    Saved saved;
    saved.level = level;
    saved.meta = meta_;
    for (const auto& [name, ks] : keyspaces_) saved.keyspaces[name] = *ks;
    saved.mark = mutator_->Savepoint();
    saved.record_size = record_.size();
    savepoints_.push_back(std::move(saved));
    return Status::OK();
  }

  Status RollbackTo(int level) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    size_t i = 0;
    while (i < savepoints_.size() && savepoints_[i].level < level) ++i;
    if (i == savepoints_.size()) return Status::OK();
    savepoints_.resize(i + 1);
    Saved& saved = savepoints_.back();
    saved.level = level;
    mutator_->RollbackTo(saved.mark);
    if (logged_) record_.resize(saved.record_size);
    meta_ = saved.meta;
    // Keyspaces created since are gone; the others get their old roots back.
    for (auto it = keyspaces_.begin(); it != keyspaces_.end();) {
      auto old = saved.keyspaces.find(it->first);
      if (old == saved.keyspaces.end() || old->second.id != it->second->id) {
        it->second->dropped = true;
        it = keyspaces_.erase(it);
      } else {
        *it->second = old->second;
        ++it;
      }
    }
    for (const auto& [name, ks] : saved.keyspaces) {
      if (!keyspaces_.count(name)) keyspaces_[name] = std::make_shared<KeyspaceState>(ks);
    }
    ++version_;
    return Status::OK();
  }

  Status Release(int level) override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    while (!savepoints_.empty() && savepoints_.back().level >= level) savepoints_.pop_back();
    mutator_->Released(savepoints_.empty() ? nullptr : &savepoints_.back().mark);
    return Status::OK();
  }

  Status Commit() override {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Status s = FlushCatalog();
    if (s.ok()) s = store_->Commit(*mutator_, meta_, 0, logged_ ? &record_ : nullptr);
    End();
    return s;
  }

  // Applies one logged commit's changes (recovery). Corruption when the
  // record does not read as one, or names what does not exist.
  Status Replay(Bytes record) {
    const auto bad = [this](const std::string& what) {
      End();
      return Status::Corruption("btree commit log: a record " + what);
    };
    std::map<std::string, Keyspace, std::less<>> open;
    while (!record.empty()) {
      const auto op = static_cast<uint8_t>(record[0]);
      record.remove_prefix(1);
      Bytes name, key, value;
      if (!NextBytes(&record, &name)) return bad("is cut short");
      if (op == kLogCreate || op == kLogDrop) {
        open.erase(std::string(name));
        Status s = op == kLogCreate ? CreateKeyspace(name).status() : DropKeyspace(name);
        if (!s.ok()) return bad("cannot be replayed: " + s.ToString());
        continue;
      }
      if (op != kLogPut && op != kLogDelete) return bad("holds an unknown change");
      if (!NextBytes(&record, &key) || (op == kLogPut && !NextBytes(&record, &value))) {
        return bad("is cut short");
      }
      auto it = open.find(name);
      if (it == open.end()) {
        Result<Keyspace> ks = OpenKeyspace(name);
        if (!ks.ok()) return bad("cannot be replayed: " + ks.status().ToString());
        it = open.emplace(std::string(name), *ks).first;
      }
      Status s = op == kLogPut ? Put(it->second, key, value) : Delete(it->second, key);
      if (!s.ok()) return bad("cannot be replayed: " + s.ToString());
    }
    return Status::OK();
  }

  // The commit goes to the store file, synced (a checkpoint), not the log.
  void Unlogged() {
    logged_ = false;
    std::string().swap(record_);
  }

  void Rollback() override { End(); }

  // Compact support: moves every page at or above `limit` lower down and
  // reports the highest page still in use.
  Status Relocate(uint64_t limit, uint64_t* live, uint64_t* max_pgno) {
    Unlogged();  // moves pages, changes no row
    std::vector<std::string> names;
    {
      Result<std::vector<std::string>> list = ListKeyspaces();
      if (!list.ok()) return list.status();
      names = std::move(*list);
    }
    for (const std::string& name : names) {
      Result<std::shared_ptr<KeyspaceState>> ks = Find(name);
      if (!ks.ok()) return ks.status();
      uint64_t before = (*ks)->root;
      MANIFOLD_RETURN_IF_ERROR(mutator_->Relocate(&(*ks)->root, limit));
      if ((*ks)->root != before) (*ks)->dirty = true;
    }
    MANIFOLD_RETURN_IF_ERROR(FlushCatalog());
    MANIFOLD_RETURN_IF_ERROR(mutator_->Relocate(&meta_.catalog_root, limit));
    *live = 0;
    *max_pgno = 1;
    MANIFOLD_RETURN_IF_ERROR(mutator_->CountPages(meta_.catalog_root, live, max_pgno));
    for (const auto& [name, ks] : keyspaces_) {
      MANIFOLD_RETURN_IF_ERROR(mutator_->CountPages(ks->root, live, max_pgno));
    }
    return Status::OK();
  }

  uint32_t page_size() const { return mutator_->pages().page_size; }

  // Compact support: what the leaves of keyspace `name` hold.
  Status MeasureLeaves(std::string_view name, Mutator::LeafUse* use) {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> ks = Find(name);
    if (!ks.ok()) return ks.status();
    return mutator_->MeasureLeaves((*ks)->root, use);
  }

  // Compact support: packs the next leaves of keyspace `name`, from the
  // first key >= *from; *from becomes where the next call goes on. A
  // keyspace dropped meanwhile is done.
  Status Repack(std::string_view name, size_t budget, std::string* from, bool* done) {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Unlogged();  // moves cells, changes no row
    Result<std::shared_ptr<KeyspaceState>> ks = Find(name);
    if (!ks.ok()) {
      *done = ks.status().IsNotFound();
      return *done ? Status::OK() : ks.status();
    }
    std::string next;
    MANIFOLD_RETURN_IF_ERROR(Fail(mutator_->Repack(&(*ks)->root, *from, budget, &next, done)));
    (*ks)->dirty = true;
    *from = std::move(next);
    return Status::OK();
  }

  Status CommitTruncated(uint64_t limit) {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Status s = FlushCatalog();
    if (s.ok()) s = store_->Commit(*mutator_, meta_, limit);
    End();
    return s;
  }

 private:
  struct Saved {
    int level = 0;
    Meta meta;
    std::map<std::string, KeyspaceState> keyspaces;
    Mutator::Mark mark;
    size_t record_size = 0;
  };

  // Adds a change to the commit's log record; a record grown past what the
  // log takes is dropped, and the commit syncs the store file instead.
  void Log(LogOp op, Bytes name, Bytes key = {}, const Bytes* value = nullptr) {
    if (!logged_) return;
    record_.push_back(static_cast<char>(op));
    AppendBytes(&record_, name);
    if (op == kLogPut || op == kLogDelete) AppendBytes(&record_, key);
    if (value != nullptr) AppendBytes(&record_, *value);
    if (record_.size() > CommitLog::kMaxRecord) Unlogged();
  }

  Status Live() const {
    if (mutator_ == nullptr) return Status::Aborted("btree write transaction is over");
    return Status::OK();
  }

  // A failed tree edit may leave the transaction half-changed: end it.
  // Put (overwrite) and Insert (a present key: Constraint, nothing written).
  Status Write(const Keyspace& ks, Bytes key, Bytes value, bool overwrite) {
    MANIFOLD_RETURN_IF_ERROR(Live());
    Result<std::shared_ptr<KeyspaceState>> state = Resolve(ks);
    if (!state.ok()) return state.status();
    bool inserted = false;
    uint64_t* root = &(*state)->root;
    MANIFOLD_RETURN_IF_ERROR(Fail(overwrite ? mutator_->Put(root, key, value, &inserted)
                                            : mutator_->Insert(root, key, value, &inserted)));
    if (!inserted && !overwrite) return Status::Constraint("key exists");
    if (inserted) ++(*state)->count;
    (*state)->dirty = true;
    ++version_;
    Log(kLogPut, ks.name, key, &value);
    return Status::OK();
  }

  Status Fail(Status s) {
    if (!s.ok()) End();
    return s;
  }

  void End() {
    for (auto& [name, ks] : keyspaces_) ks->dropped = true;
    keyspaces_.clear();
    savepoints_.clear();
    mutator_.reset();
    hold_.Reset();
  }

  Result<std::shared_ptr<KeyspaceState>> Find(std::string_view name) {
    auto it = keyspaces_.find(name);
    if (it != keyspaces_.end()) return it->second;
    auto ks = std::make_shared<KeyspaceState>();
    MANIFOLD_RETURN_IF_ERROR(LookupKeyspace(mutator_->pages(), meta_.catalog_root, name, ks.get()));
    keyspaces_[ks->name] = ks;
    return ks;
  }

  Result<std::shared_ptr<KeyspaceState>> Resolve(const Keyspace& handle) {
    Result<std::shared_ptr<KeyspaceState>> ks = Find(handle.name);
    if (!ks.ok()) return ks.status().IsNotFound() ? KeyspaceGone(handle) : ks.status();
    if ((*ks)->id != handle.id) return KeyspaceGone(handle);
    return ks;
  }

  Status FlushCatalog() {
    for (auto& [name, ks] : keyspaces_) {
      if (!ks->dirty) continue;
      bool inserted = false;
      MANIFOLD_RETURN_IF_ERROR(mutator_->Put(&meta_.catalog_root, name,
                                             EncodeCatalogValue(ks->id, ks->root, ks->count),
                                             &inserted));
      ks->dirty = false;
    }
    return Status::OK();
  }

  std::shared_ptr<Store> store_;
  WriteGateHold hold_;
  Snapshot base_;
  Meta meta_;
  std::unique_ptr<Mutator> mutator_;
  std::map<std::string, std::shared_ptr<KeyspaceState>, std::less<>> keyspaces_;
  std::vector<Saved> savepoints_;
  uint64_t version_ = 1;
  // The commit's changes for the log, while it keeps them (store logging).
  bool logged_ = true;
  std::string record_;
};

class BtreeEngine final : public Engine {
 public:
  BtreeEngine(std::shared_ptr<Store> store, bool read_only)
      : store_(std::move(store)), read_only_(read_only) {}

  std::string_view name() const override { return "btree"; }
  Capabilities capabilities() const override { return BtreeEngineInfo().capabilities; }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    Result<Snapshot> snap = store_->BeginRead();
    if (!snap.ok()) return snap.status();
    const uint64_t txn_id = snap->meta.txn_id;
    try {
      return std::unique_ptr<ReadTxn>(std::make_unique<BtreeReadTxn>(store_, std::move(*snap)));
    } catch (...) {
      // Out of memory before the transaction took the registration over: a
      // reader left registered would keep every later commit from reusing
      // pages (the file would only grow) and Compact() busy.
      store_->EndRead(txn_id);
      throw;
    }
  }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    Result<std::unique_ptr<BtreeWriteTxn>> txn = BeginWriteTxn(wait);
    if (!txn.ok()) return txn.status();
    return std::unique_ptr<WriteTxn>(std::move(*txn));
  }

  Result<uint64_t> EstimatedSize() override { return store_->EstimatedSize(); }
  Status Check() override { return CheckBtreeStore(*store_); }

  // A snapshot copy: the pages of the committed state as of now, read through
  // a registered reader (so no writer reuses them meanwhile), written to a new
  // file whose two meta slots both describe that state. Free pages are copied
  // as they are: a writer may be reusing them, but nothing reachable from the
  // copied meta refers to them.
  Status Backup(const std::string& path) override {
    // The free pages come along for a logged commit, whose freelist is in
    // memory only (and whose newest pages are in the overlay, read here
    // through Pages): the copy gets a freelist of its own, in pages after
    // the snapshot's.
    std::vector<uint64_t> free;
    bool logged = false;
    Result<Snapshot> snap = store_->BeginCheck(&free, &logged);
    if (!snap.ok()) return snap.status();
    struct EndRead {
      Store* store;
      uint64_t txn_id;
      ~EndRead() { store->EndRead(txn_id); }
    } end_read{store_.get(), snap->meta.txn_id};
    Meta meta = snap->meta;
    const uint64_t page_size = meta.page_size;
    const Pages pages = snap->pages(/*verify_checksums=*/false);
    if (!logged && snap->mapping->size() < meta.page_count * page_size) {
      return Status::Corruption(store_->path() + ": the mapping is shorter than the committed pages");
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("btree: cannot create the backup", path, errno);
    auto write_all = [&](uint64_t offset, const uint8_t* data, uint64_t n) -> Status {
      while (n > 0) {
        ssize_t done = ::pwrite(fd, data, std::min<uint64_t>(n, uint64_t{1} << 20),
                                static_cast<off_t>(offset));
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) return ErrnoStatus("btree: cannot write the backup", path, errno);
        data += done;
        offset += static_cast<uint64_t>(done);
        n -= static_cast<uint64_t>(done);
      }
      return Status::OK();
    };
    Status s;
    if (!logged) {
      if (meta.page_count > 2) {
        s = write_all(2 * page_size, snap->mapping->data() + 2 * page_size,
                      (meta.page_count - 2) * page_size);
      }
    } else {
      // Page by page (the overlay's or the file's), 256 pages per write.
      std::vector<uint8_t> buffer(256 * page_size);
      for (uint64_t first = 2; s.ok() && first < meta.page_count; first += 256) {
        const uint64_t n = std::min<uint64_t>(256, meta.page_count - first);
        for (uint64_t i = 0; i < n; ++i) {
          const uint8_t* page = pages.Get(first + i);  // null: a free page past the file
          uint8_t* out = buffer.data() + i * page_size;
          if (page != nullptr) {
            std::memcpy(out, page, page_size);
          } else {
            std::memset(out, 0, page_size);
          }
        }
        s = write_all(first * page_size, buffer.data(), n * page_size);
      }
      const auto p = static_cast<uint32_t>(page_size);
      const uint64_t per_page = FreelistEntriesPerPage(p);
      const uint64_t chain = (free.size() + per_page - 1) / per_page;
      std::vector<uint8_t> page(page_size);
      for (uint64_t c = 0; s.ok() && c < chain; ++c) {
        const uint64_t begin = c * per_page;
        EncodeFreelistPage(page.data(), p, c + 1 < chain ? meta.page_count + c + 1 : 0,
                           std::min<uint64_t>(per_page, free.size() - begin), [&](size_t e) {
                             return std::pair<uint64_t, uint64_t>(free[begin + e], 0);
                           });
        SealPage(page.data(), meta.page_count + c, p);
        s = write_all((meta.page_count + c) * page_size, page.data(), page_size);
      }
      meta.freelist_head = chain == 0 ? 0 : meta.page_count;
      meta.freelist_entries = free.size();
      meta.page_count += chain;
      meta.commit_record = 0;
      meta.commit_pages = 0;
      meta.commit_digest = 0;
    }
    std::vector<uint8_t> meta_page(page_size, 0);
    EncodeMeta(meta, meta_page.data());
    if (s.ok()) s = write_all(0, meta_page.data(), page_size);
    if (s.ok()) s = write_all(page_size, meta_page.data(), page_size);
    if (s.ok() && ::fsync(fd) != 0) s = ErrnoStatus("btree: cannot fsync the backup", path, errno);
    ::close(fd);
    if (s.ok()) s = SyncParentDirectory(path);
    if (!s.ok()) ::unlink(path.c_str());
    return s;
  }


  // Moves live pages toward the start of the file, then cuts off the free
  // tail. Each round copies the pages above a target; the pages they leave
  // become free at the next round (no reader can see them), so a few rounds
  // pack the file.
  Status Compact() override {
    if (read_only_ || store_->read_only()) return Status::ReadOnly(store_->path() + ": store is read-only");
    if (store_->ReaderCount() != 0) {
      return Status::Busy(store_->path() + ": cannot compact while read transactions are open");
    }
    MANIFOLD_RETURN_IF_ERROR(PackLeaves());
    uint64_t last_limit = 0;
    for (int round = 0; round < 8; ++round) {
      Result<std::unique_ptr<BtreeWriteTxn>> txn = BeginWriteTxn(kCompactWait);
      if (!txn.ok()) return txn.status();
      uint64_t live = 0, max_pgno = 0;
      MANIFOLD_RETURN_IF_ERROR((*txn)->Relocate(UINT64_MAX, &live, &max_pgno));
      // Room for the live pages, the copies of their paths and the freelist:
      // generous in the first round, which may move most pages; later rounds
      // move few and leave less free space below the end.
      const uint64_t tight = 2 + live + live / 64 + 16;
      const uint64_t target = round == 0 ? 2 + live + live / 16 + 16 : tight;
      MANIFOLD_RETURN_IF_ERROR((*txn)->Relocate(target, &live, &max_pgno));
      const uint64_t limit = max_pgno + 1;
      MANIFOLD_RETURN_IF_ERROR((*txn)->CommitTruncated(limit));
      // A commit whose freelist and record do not fit below limit keeps the
      // file's end (Store::Commit); the next round, with this round's freed
      // pages free, cuts it.
      const bool cut = store_->PageCount() <= limit;
      if (cut && (limit <= tight || limit == last_limit)) break;
      last_limit = limit;
    }
    MANIFOLD_RETURN_IF_ERROR(store_->TruncateFile());
    // One more commit, so that both meta slots describe the shorter file.
    Result<std::unique_ptr<BtreeWriteTxn>> txn = BeginWriteTxn(kCompactWait);
    if (!txn.ok()) return txn.status();
    return (*txn)->Commit();
  }

 private:
  // Packs the leaves of every keyspace whose leaves hold much less than they
  // could (a tree grown by inserts in random order, or whose values were
  // rewritten at other sizes: both split leaves in the middle), so that it
  // takes about as many leaves as a load in key order. Each transaction
  // packs about RepackBytes() of cells and leaves the contents as they were,
  // so a crash or an error between them loses nothing.
  Status PackLeaves() {
    std::vector<std::string> names;
    size_t budget = 0;
    {
      Result<std::unique_ptr<BtreeWriteTxn>> txn = BeginWriteTxn(kCompactWait);
      if (!txn.ok()) return txn.status();
      budget = RepackBytes((*txn)->page_size());
      Result<std::vector<std::string>> list = (*txn)->ListKeyspaces();
      if (!list.ok()) return list.status();
      for (std::string& name : *list) {
        Mutator::LeafUse use;
        MANIFOLD_RETURN_IF_ERROR((*txn)->MeasureLeaves(name, &use));
        if (NeedsPacking(use, (*txn)->page_size())) names.push_back(std::move(name));
      }
    }
    for (const std::string& name : names) {
      std::string from;
      for (bool done = false; !done;) {
        Result<std::unique_ptr<BtreeWriteTxn>> txn = BeginWriteTxn(kCompactWait);
        if (!txn.ok()) return txn.status();
        MANIFOLD_RETURN_IF_ERROR((*txn)->Repack(name, budget, &from, &done));
        MANIFOLD_RETURN_IF_ERROR((*txn)->Commit());
      }
    }
    return Status::OK();
  }

  // Packed, a leaf holds its capacity less at most one cell: a tree is worth
  // packing when it has a twentieth more leaves than that.
  static bool NeedsPacking(const Mutator::LeafUse& use, uint32_t page_size) {
    if (use.leaves <= 2 || use.cells == 0) return false;
    const uint64_t capacity = page_size - kHeaderSize;
    const uint64_t mean_cell = use.bytes / use.cells;
    if (mean_cell >= capacity / 2) return false;
    const uint64_t packed = (use.bytes + capacity - mean_cell - 1) / (capacity - mean_cell);
    return use.leaves * 20 > packed * 21;
  }

  Result<std::unique_ptr<BtreeWriteTxn>> BeginWriteTxn(std::chrono::milliseconds wait) {
    if (read_only_ || store_->read_only()) {
      return Status::ReadOnly(store_->path() + ": store is opened read-only");
    }
    MANIFOLD_RETURN_IF_ERROR(store_->gate().Acquire(wait, store_->path()));
    return std::make_unique<BtreeWriteTxn>(store_, WriteGateHold(&store_->gate()));
  }

  std::shared_ptr<Store> store_;
  bool read_only_;
};

Status ParseOptions(const Options& options, StoreOptions* out) {
  out->path = options.path;
  out->create = options.create_if_missing;
  out->read_only = options.read_only;
  out->sync = options.sync;
  for (const auto& [name, value] : options.engine_options) {
    if (name == "page_size") {
      char* end = nullptr;
      unsigned long v = std::strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v < kMinPageSize || v > kMaxPageSize ||
          (v & (v - 1)) != 0) {
        return Status::InvalidArgument("btree option page_size=" + value +
                                       " must be a power of two from 512 to 65536");
      }
      out->page_size = static_cast<uint32_t>(v);
    } else if (name == "verify_checksums") {
      if (value == "true" || value == "1" || value == "on") {
        out->verify_checksums = true;
      } else if (value == "false" || value == "0" || value == "off") {
        out->verify_checksums = false;
      } else {
        return Status::InvalidArgument("btree option verify_checksums=" + value +
                                       " must be true or false");
      }
    } else if (name == "log_size") {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || v < CommitLog::kMinCapacity ||
          v > CommitLog::kMaxCapacity || v % CommitLog::kBlockSize != 0) {
        return Status::InvalidArgument("btree option log_size=" + value +
                                       " must be a multiple of 4096 from 8192 to 1073741824");
      }
      out->log_size = v;
    } else {
      return Status::InvalidArgument("unknown btree option '" + name +
                                     "' (known: page_size, verify_checksums, log_size)");
    }
  }
  if (options.path.empty()) return Status::InvalidArgument("btree needs a file path");
  return Status::OK();
}

std::atomic<BtreeFileOpener>& FileOpener() {
  static std::atomic<BtreeFileOpener> opener{nullptr};
  return opener;
}

// Replays the commits the store's log holds after its checkpoint, as one
// commit that is itself a checkpoint, then settles the log.
Status Recover(const std::shared_ptr<Store>& store) {
  std::vector<std::string> records = store->TakeRecovery();
  if (!records.empty()) {
    MANIFOLD_RETURN_IF_ERROR(store->gate().Acquire(kCompactWait, store->path()));
    BtreeWriteTxn txn(store, WriteGateHold(&store->gate()));
    txn.Unlogged();
    for (const std::string& record : records) {
      Status s = txn.Replay(record);
      if (!s.ok()) return s.WithContext(store->path());
    }
    MANIFOLD_RETURN_IF_ERROR(txn.Commit());
  }
  return store->SettleLog();
}

StoreRegistry<Store>& Registry() {
  static StoreRegistry<Store>* registry = new StoreRegistry<Store>();
  return *registry;
}

}  // namespace
}  // namespace btree

EngineInfo BtreeEngineInfo() {
  Capabilities caps;
  caps.persistent = true;
  caps.multi_process = false;
  caps.native_compression = false;
  caps.empty_keys = true;
  caps.max_key_size = 0;
  return EngineInfo{"btree", "manifold btree format " + std::to_string(btree::kFormatVersion),
                    caps, true, {"page_size", "verify_checksums", "log_size"}};
}

Result<std::unique_ptr<Engine>> OpenBtreeEngine(const Options& options) {
  btree::StoreOptions store_options;
  MANIFOLD_RETURN_IF_ERROR(btree::ParseOptions(options, &store_options));
  Result<std::shared_ptr<btree::Store>> store = btree::Registry().GetOrOpen(
      options.path, [&]() -> Result<std::shared_ptr<btree::Store>> {
        struct stat st;
        const bool existed = ::stat(options.path.c_str(), &st) == 0;
        if (!existed && (options.read_only || !options.create_if_missing)) {
          return Status::NotFound("btree store '" + options.path + "' does not exist");
        }
        BtreeFileOpener opener = btree::FileOpener().load();
        if (opener == nullptr) opener = &btree::OpenPosixFile;
        Result<std::unique_ptr<btree::File>> file =
            opener(options.path, options.read_only, !existed);
        if (!file.ok()) return file.status();
        if (!existed) MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(options.path));
        // The commit log: any open reads one that is there (and a writer
        // not under sync=full then empties it); a writer under sync=full
        // creates it once the store file has opened as a btree store.
        const std::string log_path = options.path + "-log";
        std::unique_ptr<btree::File> log;
        if (::stat(log_path.c_str(), &st) == 0) {
          Result<std::unique_ptr<btree::File>> opened = opener(log_path, options.read_only, false);
          if (!opened.ok()) return opened.status();
          log = std::move(*opened);
        }
        const bool create_log =
            log == nullptr && !options.read_only && options.sync == SyncMode::kFull;
        Result<std::shared_ptr<btree::Store>> opened =
            btree::Store::Open(store_options, std::move(*file), std::move(log));
        if (!opened.ok()) return opened.status();
        if (create_log) {
          Result<std::unique_ptr<btree::File>> created = opener(log_path, false, true);
          if (!created.ok()) return created.status();
          MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(log_path));
          (*opened)->AttachLog(std::move(*created));
        }
        MANIFOLD_RETURN_IF_ERROR(btree::Recover(*opened));
        return opened;
      });
  if (!store.ok()) return store.status();
  if ((*store)->read_only() && !options.read_only) {
    return Status::Busy(options.path + ": already open read-only in this process");
  }
  return std::unique_ptr<Engine>(std::make_unique<btree::BtreeEngine>(*store, options.read_only));
}

void SetBtreeFileOpenerForTesting(BtreeFileOpener opener) { btree::FileOpener().store(opener); }

Result<std::unique_ptr<Engine>> OpenBtreeEngineOnFile(const Options& options,
                                                      std::unique_ptr<btree::File> file,
                                                      std::unique_ptr<btree::File> log) {
  btree::StoreOptions store_options;
  MANIFOLD_RETURN_IF_ERROR(btree::ParseOptions(options, &store_options));
  Result<std::shared_ptr<btree::Store>> store =
      btree::Store::Open(store_options, std::move(file), std::move(log));
  if (!store.ok()) return store.status();
  MANIFOLD_RETURN_IF_ERROR(btree::Recover(*store));
  return std::unique_ptr<Engine>(std::make_unique<btree::BtreeEngine>(*store, options.read_only));
}

}  // namespace manifold
