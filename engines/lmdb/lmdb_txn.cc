#include "lmdb/lmdb_txn.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <utility>

namespace manifold {
namespace {

constexpr size_t kNamedDbRecordSize = 48;  // sizeof(MDB_db) on 64-bit builds

MDB_val ToVal(Bytes bytes) { return MDB_val{bytes.size(), const_cast<char*>(bytes.data())}; }

Status CheckName(std::string_view name) {
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("lmdb: keyspace name contains a NUL byte (LMDB names are C strings)");
  }
  return Status::OK();
}

Status NoKeyspace(const LmdbEnv& env, std::string_view name) {
  return Status::NotFound("lmdb '" + env.path() + "': keyspace '" + std::string(name) +
                          "' does not exist");
}

// Whether a[0, n) == b[0, n), as two loads of a Word from each end (they
// overlap when n < 2 * sizeof(Word)). REQUIRES: sizeof(Word) <= n.
template <typename Word>
bool SameEnds(const char* a, const char* b, size_t n) {
  Word a0, a1, b0, b1;
  std::memcpy(&a0, a, sizeof(Word));
  std::memcpy(&a1, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&b0, b, sizeof(Word));
  std::memcpy(&b1, b + n - sizeof(Word), sizeof(Word));
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

// a == b, for the keyspace name every lookup of a snapshot compares: names
// up to 16 bytes (most) in a few loads, without a call.
inline bool SameName(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  if (n > 16) return std::memcmp(a.data(), b.data(), n) == 0;
  if (n >= 8) return SameEnds<uint64_t>(a.data(), b.data(), n);
  if (n >= 4) return SameEnds<uint32_t>(a.data(), b.data(), n);
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// True if a key of this size can be stored, so a lookup of it can match.
bool StorableKey(Bytes key, size_t max_key_size) {
  return !key.empty() && key.size() <= max_key_size;
}

// Returns whether the main database of `txn` holds a named database `name`.
Result<bool> NamedDbExistsIn(const LmdbEnv& env, MDB_txn* txn, std::string_view name) {
  MDB_val key = ToVal(name);
  MDB_val data{0, nullptr};
  int rc = mdb_get(txn, env.main_dbi(), &key, &data);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return env.Error(rc, "cannot look up keyspace '" + std::string(name) + "'");
  return data.mv_size == kNamedDbRecordSize;
}

// Lists the keys of the main database for which `is_keyspace` holds.
template <typename Pred>
Result<std::vector<std::string>> ListNamedDbs(const LmdbEnv& env, MDB_txn* txn, Pred is_keyspace) {
  std::vector<std::string> names;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, env.main_dbi(), &cursor);
  if (rc != 0) return env.Error(rc, "cannot list keyspaces");
  MDB_val key, data;
  for (rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
    std::string name(static_cast<const char*>(key.mv_data), key.mv_size);
    if (data.mv_size == kNamedDbRecordSize && is_keyspace(name)) names.push_back(std::move(name));
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return env.Error(rc, "cannot list keyspaces");
  return names;
}

[[gnu::noinline, gnu::cold]] Status GetFailed(const LmdbEnv& env, int rc) {
  if (rc == MDB_NOTFOUND) return Status::KeyNotFound();
  return env.Error(rc, "get failed");
}

// In line in each Get: a lookup is the engine's most repeated call.
[[gnu::always_inline]] inline Status GetValue(const LmdbEnv& env, MDB_txn* txn, MDB_dbi dbi,
                                              Bytes key, std::string* value) {
  if (!StorableKey(key, env.max_key_size())) return GetFailed(env, MDB_NOTFOUND);
  MDB_val k = ToVal(key);
  MDB_val v{0, nullptr};
  int rc = mdb_get(txn, dbi, &k, &v);
  if (__builtin_expect(rc != 0, 0)) return GetFailed(env, rc);
  value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
  return Status::OK();
}

}  // namespace

Status CheckLmdbKey(Bytes key, size_t max_key_size) {
  if (key.empty()) {
    return Status::InvalidArgument("lmdb: empty keys are not supported (LMDB keys are 1.." +
                                   std::to_string(max_key_size) + " bytes)");
  }
  if (key.size() > max_key_size) {
    return Status::InvalidArgument("lmdb: key of " + std::to_string(key.size()) +
                                   " bytes is longer than LMDB's limit of " +
                                   std::to_string(max_key_size) + " bytes");
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// LmdbReadTxn

Result<std::unique_ptr<ReadTxn>> LmdbReadTxn::Begin(std::shared_ptr<LmdbEnv> env) {
  MANIFOLD_RETURN_IF_ERROR(env->RefreshHandlesIfStale());
  MDB_txn* txn = nullptr;
  for (int attempt = 0;; ++attempt) {
    MANIFOLD_RETURN_IF_ERROR(env->BeginRead(std::chrono::milliseconds(1000), &txn));
    // A commit by another process between the refresh and the snapshot may
    // have created keyspaces this process has no handle for yet.
    if (attempt > 0 || mdb_txn_id(txn) == env->known_txnid()) break;
    env->EndRead(txn);
    MANIFOLD_RETURN_IF_ERROR(env->RefreshHandlesIfStale());
  }
  try {
    return std::unique_ptr<ReadTxn>(new LmdbReadTxn(env, txn));
  } catch (...) {
    // Out of memory before the transaction owned the handle: an LMDB read
    // transaction left active would pin its snapshot (no page freed after it
    // is reused again) and hold a reader slot until the process ends.
    env->EndRead(txn);
    throw;
  }
}

LmdbReadTxn::~LmdbReadTxn() { env_->EndRead(txn_); }

Result<Keyspace> LmdbReadTxn::OpenKeyspace(std::string_view name) {
  if (name.empty()) return Keyspace{"", env_->main_dbi()};
  MANIFOLD_RETURN_IF_ERROR(CheckName(name));
  std::optional<MDB_dbi> dbi = env_->FindHandle(name);
  if (!dbi) return NoKeyspace(*env_, name);
  Result<bool> exists = NamedDbExistsIn(*env_, txn_, name);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoKeyspace(*env_, name);
  unsigned flags = 0;
  if (mdb_dbi_flags(txn_, *dbi, &flags) != 0) {
    return Status::Busy("lmdb '" + env_->path() + "': keyspace '" + std::string(name) +
                        "' was first opened in this process after this snapshot began; retry");
  }
  return Keyspace{std::string(name), *dbi};
}

Result<std::vector<std::string>> LmdbReadTxn::ListKeyspaces() {
  return ListNamedDbs(*env_, txn_, [&](const std::string& name) { return env_->HasHandle(name); });
}

Status LmdbReadTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  // A keyspace this snapshot has already read a value from is loaded: LMDB
  // looks it up by name no more (as for a cursor's moves), and while the
  // handle table is unchanged the handle still names it.
  const MDB_dbi dbi = static_cast<MDB_dbi>(ks.id);
  if (__builtin_expect(dbi == loaded_dbi_ && env_->handle_generation() == loaded_generation_ &&
                           SameName(ks.name, loaded_name_),
                       1)) {
    return GetValue(*env_, txn_, dbi, key, value);
  }
  return GetChecked(ks, key, value);
}

Status LmdbReadTxn::GetChecked(const Keyspace& ks, Bytes key, std::string* value) {
  const MDB_dbi dbi = static_cast<MDB_dbi>(ks.id);
  if (ks.name.empty() && dbi == env_->main_dbi()) return GetValue(*env_, txn_, dbi, key, value);
  // LMDB may look the database up by name here; a concurrent drop would be
  // freeing that name.
  std::shared_lock<std::shared_mutex> lock(env_->handle_mutex());
  if (!env_->HandleIsLocked(dbi, ks.name)) return NoKeyspace(*env_, ks.name);
  Status s = GetValue(*env_, txn_, dbi, key, value);
  if (s.ok()) {  // LMDB found a value, so it has loaded the database's record
    loaded_name_.assign(ks.name);  // first: if it throws, the old triple stands
    loaded_dbi_ = dbi;
    loaded_generation_ = env_->handle_generation();
  }
  return s;
}

Result<std::unique_ptr<Cursor>> LmdbReadTxn::NewCursor(const Keyspace& ks) {
  MDB_dbi dbi = static_cast<MDB_dbi>(ks.id);
  std::shared_lock<std::shared_mutex> lock(env_->handle_mutex(), std::defer_lock);
  if (!(ks.name.empty() && dbi == env_->main_dbi())) {
    lock.lock();
    if (!env_->HandleIsLocked(dbi, ks.name)) return NoKeyspace(*env_, ks.name);
    // A cursor loads its database's record when opened; later moves then
    // never look it up by name, so the lock is needed only here.
    Result<bool> exists = NamedDbExistsIn(*env_, txn_, ks.name);
    if (!exists.ok()) return exists.status();
    if (!*exists) return NoKeyspace(*env_, ks.name);
  }
  auto cursor = std::make_unique<LmdbCursor>(static_cast<LmdbCursorHost*>(this), env_.get(), dbi,
                                             /*copy_keys=*/false);
  MANIFOLD_RETURN_IF_ERROR(cursor->Attach());
  return std::unique_ptr<Cursor>(std::move(cursor));
}

// ---------------------------------------------------------------------------
// LmdbWriteTxn

Result<std::unique_ptr<WriteTxn>> LmdbWriteTxn::Begin(std::shared_ptr<LmdbEnv> env, SyncMode sync,
                                                      std::chrono::milliseconds wait) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + wait;
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  if (env->read_only()) {
    return Status::ReadOnly(env->label() +
                            " is opened read-only in this process: writes are not allowed");
  }
  std::unique_ptr<LmdbWriteTxn> txn(new LmdbWriteTxn(env, sync));
  MANIFOLD_RETURN_IF_ERROR(env->gate().Acquire(wait, env->label()));
  txn->gate_ = WriteGateHold(&env->gate());
  // LMDB's own writer mutex would block without a timeout: our flock, taken
  // first, bounds the wait for writers of other manifold processes.
  MANIFOLD_RETURN_IF_ERROR(env->LockWriters(remaining()));
  txn->writers_locked_ = true;
  MANIFOLD_RETURN_IF_ERROR(env->GrowMapIfNeeded(remaining()));
  env->set_writer_live(true);
  txn->writer_live_set_ = true;
  for (int attempt = 0;; ++attempt) {
    MANIFOLD_RETURN_IF_ERROR(env->RefreshHandlesIfStale(/*by_writer=*/true));
    MANIFOLD_RETURN_IF_ERROR(env->BeginTxn(nullptr, 0, remaining(), &txn->root_));
    txn->counted_ = true;
    // The handle table must cover this transaction's snapshot exactly: the
    // transaction allocates new slots from its own view of the table.
    if (attempt >= 2 || mdb_txn_id(txn->root_) - 1 == env->known_txnid()) break;
    mdb_txn_abort(std::exchange(txn->root_, nullptr));
    env->EndTxn();
    txn->counted_ = false;
  }
  return std::unique_ptr<WriteTxn>(std::move(txn));
}

LmdbWriteTxn::~LmdbWriteTxn() {
  if (!over_) Finish();
}

void LmdbWriteTxn::RemoveCursor(LmdbCursor* cursor) {
  cursors_.erase(std::remove(cursors_.begin(), cursors_.end(), cursor), cursors_.end());
}

void LmdbWriteTxn::DetachCursors() {
  for (LmdbCursor* cursor : cursors_) cursor->Detach();
}

void LmdbWriteTxn::Finish() {
  DetachCursors();
  if (root_ != nullptr) mdb_txn_abort(root_);  // also aborts open savepoints
  root_ = nullptr;
  savepoints_.clear();
  // A dropped database's slot is closed at once; after a rollback it exists
  // again without a handle, and after a commit the table just needs a rescan.
  if (dropped_) env_->MarkHandlesStale();
  if (writer_live_set_) env_->set_writer_live(false);
  writer_live_set_ = false;
  if (counted_) env_->EndTxn();
  counted_ = false;
  if (writers_locked_) env_->UnlockWriters();
  writers_locked_ = false;
  gate_.Reset();
  over_ = true;
}

Status LmdbWriteTxn::CheckUsable() const {
  if (over_) return Status::Aborted("lmdb: the write transaction is over");
  return poison_;
}

Status LmdbWriteTxn::Poison(Status status) {
  if (poison_.ok()) {
    poison_ = status;
    poison_depth_ = savepoints_.size();
  }
  return status;
}

std::optional<MDB_dbi> LmdbWriteTxn::FindSlot(std::string_view name) const {
  for (const OpenedSlot& slot : opened_) {
    if (slot.name == name) return slot.dbi;
  }
  return env_->FindHandle(name);
}

Status LmdbWriteTxn::CheckKeyspace(const Keyspace& ks) {
  MDB_dbi dbi = static_cast<MDB_dbi>(ks.id);
  if (ks.name.empty() && dbi == env_->main_dbi()) return Status::OK();
  if (dbi < checked_slots_.size() && checked_slots_[dbi]) return Status::OK();
  bool known = std::any_of(opened_.begin(), opened_.end(), [&](const OpenedSlot& slot) {
    return slot.dbi == dbi && slot.name == ks.name;
  });
  if (!known && !env_->HandleIs(dbi, ks.name)) return NoKeyspace(*env_, ks.name);
  if (checked_slots_.size() <= dbi) checked_slots_.resize(dbi + 1);
  checked_slots_[dbi] = 1;
  return Status::OK();
}

Result<bool> LmdbWriteTxn::NamedDbExists(std::string_view name) {
  return NamedDbExistsIn(*env_, innermost(), name);
}

Result<Keyspace> LmdbWriteTxn::OpenSlot(std::string_view name, unsigned flags) {
  std::string cname(name);
  MDB_dbi dbi = 0;
  ++epoch_;
  int rc = mdb_dbi_open(innermost(), cname.c_str(), flags, &dbi);
  if (rc == MDB_INCOMPATIBLE) {
    return Status::InvalidArgument(
        "lmdb '" + env_->path() + "': '" + cname +
        "' is a plain key of LMDB's unnamed main database, so it cannot be a keyspace");
  }
  if (rc == MDB_DBS_FULL) {
    return Status::Full("lmdb '" + env_->path() +
                        "': too many keyspaces (raise the engine option max_keyspaces)");
  }
  if (rc == MDB_NOTFOUND) return NoKeyspace(*env_, name);
  if (rc != 0) return Poison(env_->Error(rc, "cannot open keyspace '" + cname + "'"));
  opened_.push_back(OpenedSlot{cname, dbi, savepoints_.size()});
  return Keyspace{cname, dbi};
}

Result<Keyspace> LmdbWriteTxn::OpenKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  if (name.empty()) return Keyspace{"", env_->main_dbi()};
  MANIFOLD_RETURN_IF_ERROR(CheckName(name));
  Result<bool> exists = NamedDbExists(name);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoKeyspace(*env_, name);
  if (std::optional<MDB_dbi> dbi = FindSlot(name)) return Keyspace{std::string(name), *dbi};
  return OpenSlot(name, 0);
}

Result<Keyspace> LmdbWriteTxn::CreateKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  if (name.empty()) return Keyspace{"", env_->main_dbi()};
  MANIFOLD_RETURN_IF_ERROR(CheckName(name));
  Result<bool> exists = NamedDbExists(name);
  if (!exists.ok()) return exists.status();
  std::optional<MDB_dbi> dbi = FindSlot(name);
  if (dbi && *exists) return Keyspace{std::string(name), *dbi};
  if (dbi) {
    // LMDB binds an open slot to its name and would not create the database
    // again through it; only this process's own drops close slots.
    return Status::Busy("lmdb '" + env_->path() + "': keyspace '" + std::string(name) +
                        "' was dropped by another process while open here; reopen the store "
                        "to create it again");
  }
  return OpenSlot(name, *exists ? 0 : MDB_CREATE);
}

Status LmdbWriteTxn::DropKeyspace(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  if (name.empty()) {
    return Status::InvalidArgument("lmdb: the unnamed main database cannot be dropped");
  }
  MANIFOLD_RETURN_IF_ERROR(CheckName(name));
  Result<bool> exists = NamedDbExists(name);
  if (!exists.ok()) return exists.status();
  if (!*exists) return NoKeyspace(*env_, name);
  std::optional<MDB_dbi> dbi = FindSlot(name);
  if (!dbi) {
    Result<Keyspace> ks = OpenSlot(name, 0);
    if (!ks.ok()) return ks.status();
    dbi = static_cast<MDB_dbi>(ks->id);
  }
  for (LmdbCursor* cursor : cursors_) {
    if (cursor->dbi() == *dbi) {
      cursor->Invalidate(Status::NotFound("lmdb: keyspace '" + std::string(name) +
                                          "' was dropped"));
    }
  }
  ++epoch_;
  dropped_ = true;
  checked_slots_.clear();
  // mdb_drop closes the slot for the whole environment at once: readers must
  // not be looking the database up by name meanwhile.
  std::unique_lock<std::shared_mutex> lock(env_->handle_mutex());
  int rc = mdb_drop(innermost(), *dbi, 1);
  if (rc != 0) return Poison(env_->Error(rc, "cannot drop keyspace '" + std::string(name) + "'"));
  env_->RemoveHandleLocked(name);
  opened_.erase(std::remove_if(opened_.begin(), opened_.end(),
                               [&](const OpenedSlot& slot) { return slot.name == name; }),
                opened_.end());
  return Status::OK();
}

Result<std::vector<std::string>> LmdbWriteTxn::ListKeyspaces() {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  return ListNamedDbs(*env_, innermost(),
                      [&](const std::string& name) { return FindSlot(name).has_value(); });
}

Status LmdbWriteTxn::Get(const Keyspace& ks, Bytes key, std::string* value) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  MANIFOLD_RETURN_IF_ERROR(CheckKeyspace(ks));
  return GetValue(*env_, innermost(), static_cast<MDB_dbi>(ks.id), key, value);
}

Result<std::unique_ptr<Cursor>> LmdbWriteTxn::NewCursor(const Keyspace& ks) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  MANIFOLD_RETURN_IF_ERROR(CheckKeyspace(ks));
  if (!ks.name.empty()) {
    Result<bool> exists = NamedDbExists(ks.name);
    if (!exists.ok()) return exists.status();
    if (!*exists) return NoKeyspace(*env_, ks.name);
  }
  auto cursor = std::make_unique<LmdbCursor>(static_cast<LmdbCursorHost*>(this), env_.get(),
                                             static_cast<MDB_dbi>(ks.id), /*copy_keys=*/true);
  MANIFOLD_RETURN_IF_ERROR(cursor->Attach());
  return std::unique_ptr<Cursor>(std::move(cursor));
}

Status LmdbWriteTxn::Put(const Keyspace& ks, Bytes key, Bytes value) {
  return Store(ks, key, value, 0);
}

Status LmdbWriteTxn::Insert(const Keyspace& ks, Bytes key, Bytes value) {
  return Store(ks, key, value, MDB_NOOVERWRITE);
}

Status LmdbWriteTxn::Store(const Keyspace& ks, Bytes key, Bytes value, unsigned flags) {
  const MDB_dbi dbi = static_cast<MDB_dbi>(ks.id);
  // What every write checks, in line when it passes: the transaction is
  // usable, the keyspace was checked before, the key fits LMDB. Otherwise
  // the full checks, which name what is wrong.
  const bool checked = dbi < checked_slots_.size() && checked_slots_[dbi] != 0;
  if (__builtin_expect(over_ || !poison_.ok() || !checked || key.empty() ||
                           key.size() > env_->max_key_size(),
                       0)) {
    MANIFOLD_RETURN_IF_ERROR(CheckUsable());
    MANIFOLD_RETURN_IF_ERROR(CheckKeyspace(ks));
    MANIFOLD_RETURN_IF_ERROR(CheckLmdbKey(key, env_->max_key_size()));
  }
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  ++epoch_;
  int rc;
  if ((flags & MDB_NOOVERWRITE) != 0 && dbi != append_missed_) {
    // Inserts mostly come in key order (rowids): MDB_APPEND goes straight to
    // the last page and splits it leaving the old page full. A key that is
    // not past the last one fails the attempt before anything is touched;
    // the keyspace then takes the plain path for the rest of the transaction.
    rc = mdb_put(innermost(), dbi, &k, &v, flags | MDB_APPEND);
    if (rc == MDB_KEYEXIST) {
      append_missed_ = dbi;
      rc = mdb_put(innermost(), dbi, &k, &v, flags);
    }
  } else {
    rc = mdb_put(innermost(), dbi, &k, &v, flags);
  }
  if (rc == 0) return Status::OK();
  // MDB_NOOVERWRITE found the key: nothing was written, the transaction goes on.
  if (rc == MDB_KEYEXIST) return Status::Constraint("key exists");
  if (rc == MDB_INCOMPATIBLE) {
    return Status::InvalidArgument("lmdb '" + env_->path() +
                                   "': the key names a keyspace in LMDB's main database");
  }
  if (rc == MDB_MAP_FULL) {
    return Poison(Status::Full(
        "lmdb '" + env_->path() +
        "': this write transaction outgrew the free part of the map (the map grows between "
        "transactions; write less per transaction or raise map_size): " + mdb_strerror(rc)));
  }
  return Poison(env_->Error(rc, "put failed"));
}

Status LmdbWriteTxn::Delete(const Keyspace& ks, Bytes key) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  MANIFOLD_RETURN_IF_ERROR(CheckKeyspace(ks));
  if (!StorableKey(key, env_->max_key_size())) return Status::OK();  // cannot be stored
  MDB_val k = ToVal(key);
  ++epoch_;
  int rc = mdb_del(innermost(), static_cast<MDB_dbi>(ks.id), &k, nullptr);
  if (rc == 0 || rc == MDB_NOTFOUND) return Status::OK();
  if (rc == MDB_INCOMPATIBLE) {
    return Status::InvalidArgument("lmdb '" + env_->path() +
                                   "': the key names a keyspace in LMDB's main database");
  }
  return Poison(env_->Error(rc, "delete failed"));
}

Status LmdbWriteTxn::Savepoint(int level) {
  MANIFOLD_RETURN_IF_ERROR(CheckUsable());
  // Room first: a child transaction begun and then not recorded (out of
  // memory in push_back) would stay live under the parent, and LMDB refuses
  // every later use of a parent with a live child.
  if (savepoints_.size() == savepoints_.capacity()) {
    savepoints_.reserve(savepoints_.size() * 2 + 4);
  }
  MANIFOLD_RETURN_IF_ERROR(Release(level));
  DetachCursors();
  ++epoch_;
  MDB_txn* child = nullptr;
  Status s = env_->BeginTxn(innermost(), 0, std::chrono::milliseconds(0), &child);
  if (!s.ok()) return Poison(s);
  savepoints_.push_back(Level{level, child});
  return Status::OK();
}

Status LmdbWriteTxn::Release(int level) {
  if (over_) return CheckUsable();
  if (savepoints_.empty() || savepoints_.back().level < level) return Status::OK();
  DetachCursors();
  ++epoch_;
  while (!savepoints_.empty() && savepoints_.back().level >= level) {
    MDB_txn* child = savepoints_.back().txn;
    savepoints_.pop_back();
    size_t depth = savepoints_.size();
    int rc = mdb_txn_commit(child);  // merges into the parent; ends the child either way
    if (rc != 0) {
      // LMDB aborted the child and closed the slots it opened.
      opened_.erase(std::remove_if(opened_.begin(), opened_.end(),
                                   [&](const OpenedSlot& slot) { return slot.depth > depth; }),
                    opened_.end());
      poison_ = Status::OK();
      return Poison(env_->Error(rc, "cannot release a savepoint"));
    }
    for (OpenedSlot& slot : opened_) slot.depth = std::min(slot.depth, depth);
    if (!poison_.ok() && poison_depth_ > depth) poison_depth_ = depth;
  }
  return Status::OK();
}

Status LmdbWriteTxn::RollbackTo(int level) {
  if (over_) return CheckUsable();
  size_t i = 0;
  while (i < savepoints_.size() && savepoints_[i].level < level) ++i;
  if (i == savepoints_.size()) return Status::OK();
  DetachCursors();
  ++epoch_;
  mdb_txn_abort(savepoints_[i].txn);  // and every savepoint nested in it
  savepoints_.resize(i);
  // LMDB closed the slots opened at the aborted depths.
  opened_.erase(std::remove_if(opened_.begin(), opened_.end(),
                               [&](const OpenedSlot& slot) { return slot.depth > i; }),
                opened_.end());
  checked_slots_.clear();
  if (!poison_.ok() && poison_depth_ > i) poison_ = Status::OK();
  MDB_txn* child = nullptr;
  Status s = env_->BeginTxn(innermost(), 0, std::chrono::milliseconds(0), &child);
  if (!s.ok()) return Poison(s);
  savepoints_.push_back(Level{level, child});
  return Status::OK();
}

Status LmdbWriteTxn::Commit() {
  if (over_) return CheckUsable();
  if (!poison_.ok()) {
    Status failure = poison_;
    Finish();
    return failure;
  }
  Status s = Release(std::numeric_limits<int>::min());
  if (!s.ok()) {
    Finish();
    return s;
  }
  DetachCursors();
  ++epoch_;
  uint64_t txnid = mdb_txn_id(root_);
  int rc = mdb_txn_commit(std::exchange(root_, nullptr));
  if (rc == EIO && env_->OutOfRoom()) rc = ENOSPC;  // a short write: the disk is full
  if (rc != 0) {
    Finish();
    return env_->Error(rc, "commit failed");
  }
  std::map<std::string, MDB_dbi> opened;
  for (const OpenedSlot& slot : opened_) opened[slot.name] = slot.dbi;
  env_->AddHandles(opened);
  if (env_->known_txnid() == txnid - 1) env_->set_known_txnid(txnid);
  // The environment syncs per the first opener's mode; a handle that asked
  // for more durability syncs after its own commits.
  if (static_cast<int>(sync_) < static_cast<int>(env_->sync())) {
    rc = mdb_env_sync(env_->env(), 1);
    if (rc != 0) s = env_->Error(rc, "cannot sync the commit");
  }
  Finish();
  return s;
}

void LmdbWriteTxn::Rollback() {
  if (!over_) Finish();
}

}  // namespace manifold
