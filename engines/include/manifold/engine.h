// The manifold storage interface: an Engine (an open store of named
// keyspaces), its read and write transactions, and ordered cursors.
//
// Start here. Every engine (btree, lmdb, rocksdb, memory, ...) implements these
// classes; callers open one by name through Engine::Open (registry.h) and never
// see which. Keys are byte strings ordered as unsigned bytes in every engine.
//
// Thread-safety: an Engine is thread-safe. A transaction and its cursors are
// used by one thread at a time (they may move between threads).
#ifndef MANIFOLD_ENGINE_H_
#define MANIFOLD_ENGINE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "manifold/options.h"
#include "manifold/status.h"

namespace manifold {

// Borrowed bytes, compared as unsigned bytes. Never owns its memory.
using Bytes = std::string_view;

// Returns <0, 0, >0 as a orders before, equal to or after b as unsigned bytes.
int CompareBytes(Bytes a, Bytes b);

// What an engine can do; shown by manifold_engines at the SQL level.
struct Capabilities {
  bool persistent = false;          // data survives the process
  bool multi_process = false;       // several processes may open the store at once
  bool native_compression = false;  // compression=zstd is done by the engine itself
  bool empty_keys = true;           // the empty key can be stored (LMDB: no)
  size_t max_key_size = 0;          // longest key in bytes; 0: no limit short of memory
};

// A named keyspace inside a store: an ordered map from keys to values.
// A small value; valid for the Engine that returned it until the keyspace is
// dropped. `id` is the engine's own handle and means nothing to callers.
struct Keyspace {
  std::string name;
  uint64_t id = 0;
};

// A borrowed callable `bool(Bytes key, Bytes value)`, for Cursor::ReadFrom:
// one indirect call per entry and no allocation. It refers to the callable
// it was made from, which must outlive the call it is passed to (a lambda
// written in the argument list does).
class EntryVisitor {
 public:
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, EntryVisitor>>>
  EntryVisitor(F&& f)  // implicit: made from the lambda where it is passed
      : callable_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* callable, Bytes key, Bytes value) -> bool {
          return (*static_cast<std::remove_reference_t<F>*>(callable))(key, value);
        }) {}
  bool operator()(Bytes key, Bytes value) const { return call_(callable_, key, value); }

 private:
  void* callable_;
  bool (*call_)(void*, Bytes, Bytes);
};

// An ordered position in one keyspace, in the style of LevelDB's Iterator.
// Created unplaced (!Valid()). Writes made through the owning transaction
// while the cursor is open are seen from the cursor's next move: Next() goes
// to the first key after the current one in the transaction's current state,
// Prev() to the last key before it.
class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  virtual ~Cursor() = default;

  // True when the cursor is on a key. After a failure, false and status() says why.
  virtual bool Valid() const = 0;

  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // Places the cursor on the first key >= target.
  virtual void Seek(Bytes target) = 0;
  // Places the cursor on the last key <= target.
  virtual void SeekForPrev(Bytes target) = 0;
  // REQUIRES: Valid().
  virtual void Next() = 0;
  // REQUIRES: Valid().
  virtual void Prev() = 0;

  // REQUIRES: Valid(). The bytes live until the next move of the cursor or the
  // next write through its transaction, whichever comes first.
  virtual Bytes key() const = 0;
  // As key(). An engine that must decode the value (decompression) does it
  // here; if that fails, it returns empty bytes, the cursor becomes !Valid()
  // and status() is the error.
  virtual Bytes value() = 0;

  // Why the cursor is !Valid(): OK at the end of the keyspace, else the error.
  virtual Status status() const = 0;

  // A scan's step in one call: Next() (or Prev()), then true with the new
  // entry's key() and value() in *key and *value, or false once the cursor
  // is not Valid() (status() says why: OK at the end). The bytes live as
  // key()'s and value()'s do. An engine overrides these when it can do the
  // step with fewer calls than the four it replaces.
  // REQUIRES: Valid().
  virtual bool NextEntry(Bytes* key, Bytes* value) {
    Next();
    return Current(key, value);
  }
  virtual bool PrevEntry(Bytes* key, Bytes* value) {
    Prev();
    return Current(key, value);
  }

  // A range read in one call: Seek(target), then visit(key, value) for the
  // entry the cursor lands on and for each next one (as NextEntry steps),
  // until `limit` entries are visited, `visit` returns false or the keyspace
  // ends. Returns the number of entries visited. The cursor stays on the last
  // entry visited (limit 0: where Seek placed it), or past the end (!Valid(),
  // status() says why: OK at the end). The bytes passed to `visit` live until
  // it returns; it must not move the cursor or write through its
  // transaction. An engine overrides this when it can read a range with
  // fewer calls than the steps it replaces.
  virtual size_t ReadFrom(Bytes target, size_t limit, EntryVisitor visit) {
    Seek(target);
    Bytes key;
    Bytes value;
    if (limit == 0 || !Current(&key, &value)) return 0;
    size_t n = 0;
    do {
      ++n;
      if (!visit(key, value)) break;
    } while (n < limit && NextEntry(&key, &value));
    return n;
  }

 protected:
  // The entry the cursor is on, as NextEntry returns it.
  bool Current(Bytes* key, Bytes* value) {
    if (!Valid()) return false;
    *key = this->key();
    *value = this->value();
    // A value that failed is empty and leaves the cursor !Valid().
    return !value->empty() || Valid();
  }
};

// A consistent snapshot of the whole store, as of BeginRead().
class ReadTxn {
 public:
  ReadTxn() = default;
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  virtual ~ReadTxn() = default;

  // Returns the keyspace named `name`, or NotFound.
  virtual Result<Keyspace> OpenKeyspace(std::string_view name) = 0;
  // Returns the names of all keyspaces, in byte order.
  virtual Result<std::vector<std::string>> ListKeyspaces() = 0;

  // Stores the value of `key` in *value and returns OK; if absent, returns
  // NotFound and leaves *value untouched.
  virtual Status Get(const Keyspace& ks, Bytes key, std::string* value) = 0;

  // Returns an unplaced cursor over `ks`. It must be destroyed before the
  // transaction.
  virtual Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) = 0;
};

// A write transaction. It reads its own writes. Only one is live per store at
// a time. Destroyed before Commit() succeeded: every change is rolled back.
//
// Savepoints follow SQLite's xSavepoint/xRelease/xRollbackTo numbering:
// levels are small integers, a higher level is nested inside a lower one, and
// levels may be skipped (a transaction joined late sees only the top level).
class WriteTxn : public ReadTxn {
 public:
  // Returns the keyspace named `name`, creating an empty one if absent.
  virtual Result<Keyspace> CreateKeyspace(std::string_view name) = 0;
  // Removes the keyspace and every key in it; NotFound if absent. Handles to
  // it are invalid afterwards.
  virtual Status DropKeyspace(std::string_view name) = 0;

  // Sets `key` to `value`, replacing any old value.
  virtual Status Put(const Keyspace& ks, Bytes key, Bytes value) = 0;
  // Sets `key` to `value` if `key` is absent. If it is present: Constraint,
  // nothing changes and the transaction stays usable. This is Get, then
  // Put; engines that can check and write in one descent override it.
  virtual Status Insert(const Keyspace& ks, Bytes key, Bytes value) {
    std::string existing;
    Status s = Get(ks, key, &existing);
    if (s.ok()) return Status::Constraint("key exists");
    if (!s.IsNotFound()) return s;
    return Put(ks, key, value);
  }
  // Removes `key`; OK if it was absent.
  virtual Status Delete(const Keyspace& ks, Bytes key) = 0;

  // Marks the current state as savepoint `level`, discarding any savepoints at
  // `level` or above.
  virtual Status Savepoint(int level) = 0;
  // Restores the state as of savepoint `level` (or of the oldest savepoint
  // above it when `level` itself was skipped); savepoint `level` stays open,
  // later ones are discarded. A level with no savepoint at or above it: OK,
  // nothing changes.
  virtual Status RollbackTo(int level) = 0;
  // Forgets savepoints at `level` and above, keeping their changes.
  virtual Status Release(int level) = 0;

  // Makes every change durable per Options::sync and visible to new readers.
  // After any result the transaction is over; later calls return Aborted.
  virtual Status Commit() = 0;
  // Discards every change. The transaction is over.
  virtual void Rollback() = 0;
};

// An open store. Handles of one store opened twice in a process share the
// store (one open store per device and inode per process, reference-counted).
class Engine {
 public:
  // Opens the engine registered as `name` (registry.h lists them). An unknown
  // name or engine option is InvalidArgument; a missing store without
  // options.create_if_missing is NotFound.
  static Result<std::unique_ptr<Engine>> Open(std::string_view name, const Options& options);

  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  virtual ~Engine() = default;

  // Returns the registered name ("lmdb", "memory", ...).
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // Returns a snapshot of the committed state as of now.
  virtual Result<std::unique_ptr<ReadTxn>> BeginRead() = 0;
  // Returns the store's single write transaction. If another is live (in this
  // or another thread, connection or process), waits up to `wait` for it to
  // end, then returns Busy. Never deadlocks.
  virtual Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) = 0;

  // Returns the bytes the store occupies on disk (in memory for `memory`).
  virtual Result<uint64_t> EstimatedSize() = 0;
  // Gives space back and reorganizes the store; contents are unchanged.
  virtual Status Compact() = 0;

  // Verifies the store's own structures (page links, checksums, key order) in
  // the committed state as of now, read-only; writers may go on meanwhile.
  // Returns OK when nothing is wrong, Corruption describing the first problem,
  // or NotSupported when the engine has no check beyond what reading every
  // key already proves (the default).
  virtual Status Check() { return Status::NotSupported("no integrity check of its own"); }

  // Returns the bytes keyspace `keyspace` occupies in the committed state after
  // the engine's own compression (keys and values), or NotSupported when the
  // engine stores keys and values as given, so that their sizes are the answer
  // (the default). NotFound if there is no such keyspace.
  virtual Result<uint64_t> StoredBytes(std::string_view keyspace) {
    return Status::NotSupported("stores keys and values as given");
  }

  // Writes a consistent copy of the committed state as of the call to `path`,
  // in the engine's own format, so that Engine::Open(name, {path}) opens it:
  // a new file (btree, sqlitekv) or a new directory (lmdb, rocksdb) whose
  // parent exists. `path` must not exist. Readers and writers of the store may
  // go on meanwhile; the copy holds exactly the commits made before the call
  // (a commit that finishes during the call may or may not be in it).
  // NotSupported when the engine keeps nothing on disk (memory, the default).
  virtual Status Backup(const std::string& path) {
    return Status::NotSupported("the " + std::string(name()) + " engine keeps nothing on disk");
  }
};

// Returns the library version of manifold ("0.1.0").
std::string_view Version();

}  // namespace manifold

#endif  // MANIFOLD_ENGINE_H_
