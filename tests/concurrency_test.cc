// Threads and processes on one store, through SQL with the extension.
//
// Per engine, 4 threads of this process (each with its own connection) and,
// on the engines that keep data on disk, 2 child processes (this binary run
// again, see child_process.h) work on one manifold table for a bounded time:
//
// - transfers: BEGIN; UPDATE a -= x; UPDATE b += x; COMMIT, retried after
//   SQLITE_BUSY, so the sum of the balances never changes;
// - readers: the sum and count of the balances, in one statement and in a
//   BEGIN ... COMMIT of two statements, must always be the invariant (a
//   reader sees committed states only), and the counter row a worker reads
//   never goes back below what it read or wrote before;
// - a counter row incremented by read-modify-write (read, then a
//   compare-and-set UPDATE inside the same write transaction, or
//   UPDATE SET n = n + 1): at the end it equals the number of increments
//   whose COMMIT returned SQLITE_OK, over all threads and processes (no lost
//   update);
// - every statement that returned SQLITE_BUSY waited at most the
//   connection's busy timeout plus a slack;
// - a watchdog fails the test (and ends the process, since a deadlocked
//   thread cannot be joined) when no worker makes progress for 20 s.
//
// btree and RocksDB allow one process per store: while the threads hold the
// store, a child's first statement gets a clean SQLITE_BUSY naming the table
// and the engine; the threads stop after 60% of the run, close their
// connections, and the children take turns on the store (each child opens a
// connection for a batch of transactions and closes it). LMDB and sqlitekv
// are shared by all six workers at once.
//
// Also: two connections of one thread writing one store get SQLITE_BUSY,
// never a deadlock; and a child made with a bare fork() that touches a store
// its parent had open gets a clean error and corrupts nothing.
//
// CI: 2.5 s of work per engine, 6 s under ThreadSanitizer (seed
// MANIFOLD_SEED, default 11); MANIFOLD_LONG=1: 120 s per engine.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "commit_workload.h"
#include "manifold/registry.h"
#include "sql_oracle.h"
#include "test_env.h"

namespace manifold::sqltest {
namespace {

using Clock = std::chrono::steady_clock;
using ::manifold::testing::Child;
using ::manifold::testing::DescribeStatus;
using ::manifold::testing::SpawnChild;

constexpr int kAccounts = 8;
constexpr int64_t kStartBalance = 1000;
constexpr int64_t kTotal = kAccounts * kStartBalance;
constexpr int kBusyTimeoutMs = 40;

// ThreadSanitizer: GCC defines __SANITIZE_THREAD__, clang has the feature.
#if defined(__SANITIZE_THREAD__)
#define MANIFOLD_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MANIFOLD_TEST_TSAN 1
#endif
#endif
#if defined(MANIFOLD_TEST_TSAN)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

// What a BUSY statement may wait beyond the busy timeout on two shared,
// loaded cores (ThreadSanitizer slows everything 5-15 times).
constexpr int64_t kSlackUs = kTsan ? 1'500'000 : 400'000;

// Under ThreadSanitizer, opening a RocksDB store takes 1.5-2 s, so the run
// is longer there.
double RunSeconds() { return manifold::testing::LongMode() ? 120.0 : (kTsan ? 6.0 : 2.5); }

bool IsMultiProcess(const std::string& engine) {
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name == engine) return info.capabilities.multi_process;
  }
  return false;
}

// One worker's counts.
struct Tally {
  int64_t transfers = 0;
  int64_t increments = 0;   // acknowledged: COMMIT returned SQLITE_OK
  int64_t reads = 0;
  int64_t busy = 0;         // statements that returned SQLITE_BUSY (each retried)
  int64_t commit_retries = 0;  // COMMIT returned SQLITE_BUSY and was tried again
  int64_t lockouts = 0;     // the store was held by another process
  int64_t max_busy_wait_us = 0;
  std::vector<std::string> errors;

  void Add(const Tally& o) {
    transfers += o.transfers;
    increments += o.increments;
    reads += o.reads;
    busy += o.busy;
    commit_retries += o.commit_retries;
    lockouts += o.lockouts;
    max_busy_wait_us = std::max(max_busy_wait_us, o.max_busy_wait_us);
    errors.insert(errors.end(), o.errors.begin(), o.errors.end());
  }
  std::string Line() const {
    return std::to_string(transfers) + " " + std::to_string(increments) + " " +
           std::to_string(reads) + " " + std::to_string(busy) + " " + std::to_string(commit_retries) +
           " " + std::to_string(lockouts) + " " + std::to_string(max_busy_wait_us);
  }
  bool ParseLine(const std::string& line) {
    std::istringstream in(line);
    return static_cast<bool>(in >> transfers >> increments >> reads >> busy >> commit_retries >>
                             lockouts >> max_busy_wait_us);
  }
};

// Counts progress for the watchdog (threads) or reports it on a pipe (children).
struct Progress {
  std::atomic<int64_t>* counter = nullptr;
  int fd = -1;
  void Tick(char what) {
    if (counter != nullptr) counter->fetch_add(1, std::memory_order_relaxed);
    if (fd >= 0) {
      char line[2] = {what, '\n'};
      if (::write(fd, line, 2) != 2) {
      }
    }
  }
};

enum class Step { kOk, kBusy, kLockedOut, kFailed };

// One connection's worker loop.
class Worker {
 public:
  Worker(std::string db_path, std::string table_label, uint64_t seed, Progress progress)
      : db_path_(std::move(db_path)), label_(std::move(table_label)), rng_(seed),
        progress_(progress) {}

  // Opens the connection; false (with an error recorded) on failure. Each
  // connection is used by its one thread only, so it needs no mutex of its
  // own (SQLITE_OPEN_NOMUTEX, as an application with a connection per thread
  // opens it).
  bool Open() {
    if (sqlite3_open_v2(db_path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Error("open " + db_path_ + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "?"));
      Close();
      return false;
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    return true;
  }
  void Close() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  ~Worker() { Close(); }

  // Runs random operations until `until` (or `max_ops` of them); stops
  // early with kLockedOut when another process holds the store.
  Step Run(Clock::time_point until, int max_ops) {
    for (int i = 0; i < max_ops && Clock::now() < until; ++i) {
      Step s = Step::kBusy;
      int op = static_cast<int>(rng_() % 10);
      while (s == Step::kBusy && Clock::now() < until) {
        if (op < 4) {
          s = Transfer();
        } else if (op < 6) {
          s = Increment(op == 4);
        } else {
          s = Read(op < 8);
        }
        if (s == Step::kBusy) Rollback();
      }
      if (s == Step::kLockedOut || s == Step::kFailed) {
        Rollback();
        return s;
      }
    }
    return Step::kOk;
  }

  Tally& tally() { return tally_; }

 private:
  // Runs one statement; the rows' first column go to `out`.
  Step Exec(const std::string& sql, std::vector<int64_t>* out = nullptr, int* changes = nullptr) {
    auto start = Clock::now();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (out != nullptr) {
          for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
            out->push_back(sqlite3_column_int64(stmt, c));
          }
        }
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (changes != nullptr) *changes = sqlite3_changes(db_);
    if (rc == SQLITE_OK) return Step::kOk;
    std::string message = sqlite3_errmsg(db_);
    if ((rc & 0xff) == SQLITE_BUSY) {
      int64_t waited = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start)
                           .count();
      if (message.find("cannot open '") != std::string::npos) {
        // The store is held by another process (btree, RocksDB): a clean
        // error that names the table and engine.
        if (message.find(label_) == std::string::npos) {
          Error("lockout error does not name " + label_ + ": " + message);
          return Step::kFailed;
        }
        ++tally_.lockouts;
        return Step::kLockedOut;
      }
      ++tally_.busy;
      tally_.max_busy_wait_us = std::max(tally_.max_busy_wait_us, waited);
      if (waited > kBusyTimeoutMs * 1000 + kSlackUs) {
        Error("statement waited " + std::to_string(waited / 1000) + " ms before SQLITE_BUSY (busy "
              "timeout " + std::to_string(kBusyTimeoutMs) + " ms): " + sql + ": " + message);
        return Step::kFailed;
      }
      return Step::kBusy;
    }
    Error(sql + ": " + sqlite3_errstr(rc) + ": " + message);
    return Step::kFailed;
  }

  // COMMIT; after SQLITE_BUSY the transaction is still open and COMMIT is
  // tried again, as SQLite documents. (Rolling back instead would be wrong
  // here: manifold has committed the store in xSync before SQLite's own file
  // was busy, so the store's part would stand; see README, Transactions.)
  Step Commit() {
    for (;;) {
      Step s = Exec("COMMIT");
      if (s != Step::kBusy || sqlite3_get_autocommit(db_) != 0) return s;
      ++tally_.commit_retries;
    }
  }

  void Rollback() {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  void Error(const std::string& e) { tally_.errors.push_back(e); }

#define MANIFOLD_STEP(expr)                   \
  do {                                        \
    Step step_ = (expr);                      \
    if (step_ != Step::kOk) return step_;     \
  } while (0)

  Step Transfer() {
    int a = 1 + static_cast<int>(rng_() % kAccounts);
    int b = 1 + static_cast<int>(rng_() % (kAccounts - 1));
    if (b >= a) ++b;
    int64_t x = 1 + static_cast<int64_t>(rng_() % 50);
    MANIFOLD_STEP(Exec("BEGIN"));
    MANIFOLD_STEP(Exec("UPDATE t SET balance = balance - " + std::to_string(x) +
                       " WHERE id = " + std::to_string(a)));
    MANIFOLD_STEP(Exec("UPDATE t SET balance = balance + " + std::to_string(x) +
                       " WHERE id = " + std::to_string(b)));
    MANIFOLD_STEP(Commit());
    ++tally_.transfers;
    progress_.Tick('t');
    return Step::kOk;
  }

  // Read-modify-write of the counter row (id 0): with `compare_and_set`,
  // BEGIN; UPDATE (takes the write lock); SELECT n; UPDATE n = read + 1
  // WHERE n = read; COMMIT; else one UPDATE n = n + 1.
  Step Increment(bool compare_and_set) {
    MANIFOLD_STEP(Exec("BEGIN"));
    if (compare_and_set) {
      MANIFOLD_STEP(Exec("UPDATE t SET balance = balance WHERE id = 0"));
      std::vector<int64_t> v;
      MANIFOLD_STEP(Exec("SELECT balance FROM t WHERE id = 0", &v));
      if (v.size() != 1) {
        Error("counter row: " + std::to_string(v.size()) + " rows");
        return Step::kFailed;
      }
      if (v[0] < last_counter_) {
        Error("counter went back from " + std::to_string(last_counter_) + " to " +
              std::to_string(v[0]));
        return Step::kFailed;
      }
      int changes = 0;
      MANIFOLD_STEP(Exec("UPDATE t SET balance = " + std::to_string(v[0] + 1) +
                             " WHERE id = 0 AND balance = " + std::to_string(v[0]),
                         nullptr, &changes));
      if (changes != 1) {  // inside the write transaction nobody else can change it
        Error("compare-and-set of the counter inside a write transaction changed " +
              std::to_string(changes) + " rows");
        return Step::kFailed;
      }
      MANIFOLD_STEP(Commit());
      last_counter_ = v[0] + 1;
    } else {
      MANIFOLD_STEP(Exec("UPDATE t SET balance = balance + 1 WHERE id = 0"));
      MANIFOLD_STEP(Commit());
    }
    ++tally_.increments;
    progress_.Tick('i');
    return Step::kOk;
  }

  // The invariant in one statement, or in two statements of one BEGIN.
  Step Read(bool one_statement) {
    auto check = [&](const std::vector<int64_t>& v, const char* how) {
      if (v.size() != 2 || v[0] != kTotal || v[1] != kAccounts) {
        std::string got;
        for (int64_t x : v) got += std::to_string(x) + " ";
        Error(std::string(how) + ": sum and count of the balances are " + got + "instead of " +
              std::to_string(kTotal) + " " + std::to_string(kAccounts));
        return false;
      }
      return true;
    };
    std::vector<int64_t> v;
    const std::string kSum = "SELECT sum(balance), count(*) FROM t WHERE id > 0";
    if (one_statement) {
      MANIFOLD_STEP(Exec(kSum, &v));
      if (!check(v, "one statement")) return Step::kFailed;
    } else {
      MANIFOLD_STEP(Exec("BEGIN"));
      MANIFOLD_STEP(Exec(kSum, &v));
      if (!check(v, "first statement of a read transaction")) return Step::kFailed;
      std::vector<int64_t> rows;
      MANIFOLD_STEP(Exec("SELECT balance FROM t WHERE id > 0 ORDER BY id", &rows));
      int64_t sum = 0;
      for (int64_t x : rows) sum += x;
      if (!check({sum, static_cast<int64_t>(rows.size())}, "second statement")) {
        return Step::kFailed;
      }
      std::vector<int64_t> counter;
      MANIFOLD_STEP(Exec("SELECT balance FROM t WHERE id = 0", &counter));
      if (counter.size() != 1 || counter[0] < last_counter_) {
        Error("counter read " + (counter.empty() ? std::string("nothing")
                                                 : std::to_string(counter[0])) +
              " after " + std::to_string(last_counter_));
        return Step::kFailed;
      }
      last_counter_ = counter[0];
      MANIFOLD_STEP(Commit());
    }
    ++tally_.reads;
    progress_.Tick('r');
    return Step::kOk;
  }
#undef MANIFOLD_STEP

  std::string db_path_;
  std::string label_;
  std::mt19937_64 rng_;
  Progress progress_;
  sqlite3* db_ = nullptr;
  int64_t last_counter_ = 0;
  Tally tally_;
};

// The child process: arg "main.db path\nlabel\nseed\nseconds". Opens a
// connection for each batch of up to 20 operations (or 100 ms; 50 or 400 ms
// under ThreadSanitizer), closes it,
// and, when the store is held by another process, waits 5-20 ms and tries
// again. Reports each operation on `fd`, then "stats <tally>" and each error.
int ChildMain(const std::string& arg, int fd) {
  std::istringstream in(arg);
  std::string db_path, label;
  uint64_t seed = 0;
  double seconds = 0;
  std::getline(in, db_path);
  std::getline(in, label);
  in >> seed >> seconds;
  RegisterManifold();
  Worker worker(db_path, label, seed, Progress{nullptr, fd});
  std::mt19937_64 rng(seed);
  auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(seconds));
  while (Clock::now() < until) {
    if (!worker.Open()) break;
    // Opening costs more under ThreadSanitizer: longer batches there.
    Step s = worker.Run(std::min(until, Clock::now() + std::chrono::milliseconds(kTsan ? 400 : 100)),
                        kTsan ? 50 : 20);
    worker.Close();
    if (s == Step::kFailed) break;
    if (s == Step::kLockedOut) std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 16));
  }
  std::string out = "stats " + worker.tally().Line() + "\n";
  for (const std::string& e : worker.tally().errors) out += "error " + e + "\n";
  if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return 4;
  return 0;
}

MANIFOLD_TEST_CHILD_MAIN(ChildMain);

// The declaration of table t on the shared store; with `rows`, also the
// counter row (id 0) and the accounts.
std::string CreateSql(const std::string& engine, const std::string& dir, bool rows = true) {
  std::string path = IsPersistent(engine) ? dir + "/store" : "concurrency-accounts";
  std::string sql = "CREATE VIRTUAL TABLE t USING " + engine +
                    "(id INTEGER PRIMARY KEY, balance INTEGER, path='" + path + "'" +
                    (IsPersistent(engine) ? ", sync=normal" : "") + ");";
  if (!rows) return sql;
  sql += "INSERT INTO t VALUES (0, 0);";
  for (int i = 1; i <= kAccounts; ++i) {
    sql += "INSERT INTO t VALUES (" + std::to_string(i) + ", " + std::to_string(kStartBalance) +
           ");";
  }
  return sql;
}

std::string Label(const std::string& engine) { return engine + " table \"t\""; }

// The first column of every row of `sql`, as integers joined by spaces, or
// "error: <message>".
std::string Ints(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      out += (out.empty() ? "" : " ") + std::to_string(sqlite3_column_int64(stmt, 0));
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return "error: " + std::string(sqlite3_errmsg(db));
  return out;
}

// manifold_check('t') found nothing wrong.
std::string CheckOk(sqlite3* db) {
  return Ints(db, "SELECT json_extract(manifold_check('t'), '$.ok')");
}

class Concurrency : public ::testing::TestWithParam<std::string> {
 protected:
  Concurrency() { RegisterManifold(); }
  TempDir dir_;
};

TEST_P(Concurrency, ThreadsAndProcessesKeepInvariants) {
  const std::string engine = GetParam();
  const std::string db_path = dir_.path() + "/main.db";
  const bool processes = IsPersistent(engine);
  const bool shared = IsMultiProcess(engine);
  const uint64_t seed = manifold::testing::TestSeed(11);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  // Threads 0 and 1 share main.db: SQLite's own lock on it orders their
  // writes. Threads 2 and 3 and the children each declare the table in a
  // database file of their own, so only manifold's locks order their writes
  // to the shared store. The memory store lives while a handle holds it:
  // `setup` keeps it.
  Connection setup(db_path);
  ASSERT_EQ(SQLITE_OK, RunSql(setup, CreateSql(engine, dir_.path())).rc)
      << RunSql(setup, "SELECT 1").ToString();
  auto worker_db = [&](const std::string& name) {
    std::string path = dir_.path() + "/" + name + ".db";
    Connection declare(path);
    Outcome o = RunSql(declare, CreateSql(engine, dir_.path(), /*rows=*/false));
    EXPECT_EQ(SQLITE_OK, o.rc) << o.ToString();
    return path;
  };
  const std::vector<std::string> thread_dbs = {db_path, db_path, worker_db("thread2"),
                                               worker_db("thread3")};
  const std::vector<std::string> child_dbs = {worker_db("child0"), worker_db("child1")};
  if (processes) setup.Close();

  const double seconds = RunSeconds();
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(seconds));
  // With a store of one process at a time, the threads leave the children
  // the last 40% of the run.
  const auto threads_end =
      shared || !processes ? end
                           : start + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(seconds * 0.6));

  std::vector<Child> children;
  if (processes) {
    for (int c = 0; c < 2; ++c) {
      children.push_back(SpawnChild(child_dbs[c] + "\n" + Label(engine) + "\n" +
                                    std::to_string(seed * 100 + 50 + c) + "\n" +
                                    std::to_string(seconds)));
      ASSERT_GT(children.back().pid, 0);
    }
  }

  std::atomic<int64_t> progress{0};
  std::atomic<int> threads_done{0};
  std::vector<Tally> thread_tallies(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Worker worker(thread_dbs[t], Label(engine), seed * 100 + t, Progress{&progress, -1});
      std::mt19937_64 rng(seed * 100 + 10 + t);
      if (worker.Open()) {
        // A child may hold a store of one process at a time: wait and retry.
        while (Clock::now() < threads_end && worker.Run(threads_end, 1 << 30) == Step::kLockedOut) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 16));
        }
      }
      worker.Close();
      thread_tallies[t] = worker.tally();
      threads_done.fetch_add(1);
    });
  }

  // Watchdog and collector: reads the children's reports; fails when
  // nothing moves for 20 s (a deadlock) or a worker outlives the run by 30 s.
  std::vector<std::string> reports(children.size());
  std::vector<bool> open(children.size(), true);
  const auto stall_limit = std::chrono::seconds(kTsan ? 60 : 20);
  int64_t last_progress = -1;
  size_t last_bytes = 0;
  auto last_move = Clock::now();
  for (;;) {
    bool any_open = false;
    size_t bytes = 0;
    for (size_t c = 0; c < children.size(); ++c) {
      if (open[c]) {
        open[c] = manifold::testing::ReadUntil(children[c].fd, reports[c],
                                               Clock::now() + std::chrono::milliseconds(20));
      }
      any_open = any_open || open[c];
      bytes += reports[c].size();
    }
    if (children.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    int64_t p = progress.load();
    auto now = Clock::now();
    if (p != last_progress || bytes != last_bytes) {
      last_progress = p;
      last_bytes = bytes;
      last_move = now;
    }
    if (!any_open && threads_done.load() == 4) break;
    bool stalled = now < end && now - last_move > stall_limit;
    bool overdue = now > end + std::chrono::seconds(kTsan ? 90 : 30);
    if (stalled || overdue) {
      std::fprintf(stderr,
                   "concurrency_test: %s: %s (%d of 4 threads done, children open: %d); a "
                   "deadlock or a hang. Ending the process: a stuck thread cannot be joined.\n",
                   engine.c_str(), stalled ? "no progress for 20 s" : "workers outlive the run",
                   threads_done.load(), static_cast<int>(any_open));
      for (const Child& child : children) ::kill(child.pid, SIGKILL);
      std::fflush(stderr);
      std::_Exit(1);
    }
  }
  for (std::thread& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  Tally threads_total, children_total;
  for (const Tally& t : thread_tallies) threads_total.Add(t);
  for (size_t c = 0; c < children.size(); ++c) {
    int status = 0;
    ::waitpid(children[c].pid, &status, 0);
    ::close(children[c].fd);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "child " << c << " " << DescribeStatus(status);
    std::istringstream lines(reports[c]);
    std::string line;
    Tally child;
    int64_t acknowledged_increments = 0;
    bool stats = false;
    while (std::getline(lines, line)) {
      if (line == "i") ++acknowledged_increments;
      if (line.rfind("stats ", 0) == 0) stats = child.ParseLine(line.substr(6));
      if (line.rfind("error ", 0) == 0) child.errors.push_back("child " + std::to_string(c) +
                                                                ": " + line.substr(6));
    }
    EXPECT_TRUE(stats) << "child " << c << " sent no figures";
    EXPECT_EQ(acknowledged_increments, child.increments) << "child " << c;
    child.increments = acknowledged_increments;  // what the pipe acknowledged
    children_total.Add(child);
  }
  Tally all = threads_total;
  all.Add(children_total);
  for (const std::string& e : all.errors) ADD_FAILURE() << engine << ": " << e;

  // The final state, through a fresh connection: the sum, and the counter
  // equal to the acknowledged increments.
  Connection check(db_path);
  EXPECT_EQ(std::to_string(kTotal), Ints(check, "SELECT sum(balance) FROM t WHERE id > 0"));
  EXPECT_EQ(std::to_string(kAccounts), Ints(check, "SELECT count(*) FROM t WHERE id > 0"));
  EXPECT_EQ(all.increments, QueryInt(check, "SELECT balance FROM t WHERE id = 0"))
      << "lost or phantom increments";
  if (processes) {
    EXPECT_EQ("1", CheckOk(check));
  }

  // The run must have exercised what it claims.
  EXPECT_GT(threads_total.transfers, 0);
  EXPECT_GT(threads_total.increments, 0);
  EXPECT_GT(threads_total.reads, 0);
  if (processes) {
    EXPECT_GT(children_total.transfers + children_total.increments, 0)
        << "the child processes committed nothing";
    if (!shared) {
      EXPECT_GT(children_total.lockouts, 0) << "no child met the threads' store";
    }
  }
  std::printf("[ figures  ] %s: %.1f s, 4 threads + %zu processes; transfers %lld (threads "
              "%lld), increments %lld, reads %lld, busy retries %lld, max wait of a BUSY "
              "statement %.1f ms (busy timeout %d ms), COMMITs retried %lld, lockouts by "
              "another process %lld\n",
              engine.c_str(), elapsed, children.size(), static_cast<long long>(all.transfers),
              static_cast<long long>(threads_total.transfers),
              static_cast<long long>(all.increments), static_cast<long long>(all.reads),
              static_cast<long long>(all.busy), all.max_busy_wait_us / 1000.0, kBusyTimeoutMs,
              static_cast<long long>(all.commit_retries), static_cast<long long>(all.lockouts));
}

// Two connections of one thread both write the store (each declares the
// table in its own database file, so that SQLite's lock on a shared main
// database does not order them first): the second waits its busy timeout and
// gets SQLITE_BUSY naming the table and engine; after the first commits, the
// second's retry goes through.
TEST_P(Concurrency, TwoWritersOfOneThreadGetBusyNotDeadlock) {
  const std::string engine = GetParam();
  Connection a(dir_.path() + "/a.db"), b(dir_.path() + "/b.db");
  ASSERT_EQ(SQLITE_OK, RunSql(a, CreateSql(engine, dir_.path())).rc);
  ASSERT_EQ(SQLITE_OK, RunSql(b, CreateSql(engine, dir_.path(), /*rows=*/false)).rc);
  sqlite3_busy_timeout(a, 200);
  sqlite3_busy_timeout(b, 200);
  MustRun(a, "BEGIN; UPDATE t SET balance = balance - 5 WHERE id = 1");
  auto start = Clock::now();
  Outcome second = RunSql(b, "UPDATE t SET balance = balance + 5 WHERE id = 2");
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_EQ(SQLITE_BUSY, second.rc) << second.ToString();
  EXPECT_NE(std::string::npos, second.message.find(Label(engine))) << second.message;
  EXPECT_GE(waited.count(), 150) << "the busy timeout was not waited out";
  EXPECT_LE(waited.count(), 200 + kSlackUs / 1000);
  // The first writer is unharmed and commits; then the second goes through.
  MustRun(a, "UPDATE t SET balance = balance + 5 WHERE id = 2; COMMIT");
  MustRun(b, "BEGIN; UPDATE t SET balance = balance - 1 WHERE id = 3;"
             " UPDATE t SET balance = balance + 1 WHERE id = 4; COMMIT");
  EXPECT_EQ(std::to_string(kTotal), Ints(a, "SELECT sum(balance) FROM t WHERE id > 0"));
  EXPECT_EQ("995 1005 999 1001",
            Ints(b, "SELECT balance FROM t WHERE id BETWEEN 1 AND 4 ORDER BY id"));
}

// Scans of a compressed table decode ahead on a thread of their own (see
// engines/zstd/zstd_scan_ahead.h). Three threads, each with its own
// connection, scan one table forward, backward, within bounds and cut short
// by LIMIT, while a fourth commits ten rows at a time to it: every scan must
// see one committed state, and the values read ahead must be that state's.
TEST_P(Concurrency, CompressedScansEachSeeOneCommittedState) {
  const std::string engine = GetParam();
  const std::string path = IsPersistent(engine) ? dir_.path() + "/zstore" : "concurrency-zstd";
  constexpr int kRows = 3000;  // ids 1..3000; the writer adds ids from 10001
  constexpr int kWidth = 400;  // every body is this long
  Connection setup(dir_.path() + "/setup.db");
  MustRun(setup, "CREATE VIRTUAL TABLE c USING " + engine +
                     "(id INTEGER PRIMARY KEY, body TEXT, path='" + path +
                     "', compression=zstd" + (IsPersistent(engine) ? ", sync=normal" : "") + ")");
  // Bodies of one shape, with a little of their own in each.
  const std::string body =
      "substr(printf('{\"id\":%d,\"note\":\"', v) || hex(randomblob(24)) || '\",\"text\":\"' || "
      "replace(printf('%.500c', '*'), '*', 'log line ') || '\"}', 1, " +
      std::to_string(kWidth) + ")";
  MustRun(setup, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < " +
                     std::to_string(kRows) + ") INSERT INTO c SELECT v, " + body + " FROM n");
  std::mutex mu;
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(what);
  };
  std::thread writer([&] {
    Connection db(dir_.path() + "/writer.db");
    sqlite3_busy_timeout(db, 2000);
    MustRun(db, "CREATE VIRTUAL TABLE c USING " + engine + "(id INTEGER PRIMARY KEY, body TEXT, "
                "path='" + path + "', compression=zstd)");
    for (int i = 0; i < 40; ++i) {
      std::string from = std::to_string(10001 + 10 * i);
      Outcome o = RunSql(db, "WITH RECURSIVE n(v) AS (SELECT " + from +
                                 " UNION ALL SELECT v + 1 FROM n WHERE v < " + from +
                                 " + 9) INSERT INTO c SELECT v, " + body + " FROM n");
      if (o.rc != SQLITE_OK) fail("writer: " + o.ToString());
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      Connection db(dir_.path() + "/reader" + std::to_string(r) + ".db");
      sqlite3_busy_timeout(db, 2000);  // CREATE writes to the store's catalog
      MustRun(db, "CREATE VIRTUAL TABLE c USING " + engine + "(id INTEGER PRIMARY KEY, body TEXT, "
                  "path='" + path + "', compression=zstd)");
      const std::string w = std::to_string(kWidth);
      for (int round = 0; round < 8; ++round) {
        // Whole table: a count that is the start plus whole commits, and
        // every body the right length and naming its own row.
        std::string got = Ints(db, "SELECT count(*) % 10 = 0 AND count(*) >= " +
                                       std::to_string(kRows) + " AND sum(length(body)) = " + w +
                                       " * count(*) AND sum(body LIKE printf('{\"id\":%d,%%', id))"
                                       " = count(*) FROM c");
        if (got != "1") fail("full scan: " + got);
        got = Ints(db, "SELECT count(*) = (SELECT count(*) FROM c) AND min(d) > 0 FROM (SELECT "
                       "lag(id) OVER (ORDER BY id DESC) - id AS d FROM c ORDER BY id DESC)");
        if (got != "1") fail("backward scan: " + got);
        got = Ints(db, "SELECT count(*) = 2601 AND sum(length(body)) = 2601 * " + w +
                           " FROM c WHERE id BETWEEN 200 AND 2800");
        if (got != "1") fail("bounded scan: " + got);
        got = Ints(db, "SELECT sum(length(body)) FROM (SELECT body FROM c LIMIT " +
                           std::to_string(700 + 150 * r) + ")");
        if (got != std::to_string((700 + 150 * r) * kWidth)) fail("scan cut short: " + got);
      }
    });
  }
  for (std::thread& t : readers) t.join();
  writer.join();
  for (const std::string& e : errors) ADD_FAILURE() << e;
  EXPECT_EQ(std::to_string(kRows + 400),
            Ints(setup, "SELECT count(*) FROM c WHERE length(body) = " + std::to_string(kWidth)));
}

// Durable commits (sync=full: the btree's commit log, whose commits keep
// their pages in memory until a checkpoint, here every few commits) while
// readers on other threads sum the table: each read sees whole transfers
// only, and the store checks out while the writer goes on. (Also under
// ThreadSanitizer in CI.)
TEST_P(Concurrency, DurableCommitsAndReadersOnThreadsSeeWholeTransfers) {
  const std::string engine = GetParam();
  if (!IsPersistent(engine)) GTEST_SKIP() << "nothing to sync";
  constexpr int kAccounts = 200;
  constexpr int kTotal = kAccounts * 100;
  const std::string declaration =
      "CREATE VIRTUAL TABLE t USING " + engine + "(id INTEGER PRIMARY KEY, balance INTEGER, " +
      "path='" + dir_.path() + "/durable'" + (engine == "btree" ? ", log_size=16384" : "") + ")";
  Connection setup(dir_.path() + "/setup.db");
  MustRun(setup, declaration);
  MustRun(setup, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < " +
                     std::to_string(kAccounts) + ") INSERT INTO t SELECT v, 100 FROM n");
  std::mutex mu;
  std::vector<std::string> errors;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(what);
  };
  std::atomic<bool> done{false};
  std::thread writer([&] {
    Connection db(dir_.path() + "/writer.db");
    sqlite3_busy_timeout(db, 5000);
    MustRun(db, declaration);
    std::mt19937_64 rng(manifold::testing::TestSeed(5));
    for (int i = 0; i < 300; ++i) {
      const std::string from = std::to_string(1 + rng() % kAccounts);
      const std::string to = std::to_string(1 + rng() % kAccounts);
      Outcome o = RunSql(db, "BEGIN; UPDATE t SET balance = balance - 7 WHERE id = " + from +
                                 "; UPDATE t SET balance = balance + 7 WHERE id = " + to +
                                 "; COMMIT");
      if (o.rc != SQLITE_OK) fail("writer: " + o.ToString());
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      Connection db(dir_.path() + "/reader" + std::to_string(r) + ".db");
      sqlite3_busy_timeout(db, 5000);
      MustRun(db, declaration);
      for (int round = 0; !done || round < 5; ++round) {
        const std::string got = Ints(db, "SELECT sum(balance) = " + std::to_string(kTotal) +
                                             " AND count(*) = " + std::to_string(kAccounts) +
                                             " FROM t");
        if (got != "1") fail("reader " + std::to_string(r) + ": " + got);
        if (r == 0 && round % 10 == 0) {
          const std::string ok = Ints(db, "SELECT json_extract(manifold_check('t'), '$.ok')");
          if (ok != "1") fail("check: " + ok);
        }
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  for (const std::string& e : errors) ADD_FAILURE() << e;
  EXPECT_EQ(std::to_string(kTotal), Ints(setup, "SELECT sum(balance) FROM t"));
}

INSTANTIATE_TEST_SUITE_P(Engines, Concurrency, ::testing::ValuesIn(EnginesUnderTest()),
                         EngineName());

// After a bare fork() (no exec), the child touches the store its parent has
// open: through the connection it inherited (every statement must fail with
// a clear error naming the table and engine, and closing that connection
// must not close the parent's store), and through a new connection of its
// own (which opens the store afresh: it works where the engine allows two
// processes, else a clean error). The parent goes on writing; its store must
// hold exactly its own rows plus the child's new-connection row when that
// one succeeded, and pass manifold_check.
class ForkedChild : public ::testing::TestWithParam<std::string> {
 protected:
  ForkedChild() { RegisterManifold(); }
  TempDir dir_;
};

// One child step's outcome as a line: "<step> <rc> <message>".
void Report(int fd, const std::string& step, sqlite3* db, int rc) {
  std::string line = step + " " + std::to_string(rc & 0xff) + " " +
                     (rc == SQLITE_OK ? std::string() : std::string(sqlite3_errmsg(db))) + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
}

TEST_P(ForkedChild, TouchingTheParentsStoreIsACleanErrorNeverCorruption) {
  const std::string engine = GetParam();
  const std::string db_path = dir_.path() + "/main.db";
  Connection parent(db_path);
  ASSERT_EQ(SQLITE_OK, RunSql(parent, CreateSql(engine, dir_.path())).rc);
  MustRun(parent, "INSERT INTO t VALUES (20, 1); SELECT count(*) FROM t");

  int fds[2];
  ASSERT_EQ(0, ::pipe(fds));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    int fd = fds[1];
    sqlite3* inherited = parent.db();
    Report(fd, "inherited-write", inherited,
           sqlite3_exec(inherited, "INSERT INTO t VALUES (100, 1)", nullptr, nullptr, nullptr));
    Report(fd, "inherited-read", inherited,
           sqlite3_exec(inherited, "SELECT count(*) FROM t", nullptr, nullptr, nullptr));
    sqlite3* own = nullptr;
    int rc = sqlite3_open_v2(db_path.c_str(), &own, SQLITE_OPEN_READWRITE, nullptr);
    if (rc == SQLITE_OK) {
      sqlite3_busy_timeout(own, 100);
      rc = sqlite3_exec(own, "INSERT INTO t VALUES (101, 1)", nullptr, nullptr, nullptr);
    }
    Report(fd, "own-write", own, rc);
    sqlite3_close_v2(own);
    // Closing the inherited connection must leave the parent's store alone.
    sqlite3_close_v2(inherited);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  bool open = manifold::testing::ReadUntil(fds[0], out, Clock::now() + std::chrono::seconds(30));
  ::close(fds[0]);
  int status = 0;
  if (open) ::kill(pid, SIGKILL);  // still running after 30 s: hung
  ::waitpid(pid, &status, 0);
  ASSERT_FALSE(open) << "the forked child hung; it said:\n" << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeStatus(status);

  std::map<std::string, std::pair<int, std::string>> steps;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string step;
    int rc = -1;
    fields >> step >> rc;
    std::string message;
    std::getline(fields, message);
    steps[step] = {rc, message};
  }
  ASSERT_EQ(3u, steps.size()) << out;
  for (const char* step : {"inherited-write", "inherited-read"}) {
    EXPECT_NE(SQLITE_OK, steps[step].first) << step << ": the parent's store was used";
    EXPECT_NE(std::string::npos, steps[step].second.find(Label(engine))) << steps[step].second;
    EXPECT_NE(std::string::npos, steps[step].second.find("fork()")) << steps[step].second;
  }
  const bool own_ok = steps["own-write"].first == SQLITE_OK;
  if (!own_ok) {
    EXPECT_NE(std::string::npos, steps["own-write"].second.find(Label(engine)))
        << steps["own-write"].second;
  }
  if (IsMultiProcess(engine)) {
    EXPECT_TRUE(own_ok) << steps["own-write"].second;
  }

  // The parent's store is whole and takes more commits.
  MustRun(parent, "INSERT INTO t VALUES (21, 1); INSERT INTO t VALUES (22, 1)");
  const std::string expected =
      std::string("0 1 2 3 4 5 6 7 8 20 21 22") + (own_ok ? " 101" : "");
  EXPECT_EQ(expected, Ints(parent, "SELECT id FROM t ORDER BY id"));
  EXPECT_EQ("1", CheckOk(parent));
  parent.Close();
  Connection reopened(db_path);
  EXPECT_EQ(expected, Ints(reopened, "SELECT id FROM t ORDER BY id"));
  EXPECT_EQ("1", CheckOk(reopened));
}

INSTANTIATE_TEST_SUITE_P(Engines, ForkedChild, ::testing::ValuesIn(PersistentEngines()),
                         EngineName());

}  // namespace
}  // namespace manifold::sqltest
