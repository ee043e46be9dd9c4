#include "rocksdb/rocksdb_txn.h"

#include <rocksdb/comparator.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "rocksdb/rocksdb_cursor.h"

namespace manifold {
namespace {

rocksdb::Slice ToSlice(Bytes bytes) { return rocksdb::Slice(bytes.data(), bytes.size()); }

Result<Keyspace> FindByName(const ColumnFamilyMap& map, std::string_view name) {
  for (const auto& [id, cf] : map) {
    if (cf->name() == name) return cf->keyspace();
  }
  return Status::NotFound("rocksdb: keyspace '" + std::string(name) + "' does not exist");
}

// RocksDB's "default" column family is in every transaction's map, so that a
// store written by another program can be read (and written) through it, but
// it is no keyspace of manifold's: never listed, never dropped.
std::vector<std::string> Names(const ColumnFamilyMap& map) {
  std::vector<std::string> names;
  for (const auto& [id, cf] : map) {
    if (cf->name() != kDefaultColumnFamilyName) names.push_back(cf->name());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Status Missing(const Keyspace& ks) {
  return Status::NotFound("rocksdb: keyspace '" + ks.name + "' does not exist (dropped?)");
}

}  // namespace

// ---------------------------------------------------------------- read txn

RocksdbReadTxn::RocksdbReadTxn(std::shared_ptr<RocksdbStore> store) : store_(std::move(store)) {
  // The catalog and the snapshot are taken under one lock, which a commit
  // that changes the catalog also holds across its write: both are of the
  // same moment.
  std::lock_guard<std::mutex> lock(store_->mu);
  keyspaces_ = store_->keyspaces;
  keyspaces_.emplace(store_->default_cf->id(), store_->default_cf);
  snapshot_ = store_->db->GetSnapshot();
  read_options_.snapshot = snapshot_;
}

RocksdbReadTxn::~RocksdbReadTxn() {
  if (snapshot_ != nullptr) store_->db->ReleaseSnapshot(snapshot_);
}

Result<Keyspace> RocksdbReadTxn::OpenKeyspace(std::string_view name) {
  return FindByName(keyspaces_, name);
}

Result<std::vector<std::string>> RocksdbReadTxn::ListKeyspaces() { return Names(keyspaces_); }

Status RocksdbReadTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  auto it = keyspaces_.find(static_cast<uint32_t>(ks.id));
  if (it == keyspaces_.end()) return Missing(ks);
  rocksdb::PinnableSlice found;
  rocksdb::Status s = store_->db->Get(read_options_, it->second->handle(), ToSlice(key), &found);
  if (s.IsNotFound()) return Status::KeyNotFound();
  if (!s.ok()) return FromRocksdb(s, "rocksdb get in '" + ks.name + "'");
  value->assign(found.data(), found.size());
  return Status::OK();
}

Result<std::unique_ptr<Cursor>> RocksdbReadTxn::NewCursor(const Keyspace& ks) {
  auto it = keyspaces_.find(static_cast<uint32_t>(ks.id));
  if (it == keyspaces_.end()) return Missing(ks);
  std::shared_ptr<RocksdbColumnFamily> cf = it->second;
  rocksdb::DB* db = store_->db.get();
  const rocksdb::Snapshot* snapshot = snapshot_;
  auto make = [db, cf, snapshot]() -> Result<std::unique_ptr<rocksdb::Iterator>> {
    rocksdb::ReadOptions options;
    options.snapshot = snapshot;
    return std::unique_ptr<rocksdb::Iterator>(db->NewIterator(options, cf->handle()));
  };
  return std::unique_ptr<Cursor>(
      std::make_unique<RocksdbCursor>(cf, make, nullptr, store_->read_ahead));
}

// --------------------------------------------------------------- write txn

RocksdbWriteTxn::RocksdbWriteTxn(std::shared_ptr<RocksdbStore> store, WriteGateHold gate,
                                 rocksdb::WriteOptions write_options)
    : store_(std::move(store)),
      gate_(std::move(gate)),
      write_options_(write_options),
      batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {
  base_ = store_->Keyspaces();
  base_.emplace(store_->default_cf->id(), store_->default_cf);
  keyspaces_ = base_;
}

RocksdbWriteTxn::~RocksdbWriteTxn() {
  if (!done_) Rollback();
}

Status RocksdbWriteTxn::CheckLive() const {
  if (done_) return Status::Aborted("rocksdb: the write transaction is over");
  return Status::OK();
}

Result<std::shared_ptr<RocksdbColumnFamily>> RocksdbWriteTxn::Find(const Keyspace& ks) const {
  auto it = keyspaces_.find(static_cast<uint32_t>(ks.id));
  if (it == keyspaces_.end()) return Missing(ks);
  return it->second;
}

rocksdb::ColumnFamilyHandle* RocksdbWriteTxn::HandleOf(const Keyspace& ks) const {
  auto it = keyspaces_.find(static_cast<uint32_t>(ks.id));
  return it == keyspaces_.end() ? nullptr : it->second->handle();
}

Result<Keyspace> RocksdbWriteTxn::OpenKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  return FindByName(keyspaces_, name);
}

Result<std::vector<std::string>> RocksdbWriteTxn::ListKeyspaces() {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  return Names(keyspaces_);
}

Status RocksdbWriteTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  rocksdb::ColumnFamilyHandle* cf = HandleOf(ks);
  if (cf == nullptr) return Missing(ks);
  MANIFOLD_RETURN_IF_ERROR(Index());
  std::string found;
  // No snapshot needed: this transaction is the store's only writer, so the
  // latest committed state is the state it began on.
  rocksdb::Status s = batch_.GetFromBatchAndDB(store_->db.get(), rocksdb::ReadOptions(),
                                               cf, ToSlice(key), &found);
  if (s.IsNotFound()) return Status::KeyNotFound();
  if (!s.ok()) return FromRocksdb(s, "rocksdb get in '" + ks.name + "'");
  *value = std::move(found);
  return Status::OK();
}

Result<std::unique_ptr<Cursor>> RocksdbWriteTxn::NewCursor(const Keyspace& ks) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  Result<std::shared_ptr<RocksdbColumnFamily>> found = Find(ks);
  if (!found.ok()) return found.status();
  std::shared_ptr<RocksdbColumnFamily> cf = *found;
  MANIFOLD_RETURN_IF_ERROR(Index());
  rocksdb::DB* db = store_->db.get();
  rocksdb::WriteBatchWithIndex* batch = &batch_;
  const ColumnFamilyMap* keyspaces = &keyspaces_;
  auto make = [db, cf, batch, keyspaces]() -> Result<std::unique_ptr<rocksdb::Iterator>> {
    if (keyspaces->count(cf->id()) == 0) return Missing(cf->keyspace());
    rocksdb::Iterator* base = db->NewIterator(rocksdb::ReadOptions(), cf->handle());
    return std::unique_ptr<rocksdb::Iterator>(batch->NewIteratorWithBase(cf->handle(), base));
  };
  return std::unique_ptr<Cursor>(std::make_unique<RocksdbCursor>(cf, make, &generation_));
}

Result<Keyspace> RocksdbWriteTxn::CreateKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  // "default" is found here: RocksDB's own column family always exists.
  Result<Keyspace> existing = FindByName(keyspaces_, name);
  if (existing.ok()) return existing;
  ++generation_;
  // A keyspace this transaction dropped (or created and dropped) still exists
  // physically under that name, and RocksDB names must be unique: bring it
  // back, emptied through the batch so that savepoints and rollback undo it
  // like any write.
  std::shared_ptr<RocksdbColumnFamily> revived;
  for (const auto& [id, cf] : base_) {
    if (cf->name() == name) revived = cf;
  }
  for (const auto& cf : created_) {
    if (cf->name() == name) revived = cf;
  }
  if (revived != nullptr) {
    MANIFOLD_RETURN_IF_ERROR(DeleteAllKeys(revived));
    keyspaces_.emplace(revived->id(), revived);
    return revived->keyspace();
  }
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status s =
      store_->db->CreateColumnFamily(store_->cf_options, std::string(name), &handle);
  if (!s.ok()) return FromRocksdb(s, "rocksdb: cannot create keyspace '" + std::string(name) + "'");
  auto cf = std::make_shared<RocksdbColumnFamily>(store_->db.get(), handle);
  created_.push_back(cf);
  keyspaces_.emplace(cf->id(), cf);
  return cf->keyspace();
}

Status RocksdbWriteTxn::DeleteAllKeys(const std::shared_ptr<RocksdbColumnFamily>& cf) {
  MANIFOLD_RETURN_IF_ERROR(Index());
  std::unique_ptr<rocksdb::Iterator> it(batch_.NewIteratorWithBase(
      cf->handle(), store_->db->NewIterator(rocksdb::ReadOptions(), cf->handle())));
  std::vector<std::string> keys;
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
  MANIFOLD_RETURN_IF_ERROR(FromRocksdb(it->status(), "rocksdb: cannot empty '" + cf->name() + "'"));
  it.reset();
  for (const std::string& key : keys) {
    MANIFOLD_RETURN_IF_ERROR(FromRocksdb(batch_.Delete(cf->handle(), key), "rocksdb delete"));
  }
  return Status::OK();
}

Status RocksdbWriteTxn::DropKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  if (name == kDefaultColumnFamilyName) {
    return Status::InvalidArgument("rocksdb: the 'default' column family cannot be dropped");
  }
  Result<Keyspace> ks = FindByName(keyspaces_, name);
  if (!ks.ok()) return ks.status();
  ++generation_;
  keyspaces_.erase(static_cast<uint32_t>(ks->id));
  return Status::OK();
}

Status RocksdbWriteTxn::Put(const Keyspace& ks, Bytes key, Bytes value) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  rocksdb::ColumnFamilyHandle* cf = HandleOf(ks);
  if (cf == nullptr) return Missing(ks);
  ++generation_;
  rocksdb::Status s = indexed_ ? batch_.Put(cf, ToSlice(key), ToSlice(value))
                               : pending_.Put(cf, ToSlice(key), ToSlice(value));
  if (s.ok()) return Status::OK();  // no message to build on the common path
  return FromRocksdb(s, "rocksdb put in '" + ks.name + "'");
}

Status RocksdbWriteTxn::Delete(const Keyspace& ks, Bytes key) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  rocksdb::ColumnFamilyHandle* cf = HandleOf(ks);
  if (cf == nullptr) return Missing(ks);
  ++generation_;
  rocksdb::Status s = indexed_ ? batch_.Delete(cf, ToSlice(key))
                               : pending_.Delete(cf, ToSlice(key));
  if (s.ok()) return Status::OK();  // no message to build on the common path
  return FromRocksdb(s, "rocksdb delete in '" + ks.name + "'");
}

Status RocksdbWriteTxn::Index() {
  if (indexed_) return Status::OK();
  // Replays pending_ into batch_ record by record, setting each savepoint
  // where it was set: after the first pending_count records.
  class Replay : public rocksdb::WriteBatch::Handler {
   public:
    Replay(RocksdbWriteTxn* txn, std::map<uint32_t, rocksdb::ColumnFamilyHandle*> handles)
        : txn_(txn), handles_(std::move(handles)) {}
    rocksdb::Status PutCF(uint32_t id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      rocksdb::ColumnFamilyHandle* cf = Before(id);
      if (cf == nullptr) return Unknown(id);
      return txn_->batch_.Put(cf, key, value);
    }
    rocksdb::Status DeleteCF(uint32_t id, const rocksdb::Slice& key) override {
      rocksdb::ColumnFamilyHandle* cf = Before(id);
      if (cf == nullptr) return Unknown(id);
      return txn_->batch_.Delete(cf, key);
    }
    // Sets the savepoints that were set after `records_` records.
    void SetMarks() {
      while (next_mark_ < txn_->marks_.size() &&
             txn_->marks_[next_mark_].pending_count <= records_) {
        txn_->batch_.SetSavePoint();
        ++next_mark_;
      }
    }

   private:
    rocksdb::ColumnFamilyHandle* Before(uint32_t id) {
      SetMarks();
      ++records_;
      auto it = handles_.find(id);
      return it == handles_.end() ? nullptr : it->second;
    }
    static rocksdb::Status Unknown(uint32_t id) {
      return rocksdb::Status::Corruption("a write to an unknown column family " +
                                         std::to_string(id));
    }
    RocksdbWriteTxn* txn_;
    std::map<uint32_t, rocksdb::ColumnFamilyHandle*> handles_;
    uint32_t records_ = 0;
    size_t next_mark_ = 0;
  };
  std::map<uint32_t, rocksdb::ColumnFamilyHandle*> handles;
  for (const auto& [id, cf] : base_) handles[id] = cf->handle();
  for (const auto& cf : created_) handles[cf->id()] = cf->handle();
  Replay replay(this, std::move(handles));
  MANIFOLD_RETURN_IF_ERROR(FromRocksdb(pending_.Iterate(&replay), "rocksdb: cannot index the transaction's writes"));
  replay.SetMarks();
  pending_.Clear();
  indexed_ = true;
  return Status::OK();
}

void RocksdbWriteTxn::SetSavePoint() {
  if (indexed_) {
    batch_.SetSavePoint();
  } else {
    pending_.SetSavePoint();
  }
}

Status RocksdbWriteTxn::PopSavePoint() {
  return FromRocksdb(indexed_ ? batch_.PopSavePoint() : pending_.PopSavePoint(),
                     "rocksdb savepoint");
}

Status RocksdbWriteTxn::RollbackToSavePoint() {
  return FromRocksdb(indexed_ ? batch_.RollbackToSavePoint() : pending_.RollbackToSavePoint(),
                     "rocksdb rollback to");
}

// Savepoints: each manifold savepoint is one batch savepoint plus a copy of
// the keyspace catalog; marks_ maps SQLite's levels onto the batch's stack.

Status RocksdbWriteTxn::Savepoint(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  MANIFOLD_RETURN_IF_ERROR(Release(level));
  SetSavePoint();
  marks_.push_back(Mark{level, keyspaces_, pending_.Count()});
  return Status::OK();
}

Status RocksdbWriteTxn::RollbackTo(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  size_t i = 0;
  while (i < marks_.size() && marks_[i].level < level) ++i;
  if (i == marks_.size()) return Status::OK();
  // Fold the later savepoints into mark i, then undo back to it.
  while (marks_.size() > i + 1) {
    MANIFOLD_RETURN_IF_ERROR(PopSavePoint());
    marks_.pop_back();
  }
  ++generation_;
  MANIFOLD_RETURN_IF_ERROR(RollbackToSavePoint());
  SetSavePoint();  // savepoint `level` stays open
  marks_[i].level = level;
  keyspaces_ = marks_[i].keyspaces;
  return Status::OK();
}

Status RocksdbWriteTxn::Release(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  while (!marks_.empty() && marks_.back().level >= level) {
    MANIFOLD_RETURN_IF_ERROR(PopSavePoint());
    marks_.pop_back();
  }
  return Status::OK();
}

void RocksdbWriteTxn::DropCreatedExcept(const ColumnFamilyMap& keep) {
  for (const auto& cf : created_) {
    if (keep.count(cf->id()) == 0) {
      // Never visible outside this transaction; a failure leaves an empty,
      // unlisted-until-reopen column family, which is harmless.
      store_->db->DropColumnFamily(cf->handle()).PermitUncheckedError();
    }
  }
  created_.clear();
}

void RocksdbWriteTxn::Finish() {
  done_ = true;
  ++generation_;
  marks_.clear();
  pending_.Clear();
  batch_.Clear();
  gate_.Reset();
}

Status RocksdbWriteTxn::Commit() {
  MANIFOLD_RETURN_IF_ERROR(CheckLive());
  bool catalog_changed = keyspaces_.size() != base_.size() ||
                         !std::equal(keyspaces_.begin(), keyspaces_.end(), base_.begin(),
                                     [](const auto& a, const auto& b) { return a.first == b.first; });
  Status status;
  {
    // Readers take their snapshot and catalog under mu; holding it across
    // the write keeps a new keyspace and the rows written with it together.
    std::unique_lock<std::mutex> lock(store_->mu, std::defer_lock);
    if (catalog_changed) lock.lock();
    rocksdb::WriteBatch* writes = indexed_ ? batch_.GetWriteBatch() : &pending_;
    if (writes->Count() > 0) {
      status = store_->CheckRoom(writes->GetDataSize());
      if (status.ok()) {
        status = FromRocksdb(store_->db->Write(write_options_, writes),
                             "rocksdb: commit to '" + store_->path + "'");
        if (status.ok() && !write_options_.sync) store_->unsynced_log.store(true);
      }
    }
    if (status.ok() && catalog_changed) {
      store_->keyspaces = keyspaces_;
      store_->keyspaces.erase(store_->default_cf->id());
    }
  }
  if (!status.ok()) {
    DropCreatedExcept({});
    Finish();
    return status;
  }
  DropCreatedExcept(keyspaces_);
  for (const auto& [id, cf] : base_) {
    if (keyspaces_.count(id) == 0) {
      // Readers that captured the handle keep reading it: RocksDB keeps a
      // dropped column family's data until its last handle is destroyed.
      Status s = FromRocksdb(store_->db->DropColumnFamily(cf->handle()),
                             "rocksdb: cannot drop keyspace '" + cf->name() + "'");
      if (!s.ok() && status.ok()) status = s;
    }
  }
  Finish();
  return status;
}

void RocksdbWriteTxn::Rollback() {
  if (done_) return;
  DropCreatedExcept({});
  Finish();
}

}  // namespace manifold
