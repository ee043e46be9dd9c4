#include "memory/memory_txn.h"

#include <utility>

#include "memory/memory_cursor.h"

namespace manifold {
namespace {

Result<std::vector<std::string>> ListNames(const MemoryCatalog& catalog) {
  std::vector<std::string> names;
  names.reserve(catalog.size());
  for (const auto& [name, keyspace] : catalog) names.push_back(name);
  return names;
}

Result<Keyspace> OpenIn(const MemoryCatalog& catalog, std::string_view name,
                        const std::string& label) {
  auto it = catalog.find(name);
  if (it == catalog.end()) {
    return Status::NotFound(label + ": no keyspace '" + std::string(name) + "'");
  }
  return Keyspace{it->first, it->second.id};
}

Status GetIn(const MemoryCatalog& catalog, const Keyspace& ks, Bytes key, std::string* value,
             const std::string& label) {
  Result<const MemoryKeyspace*> keyspace = FindMemoryKeyspace(catalog, ks, label);
  if (!keyspace.ok()) return keyspace.status();
  const TreeEntry* entry = (*keyspace)->tree.Find(key);
  if (entry == nullptr) return Status::KeyNotFound();
  value->assign(entry->value());
  return Status::OK();
}

}  // namespace

Status StaleKeyspace(const Keyspace& ks, const std::string& label) {
  return Status::InvalidArgument(label + ": keyspace '" + ks.name +
                                 "' does not exist here (dropped, or not in this snapshot)");
}

Result<const MemoryKeyspace*> FindMemoryKeyspace(const MemoryCatalog& catalog, const Keyspace& ks,
                                                 const std::string& label) {
  auto it = catalog.find(ks.name);
  if (it == catalog.end() || it->second.id != ks.id) return StaleKeyspace(ks, label);
  return &it->second;
}

// ---- MemoryReadTxn ----

MemoryReadTxn::MemoryReadTxn(std::shared_ptr<MemoryStore> store,
                             std::shared_ptr<const MemoryCatalog> snapshot)
    : store_(std::move(store)), snapshot_(std::move(snapshot)) {}

Result<Keyspace> MemoryReadTxn::OpenKeyspace(std::string_view name) {
  return OpenIn(*snapshot_, name, store_->label());
}

Result<std::vector<std::string>> MemoryReadTxn::ListKeyspaces() { return ListNames(*snapshot_); }

Status MemoryReadTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  return GetIn(*snapshot_, ks, key, value, store_->label());
}

Result<std::unique_ptr<Cursor>> MemoryReadTxn::NewCursor(const Keyspace& ks) {
  Result<const MemoryKeyspace*> keyspace = FindMemoryKeyspace(*snapshot_, ks, store_->label());
  if (!keyspace.ok()) return keyspace.status();
  return std::unique_ptr<Cursor>(std::make_unique<MemoryCursor>((*keyspace)->tree.root()));
}

// ---- MemoryWriteTxn ----

MemoryWriteTxn::MemoryWriteTxn(std::shared_ptr<MemoryStore> store, WriteGateHold hold)
    : store_(std::move(store)), hold_(std::move(hold)), working_(*store_->Snapshot()) {}

MemoryWriteTxn::~MemoryWriteTxn() {
  if (open_) Rollback();  // never committed: nothing was published
}

Status MemoryWriteTxn::CheckOpen() const {
  if (open_) return Status::OK();
  return Status::Aborted(store_->label() +
                         ": the write transaction is over (committed or rolled back)");
}

Result<MemoryKeyspace*> MemoryWriteTxn::FindWorking(const Keyspace& ks) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  auto it = working_.find(ks.name);
  if (it == working_.end() || it->second.id != ks.id) return StaleKeyspace(ks, store_->label());
  return &it->second;
}

Result<TreeNodePtr> MemoryWriteTxn::CurrentRoot(const Keyspace& ks) const {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  Result<const MemoryKeyspace*> keyspace = FindMemoryKeyspace(working_, ks, store_->label());
  if (!keyspace.ok()) return keyspace.status();
  return (*keyspace)->tree.root();
}

Result<Keyspace> MemoryWriteTxn::OpenKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  return OpenIn(working_, name, store_->label());
}

Result<std::vector<std::string>> MemoryWriteTxn::ListKeyspaces() {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  return ListNames(working_);
}

Status MemoryWriteTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  return GetIn(working_, ks, key, value, store_->label());
}

Result<std::unique_ptr<Cursor>> MemoryWriteTxn::NewCursor(const Keyspace& ks) {
  Result<MemoryKeyspace*> keyspace = FindWorking(ks);
  if (!keyspace.ok()) return keyspace.status();
  return std::unique_ptr<Cursor>(std::make_unique<MemoryCursor>(this, ks));
}

Result<Keyspace> MemoryWriteTxn::CreateKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  auto it = working_.find(name);
  if (it == working_.end()) {
    MemoryKeyspace keyspace;
    keyspace.id = store_->NewKeyspaceId();
    it = working_.emplace(std::string(name), std::move(keyspace)).first;
  }
  return Keyspace{it->first, it->second.id};
}

Status MemoryWriteTxn::DropKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  auto it = working_.find(name);
  if (it == working_.end()) {
    return Status::NotFound(store_->label() + ": no keyspace '" + std::string(name) + "'");
  }
  working_.erase(it);
  return Status::OK();
}

Status MemoryWriteTxn::Put(const Keyspace& ks, Bytes key, Bytes value) {
  Result<MemoryKeyspace*> keyspace = FindWorking(ks);
  if (!keyspace.ok()) return keyspace.status();
  (*keyspace)->tree.Put(key, value);
  return Status::OK();
}

Status MemoryWriteTxn::Delete(const Keyspace& ks, Bytes key) {
  Result<MemoryKeyspace*> keyspace = FindWorking(ks);
  if (!keyspace.ok()) return keyspace.status();
  (*keyspace)->tree.Erase(key);
  return Status::OK();
}

Status MemoryWriteTxn::Savepoint(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  savepoints_.Mark(level, working_);
  return Status::OK();
}

Status MemoryWriteTxn::RollbackTo(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  if (std::optional<MemoryCatalog> state = savepoints_.RollbackTo(level)) {
    working_ = std::move(*state);
  }
  return Status::OK();
}

Status MemoryWriteTxn::Release(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  savepoints_.Release(level);
  return Status::OK();
}

Status MemoryWriteTxn::Commit() {
  MANIFOLD_RETURN_IF_ERROR(CheckOpen());
  open_ = false;
  savepoints_.Clear();
  store_->Publish(std::make_shared<const MemoryCatalog>(std::move(working_)));
  working_.clear();
  hold_.Reset();  // after Publish: the next writer starts from this commit
  return Status::OK();
}

void MemoryWriteTxn::Rollback() {
  if (!open_) return;
  open_ = false;
  savepoints_.Clear();
  working_.clear();
  hold_.Reset();
}

}  // namespace manifold
