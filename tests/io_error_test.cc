// I/O error injection on every persistent engine. A child process (this
// binary run again, see child_process.h) runs a short SQL script on a
// manifold table with sync=full: a SELECT (which opens the store) and three
// transactions of commit_workload.h. The n-th write, fsync or read of the
// store's files fails with EIO, either once or from then on (then every
// later write, fsync and read of the store fails too, as on a dead disk).
//
// btree is faulted through its file seam (btree/file.h, a File wrapped
// around the real one, installed with SetBtreeFileOpenerForTesting); lmdb,
// rocksdb and sqlitekv through libc: this executable defines write, pwrite,
// pwritev, writev, fsync, fdatasync, msync, read, pread and preadv, which the shared libraries reach before libc's (it is linked with
// -rdynamic; the real functions come from dlsym(RTLD_NEXT), through
// AddressSanitizer's interceptors in the sanitizer build). Only calls on file
// descriptors of files under the store's path count (readlink of
// /proc/self/fd/N); msync has no descriptor and counts whenever armed.
// sync_file_range is left alone: it only starts writeback (RocksDB's
// bytes_per_sync) and durability comes from fsync/fdatasync; RocksDB probes
// it once per file and asserts that the probe fails with nothing but ENOSYS.
//
// After the failure the child must have got a clean SQLite error
// (SQLITE_IOERR* or SQLITE_FULL, the message naming the table and the
// engine), and the store must stay poisoned with the injection lifted: a
// read and a write in the same connection get SQLITE_IOERR (no silent
// success over a state the page cache may have lost, no retried fsync). The
// child must exit by itself (no crash, no abort), and after a failed fsync
// it must not fsync that file again, not even when it closes the store. Then the database reopened
// by the parent holds every acknowledged commit, no transaction in part, and
// manifold_check('t') is ok. The next round goes on from that state.
//
// Injection points: a dry run of the script counts the writes, fsyncs and
// reads; every (kind, n, once/from then on) up to those counts is a point.
// CI runs a sample of them per engine (fixed seed MANIFOLD_SEED, default 11;
// the last two points of each kind always); MANIFOLD_LONG=1 runs every
// point.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "btree/btree_engine.h"
#include "btree/file.h"
#include "child_process.h"
#include "commit_workload.h"
#include "sql_oracle.h"
#include "test_env.h"

// ---------------------------------------------------------------------------
// The fault state, shared by the libc interposer and the btree File wrapper.
namespace manifold::iofault {

enum Kind { kWrite = 0, kSync = 1, kRead = 2, kKinds = 3 };
constexpr const char* kKindNames[kKinds] = {"write", "fsync", "read"};

struct State {
  std::atomic<bool> armed{false};   // count (and fail) calls on the store
  bool by_path = false;             // libc: only fds under `prefix` count
  char prefix[4096] = {};
  size_t prefix_len = 0;
  int kind = kWrite;                // the kind whose fail_at-th call fails
  int64_t fail_at = 0;              // 0: count only
  bool sticky = false;              // from then on, every call fails
  std::atomic<bool> dead{false};    // a sticky failure happened
  std::atomic<int64_t> counts[kKinds] = {};
  std::atomic<int64_t> injected{0};
  // After an injected fsync failure, every later fsync of the same file
  // (also with the injection lifted, also at close) is counted: a retry,
  // there must be none. btree has one file; msync names none (any counts).
  std::atomic<bool> sync_failed{false};
  char failed_path[4096] = {};  // libc: the file whose fsync failed
  std::atomic<int64_t> syncs_after_failure{0};
  // Counted when armed: fsyncs of RocksDB logs (*.log) under the prefix.
  std::atomic<int64_t> log_syncs{0};
};

State& state() {
  static State s;
  return s;
}

// True when the call of `kind` (on the file `path`, or null) must fail.
// Counts it when armed.
bool Decide(Kind kind, const char* path) {
  State& s = state();
  if (kind == kSync && s.sync_failed.load() &&
      (path == nullptr || std::strcmp(path, s.failed_path) == 0)) {
    s.syncs_after_failure.fetch_add(1);
  }
  if (!s.armed.load(std::memory_order_acquire)) return false;
  if (kind == kSync && path != nullptr) {
    const size_t len = std::strlen(path);
    if (len > 4 && std::strcmp(path + len - 4, ".log") == 0) s.log_syncs.fetch_add(1);
  }
  const int64_t n = s.counts[kind].fetch_add(1) + 1;
  bool fail = s.dead.load();
  if (!fail && s.fail_at > 0 && kind == s.kind && n == s.fail_at) {
    fail = true;
    if (s.sticky) s.dead.store(true);
  }
  if (fail) s.injected.fetch_add(1);
  if (fail && kind == kSync && !s.sync_failed.load()) {
    if (path != nullptr) std::snprintf(s.failed_path, sizeof(s.failed_path), "%s", path);
    s.sync_failed.store(true);
  }
  return fail;
}

// For btree's File wrapper: its one file.
bool Fails(Kind kind) { return Decide(kind, nullptr); }

// libc calls count (and fail) only on files whose path starts with `prefix`.
void CountUnder(const std::string& prefix) {
  State& s = state();
  s.by_path = true;
  std::snprintf(s.prefix, sizeof(s.prefix), "%s", prefix.c_str());
  s.prefix_len = std::strlen(s.prefix);
}

// For a test in this process: counts under a prefix while it lives, then
// puts the whole fault state back (also when an assertion ends the test).
class ScopedFaults {
 public:
  explicit ScopedFaults(const std::string& prefix) { CountUnder(prefix); }
  ~ScopedFaults() {
    State& s = state();
    s.armed.store(false);
    s.by_path = false;
    s.kind = kWrite;
    s.fail_at = 0;
    s.sticky = false;
    s.dead.store(false);
    for (auto& count : s.counts) count.store(0);
    s.injected.store(0);
    s.log_syncs.store(0);
  }
  ScopedFaults(const ScopedFaults&) = delete;
  ScopedFaults& operator=(const ScopedFaults&) = delete;
};

constexpr int kAnyFd = 1 << 30;  // msync: no descriptor

// For a libc call on `fd`: only files under the prefix count.
bool FdFails(Kind kind, int fd) {
  State& s = state();
  if (!(s.armed.load(std::memory_order_acquire) || (kind == kSync && s.sync_failed.load())) ||
      !s.by_path || fd < 0) {
    return false;
  }
  if (fd == kAnyFd) return Decide(kind, nullptr);
  char link[64];
  std::snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  char target[4096];
  ssize_t len = ::readlink(link, target, sizeof(target) - 1);
  if (len < static_cast<ssize_t>(s.prefix_len) ||
      std::memcmp(target, s.prefix, s.prefix_len) != 0) {
    return false;
  }
  target[len] = '\0';
  return Decide(kind, target);
}

}  // namespace manifold::iofault

// ---------------------------------------------------------------------------
// The libc interposer. Each function fails with EIO when the fault state
// says so and otherwise calls the next definition (libc's, or the
// sanitizer's interceptor in front of it).
#define MANIFOLD_REAL(name) \
  (reinterpret_cast<decltype(&::name)>(::dlsym(RTLD_NEXT, #name)))
#define MANIFOLD_INTERPOSE(ret, name, kind, fdexpr, params, args)             \
  extern "C" ret name params {                                               \
    static const auto real = MANIFOLD_REAL(name);                            \
    if (::manifold::iofault::FdFails(::manifold::iofault::kind, (fdexpr))) { \
      errno = EIO;                                                           \
      return -1;                                                             \
    }                                                                        \
    return real args;                                                        \
  }

MANIFOLD_INTERPOSE(ssize_t, write, kWrite, fd, (int fd, const void* buf, size_t n), (fd, buf, n))
MANIFOLD_INTERPOSE(ssize_t, pwrite, kWrite, fd, (int fd, const void* buf, size_t n, off_t o),
                   (fd, buf, n, o))
MANIFOLD_INTERPOSE(ssize_t, pwrite64, kWrite, fd,
                   (int fd, const void* buf, size_t n, off64_t o), (fd, buf, n, o))
MANIFOLD_INTERPOSE(ssize_t, writev, kWrite, fd, (int fd, const struct iovec* v, int c),
                   (fd, v, c))
MANIFOLD_INTERPOSE(ssize_t, pwritev, kWrite, fd,
                   (int fd, const struct iovec* v, int c, off_t o), (fd, v, c, o))
MANIFOLD_INTERPOSE(ssize_t, pwritev64, kWrite, fd,
                   (int fd, const struct iovec* v, int c, off64_t o), (fd, v, c, o))
MANIFOLD_INTERPOSE(ssize_t, pwritev2, kWrite, fd,
                   (int fd, const struct iovec* v, int c, off_t o, int f), (fd, v, c, o, f))
MANIFOLD_INTERPOSE(int, fsync, kSync, fd, (int fd), (fd))
MANIFOLD_INTERPOSE(int, fdatasync, kSync, fd, (int fd), (fd))
MANIFOLD_INTERPOSE(ssize_t, read, kRead, fd, (int fd, void* buf, size_t n), (fd, buf, n))
MANIFOLD_INTERPOSE(ssize_t, pread, kRead, fd, (int fd, void* buf, size_t n, off_t o),
                   (fd, buf, n, o))
MANIFOLD_INTERPOSE(ssize_t, pread64, kRead, fd, (int fd, void* buf, size_t n, off64_t o),
                   (fd, buf, n, o))
MANIFOLD_INTERPOSE(ssize_t, readv, kRead, fd, (int fd, const struct iovec* v, int c),
                   (fd, v, c))
MANIFOLD_INTERPOSE(ssize_t, preadv, kRead, fd, (int fd, const struct iovec* v, int c, off_t o),
                   (fd, v, c, o))
MANIFOLD_INTERPOSE(ssize_t, preadv64, kRead, fd,
                   (int fd, const struct iovec* v, int c, off64_t o), (fd, v, c, o))
// msync names no file: when armed, every call counts (the child maps nothing
// but the store).
MANIFOLD_INTERPOSE(int, msync, kSync, ::manifold::iofault::kAnyFd, (void* addr, size_t n, int f), (addr, n, f))

namespace manifold::sqltest {
namespace {

using ::manifold::testing::Child;
using ::manifold::testing::DescribeStatus;
using ::manifold::testing::OneLine;
using ::manifold::testing::Say;
using ::manifold::testing::SpawnChild;
using iofault::Fails;
using iofault::Kind;

// btree's faulting File: the real file behind the fault state. Write and
// Truncate are writes, Sync an fsync, Read, Size and Map reads.
class FaultFile final : public btree::File {
 public:
  explicit FaultFile(std::unique_ptr<btree::File> real) : real_(std::move(real)) {}
  Status Read(uint64_t offset, size_t n, uint8_t* dst) override {
    if (Fails(iofault::kRead)) return Injected("read");
    return real_->Read(offset, n, dst);
  }
  Status Write(uint64_t offset, std::string_view data) override {
    if (Fails(iofault::kWrite)) return Injected("write");
    return real_->Write(offset, data);
  }
  Status Sync() override {
    if (Fails(iofault::kSync)) return Injected("fsync");
    return real_->Sync();
  }
  Status Truncate(uint64_t size) override {
    if (Fails(iofault::kWrite)) return Injected("truncate");
    return real_->Truncate(size);
  }
  Result<uint64_t> Size() override {
    if (Fails(iofault::kRead)) return Injected("stat");
    return real_->Size();
  }
  Result<std::shared_ptr<const btree::Mapping>> Map(uint64_t size) override {
    if (Fails(iofault::kRead)) return Injected("mmap");
    return real_->Map(size);
  }
  Status Lock(bool exclusive) override { return real_->Lock(exclusive); }

 private:
  static Status Injected(const char* what) {
    return Status::IOError(std::string("injected ") + what + " error: " + std::strerror(EIO));
  }
  std::unique_ptr<btree::File> real_;
};

Result<std::unique_ptr<btree::File>> OpenFaultFile(const std::string& path, bool read_only,
                                                   bool create) {
  Result<std::unique_ptr<btree::File>> real = btree::OpenPosixFile(path, read_only, create);
  if (!real.ok()) return real.status();
  return std::unique_ptr<btree::File>(std::make_unique<FaultFile>(std::move(*real)));
}

constexpr int64_t kWindow = 20;        // the table keeps the last 20 transactions
constexpr int kTxnsPerScript = 3;

// The child: arms the fault state, runs the script, and reports.
// arg: "engine\ndir\nkind\nfail_at\nsticky\nfirst". Says "ack n" after each
// commit; at the first failure "error <statement> <extended code> <message>",
// then, with the injection lifted, "post-read <code> <message>" and
// "post-write <code> <message>" (code 0: it succeeded; then also "ack n");
// at the end "counts <writes> <fsyncs> <reads> <injected>" and "closed <rc>".
int FaultMain(const std::string& arg, int fd) {
  std::istringstream in(arg);
  std::string engine, dir;
  int kind = 0, sticky = 0;
  int64_t fail_at = 0, first = 0;
  std::getline(in, engine);
  std::getline(in, dir);
  in >> kind >> fail_at >> sticky >> first;
  iofault::State& s = iofault::state();
  const std::string prefix = dir + "/store";
  if (engine == "btree") {
    SetBtreeFileOpenerForTesting(&OpenFaultFile);
  } else {
    iofault::CountUnder(prefix);
  }
  s.kind = kind;
  s.fail_at = fail_at;
  s.sticky = sticky != 0;
  RegisterManifold();
  s.armed.store(true);

  sqlite3* db = nullptr;
  if (sqlite3_open_v2((dir + "/main.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    Say(fd, "other cannot open " + dir + "/main.db");
    return 2;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  auto report = [&](const std::string& tag, int rc) {
    Say(fd, tag + " " + std::to_string(rc == SQLITE_OK ? 0 : sqlite3_extended_errcode(db)) +
                (rc == SQLITE_OK ? std::string() : " " + OneLine(sqlite3_errmsg(db))));
  };
  auto rollback = [&] {
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  };
  const std::string read_sql = "SELECT count(*), sum(v) FROM t";
  for (int64_t i = -1; i < kTxnsPerScript; ++i) {
    const int64_t n = first + i;
    const std::string sql = i < 0 ? read_sql : TxnSql(n, 0, kWindow);
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) {
      if (i >= 0) Say(fd, "ack " + std::to_string(n));
      continue;
    }
    Say(fd, "error " + std::to_string(i) + " " + std::to_string(sqlite3_extended_errcode(db)) +
                " " + OneLine(sqlite3_errmsg(db)));
    rollback();
    // The disk works again; the store must not.
    s.armed.store(false);
    report("post-read", sqlite3_exec(db, read_sql.c_str(), nullptr, nullptr, nullptr));
    const int64_t retry = i < 0 ? first : n;
    int rc = sqlite3_exec(db, TxnSql(retry, 0, kWindow).c_str(), nullptr, nullptr, nullptr);
    report("post-write", rc);
    if (rc == SQLITE_OK) {
      Say(fd, "ack " + std::to_string(retry));
    } else {
      rollback();
    }
    break;
  }
  s.armed.store(false);
  Say(fd, "counts " + std::to_string(s.counts[0].load()) + " " +
              std::to_string(s.counts[1].load()) + " " + std::to_string(s.counts[2].load()) +
              " " + std::to_string(s.injected.load()));
  int rc = sqlite3_close(db);
  Say(fd, "closed " + std::to_string(rc) + " " + std::to_string(s.syncs_after_failure.load()) +
              " " + s.failed_path);
  return rc == SQLITE_OK ? 0 : 3;
}

MANIFOLD_TEST_CHILD_MAIN(FaultMain);

// What a child said and how it ended.
struct Report {
  int status = 0;
  std::vector<int64_t> acks;
  int error_statement = -2;  // -2: no error; -1: the opening SELECT; else the transaction
  int error_code = 0;
  std::string error;
  int post_read_code = -1, post_write_code = -1;
  std::string post_read, post_write;
  int64_t counts[iofault::kKinds] = {};
  int64_t injected = 0;
  int64_t syncs_after_failure = -1;  // -1: the child did not get to say
  std::string failed_sync_path;
  std::string other;
};

std::pair<int, std::string> CodeAndMessage(std::istringstream& in) {
  int code = -1;
  in >> code;
  std::string message;
  std::getline(in >> std::ws, message);
  return {code, message};
}

Report RunChild(const std::string& arg) {
  Report report;
  Child child = SpawnChild(arg);
  if (child.pid <= 0) return report;
  manifold::testing::Finished finished =
      manifold::testing::WaitForChild(child, std::chrono::minutes(1));
  if (finished.hung) ADD_FAILURE() << "the child did not finish within a minute (a hang)";
  report.status = finished.status;
  std::istringstream lines(finished.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    std::string tag;
    in >> tag;
    if (tag == "ack") {
      int64_t n;
      in >> n;
      report.acks.push_back(n);
    } else if (tag == "error") {
      in >> report.error_statement;
      std::tie(report.error_code, report.error) = CodeAndMessage(in);
    } else if (tag == "post-read") {
      std::tie(report.post_read_code, report.post_read) = CodeAndMessage(in);
    } else if (tag == "post-write") {
      std::tie(report.post_write_code, report.post_write) = CodeAndMessage(in);
    } else if (tag == "counts") {
      in >> report.counts[0] >> report.counts[1] >> report.counts[2] >> report.injected;
    } else if (tag == "closed") {
      int rc;
      in >> rc >> report.syncs_after_failure >> report.failed_sync_path;
    } else {
      report.other += line + "\n";
    }
  }
  return report;
}

struct Point {
  int kind;
  int64_t n;
  bool sticky;
};

class IoError : public ::testing::TestWithParam<std::string> {
 protected:
  IoError() { RegisterManifold(); }
  TempDir dir_;
};

TEST_P(IoError, InjectedFailuresAreCleanErrorsAndLoseNothing) {
  const std::string& engine = GetParam();
  const uint64_t seed = manifold::testing::TestSeed(11);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  const std::string& dir = dir_.path();
  ASSERT_NO_FATAL_FAILURE(CreateWorkloadTable(dir, engine));
  auto start = std::chrono::steady_clock::now();

  std::set<int64_t> durable;  // acknowledged, or found by a check: must stay
  int64_t next = 1;
  // One round: a child runs the script from `next` with `point`, then the
  // parent checks what the store holds. Returns the child's report.
  auto round = [&](const Point& point, int number) -> Report {
    std::string arg = engine + "\n" + dir + "\n" + std::to_string(point.kind) + "\n" +
                      std::to_string(point.n) + "\n" + (point.sticky ? "1" : "0") + "\n" +
                      std::to_string(next);
    Report r = RunChild(arg);
    std::string where = std::string(iofault::kKindNames[point.kind]) + " #" +
                        std::to_string(point.n) + (point.sticky ? " and every later call" : "");
    SCOPED_TRACE("round " + std::to_string(number) + ": failing " + where);
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)
        << "the child " << DescribeStatus(r.status) << " instead of exiting by itself; it said:\n"
        << r.other << "error " << r.error_code << " " << r.error;
    if (r.error_statement != -2) {
      EXPECT_TRUE((r.error_code & 0xff) == SQLITE_IOERR || (r.error_code & 0xff) == SQLITE_FULL)
          << "code " << r.error_code << " (" << sqlite3_errstr(r.error_code) << "): " << r.error;
      EXPECT_NE(std::string::npos, r.error.find(engine + " table \"t\"")) << r.error;
      if (r.error_statement >= 0) {
        // The store was open when the error came: it is poisoned.
        for (const auto& [code, message] : {std::pair{r.post_read_code, r.post_read},
                                            std::pair{r.post_write_code, r.post_write}}) {
          EXPECT_EQ(SQLITE_IOERR, code & 0xff)
              << "after the error, with the disk working again, a statement in the same"
                 " connection got "
              << code << " " << message;
          EXPECT_NE(std::string::npos, message.find("poisoned")) << message;
          EXPECT_NE(std::string::npos, message.find(engine + " table \"t\"")) << message;
        }
      }
    }
    // (A failed open leaves no store behind: the next statement opens it
    // again, from what is on disk, and that open may sync. RocksDB ignores a
    // failed fsync of the store's directory while it opens the store, and
    // would sync it again later; manifold's file system under RocksDB,
    // rocksdb_io_watch.h, fails every fsync after an I/O error instead.)
    if (r.error_statement != -1) {
      EXPECT_EQ(0, r.syncs_after_failure)
          << "an fsync of a file after its fsync failed (a retried fsync proves nothing): "
          << r.failed_sync_path << "; the error was: "
          << r.error_code << " " << r.error << "; then " << r.post_read << "; " << r.post_write;
    }
    int64_t last = next - 1;
    for (int64_t n : r.acks) {
      EXPECT_EQ(last + 1, n) << "acknowledgements out of order";
      durable.insert(n);
      last = n;
    }
    const int64_t highest = CheckState(dir, durable, last + 1, kWindow, number);
    if (highest == last + 1) durable.insert(highest);
    next = std::max(highest, last) + 1;
    return r;
  };

  // The dry runs: how many calls of each kind the script makes. The first
  // open after the table's creation does more (RocksDB writes a new
  // MANIFEST and OPTIONS file): the later runs' counts are the ones of every
  // later round. RocksDB's background work (a compaction of the files that
  // earlier opens flushed) lands in some runs and not in others: the
  // smaller count of two runs is the script's own, so that the points near
  // its end are reached.
  Report dry = round(Point{iofault::kWrite, 0, false}, 0);
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_EQ(-2, dry.error_statement) << dry.error;
  dry = round(Point{iofault::kWrite, 0, false}, 0);
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_EQ(-2, dry.error_statement) << dry.error;
  const Report again = round(Point{iofault::kWrite, 0, false}, 0);
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_EQ(-2, again.error_statement) << again.error;
  for (int kind = 0; kind < iofault::kKinds; ++kind) {
    dry.counts[kind] = std::min(dry.counts[kind], again.counts[kind]);
  }
  ASSERT_GT(dry.counts[iofault::kWrite], 0);
  ASSERT_GT(dry.counts[iofault::kSync], 0);

  std::vector<Point> points;
  for (int kind = 0; kind < iofault::kKinds; ++kind) {
    for (int64_t n = 1; n <= dry.counts[kind]; ++n) {
      for (bool sticky : {false, true}) points.push_back(Point{kind, n, sticky});
    }
  }
  const size_t all_points = points.size();
  // CI: the last two points of each kind (the last commit), both ways, and
  // a sample of the rest.
  // A round (a child, then the check) takes 0.1-0.2 s, 0.35-0.6 s on
  // RocksDB, which opens the store twice: the budgets keep the test near
  // 20 s on two busy cores.
  size_t budget = engine == "rocksdb" ? 16 : 28;
#if defined(__SANITIZE_ADDRESS__)
  budget = engine == "rocksdb" ? 10 : 16;  // each child starts a sanitized binary
#endif
  if (!manifold::testing::LongMode() && points.size() > budget) {
    std::vector<Point> chosen, rest;
    for (const Point& p : points) {
      (p.n >= dry.counts[p.kind] - 1 ? chosen : rest).push_back(p);
    }
    std::shuffle(rest.begin(), rest.end(), rng);
    for (size_t i = 0; chosen.size() < budget && i < rest.size(); ++i) chosen.push_back(rest[i]);
    points = chosen;
  }

  int failures = 0, injected = 0, poisoned = 0;
  int number = 1;
  for (const Point& point : points) {
    Report r = round(point, number++);
    if (::testing::Test::HasFailure()) {
      FAIL() << "stopping at the first failed round (seed " << seed << ")";
    }
    if (r.injected > 0) ++injected;
    if (r.error_statement != -2) ++failures;
    if (r.error_statement >= 0) ++poisoned;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ figures  ] %s: %zu injection points (writes %lld, fsyncs %lld, reads %lld; "
              "once and from then on), %zu run, %d with a fault injected, %d SQL errors "
              "(%d on an open store, then poisoned), 0 crashes, %zu commits acknowledged, "
              "%.1f s\n",
              engine.c_str(), all_points, static_cast<long long>(dry.counts[0]),
              static_cast<long long>(dry.counts[1]), static_cast<long long>(dry.counts[2]),
              points.size(), injected, failures, poisoned, durable.size(), seconds);
  // The injection must have reached the store: most points fail a statement.
  EXPECT_GE(failures, static_cast<int>(points.size() / 2));
}

INSTANTIATE_TEST_SUITE_P(Engines, IoError, ::testing::ValuesIn(PersistentEngines()),
                         EngineName());

// Commits under sync=normal reach RocksDB's log without an fsync; closing
// the store cleanly syncs the log, so they survive a power loss once every
// connection has closed. Under sync=full every commit synced it already and
// the close adds no fsync.
TEST(RocksdbClose, SyncsTheLogOnlyWhenACommitLeftItUnsynced) {
  RegisterManifold();
  TempDir dir;
  iofault::State& s = iofault::state();
  iofault::ScopedFaults faults(dir.path() + "/");  // count only
  for (const std::string sync : {"normal", "full"}) {
    SCOPED_TRACE("sync=" + sync);
    const std::string store = dir.path() + "/" + sync;
    Connection db(dir.path() + "/" + sync + ".db");
    ASSERT_EQ(SQLITE_OK, RunSql(db, "CREATE VIRTUAL TABLE t USING rocksdb(k INTEGER PRIMARY KEY,"
                                    " v TEXT, path='" + store + "', sync=" + sync + ")")
                             .rc);
    s.armed.store(true);
    for (int i = 0; i < 3; ++i) {
      Outcome put = RunSql(db, "INSERT INTO t VALUES (" + std::to_string(i) + ", 'row')");
      ASSERT_EQ(SQLITE_OK, put.rc) << put.ToString();
    }
    const int64_t before_close = s.log_syncs.load();
    db.Close();
    const int64_t at_close = s.log_syncs.load() - before_close;
    s.armed.store(false);
    if (sync == "normal") {
      EXPECT_EQ(0, before_close) << "sync=normal commits synced the log";
      EXPECT_GE(at_close, 1) << "the clean close left the log unsynced";
    } else {
      EXPECT_GE(before_close, 3) << "sync=full commits did not sync the log";
      EXPECT_EQ(0, at_close) << "the close synced a log that every commit had synced";
    }
    s.log_syncs.store(0);
    // The rows are there after the close.
    Connection again(dir.path() + "/" + sync + ".db");
    Outcome count = RunSql(again, "SELECT count(*) FROM t");
    ASSERT_EQ(SQLITE_OK, count.rc) << count.ToString();
    EXPECT_EQ(std::vector<std::string>{"integer 3"}, count.rows);
  }
}

// After an I/O error the close does not sync the log: the fsync would follow
// a failed write (proving nothing), and RocksDB 7.8 asserts, aborting the
// process, when a log whose append failed is synced.
TEST(RocksdbClose, DoesNotSyncTheLogAfterAnIoError) {
  RegisterManifold();
  TempDir dir;
  iofault::State& s = iofault::state();
  auto faults = std::make_unique<iofault::ScopedFaults>(dir.path() + "/");
  Connection db(dir.path() + "/main.db");
  ASSERT_EQ(SQLITE_OK, RunSql(db, "CREATE VIRTUAL TABLE t USING rocksdb(k INTEGER PRIMARY KEY,"
                                  " v TEXT, path='" + dir.path() + "/store', sync=normal);"
                                  " INSERT INTO t VALUES (1, 'acknowledged')")
                           .rc);
  // From now on every write under the store fails, as on a dead disk.
  s.kind = iofault::kWrite;
  s.fail_at = 1;
  s.sticky = true;
  s.armed.store(true);
  Outcome failed = RunSql(db, "INSERT INTO t VALUES (2, 'lost')");
  EXPECT_EQ(SQLITE_IOERR, failed.rc & 0xff) << failed.ToString();
  const int64_t before_close = s.log_syncs.load();
  db.Close();
  EXPECT_EQ(before_close, s.log_syncs.load()) << "the close synced the log after a failed write";
  faults.reset();  // the disk works again
  // Reopened from disk: the acknowledged row, not the failed one.
  Connection again(dir.path() + "/main.db");
  Outcome rows = RunSql(again, "SELECT k, v FROM t");
  ASSERT_EQ(SQLITE_OK, rows.rc) << rows.ToString();
  EXPECT_EQ(std::vector<std::string>{"integer 1 | text 'acknowledged'"}, rows.rows);
}

}  // namespace
}  // namespace manifold::sqltest
