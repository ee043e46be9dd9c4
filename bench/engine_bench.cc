// The engine benchmark: redb's workload (random 24-byte keys, 150-byte values)
// run through manifold's C++ interface on every available engine in one
// process, printed as ratios to LMDB (the baseline). Two more columns run the
// same workload on the raw libraries (liblmdb's C API, RocksDB's C++ API) with
// the settings manifold's wrappers use, so that a second table can show what
// each wrapper costs over the library it wraps.
//
//   ./build/bench/engine_bench [--n=200000] [--runs=3] [--dir=/tmp] [--threads=1,2,4]
//       [--engines=btree,rocksdb,memory,sqlitekv,raw-lmdb,raw-rocksdb] [--sync=full|off]
//       [--commits=200]
//
// --commits sets how many durable single-row commits are timed per run; a
// few thousand take in the btree's checkpoints (its log starts over every
// few thousand such commits), whose cost the figure then includes.
//
// --sync=off opens every column without syncing at commit (manifold's
// sync=off, MDB_NOSYNC, an unsynced RocksDB WAL): the single-row commit
// phase then shows what a commit costs besides waiting for the disk.
//
// Every column runs --runs times, the columns interleaved (each run starting
// from the next column), and each figure is the median of its runs: the machine may be shared, and a median of runs
// spread over the whole benchmark is the figure least bent by other work.
#include <fcntl.h>
#include <lmdb.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "harness.h"
#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kRawLmdb[] = "raw-lmdb";
constexpr char kRawRocksdb[] = "raw-rocksdb";

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `what` is a string_view so that a check in a timed loop builds no string
// (the raw columns' checks build none either).
void Check(const Status& status, std::string_view what) {
  if (!status.ok()) Fail(std::string(what) + ": " + status.ToString());
}

template <typename T>
T Take(Result<T> result, std::string_view what) {
  if (!result.ok()) Fail(std::string(what) + ": " + result.status().ToString());
  return std::move(result).value();
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

struct Workload {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<size_t> read_order;  // a shuffled permutation of the keys
  int durable_commits = 200;       // single-row commits timed under sync=full
};

Workload MakeWorkload(size_t n) {
  std::mt19937_64 rng(20261125);
  Workload w;
  w.keys.reserve(n);
  w.values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    w.keys.push_back(RandomBytes(rng, 24));
    w.values.push_back(RandomBytes(rng, 150));
  }
  w.read_order.resize(n);
  for (size_t i = 0; i < n; ++i) w.read_order[i] = i;
  std::shuffle(w.read_order.begin(), w.read_order.end(), rng);
  return w;
}

// Seconds per phase for one run of one column, as wall time and as CPU time
// of the whole process (all threads); negative where the phase does not apply.
// CPU time is the steadier figure on a busy machine, but it leaves out time
// spent waiting for the disk, so durable commits are judged by wall time.
// Phases are kept in the order they ran, so the table reads as the run went.
struct Figures {
  struct Phase {
    std::string name;
    double wall;
    double cpu;
  };
  std::vector<Phase> phases;
  void Set(const std::string& phase, double wall, double cpu) {
    phases.push_back(Phase{phase, wall, cpu});
  }
  void Set(const std::string& phase, double value) { Set(phase, value, value); }
  double Get(const std::string& phase, bool cpu = false) const {
    for (const Phase& p : phases) {
      if (p.name == phase) return cpu ? p.cpu : p.wall;
    }
    return -1;
  }
};

// Returns the median of each phase over `runs` (all runs of one column).
Figures Median(const std::vector<Figures>& runs) {
  Figures median;
  for (const Figures::Phase& phase : runs[0].phases) {
    double figures[2];
    for (int cpu = 0; cpu < 2; ++cpu) {
      std::vector<double> values;
      for (const Figures& run : runs) values.push_back(run.Get(phase.name, cpu == 1));
      std::sort(values.begin(), values.end());
      figures[cpu] = values[values.size() / 2];
    }
    median.Set(phase.name, figures[0], figures[1]);
  }
  return median;
}

// Wall and CPU seconds of one call of `body`, or the best of `repeats` calls
// (each figure its own minimum: the least disturbed by other work).
struct Timing {
  double wall = 1e300;
  double cpu = 1e300;
};
template <typename Body>
Timing Time(int repeats, Body&& body) {
  Timing best;
  for (int i = 0; i < repeats; ++i) {
    auto start = Clock::now();
    double cpu_start = ProcessCpuSeconds();
    body();
    best.cpu = std::min(best.cpu, ProcessCpuSeconds() - cpu_start);
    best.wall = std::min(best.wall, Since(start));
  }
  return best;
}

uint64_t FileBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
      if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
  }
  return total;
}

// --- Subjects ----------------------------------------------------------------
//
// A subject is what the phases run on. Each has the same shape, used through
// templates so that the raw columns pay for no indirection of the harness:
//   Write BeginWrite();   Write: Put(key, value), Delete(key), Commit()
//   Read BeginRead();     Read: Get(key, std::string*) -> found, NewCursor()
//   Cursor: Read(target, limit, visit) -> entries visited, visit(key, value)
//     per entry (manifold: Cursor::ReadFrom, one call a range; the raw
//     libraries: StepRange, one seek and a step per entry)
//   Compact() -> false if the subject cannot compact; persistent(); path()
// Every Get stores the value in the caller's string, as manifold's ReadTxn::Get
// promises, so the raw columns do that copy too.

// A range read on a raw library: one seek, then a step per entry, visiting
// up to `limit` entries (as Cursor::ReadFrom does through manifold).
template <typename Iter, typename F>
size_t StepRange(Iter& it, Bytes target, size_t limit, F&& visit) {
  Bytes key;
  Bytes value;
  size_t n = 0;
  for (bool on = limit > 0 && it.Seek(target, &key, &value); on; on = it.Next(&key, &value)) {
    ++n;
    if (!visit(key, value) || n == limit) break;
  }
  return n;
}

// A manifold engine opened by name through the registry.
class ManifoldSubject {
 public:
  ManifoldSubject(const std::string& name, const std::string& path, bool durable) : path_(path) {
    Options options;
    options.path = path;
    options.create_if_missing = true;
    options.sync = durable ? SyncMode::kFull : SyncMode::kOff;
    engine_ = Take(Engine::Open(name, options), "open " + name);
    auto txn = Take(engine_->BeginWrite(kWait), "begin");
    ks_ = Take(txn->CreateKeyspace("bench"), "create keyspace");
    Check(txn->Commit(), "commit");
  }

  class Write {
   public:
    Write(std::unique_ptr<WriteTxn> txn, const Keyspace& ks) : txn_(std::move(txn)), ks_(ks) {}
    void Put(Bytes key, Bytes value) { Check(txn_->Put(ks_, key, value), "put"); }
    void Delete(Bytes key) { Check(txn_->Delete(ks_, key), "delete"); }
    void Commit() { Check(txn_->Commit(), "commit"); }

   private:
    std::unique_ptr<WriteTxn> txn_;
    const Keyspace& ks_;
  };

  class Iter {
   public:
    explicit Iter(std::unique_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}
    ~Iter() { Check(cursor_->status(), "cursor"); }
    template <typename F>
    size_t Read(Bytes target, size_t limit, F&& visit) {
      return cursor_->ReadFrom(target, limit, visit);
    }

   private:
    std::unique_ptr<Cursor> cursor_;
  };

  class Read {
   public:
    Read(std::unique_ptr<ReadTxn> txn, const Keyspace& ks) : txn_(std::move(txn)), ks_(ks) {}
    bool Get(Bytes key, std::string* value) {
      Status s = txn_->Get(ks_, key, value);
      if (s.IsNotFound()) return false;
      Check(s, "get");
      return true;
    }
    Iter NewCursor() { return Iter(Take(txn_->NewCursor(ks_), "cursor")); }

   private:
    std::unique_ptr<ReadTxn> txn_;
    const Keyspace& ks_;
  };

  Write BeginWrite() { return Write(Take(engine_->BeginWrite(kWait), "begin"), ks_); }
  Read BeginRead() { return Read(Take(engine_->BeginRead(), "begin read"), ks_); }
  bool Compact() { return engine_->Compact().ok(); }
  bool persistent() const { return engine_->capabilities().persistent; }
  const std::string& path() const { return path_; }

 private:
  static constexpr std::chrono::milliseconds kWait{10000};
  std::string path_;
  std::unique_ptr<Engine> engine_;
  Keyspace ks_;
};

// liblmdb driven directly, as manifold's lmdb engine configures it for
// sync=full: MDB_NOTLS, no MDB_NOSYNC/MDB_NOMETASYNC (MDB_NOSYNC with
// --sync=off), one named database, the same reader and database limits. The map is sized once for the whole run
// (manifold's starts at 256 MiB and grows between transactions).
class RawLmdbSubject {
 public:
  RawLmdbSubject(const std::string& path, size_t n, bool durable) : path_(path) {
    std::filesystem::create_directories(path);
    Ok(mdb_env_create(&env_), "env create");
    Ok(mdb_env_set_maxdbs(env_, 1024), "set maxdbs");
    Ok(mdb_env_set_maxreaders(env_, 126), "set maxreaders");
    Ok(mdb_env_set_mapsize(env_, (size_t{1} << 30) + n * 2048), "set mapsize");
    Ok(mdb_env_open(env_, path.c_str(), MDB_NOTLS | (durable ? 0 : MDB_NOSYNC), 0644),
       "env open");
    MDB_txn* txn = nullptr;
    Ok(mdb_txn_begin(env_, nullptr, 0, &txn), "begin");
    Ok(mdb_dbi_open(txn, "bench", MDB_CREATE, &dbi_), "dbi open");
    Ok(mdb_txn_commit(txn), "commit");
  }
  ~RawLmdbSubject() { mdb_env_close(env_); }
  RawLmdbSubject(const RawLmdbSubject&) = delete;
  RawLmdbSubject& operator=(const RawLmdbSubject&) = delete;

  static void Ok(int rc, const char* what) {
    if (rc != 0) Fail(std::string("raw lmdb ") + what + ": " + mdb_strerror(rc));
  }
  static MDB_val Val(Bytes bytes) { return MDB_val{bytes.size(), const_cast<char*>(bytes.data())}; }
  static Bytes ToBytes(const MDB_val& val) {
    return Bytes(static_cast<const char*>(val.mv_data), val.mv_size);
  }

  class Write {
   public:
    Write(MDB_env* env, MDB_dbi dbi) : dbi_(dbi) { Ok(mdb_txn_begin(env, nullptr, 0, &txn_), "begin"); }
    ~Write() {
      if (txn_ != nullptr) mdb_txn_abort(txn_);
    }
    void Put(Bytes key, Bytes value) {
      MDB_val k = Val(key), v = Val(value);
      Ok(mdb_put(txn_, dbi_, &k, &v, 0), "put");
    }
    void Delete(Bytes key) {
      MDB_val k = Val(key);
      int rc = mdb_del(txn_, dbi_, &k, nullptr);
      if (rc != MDB_NOTFOUND) Ok(rc, "delete");
    }
    void Commit() { Ok(mdb_txn_commit(std::exchange(txn_, nullptr)), "commit"); }

   private:
    MDB_txn* txn_ = nullptr;
    MDB_dbi dbi_;
  };

  class Iter {
   public:
    Iter(MDB_txn* txn, MDB_dbi dbi) { Ok(mdb_cursor_open(txn, dbi, &cursor_), "cursor"); }
    ~Iter() { mdb_cursor_close(cursor_); }
    Iter(Iter&& other) noexcept : cursor_(std::exchange(other.cursor_, nullptr)) {}
    bool Seek(Bytes target, Bytes* key, Bytes* value) {
      MDB_val k = Val(target), v{0, nullptr};
      return Land(mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE), k, v, key, value);
    }
    bool Next(Bytes* key, Bytes* value) {
      MDB_val k{0, nullptr}, v{0, nullptr};
      return Land(mdb_cursor_get(cursor_, &k, &v, MDB_NEXT), k, v, key, value);
    }
    template <typename F>
    size_t Read(Bytes target, size_t limit, F&& visit) {
      return StepRange(*this, target, limit, visit);
    }

   private:
    static bool Land(int rc, const MDB_val& k, const MDB_val& v, Bytes* key, Bytes* value) {
      if (rc == MDB_NOTFOUND) return false;
      Ok(rc, "cursor get");
      *key = ToBytes(k);
      *value = ToBytes(v);
      return true;
    }
    MDB_cursor* cursor_ = nullptr;
  };

  class Read {
   public:
    Read(MDB_env* env, MDB_dbi dbi) : dbi_(dbi) {
      Ok(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_), "begin read");
    }
    ~Read() { mdb_txn_abort(txn_); }
    Read(Read&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)), dbi_(other.dbi_) {}
    bool Get(Bytes key, std::string* value) {
      MDB_val k = Val(key), v{0, nullptr};
      int rc = mdb_get(txn_, dbi_, &k, &v);
      if (rc == MDB_NOTFOUND) return false;
      Ok(rc, "get");
      value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
      return true;
    }
    Iter NewCursor() { return Iter(txn_, dbi_); }

   private:
    MDB_txn* txn_ = nullptr;
    MDB_dbi dbi_;
  };

  Write BeginWrite() { return Write(env_, dbi_); }
  Read BeginRead() { return Read(env_, dbi_); }
  // As manifold's lmdb engine compacts: a compacting copy replaces data.mdb.
  bool Compact() {
    const std::string copy = path_ + "/data.mdb.compact";
    int fd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) Fail("raw lmdb: create " + copy);
    Ok(mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT), "copy");
    if (::fsync(fd) != 0) Fail("raw lmdb: fsync " + copy);
    ::close(fd);
    mdb_env_close(env_);
    std::filesystem::rename(copy, path_ + "/data.mdb");
    Ok(mdb_env_create(&env_), "env create");
    Ok(mdb_env_set_maxdbs(env_, 1024), "set maxdbs");
    Ok(mdb_env_open(env_, path_.c_str(), MDB_NOTLS, 0644), "env open");
    return true;
  }
  bool persistent() const { return true; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
};

// RocksDB's C++ API driven directly with the settings of manifold's rocksdb
// engine (engines/rocksdb/rocksdb_store.cc, rocksdb_engine.cc): a 32 MiB LRU
// block cache, a 10 bits/key bloom filter, no compression, WARN logging, the
// same log and manifest limits, the data in its own column family, the WAL
// synced at every commit (not with --sync=off). A write transaction is a
// WriteBatch (manifold's too, until the transaction first reads; then it
// indexes it, for read-your-writes); a read transaction a snapshot.
class RawRocksdbSubject {
 public:
  RawRocksdbSubject(const std::string& path, bool durable) : path_(path) {
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(32 << 20);
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.whole_key_filtering = true;
    rocksdb::ColumnFamilyOptions cf;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    cf.compression = rocksdb::kNoCompression;
    cf.bottommost_compression = rocksdb::kNoCompression;
    rocksdb::DBOptions db;
    db.create_if_missing = true;
    db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    db.keep_log_file_num = 2;
    db.max_manifest_file_size = 8 << 20;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, cf}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    Ok(rocksdb::DB::Open(db, path, families, &handles, &raw), "open");
    db_.reset(raw);
    default_cf_ = handles[0];
    Ok(db_->CreateColumnFamily(cf, "bench", &cf_), "create column family");
    sync_.sync = durable;
  }
  ~RawRocksdbSubject() {
    db_->DestroyColumnFamilyHandle(cf_).PermitUncheckedError();
    db_->DestroyColumnFamilyHandle(default_cf_).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
  RawRocksdbSubject(const RawRocksdbSubject&) = delete;
  RawRocksdbSubject& operator=(const RawRocksdbSubject&) = delete;

  static void Ok(const rocksdb::Status& s, const char* what) {
    if (!s.ok()) Fail(std::string("raw rocksdb ") + what + ": " + s.ToString());
  }
  static rocksdb::Slice ToSlice(Bytes bytes) { return rocksdb::Slice(bytes.data(), bytes.size()); }
  static Bytes ToBytes(const rocksdb::Slice& slice) { return Bytes(slice.data(), slice.size()); }

  class Write {
   public:
    explicit Write(RawRocksdbSubject* subject) : subject_(subject) {}
    void Put(Bytes key, Bytes value) { Ok(batch_.Put(subject_->cf_, ToSlice(key), ToSlice(value)), "put"); }
    void Delete(Bytes key) { Ok(batch_.Delete(subject_->cf_, ToSlice(key)), "delete"); }
    void Commit() { Ok(subject_->db_->Write(subject_->sync_, &batch_), "commit"); }

   private:
    RawRocksdbSubject* subject_;
    rocksdb::WriteBatch batch_;
  };

  class Iter {
   public:
    explicit Iter(rocksdb::Iterator* it) : it_(it) {}
    ~Iter() {
      if (it_ != nullptr) Ok(it_->status(), "iterator");
    }
    Iter(Iter&&) noexcept = default;
    bool Seek(Bytes target, Bytes* key, Bytes* value) {
      it_->Seek(ToSlice(target));
      return Land(key, value);
    }
    bool Next(Bytes* key, Bytes* value) {
      it_->Next();
      return Land(key, value);
    }
    template <typename F>
    size_t Read(Bytes target, size_t limit, F&& visit) {
      return StepRange(*this, target, limit, visit);
    }

   private:
    bool Land(Bytes* key, Bytes* value) {
      if (!it_->Valid()) return false;
      *key = ToBytes(it_->key());
      *value = ToBytes(it_->value());
      return true;
    }
    std::unique_ptr<rocksdb::Iterator> it_;
  };

  class Read {
   public:
    explicit Read(RawRocksdbSubject* subject)
        : subject_(subject), snapshot_(subject->db_->GetSnapshot()) {
      options_.snapshot = snapshot_;
    }
    ~Read() {
      if (snapshot_ != nullptr) subject_->db_->ReleaseSnapshot(snapshot_);
    }
    Read(Read&& other) noexcept
        : subject_(other.subject_),
          snapshot_(std::exchange(other.snapshot_, nullptr)),
          options_(other.options_) {}
    bool Get(Bytes key, std::string* value) {
      rocksdb::Status s = subject_->db_->Get(options_, subject_->cf_, ToSlice(key), value);
      if (s.IsNotFound()) return false;
      Ok(s, "get");
      return true;
    }
    Iter NewCursor() { return Iter(subject_->db_->NewIterator(options_, subject_->cf_)); }

   private:
    RawRocksdbSubject* subject_;
    const rocksdb::Snapshot* snapshot_;
    rocksdb::ReadOptions options_;
  };

  Write BeginWrite() { return Write(this); }
  Read BeginRead() { return Read(this); }
  // As manifold's rocksdb engine compacts: flush, then a forced bottommost
  // compaction of every column family.
  bool Compact() {
    std::vector<rocksdb::ColumnFamilyHandle*> handles = {default_cf_, cf_};
    Ok(db_->Flush(rocksdb::FlushOptions(), handles), "flush");
    rocksdb::CompactRangeOptions options;
    options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      Ok(db_->CompactRange(options, handle, nullptr, nullptr), "compact");
    }
    return true;
  }
  bool persistent() const { return true; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* cf_ = nullptr;
  rocksdb::WriteOptions sync_;
};

// --- The workload ------------------------------------------------------------

template <typename Subject>
void RandomReads(Subject& subject, const Workload& w, size_t begin, size_t count) {
  auto txn = subject.BeginRead();
  std::string value;
  size_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::string& key = w.keys[w.read_order[(begin + i) % w.keys.size()]];
    if (txn.Get(key, &value)) found += value.size() == 150;
  }
  if (found != count) Fail("random reads found " + std::to_string(found));
}

// Every key in one transaction. (Not inlined, as RangeReads.)
template <typename Subject>
[[gnu::noinline]] void BulkLoad(Subject& subject, const Workload& w) {
  auto txn = subject.BeginWrite();
  for (size_t i = 0; i < w.keys.size(); ++i) txn.Put(w.keys[i], w.values[i]);
  txn.Commit();
}

// `commits` transactions of `rows` random rows each.
template <typename Subject>
void Commits(Subject& subject, std::mt19937_64& rng, int commits, int rows) {
  for (int t = 0; t < commits; ++t) {
    auto txn = subject.BeginWrite();
    for (int i = 0; i < rows; ++i) txn.Put(RandomBytes(rng, 24), RandomBytes(rng, 150));
    txn.Commit();
  }
}
template <typename Subject>
[[gnu::noinline]] void SingleRowCommits(Subject& subject, std::mt19937_64& rng, int commits) {
  Commits(subject, rng, commits, 1);
}
template <typename Subject>
[[gnu::noinline]] void BatchCommits(Subject& subject, std::mt19937_64& rng) {
  Commits(subject, rng, 20, 1000);
}

// Every other key, in one transaction.
template <typename Subject>
[[gnu::noinline]] void Removals(Subject& subject, const Workload& w) {
  auto txn = subject.BeginWrite();
  for (size_t i = 0; i < w.keys.size(); i += 2) txn.Delete(w.keys[i]);
  txn.Commit();
}

// `count` reads of 10 consecutive keys, each from a random key on. (Not
// inlined, so that a profiler can tell the phase apart.)
template <typename Subject>
[[gnu::noinline]] void RangeReads(Subject& subject, const Workload& w, size_t count) {
  auto txn = subject.BeginRead();
  auto cursor = txn.NewCursor();
  size_t bytes = 0;
  size_t entries = 0;
  for (size_t i = 0; i < count; ++i) {
    entries += cursor.Read(w.keys[w.read_order[i]], 10, [&bytes](Bytes key, Bytes value) {
      bytes += key.size() + value.size();
      return true;
    });
  }
  if (bytes == 0 || entries < count) Fail("range reads read too little");
}

std::string CommitPhase(bool durable) {
  return durable ? "single-row commit (durable, per commit)"
                 : "single-row commit (sync=off, per commit)";
}

template <typename Subject>
Figures RunPhases(Subject& subject, const Workload& w, const std::vector<int>& thread_counts,
                  bool durable) {
  Figures f;
  const size_t n = w.keys.size();
  auto set = [&f](const std::string& phase, Timing t, double per = 1) {
    f.Set(phase, t.wall / per, t.cpu / per);
  };

  set("bulk load", Time(1, [&] { BulkLoad(subject, w); }));

  // Unsynced commits are short: more of them.
  const int single_commits = durable ? w.durable_commits : 5000;
  std::mt19937_64 rng(7);
  set(CommitPhase(durable),
      Time(1, [&] { SingleRowCommits(subject, rng, single_commits); }), single_commits);

  set("batch writes (20 x 1000 rows)", Time(1, [&] { BatchCommits(subject, rng); }));

  set("random reads", Time(3, [&] { RandomReads(subject, w, 0, n); }));

  const size_t ranges = n / 10;
  set("range reads (10 rows)", Time(3, [&] { RangeReads(subject, w, ranges); }));

  for (int threads : thread_counts) {
    const size_t per_thread = n / 2;
    set("random reads, " + std::to_string(threads) + " threads", Time(2, [&] {
          std::vector<std::thread> pool;
          for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] { RandomReads(subject, w, t * per_thread, per_thread); });
          }
          for (auto& thread : pool) thread.join();
        }));
  }

  const uint64_t disk_before = FileBytes(subject.path());
  set("removals (half the keys)", Time(1, [&] { Removals(subject, w); }));
  const bool compacted = subject.Compact();
  const uint64_t disk_after = FileBytes(subject.path());
  // Sizes are reported in the same table, in MiB instead of seconds.
  // A store that lives in memory has no file to measure.
  const bool on_disk = subject.persistent();
  f.Set("file size after load (MiB)", on_disk ? disk_before / 1048576.0 : -1);
  f.Set("file size after delete + compact (MiB)",
        on_disk && compacted ? disk_after / 1048576.0 : -1);
  return f;
}

// Runs the workload once on column `name` in a fresh store under `dir`, then
// removes the store.
Figures RunColumn(const std::string& name, const std::string& dir, const Workload& w,
                  const std::vector<int>& thread_counts, bool durable) {
  const std::string path = dir + "/" + name;
  Figures f;
  if (name == kRawLmdb) {
    RawLmdbSubject subject(path, w.keys.size(), durable);
    f = RunPhases(subject, w, thread_counts, durable);
  } else if (name == kRawRocksdb) {
    RawRocksdbSubject subject(path, durable);
    f = RunPhases(subject, w, thread_counts, durable);
  } else {
    ManifoldSubject subject(name, path, durable);
    f = RunPhases(subject, w, thread_counts, durable);
  }
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  return f;
}

// One 4 KiB pwrite + fdatasync on the same disk: the floor of a durable commit.
double FsyncFloor(const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) Fail("open " + path);
  std::string page(4096, 'x');
  const int rounds = 200;
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (::pwrite(fd, page.data(), page.size(), 0) != 4096 || ::fdatasync(fd) != 0) {
      Fail("pwrite/fdatasync");
    }
  }
  double per = Since(start) / rounds;
  ::close(fd);
  ::unlink(path.c_str());
  return per;
}

// Prints wrapper/raw for every phase, wall and CPU time, one pair of columns
// per wrapped library present.
void PrintOverhead(const std::vector<std::string>& columns, const std::vector<Figures>& figures) {
  std::vector<std::pair<size_t, size_t>> pairs;  // (ours, raw) column indexes
  std::vector<std::string> labels;
  for (const auto& [ours, raw] : {std::pair<std::string, std::string>{"lmdb", kRawLmdb},
                                  std::pair<std::string, std::string>{"rocksdb", kRawRocksdb}}) {
    auto a = std::find(columns.begin(), columns.end(), ours);
    auto b = std::find(columns.begin(), columns.end(), raw);
    if (a == columns.end() || b == columns.end()) continue;
    pairs.emplace_back(a - columns.begin(), b - columns.begin());
    labels.push_back(ours + " / " + raw);
  }
  if (pairs.empty()) return;
  std::printf("\nWrapper overhead: manifold's engine over the raw library, same workload and "
              "settings, medians (1.00x: no cost; the goal is at most 1.05x). Wall time, and CPU "
              "time of the process, which other work on the machine disturbs less but which "
              "leaves out waiting for fsync.\n\n| workload |");
  for (const std::string& label : labels) std::printf(" %s wall | %s cpu |", label.c_str(), label.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < labels.size(); ++i) std::printf("---:|---:|");
  std::printf("\n");
  for (const Figures::Phase& phase : figures[0].phases) {
    std::printf("| %s |", phase.name.c_str());
    for (const auto& [ours, raw] : pairs) {
      for (int cpu = 0; cpu < 2; ++cpu) {
        double a = figures[ours].Get(phase.name, cpu == 1);
        double b = figures[raw].Get(phase.name, cpu == 1);
        if (a < 0 || b <= 0) {
          std::printf(" n/a |");
        } else {
          std::printf(" %.3fx |", a / b);
        }
      }
    }
    std::printf("\n");
  }
}

int Main(int argc, char** argv) {
  const size_t n = std::stoul(Flag(argc, argv, "n", "200000"));
  const int runs = std::max(1, std::stoi(Flag(argc, argv, "runs", "3")));
  const std::vector<std::string> registered = RegisteredEngineNames();
  auto is_registered = [&](const std::string& name) {
    return std::find(registered.begin(), registered.end(), name) != registered.end();
  };
  std::vector<std::string> wanted = SplitList(Flag(argc, argv, "engines", ""));
  if (wanted.empty()) {
    // The wrapped libraries sit next to their raw columns.
    wanted = {kRawLmdb, "rocksdb", kRawRocksdb};
    for (const std::string& name : registered) {
      if (name != "lmdb" && name != "rocksdb") wanted.push_back(name);
    }
    // Another build may not have it yet; the registry is asked by name only.
    if (!is_registered("sqlitekv")) wanted.push_back("sqlitekv");
  }
  std::vector<std::string> columns = {"lmdb"};
  for (const std::string& name : wanted) {
    if (name == "lmdb") continue;
    if (name != kRawLmdb && name != kRawRocksdb && !is_registered(name)) {
      std::printf("skipping %s: no engine of that name is registered in this build\n",
                  name.c_str());
      continue;
    }
    columns.push_back(name);
  }
  std::vector<int> thread_counts;
  for (const std::string& t : SplitList(Flag(argc, argv, "threads", "1,2,4"))) {
    thread_counts.push_back(std::stoi(t));
  }
  const std::string sync = Flag(argc, argv, "sync", "full");
  if (sync != "full" && sync != "off") Fail("--sync takes full or off, not " + sync);
  const bool durable = sync == "full";
  std::string base = Flag(argc, argv, "dir", "/tmp");
  std::string dir = base + "/manifold-engine-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("mkdtemp in " + base);

  std::printf("engine benchmark: %zu random 24-byte keys, 150-byte values, sync=%s, "
              "median of %d runs\n",
              n, sync.c_str(), runs);
  Workload w = MakeWorkload(n);
  w.durable_commits = std::max(1, std::stoi(Flag(argc, argv, "commits", "200")));
  std::vector<std::vector<Figures>> all(columns.size());
  for (int run = 0; run < runs; ++run) {
    // Each run starts from another column, so that no column is always the
    // one that runs first (on a machine just done with the previous run's
    // files) and a wrapper and its raw library swap places across runs.
    for (size_t i = 0; i < columns.size(); ++i) {
      const size_t c = (i + run) % columns.size();
      std::fprintf(stderr, "run %d/%d: %s\n", run + 1, runs, columns[c].c_str());
      all[c].push_back(RunColumn(columns[c], dir, w, thread_counts, durable));
    }
  }
  std::vector<Figures> figures;
  for (const auto& column_runs : all) figures.push_back(Median(column_runs));

  ResultTable table(columns);
  for (const Figures::Phase& phase : figures[0].phases) {
    ResultRow row{phase.name, {}};
    for (const Figures& f : figures) row.seconds.push_back(f.Get(phase.name));
    table.Add(std::move(row));
  }
  table.Print("The lmdb column is milliseconds (MiB for file sizes); the others are ratios to lmdb.");
  PrintOverhead(columns, figures);
  std::printf("\n4 KiB pwrite + fdatasync on this disk: %.3f ms\n", FsyncFloor(dir) * 1e3);
  for (size_t i = 0; i < figures.size(); ++i) {
    std::printf("%s %s single-row commit: %.3f ms wall, %.3f ms CPU\n", columns[i].c_str(),
                durable ? "durable" : "unsynced", figures[i].Get(CommitPhase(durable)) * 1e3,
                figures[i].Get(CommitPhase(durable), /*cpu=*/true) * 1e3);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace manifold::bench

int main(int argc, char** argv) { return manifold::bench::Main(argc, argv); }
