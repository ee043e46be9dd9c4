#include "common/poison.h"

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

#include "common/file_util.h"
#include "common/fork_guard.h"

namespace manifold {
namespace {

// The poisoned flag of one open store, shared by its handles.
class Poison {
 public:
  bool poisoned() const { return poisoned_.load(std::memory_order_acquire); }
  // OK, or the IOError every operation returns once the store is poisoned.
  // Both checks are a load or a compare, inlined into every call through the
  // wrapper; what an error needs is done out of line.
  Status Check() const {
    if (__builtin_expect(!poisoned(), 1)) return Status::OK();
    return Poisoned();
  }
  // Poisons the store if `s` is an I/O error.
  void Watch(const Status& s) {
    if (__builtin_expect(s.code() == Status::Code::kIOError, 0)) Record(s);
  }
  // As Watch, and passes `s` on (moved, not copied).
  Status Note(Status s) {
    Watch(s);
    return s;
  }
  template <typename T>
  Result<T> Note(Result<T> r) {
    if (!r.ok()) Watch(r.status());
    return r;
  }

 private:
  [[gnu::noinline, gnu::cold]] Status Poisoned() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Status::IOError("an earlier I/O error poisoned this store until it is reopened (" +
                           first_ + ")");
  }
  [[gnu::noinline, gnu::cold]] void Record(const Status& s) {
    if (poisoned_.load(std::memory_order_acquire)) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.empty()) first_ = s.message();
    poisoned_.store(true, std::memory_order_release);
  }

  std::atomic<bool> poisoned_{false};
  mutable std::mutex mu_;
  std::string first_;  // the first error's message
};

// What every wrapper of one engine handle checks before it calls the engine:
// that this is the process that opened the handle (fork_guard.h), and that
// the store is not poisoned. One object per handle, shared by its
// transactions, so a transaction costs one reference count and no copy.
struct Guard {
  Guard(std::shared_ptr<Poison> p, std::string w) : poison(std::move(p)), what(std::move(w)) {}
  // Ownership first: in a forked child the poison flag is the parent's.
  Status Check() const {
    if (__builtin_expect(owner.inherited(), 0)) return owner.Check(what);
    return poison->Check();
  }
  bool inherited() const { return owner.inherited(); }

  std::shared_ptr<Poison> poison;
  OwnerProcess owner;
  std::string what;  // names the store in the error of a forked child
};

#define MANIFOLD_GUARD_CHECK(guard)                   \
  do {                                                \
    Status guard_status = (guard).Check();            \
    if (!guard_status.ok()) return guard_status;      \
  } while (0)

class PoisonCursor final : public Cursor {
 public:
  PoisonCursor(std::unique_ptr<Cursor> inner, std::shared_ptr<Poison> poison)
      : inner_(std::move(inner)), poison_(std::move(poison)) {}
  bool Valid() const override { return failed_.ok() && inner_->Valid(); }
  void SeekToFirst() override { Move([&] { inner_->SeekToFirst(); }); }
  void SeekToLast() override { Move([&] { inner_->SeekToLast(); }); }
  void Seek(Bytes target) override { Move([&] { inner_->Seek(target); }); }
  void SeekForPrev(Bytes target) override { Move([&] { inner_->SeekForPrev(target); }); }
  void Next() override { Move([&] { inner_->Next(); }); }
  void Prev() override { Move([&] { inner_->Prev(); }); }
  Bytes key() const override { return inner_->key(); }
  Bytes value() override {
    Bytes v = inner_->value();
    // A value that failed is empty (Cursor::value), so a non-empty one needs
    // no second call.
    if (v.empty() && !inner_->Valid()) poison_->Watch(inner_->status());
    return v;
  }
  Status status() const override { return failed_.ok() ? inner_->status() : failed_; }
  bool NextEntry(Bytes* key, Bytes* value) override { return Step(key, value, true); }
  bool PrevEntry(Bytes* key, Bytes* value) override { return Step(key, value, false); }
  size_t ReadFrom(Bytes target, size_t limit, EntryVisitor visit) override {
    if (poison_->poisoned()) {
      failed_ = poison_->Check();
      return 0;
    }
    const size_t n = inner_->ReadFrom(target, limit, visit);
    if (!inner_->Valid()) poison_->Watch(inner_->status());
    return n;
  }

 private:
  // One call to the inner cursor for the whole step; the error (if any)
  // noted once the step ends off an entry.
  bool Step(Bytes* key, Bytes* value, bool forward) {
    if (poison_->poisoned()) {
      failed_ = poison_->Check();
      return false;
    }
    if (forward ? inner_->NextEntry(key, value) : inner_->PrevEntry(key, value)) return true;
    poison_->Watch(inner_->status());
    return false;
  }
  template <typename F>
  void Move(F&& move) {
    // The common case, unpoisoned, reads one flag and builds no Status. A
    // store never recovers from its poison, so failed_, once set, stays.
    if (poison_->poisoned()) {
      failed_ = poison_->Check();
      return;
    }
    move();
    if (!inner_->Valid()) poison_->Watch(inner_->status());
  }

  std::unique_ptr<Cursor> inner_;
  std::shared_ptr<Poison> poison_;
  Status failed_;  // the poison error that stopped a move
};

// Forwards the reads of ReadTxn to `inner`, checking the guard and noting
// the poison. In a forked child the transaction is the parent's: it is never
// ended here (its destructor leaks it), as the engine handle is not closed.
template <typename Base, typename Inner>
class GuardedReads : public Base {
 public:
  GuardedReads(std::unique_ptr<Inner> inner, std::shared_ptr<const Guard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)), poison_(guard_->poison.get()) {}
  ~GuardedReads() override {
    if (guard_->inherited()) (void)inner_.release();
  }
  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->OpenKeyspace(name));
  }
  Result<std::vector<std::string>> ListKeyspaces() override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->ListKeyspaces());
  }
  // The call every lookup makes: both checks in line, no Status built for
  // them, and the engine's answer passed on as it is unless it failed.
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    Status s = __builtin_expect(Clear(), 1) ? inner_->Get(ks, key, value) : guard_->Check();
    if (__builtin_expect(!s.ok(), 0)) poison_->Watch(s);
    return s;  // built in place: one object on every path
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    Result<std::unique_ptr<Cursor>> cursor = poison_->Note(inner_->NewCursor(ks));
    if (!cursor.ok()) return cursor.status();
    return std::unique_ptr<Cursor>(
        std::make_unique<PoisonCursor>(std::move(*cursor), guard_->poison));
  }

 protected:
  // True when the guard lets a call through: this process owns the handle
  // and the store is not poisoned.
  bool Clear() const { return !guard_->inherited() && !poison_->poisoned(); }
  // Notes an engine's failure in the poison; the status goes back as it is.
  Status Noted(Status s) {
    if (__builtin_expect(!s.ok(), 0)) poison_->Watch(s);
    return s;
  }

  std::unique_ptr<Inner> inner_;
  std::shared_ptr<const Guard> guard_;
  Poison* poison_;  // guard_->poison's
};

using GuardedReadTxn = GuardedReads<ReadTxn, ReadTxn>;

class GuardedWriteTxn final : public GuardedReads<WriteTxn, WriteTxn> {
 public:
  using GuardedReads::GuardedReads;
  Result<Keyspace> CreateKeyspace(std::string_view name) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->CreateKeyspace(name));
  }
  Status DropKeyspace(std::string_view name) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->DropKeyspace(name));
  }
  // The writes a bulk load repeats: the checks in line, as in Get, and the
  // engine's answer passed on as it is unless it failed.
  Status Put(const Keyspace& ks, Bytes key, Bytes value) override {
    if (__builtin_expect(!Clear(), 0)) return guard_->Check();
    return Noted(inner_->Put(ks, key, value));
  }
  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override {
    if (__builtin_expect(!Clear(), 0)) return guard_->Check();
    return Noted(inner_->Insert(ks, key, value));
  }
  Status Delete(const Keyspace& ks, Bytes key) override {
    if (__builtin_expect(!Clear(), 0)) return guard_->Check();
    return Noted(inner_->Delete(ks, key));
  }
  Status Savepoint(int level) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->Savepoint(level));
  }
  Status RollbackTo(int level) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->RollbackTo(level));
  }
  Status Release(int level) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->Release(level));
  }
  Status Commit() override {
    if (guard_->inherited()) return guard_->Check();  // the parent's: touch nothing
    Status poisoned = poison_->Check();
    if (!poisoned.ok()) {
      inner_->Rollback();  // never reaches the disk: no write, no fsync
      return poisoned;
    }
    return poison_->Note(inner_->Commit());
  }
  void Rollback() override {
    if (!guard_->inherited()) inner_->Rollback();
  }
};

// In a forked child the engine handle is the parent's: every call is the
// guard's error, and the destructor leaks the handle instead of closing it.
class GuardedEngine final : public Engine {
 public:
  GuardedEngine(std::unique_ptr<Engine> inner, std::shared_ptr<const Guard> guard)
      : inner_(std::move(inner)), guard_(std::move(guard)), poison_(guard_->poison.get()) {}
  ~GuardedEngine() override {
    if (guard_->inherited()) (void)inner_.release();
  }
  std::string_view name() const override { return inner_->name(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    MANIFOLD_GUARD_CHECK(*guard_);
    Result<std::unique_ptr<ReadTxn>> txn = poison_->Note(inner_->BeginRead());
    if (!txn.ok()) return txn.status();
    return std::unique_ptr<ReadTxn>(std::make_unique<GuardedReadTxn>(std::move(*txn), guard_));
  }
  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    Result<std::unique_ptr<WriteTxn>> txn = poison_->Note(inner_->BeginWrite(wait));
    if (!txn.ok()) return txn.status();
    return std::unique_ptr<WriteTxn>(std::make_unique<GuardedWriteTxn>(std::move(*txn), guard_));
  }
  Result<uint64_t> EstimatedSize() override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->EstimatedSize());
  }
  Status Compact() override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->Compact());
  }
  Status Check() override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->Check());
  }
  Result<uint64_t> StoredBytes(std::string_view keyspace) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->StoredBytes(keyspace));
  }
  Status Backup(const std::string& path) override {
    MANIFOLD_GUARD_CHECK(*guard_);
    return poison_->Note(inner_->Backup(path));
  }

 private:
  std::unique_ptr<Engine> inner_;
  std::shared_ptr<const Guard> guard_;
  Poison* poison_;  // guard_->poison's
};

// The flag of each store some handle has open, by device and inode.
std::shared_ptr<Poison> PoisonOf(const std::string& path) {
  static std::mutex* mu = new std::mutex;
  static auto* flags = new std::map<FileId, std::weak_ptr<Poison>>;
  Result<FileId> id = GetFileId(path);
  if (!id.ok()) return std::make_shared<Poison>();  // not shared; still poisons this handle
  std::lock_guard<std::mutex> lock(*mu);
  for (auto it = flags->begin(); it != flags->end();) {
    it = it->second.expired() ? flags->erase(it) : std::next(it);
  }
  std::weak_ptr<Poison>& slot = (*flags)[*id];
  std::shared_ptr<Poison> poison = slot.lock();
  if (poison == nullptr) {
    poison = std::make_shared<Poison>();
    slot = poison;
  }
  return poison;
}

}  // namespace

std::unique_ptr<Engine> GuardStore(std::unique_ptr<Engine> engine, const std::string& path,
                                   std::string what) {
  return std::make_unique<GuardedEngine>(
      std::move(engine), std::make_shared<const Guard>(PoisonOf(path), std::move(what)));
}

}  // namespace manifold
