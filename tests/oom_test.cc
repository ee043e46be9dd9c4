// Out-of-memory injection: fails the n-th allocation of a SQL script on a
// manifold table, for every engine, and checks that the statement that hit it
// ends with a clean error, that nothing crashes or throws through SQLite, and
// that afterwards the tables agree with native SQLite tables that ran the same
// statements.
//
// Two hooks count the allocations of the test's own thread (background
// threads of the engines, such as RocksDB's, are never failed):
//   - SQLite's allocator, through sqlite3_config(SQLITE_CONFIG_MALLOC) with
//     a wrapper around the default methods (xMalloc and xRealloc can fail);
//   - the global operator new / new[] of this binary (they throw
//     std::bad_alloc when failed).
// Allocations made with plain malloc by C libraries (LMDB, zstd) are not
// counted.
//
// For each n from 1 until the script runs without reaching n, in two modes:
// "once" fails only the n-th allocation, "sticky" fails the n-th and every
// later one until the script ends. A statement during which an allocation
// failed may succeed (its result must then equal the native one) or fail with
// an acceptable error:
//   - SQLITE_NOMEM ("out of memory"), or
//   - any other code whose message names the table's engine and the table
//     (`btree table "t": ...`), or SQLite's own "vtable constructor failed: t"
//     for a CREATE VIRTUAL TABLE.
// When it fails, the native side skips the statement; if SQLite rolled back
// the whole transaction for it (autocommit came back on), the native side
// rolls back too. A statement that failed without an injected failure is
// compared with the native outcome like any other.
// After the script, with injection off: both sides are in the same
// transaction state, the tables (created again if their CREATE failed) have
// the same rows, a few more statements agree, manifold_check() is ok, and a
// new connection sees the same rows.
//
// Budget: CI tries a fixed-seed sample of the n's (MANIFOLD_OOM_POINTS per
// engine and mode; 80 by default, 40 on RocksDB); MANIFOLD_LONG=1 tries every n.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "sql_oracle.h"

namespace {

// ---------------------------------------------------------------------------
// The injector. Plain data with thread-local state: it must work inside
// operator new, before and after main.

struct Injector {
  bool armed = false;
  bool sticky = false;
  bool cxx = true;   // also fail operator new (else SQLite's allocator only)
  long target = 0;   // the allocation number to fail (counting from 1)
  long count = 0;    // allocations seen while armed
  long failed = 0;   // allocations failed
};
thread_local Injector t_injector;

bool ShouldFail(bool cxx = false) noexcept {
  Injector& in = t_injector;
  if (!in.armed || (cxx && !in.cxx)) return false;
  ++in.count;
  if (in.count == in.target || (in.sticky && in.count > in.target)) {
    ++in.failed;
    return true;
  }
  return false;
}

// Whether operator new fails too. Not for RocksDB: a std::bad_alloc thrown
// inside RocksDB's write path leaves its write queue waiting for a writer
// that is gone, and the next write of the process blocks forever (RocksDB is
// not exception-safe); there, only SQLite's allocations are failed.
bool g_fail_new = true;

void Arm(long target, bool sticky) {
  t_injector = Injector{};
  t_injector.cxx = g_fail_new;
  t_injector.target = target;
  t_injector.sticky = sticky;
  t_injector.armed = true;
}
void Disarm() { t_injector.armed = false; }

// Pauses injection in a scope (for the test's own bookkeeping).
class Paused {
 public:
  Paused() : was_(t_injector.armed) { t_injector.armed = false; }
  ~Paused() { t_injector.armed = was_; }

 private:
  bool was_;
};

sqlite3_mem_methods g_default_methods;

void* HookMalloc(int n) {
  if (ShouldFail()) return nullptr;
  return g_default_methods.xMalloc(n);
}
void* HookRealloc(void* p, int n) {
  if (ShouldFail()) return nullptr;
  return g_default_methods.xRealloc(p, n);
}

// Runs before main and so before sqlite3_initialize.
int InstallSqliteHook() {
  int rc = sqlite3_config(SQLITE_CONFIG_GETMALLOC, &g_default_methods);
  if (rc != SQLITE_OK) return rc;
  sqlite3_mem_methods hooked = g_default_methods;
  hooked.xMalloc = HookMalloc;
  hooked.xRealloc = HookRealloc;
  return sqlite3_config(SQLITE_CONFIG_MALLOC, &hooked);
}
const int g_sqlite_hook_rc = InstallSqliteHook();

void* NewOrThrow(std::size_t n) {
  if (ShouldFail(true)) throw std::bad_alloc();
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* AlignedNewOrThrow(std::size_t n, std::size_t align) {
  if (ShouldFail(true)) throw std::bad_alloc();
  void* p = nullptr;
  if (align < sizeof(void*)) align = sizeof(void*);
  if (::posix_memalign(&p, align, n == 0 ? 1 : n) != 0) throw std::bad_alloc();
  return p;
}

}  // namespace

// The replaced global allocation functions (all forms, so that every delete
// matches its new).
void* operator new(std::size_t n) { return NewOrThrow(n); }
void* operator new[](std::size_t n) { return NewOrThrow(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (ShouldFail(true)) return nullptr;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  if (ShouldFail(true)) return nullptr;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return AlignedNewOrThrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return AlignedNewOrThrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace manifold::sqltest {
namespace {

bool LongMode() {
  const char* v = std::getenv("MANIFOLD_LONG");
  return v != nullptr && std::string_view(v) == "1";
}

long PointsPerRun(const std::string& engine) {
  const char* v = std::getenv("MANIFOLD_OOM_POINTS");
  if (v != nullptr && std::atol(v) > 0) return std::atol(v);
  return engine == "rocksdb" ? 40 : 80;  // a RocksDB run creates column families: slower
}

// RunSql (sql_oracle.h) with injection paused in the test's own work: only
// SQLite's and manifold's allocations count.
Outcome ArmedRunSql(sqlite3* db, const std::string& sql) {
  Outcome outcome;
  const char* tail = sql.c_str();
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, -1, &stmt, &tail);
    if (rc != SQLITE_OK) {
      Paused paused;
      outcome.rc = rc & 0xff;
      outcome.message = sqlite3_errmsg(db);
      return outcome;
    }
    if (stmt == nullptr) continue;
    int columns = sqlite3_column_count(stmt);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Paused paused;
      std::string row;
      for (int i = 0; i < columns; ++i) {
        if (i > 0) row += " | ";
        row += FormatColumn(stmt, i);
      }
      outcome.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      Paused paused;
      outcome.rc = rc & 0xff;
      outcome.message = sqlite3_errmsg(db);
      sqlite3_finalize(stmt);
      return outcome;
    }
    {
      Paused paused;
      std::string verb(sql.substr(0, 7));
      if (verb.rfind("INSERT", 0) == 0 || verb.rfind("UPDATE", 0) == 0 ||
          verb.rfind("DELETE", 0) == 0) {
        outcome.changes = sqlite3_changes64(db);
      }
    }
    sqlite3_finalize(stmt);
  }
  return outcome;
}

// One statement of the script: the manifold text and the native text
// ("" = the same text).
struct Step {
  std::string manifold;
  std::string native;
  bool fails = false;  // fails natively too (a constraint): any such error is fine
};

// The CREATE VIRTUAL TABLE arguments that place table `name` of this run on
// the engine's store: a per-run keyspace on one store shared by every run
// (kept open by a keeper connection), so that each run does not reopen it.
std::string StoreOptions(const std::string& engine, const std::string& store,
                         const std::string& keyspace) {
  std::string options = "sync=off";
  if (engine != "memory") options += ", path='" + store + "', table='" + keyspace + "'";
  return options;
}

std::vector<Step> Script(const std::string& engine, const std::string& store,
                         const std::string& run) {
  const std::string t_opts = StoreOptions(engine, store, "t_" + run);
  const std::string z_opts = StoreOptions(engine, store, "z_" + run);
  // c is compressed, so it lives in a store of its own (tables of one store
  // with and without compression get two write transactions on it, and the
  // second is SQLITE_BUSY), and is written only in autocommit statements:
  // a transaction spanning two stores is not atomic when the second store's
  // commit fails (README, Transactions).
  const std::string c_opts = StoreOptions(engine, store + "-zstd", "c_" + run);
  const std::string d_opts = StoreOptions(engine, store, "d_" + run);
  // A value zstd can compress.
  const std::string big = "replace(hex(zeroblob(300)), '00', 'manifold')";
  return {
      {"CREATE VIRTUAL TABLE t USING " + engine +
           "(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, " + t_opts + ")",
       "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL)"},
      {"CREATE VIRTUAL TABLE z USING " + engine +
           "(k TEXT, ts INTEGER, v BLOB, PRIMARY KEY (k, ts DESC), " + z_opts +
           ")",
       "CREATE TABLE z(k TEXT, ts INTEGER, v BLOB, PRIMARY KEY (k, ts DESC)) WITHOUT ROWID"},
      {"CREATE VIRTUAL TABLE c USING " + engine +
           "(k INTEGER PRIMARY KEY, doc TEXT, compression=zstd, " + c_opts + ")",
       "CREATE TABLE c(k INTEGER PRIMARY KEY, doc TEXT)"},
      {"INSERT INTO c SELECT x, " + big +
           " || x FROM (WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 40) "
           "SELECT x FROM s)",
       ""},
      {"SELECT k, length(doc), substr(doc, -3) FROM c WHERE k BETWEEN 5 AND 12 ORDER BY k", ""},
      {"UPDATE c SET doc = 'short ' || k WHERE k % 7 = 0", ""},
      {"DELETE FROM c WHERE k > 35", ""},
      {"INSERT INTO t(name, score) VALUES ('ada', 1.5), ('grace', 2.5), ('edsger', NULL)", ""},
      {"INSERT INTO z VALUES ('s1', 100, " + big + "), ('s1', 200, x'00ff'), ('s1', 300, 3.5), "
       "('s2', 100, " + big + "), ('s2', 200, NULL)", ""},
      {"SELECT * FROM t ORDER BY id", ""},
      {"SELECT k, ts, length(v) FROM z WHERE k = 's1' AND ts BETWEEN 150 AND 300 ORDER BY k, ts DESC",
       ""},
      {"SELECT * FROM t WHERE id = 2", ""},
      {"UPDATE t SET score = score + 1 WHERE id >= 2", ""},
      {"UPDATE z SET v = v || 'x' WHERE k = 's2'", ""},
      {"BEGIN", ""},
      {"DELETE FROM t WHERE id = 1", ""},
      {"INSERT INTO z VALUES ('s3', 1, 'inside')", ""},
      {"SELECT count(*) FROM t", ""},
      {"ROLLBACK", ""},
      {"BEGIN", ""},
      {"INSERT INTO t(name) VALUES ('bob')", ""},
      {"SAVEPOINT a", ""},
      {"UPDATE z SET ts = ts + 1 WHERE k = 's1'", ""},
      {"DELETE FROM t WHERE name = 'grace'", ""},
      {"ROLLBACK TO a", ""},
      {"INSERT INTO z VALUES ('s4', 7, " + big + ")", ""},
      {"RELEASE a", ""},
      {"COMMIT", ""},
      {"INSERT OR REPLACE INTO z VALUES ('s1', 300, 'replaced')", ""},
      {"INSERT INTO t VALUES (2, 'duplicate', 0)", "", true},
      {"INSERT OR IGNORE INTO t VALUES (2, 'duplicate', 0), (20, 'twenty', 20)", ""},
      {"DELETE FROM z WHERE ts < 150", ""},
      {"SELECT t.name, count(z.k) FROM t LEFT JOIN z ON z.ts > t.id * 100 GROUP BY t.name "
       "ORDER BY t.name",
       ""},
      {"SELECT manifold_encode_be(258, 2), manifold_decode_be(x'0102'), "
       "manifold_decode_lp(x'02616203636465', 2)",
       ""},
      {"SELECT json_extract(manifold_stats('t'), '$.rows')", "SELECT count(*) FROM t"},
      {"SELECT json_extract(manifold_check('c'), '$.ok'), json_extract(manifold_check('c'), "
       "'$.rows')",
       "SELECT 1, count(*) FROM c"},
      {"SELECT name FROM manifold_engines WHERE name = '" + engine + "'", ""},
      {"CREATE VIRTUAL TABLE d USING " + engine + "(a PRIMARY KEY, b, " + d_opts + ")",
       "CREATE TABLE d(a PRIMARY KEY, b)"},
      {"INSERT INTO d VALUES (1, 'one'), ('two', 2)", ""},
      {"DROP TABLE d", ""},
  };
}

// Whether a failure under injection is one of the acceptable errors (see the
// file comment).
bool Acceptable(const Outcome& o, const std::string& engine, const std::string& sql) {
  if (o.rc == SQLITE_NOMEM) return true;
  for (const char* table : {"t", "z", "c", "d"}) {
    std::string label = engine + " table \"" + table + "\"";
    if (o.message.find(label) != std::string::npos) return true;
    if (sql.rfind("CREATE VIRTUAL TABLE " + std::string(table), 0) == 0 &&
        o.message == "vtable constructor failed: " + std::string(table)) {
      return true;
    }
  }
  return false;
}

struct Totals {
  long points = 0;        // runs with a failure injected
  long injected = 0;      // allocations failed
  long failed_statements = 0;
  long recovered = 0;     // statements that hit a failure and still succeeded
};

class OomTest : public ::testing::TestWithParam<std::string> {};

// One run: fail allocation `target` (and later ones when `sticky`). Returns
// false once the script ran without reaching `target`.
bool RunOnce(const std::string& engine, const std::string& store, long target, bool sticky,
             int run_number, Totals& totals) {
  const std::string run = std::to_string(run_number);
  SCOPED_TRACE("engine " + engine + ", allocation " + std::to_string(target) +
               (sticky ? " and later" : " once") + ", run " + run);
  TempDir dir;
  Connection native(dir.path() + "/native.db");
  Connection manifold(dir.path() + "/manifold.db");
  MustRun(native, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");
  MustRun(manifold, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");
  const std::vector<Step> script = Script(engine, store, run);

  bool reached = false;
  std::string trace;  // each statement and its outcome, for a failure
  long count = 0;  // allocations of the script so far
  for (const Step& step : script) {
    const std::string& native_sql = step.native.empty() ? step.manifold : step.native;
    const bool was_autocommit = sqlite3_get_autocommit(manifold) != 0;
    Outcome m;
    {
      // Arm with the countdown left for this statement.
      Arm(target - count, sticky);
      if (target - count <= 0) t_injector.target = sticky ? 0 : -1;
      m = ArmedRunSql(manifold, step.manifold);
      Disarm();
      count += t_injector.count;
    }
    const bool hit = t_injector.failed > 0;
    if (hit) {
      reached = true;
      totals.injected += t_injector.failed;
    }
    if (hit && m.rc != SQLITE_OK) {
      ++totals.failed_statements;
      // A statement that fails anyway may fail with its own code; its
      // message may then lack the detail that did not fit in memory.
      bool own_failure = false;
      if (step.fails) {  // tried natively inside a savepoint that undoes it
        MustRun(native, "SAVEPOINT probe");
        own_failure = RunSql(native, native_sql).rc == m.rc;
        MustRun(native, "ROLLBACK TO probe; RELEASE probe");
      }
      EXPECT_TRUE(own_failure || Acceptable(m, engine, step.manifold))
          << "statement: " << step.manifold << "\n" << m.ToString();
      if (was_autocommit == false && sqlite3_get_autocommit(manifold) != 0) {
        // SQLite rolled back the whole transaction for the failure.
        MustRun(native, "ROLLBACK");
      }
    } else {
      if (hit) ++totals.recovered;
      Outcome n = RunSql(native, native_sql);
      std::string why = Compare(n, m, ContainsOrderBy(step.manifold));
      // A manifold function and its native stand-in fail with different
      // messages (after a failed CREATE, the table is missing on both sides).
      if (!step.native.empty() && n.rc != SQLITE_OK && m.rc != SQLITE_OK) why.clear();
      EXPECT_EQ("", why) << "statement: " << step.manifold << "\nnative:\n"
                         << n.ToString() << "manifold:\n" << m.ToString();
    }
    EXPECT_EQ(sqlite3_get_autocommit(native), sqlite3_get_autocommit(manifold))
        << "transaction state differs after: " << step.manifold;
    trace += (hit ? "[injected " + std::to_string(t_injector.failed) + "] " : std::string()) +
             step.manifold.substr(0, 60) + "\n" + m.ToString();
  }
  if (::testing::Test::HasFailure()) ADD_FAILURE() << "the run:\n" << trace;
  if (!reached) return false;
  ++totals.points;

  // Injection is off from here on.
  if (sqlite3_get_autocommit(manifold) == 0) MustRun(manifold, "ROLLBACK");
  if (sqlite3_get_autocommit(native) == 0) MustRun(native, "ROLLBACK");
  const std::string schema_sql =
      "SELECT name FROM sqlite_schema WHERE name IN ('t', 'z', 'c', 'd') ORDER BY name";
  EXPECT_EQ(Query(native, schema_sql), Query(manifold, schema_sql));
  // A table whose CREATE failed can be created now.
  for (size_t i : {size_t{0}, size_t{1}, size_t{2}}) {
    const std::string name = i == 0 ? "t" : i == 1 ? "z" : "c";
    if (QueryInt(manifold, "SELECT count(*) FROM sqlite_schema WHERE name = '" + name + "'") == 0) {
      Outcome m = RunSql(manifold, script[i].manifold);
      EXPECT_EQ(SQLITE_OK, m.rc) << "CREATE again after a failed one:\n" << m.ToString();
    }
    if (QueryInt(native, "SELECT count(*) FROM sqlite_schema WHERE name = '" + name + "'") == 0) {
      MustRun(native, script[i].native);
    }
  }
  const std::vector<std::string> after = {
      "SELECT * FROM t ORDER BY id",
      "SELECT k, ts, v FROM z ORDER BY k, ts DESC",
      "SELECT * FROM c ORDER BY k",
      "INSERT INTO c VALUES (100, 'after')",
      "INSERT INTO t(name, score) VALUES ('after', 9)",
      "UPDATE z SET v = 'after' WHERE k = 's2'",
      "INSERT INTO z VALUES ('after', 1, 1)",
      "SELECT * FROM t ORDER BY id",
      "SELECT k, ts, v FROM z ORDER BY k, ts DESC",
  };
  for (const std::string& sql : after) {
    Outcome n = RunSql(native, sql);
    Outcome m = RunSql(manifold, sql);
    EXPECT_EQ("", Compare(n, m, true)) << "after the run: " << sql << "\nnative:\n"
                                       << n.ToString() << "manifold:\n" << m.ToString();
  }
  for (const char* table : {"t", "z", "c"}) {
    EXPECT_EQ("integer 1", Query(manifold, std::string("SELECT json_extract(manifold_check('") + table +
                                       "'), '$.ok')"))
        << table;
  }
  // No write transaction is left behind: another connection writes each
  // store at once.
  {
    Connection other(dir.path() + "/manifold.db");
    for (const char* table : {"t", "z", "c"}) {
      Outcome o = RunSql(other, std::string("BEGIN; DELETE FROM ") + table + "; ROLLBACK");
      EXPECT_EQ(SQLITE_OK, o.rc) << "a second writer of " << table << ":\n" << o.ToString();
    }
  }
  // A new connection sees the same rows.
  if (engine != "memory") {
    manifold.Open(dir.path() + "/manifold.db");
    EXPECT_EQ(Query(native, "SELECT * FROM t ORDER BY id"),
              Query(manifold, "SELECT * FROM t ORDER BY id"));
    EXPECT_EQ(Query(native, "SELECT k, ts, v FROM z ORDER BY k, ts DESC"),
              Query(manifold, "SELECT k, ts, v FROM z ORDER BY k, ts DESC"));
    EXPECT_EQ(Query(native, "SELECT * FROM c ORDER BY k"),
              Query(manifold, "SELECT * FROM c ORDER BY k"));
  }
  // The keyspaces go, so that the shared store does not grow with the runs.
  MustRun(manifold, "DROP TABLE t; DROP TABLE z; DROP TABLE c");
  return true;
}

TEST_P(OomTest, EveryAllocationOfTheScript) {
  ASSERT_EQ(SQLITE_OK, g_sqlite_hook_rc) << "SQLITE_CONFIG_MALLOC must run before sqlite3_initialize";
  RegisterManifold();
  // Durability is not under test: keep the thousands of small files of the
  // runs in memory when the system offers it.
  if (::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  const std::string engine = GetParam();
  g_fail_new = engine != "rocksdb";
  TempDir store_dir;
  const std::string store = store_dir.path() + "/store." + engine;
  // The keeper holds the shared store open across runs.
  Connection keeper(store_dir.path() + "/keeper.db");
  if (engine != "memory") {
    MustRun(keeper, "CREATE VIRTUAL TABLE keep USING " + engine + "(a, " +
                        StoreOptions(engine, store, "keep") + "); SELECT * FROM keep");
    MustRun(keeper, "CREATE VIRTUAL TABLE keepc USING " + engine + "(a, compression=zstd, " +
                        StoreOptions(engine, store + "-zstd", "keep") + "); SELECT * FROM keepc");
  }

  // How many allocations the whole script makes (a run that fails none).
  Totals totals;
  long total_allocations = 0;
  {
    TempDir dir;
    Connection manifold(dir.path() + "/manifold.db");
    MustRun(manifold, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");
    Arm(-1, false);
    for (const Step& step : Script(engine, store, "count")) ArmedRunSql(manifold, step.manifold);
    Disarm();
    total_allocations = t_injector.count;
  }
  ASSERT_GT(total_allocations, 100);

  std::vector<long> targets;
  if (LongMode() || total_allocations <= PointsPerRun(engine)) {
    for (long n = 1; n <= total_allocations + 1; ++n) targets.push_back(n);
  } else {
    std::mt19937_64 random(20261205);
    std::uniform_int_distribution<long> pick(1, total_allocations);
    for (long i = 0; i < PointsPerRun(engine); ++i) targets.push_back(pick(random));
    targets.push_back(1);
  }
  const auto start = std::chrono::steady_clock::now();
  int run_number = 0;
  // Without injection the script agrees with the native one.
  ASSERT_FALSE(RunOnce(engine, store, total_allocations * 4, false, ++run_number, totals));
  ASSERT_FALSE(::testing::Test::HasFailure());
  for (bool sticky : {false, true}) {
    for (long n : targets) {
      bool reached = RunOnce(engine, store, n, sticky, ++run_number, totals);
      if (::testing::Test::HasFailure()) {
        FAIL() << "stopped at the first failing run";
      }
      if (!reached && (LongMode() || total_allocations <= PointsPerRun(engine))) break;
    }
  }
  // The script without injection still runs to the end.
  EXPECT_FALSE(RunOnce(engine, store, total_allocations * 4, false, ++run_number, totals));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "[oom] %s: %ld allocations in the script, %ld runs with a failure injected, %ld "
      "allocations failed, %ld statements failed cleanly, %ld recovered, %.1f s\n",
      engine.c_str(), total_allocations, totals.points, totals.injected,
      totals.failed_statements, totals.recovered, seconds);
}

// Regression: every allocation of one transaction (BEGIN, INSERT, SAVEPOINT,
// UPDATE, COMMIT), failed from n on, leaves no write transaction behind: a
// second connection writes the store at once, and the first one can write
// again. (A write transaction whose setup failed used to stay open, holding
// the store's write lock, and a rollback under out-of-memory could not end
// it.)
TEST_P(OomTest, NoWriteTransactionOutlivesAFailure) {
  ASSERT_EQ(SQLITE_OK, g_sqlite_hook_rc);
  RegisterManifold();
  const std::string engine = GetParam();
  g_fail_new = engine != "rocksdb";
  TempDir dir;
  Connection first(dir.path() + "/main.db");
  Connection second(dir.path() + "/main.db");
  MustRun(first, "CREATE VIRTUAL TABLE t USING " + engine + "(a INTEGER PRIMARY KEY, b, " +
                     StoreOptions(engine, dir.path() + "/store." + engine, "t") +
                     "); INSERT INTO t VALUES (1, 'one')");
  const std::string txn =
      "BEGIN; INSERT INTO t VALUES (2, 'two'); SAVEPOINT s; UPDATE t SET b = 'x'; "
      "RELEASE s; COMMIT";
  for (long n = 1;; ++n) {
    SCOPED_TRACE("allocation " + std::to_string(n) + " and later");
    Arm(n, /*sticky=*/true);
    Outcome o = ArmedRunSql(first, txn);
    Disarm();
    const bool reached = t_injector.failed > 0;
    if (sqlite3_get_autocommit(first) == 0) MustRun(first, "ROLLBACK");
    if (engine != "memory") {  // the memory store is private to its connection
      Outcome probe = RunSql(second, "BEGIN; INSERT INTO t VALUES (3, 'probe'); ROLLBACK");
      ASSERT_EQ(SQLITE_OK, probe.rc) << probe.ToString();
    }
    MustRun(first, "DELETE FROM t WHERE a = 2; UPDATE t SET b = 'one'");
    ASSERT_EQ("integer 1 | text 'one'", Query(first, "SELECT * FROM t"));
    if (!reached) {
      EXPECT_EQ(SQLITE_OK, o.rc) << o.ToString();
      break;
    }
  }
}

// Bytes of every file under `path` (a store's file or directory).
uint64_t StoreBytes(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(path)) return fs::file_size(path);
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(path)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

// Regression: every allocation of a read statement, failed once, leaves no
// read transaction registered with the store. (btree and LMDB registered the
// reader before allocating the transaction object; when that allocation
// failed, the registration stayed, pinning its snapshot: no page freed after
// it was ever reused, and a store written on afterwards only grew. A long
// out-of-memory run grew one btree store to 23 GB.) Checked by rewriting 400
// KB of rows 30 times afterwards: the store must not grow by more than a few
// copies of them.
TEST_P(OomTest, NoReadTransactionOutlivesAFailure) {
  ASSERT_EQ(SQLITE_OK, g_sqlite_hook_rc);
  const std::string engine = GetParam();
  if (engine != "btree" && engine != "lmdb") {
    GTEST_SKIP() << "only btree and lmdb register readers that hold pages";
  }
  RegisterManifold();
  g_fail_new = true;
  TempDir dir;
  const std::string store = dir.path() + "/store." + engine;
  Connection db(dir.path() + "/main.db");
  MustRun(db, "CREATE VIRTUAL TABLE t USING " + engine + "(a INTEGER PRIMARY KEY, b, " +
                  StoreOptions(engine, store, "t") +
                  "); WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                  "WHERE x < 100) INSERT INTO t SELECT x, randomblob(4000) FROM n");
  const std::string read = "SELECT count(*), sum(length(b)) FROM t WHERE a > 0";
  for (long n = 1;; ++n) {
    SCOPED_TRACE("allocation " + std::to_string(n) + " once");
    Arm(n, /*sticky=*/false);
    ArmedRunSql(db, read);
    Disarm();
    if (t_injector.failed == 0) break;
  }
  const uint64_t before = StoreBytes(store);
  for (int round = 0; round < 30; ++round) MustRun(db, "UPDATE t SET b = randomblob(4000)");
  const uint64_t after = StoreBytes(store);
  EXPECT_LT(after, before + 8 * 400 * 1024) << "before " << before << " bytes, after " << after;
}

// A scan of a compressed table that goes past 256 rows decodes ahead on a
// thread of its own (engines/zstd/zstd_scan_ahead.h) and reads the rows
// ahead on the caller's thread. Every allocation of such a scan on this
// thread is failed once in turn: the scan must give its result or a clean
// error, and the scan after it the right result.
TEST_P(OomTest, AScanThatDecodesAheadFailsCleanly) {
  ASSERT_EQ(SQLITE_OK, g_sqlite_hook_rc);
  const std::string engine = GetParam();
  if (engine == "rocksdb") GTEST_SKIP() << "RocksDB compresses on its own, without read-ahead";
  RegisterManifold();
  g_fail_new = true;
  TempDir dir;
  Connection db(dir.path() + "/main.db");
  MustRun(db, "CREATE VIRTUAL TABLE c USING " + engine +
                  "(k INTEGER PRIMARY KEY, doc TEXT, compression=zstd, " +
                  StoreOptions(engine, dir.path() + "/store." + engine, "c") +
                  "); WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n "
                  "WHERE x < 700) INSERT INTO c SELECT x, "
                  "replace(hex(zeroblob(200)), '00', 'ahead ') || x FROM n");
  const std::string scan = "SELECT count(*), sum(length(doc)), max(substr(doc, -3)) FROM c";
  const Outcome want = ArmedRunSql(db, scan);  // not armed
  ASSERT_EQ(SQLITE_OK, want.rc) << want.ToString();
  long failed_scans = 0;
  for (long n = 1;; ++n) {
    SCOPED_TRACE("allocation " + std::to_string(n));
    Arm(n, /*sticky=*/false);
    Outcome got = ArmedRunSql(db, scan);
    Disarm();
    if (got.rc != SQLITE_OK) {
      ++failed_scans;
      EXPECT_TRUE(Acceptable(got, engine, scan)) << got.ToString();
    } else {
      EXPECT_EQ(want.rows, got.rows);
    }
    if (t_injector.failed == 0) break;
    Outcome again = ArmedRunSql(db, scan);
    ASSERT_EQ(want.rows, again.rows) << again.ToString();
  }
  EXPECT_GT(failed_scans, 0);
}

// The engine-level tests below: a store of `engine` in `dir` (sync=off:
// durability is not under test) holding keyspace "t" with `rows`, and each
// round's write transaction on "t".
std::unique_ptr<Engine> OpenStoreWithT(const std::string& engine, const TempDir& dir,
                                       const std::vector<std::pair<std::string, std::string>>& rows) {
  Options options;
  options.path = dir.path() + "/store." + engine;
  options.create_if_missing = true;
  options.sync = SyncMode::kOff;
  Result<std::unique_ptr<Engine>> opened = Engine::Open(engine, options);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return nullptr;
  Result<std::unique_ptr<WriteTxn>> txn = (*opened)->BeginWrite(std::chrono::seconds(1));
  Result<Keyspace> ks = txn.ok() ? (*txn)->CreateKeyspace("t") : Result<Keyspace>(txn.status());
  EXPECT_TRUE(ks.ok()) << ks.status().ToString();
  if (!ks.ok()) return nullptr;
  for (const auto& [key, value] : rows) EXPECT_TRUE((*txn)->Put(*ks, key, value).ok());
  EXPECT_TRUE((*txn)->Commit().ok());
  return std::move(*opened);
}

std::unique_ptr<WriteTxn> BeginOnT(Engine& engine, Keyspace* ks) {
  Result<std::unique_ptr<WriteTxn>> txn = engine.BeginWrite(std::chrono::seconds(1));
  EXPECT_TRUE(txn.ok()) << txn.status().ToString();
  if (!txn.ok()) return nullptr;
  Result<Keyspace> opened = (*txn)->OpenKeyspace("t");
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return nullptr;
  *ks = *opened;
  return std::move(*txn);
}

// Regression: a write that runs out of memory inside a savepoint leaves the
// transaction whole. (btree's copy-on-write allocator took a page from the
// free pages and then grew its undo log; when that growth failed, the page
// was neither free nor in use after the rollback, and manifold_check reported
// it lost. LMDB's savepoint began a child transaction and then recorded it;
// when recording failed, the child stayed live and LMDB refused every later
// use of the transaction. Both found by MANIFOLD_LONG=1 runs.) Every
// allocation of a savepoint and 40 puts is failed once; then the transaction
// must take another put, roll back, commit, and the store must check clean.
class OomWrites : public ::testing::TestWithParam<std::string> {};

TEST_P(OomWrites, AWriteThatRunsOutOfMemoryInASavepointLeavesTheTransactionWhole) {
  TempDir dir;
  std::vector<std::string> keys;
  std::mt19937_64 random(7);
  for (int i = 0; i < 400; ++i) keys.push_back("key-" + std::to_string(random()));
  const std::string value(300, 'v');
  std::vector<std::pair<std::string, std::string>> rows;
  for (size_t i = 0; i < keys.size(); i += 2) rows.emplace_back(keys[i], value);
  std::unique_ptr<Engine> engine = OpenStoreWithT(GetParam(), dir, rows);
  ASSERT_NE(nullptr, engine);
  g_fail_new = true;
  for (long n = 1;; ++n) {
    SCOPED_TRACE("allocation " + std::to_string(n) + " once");
    Keyspace ks;
    std::unique_ptr<WriteTxn> txn = BeginOnT(*engine, &ks);
    ASSERT_NE(nullptr, txn);
    ASSERT_TRUE(txn->Savepoint(1).ok());
    Arm(n, /*sticky=*/false);
    try {
      if (txn->Savepoint(2).ok()) {
        for (size_t i = 1; i < 80; i += 2) {
          if (!txn->Put(ks, keys[i], value).ok()) break;
        }
      }
    } catch (const std::bad_alloc&) {
    }
    Disarm();
    const bool reached = t_injector.failed > 0;
    Status put = txn->Put(ks, keys[0], "after");
    ASSERT_TRUE(put.ok()) << put.ToString();
    ASSERT_TRUE(txn->RollbackTo(1).ok());
    ASSERT_TRUE(txn->Commit().ok());
    Status check = engine->Check();  // LMDB has none of its own: NotSupported
    ASSERT_TRUE(check.ok() || check.code() == Status::Code::kNotSupported) << check.ToString();
    if (!reached) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, OomWrites, ::testing::Values("btree", "lmdb"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// Regression: a sqlitekv lookup or delete whose key could not be bound (out
// of memory inside the store's own SQLite) is an error, never an answer.
// Both took any failed bind for a key too long to be stored: the lookup said
// NotFound for a present key and the delete said OK without deleting. Found
// by a MANIFOLD_LONG=1 run, where the catalog insert that ignored its bind
// stored NULL and failed on a NOT NULL constraint.
TEST(OomSqlitekv, ALookupOrDeleteThatRunsOutOfMemoryNeverAnswersWrongly) {
  TempDir dir;
  const std::string key = "a key that is present in the keyspace";
  std::unique_ptr<Engine> engine = OpenStoreWithT("sqlitekv", dir, {{key, "value"}});
  ASSERT_NE(nullptr, engine);
  g_fail_new = true;
  for (long n = 1;; ++n) {
    SCOPED_TRACE("allocation " + std::to_string(n) + " once");
    Keyspace ks;
    std::unique_ptr<WriteTxn> txn = BeginOnT(*engine, &ks);
    ASSERT_NE(nullptr, txn);
    std::string value;
    Status got;
    Status deleted = Status::Aborted("not reached");
    Arm(n, /*sticky=*/false);
    try {
      got = txn->Get(ks, key, &value);
      deleted = txn->Delete(ks, key);
    } catch (const std::bad_alloc&) {
    }
    Disarm();
    const bool reached = t_injector.failed > 0;
    EXPECT_FALSE(got.IsNotFound()) << "a present key read as missing";
    if (deleted.ok()) {
      EXPECT_TRUE(txn->Get(ks, key, &value).IsNotFound()) << "a delete said OK and kept the key";
    }
    txn->Rollback();
    if (!reached) break;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, OomTest, ::testing::ValuesIn(EnginesUnderTest()), EngineName());

}  // namespace
}  // namespace manifold::sqltest
