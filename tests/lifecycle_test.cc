// Lifecycle of manifold tables and their stores, on every engine: connections
// opened and closed many times (also several at once, also from several
// threads) on one store, DROP and CREATE again of a table on the same store,
// ATTACH and DETACH of a database holding manifold tables, and a process that
// ends (exit, _exit or SIGKILL) while it holds an open write transaction and
// an open read transaction. Afterwards every row committed is there, nothing
// uncommitted is, a new writer is not blocked by anything left behind, and
// (in the sanitizer build) LeakSanitizer reports nothing.
//
// The memory engine keeps no data past its connection: it runs the tests
// within one connection (DROP and CREATE, ATTACH) and is skipped by the
// others.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "sql_oracle.h"

namespace manifold::sqltest {
namespace {

using ::manifold::testing::Child;
using ::manifold::testing::DescribeStatus;
using ::manifold::testing::SpawnChild;

std::string TableSql(const std::string& engine, const std::string& dir, const std::string& name,
                     const std::string& extra = "") {
  std::string sql = "CREATE VIRTUAL TABLE " + name + " USING " + engine +
                    "(id INTEGER PRIMARY KEY, who TEXT, n INTEGER";
  if (engine != "memory") sql += ", path='" + dir + "/store." + engine + "'";
  if (!extra.empty()) sql += ", " + extra;
  return sql + ")";
}

// Opens `file` with a busy timeout; the extension is registered for it.
void OpenWithTimeout(Connection& c, const std::string& file, int busy_ms = 5000) {
  c.Open(file);
  if (c.db() != nullptr) sqlite3_busy_timeout(c.db(), busy_ms);
}

// Runs `sql` and returns its result code (and message in *message).
int Exec(sqlite3* db, const std::string& sql, std::string* message = nullptr) {
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  if (message != nullptr) *message = error != nullptr ? error : "";
  sqlite3_free(error);
  return rc;
}

// ---------------------------------------------------------------------------
// The child process: opens the database, leaves a write transaction and a
// read transaction open, says "ready" on the pipe, then ends as asked.
// arg: "<dir>\n<engine>\n<how>" with how = exit, _exit or wait (for SIGKILL).

// Globals, so that the handles stay reachable (and are not leaks) when the
// process ends with them open.
sqlite3* g_child_writer = nullptr;
sqlite3* g_child_reader = nullptr;
sqlite3_stmt* g_child_scan = nullptr;

int ChildMain(const std::string& arg, int fd) {
  std::istringstream in(arg);
  std::string dir, engine, how;
  std::getline(in, dir);
  std::getline(in, engine);
  std::getline(in, how);
  RegisterManifold();
  const std::string file = dir + "/main.db";
  if (sqlite3_open(file.c_str(), &g_child_writer) != SQLITE_OK ||
      sqlite3_open(file.c_str(), &g_child_reader) != SQLITE_OK) {
    std::fprintf(stderr, "lifecycle child: cannot open %s\n", file.c_str());
    return 2;
  }
  std::string message;
  if (Exec(g_child_writer,
           "BEGIN; INSERT INTO t(who, n) VALUES ('uncommitted', 1); "
           "UPDATE t SET n = -1 WHERE who = 'committed'",
           &message) != SQLITE_OK) {
    std::fprintf(stderr, "lifecycle child: write: %s\n", message.c_str());
    return 3;
  }
  // A read transaction of another connection, stepping a scan.
  if (sqlite3_prepare_v2(g_child_reader, "SELECT * FROM t", -1, &g_child_scan, nullptr) !=
          SQLITE_OK ||
      sqlite3_step(g_child_scan) != SQLITE_ROW) {
    std::fprintf(stderr, "lifecycle child: read: %s\n", sqlite3_errmsg(g_child_reader));
    return 4;
  }
  if (::write(fd, "ready\n", 6) != 6) return 5;
  if (how == "exit") std::exit(0);
  if (how == "_exit") ::_exit(0);
  for (;;) ::pause();  // killed by the parent
}

MANIFOLD_TEST_CHILD_MAIN(ChildMain);

class Lifecycle : public ::testing::TestWithParam<std::string> {
 protected:
  Lifecycle() { RegisterManifold(); }
  const std::string& engine() const { return GetParam(); }
  bool persistent() const { return IsPersistent(GetParam()); }
  TempDir dir_;
};

// Connections open and close many times, one at a time and several at once,
// on one database and store; every committed row stays.
TEST_P(Lifecycle, OpenCloseReopenAcrossConnections) {
  if (!persistent()) GTEST_SKIP() << engine() << " keeps no data past its connection";
  const std::string file = dir_.path() + "/main.db";
  {
    Connection c(file);
    MustRun(c, TableSql(engine(), dir_.path(), "t"));
  }
  int rows = 0;
  for (int round = 0; round < 30; ++round) {
    Connection a, b;
    OpenWithTimeout(a, file);
    OpenWithTimeout(b, file);
    ASSERT_EQ(SQLITE_OK, Exec(a, "INSERT INTO t(who, n) VALUES ('a', " + std::to_string(round) +
                                    ")"));
    ++rows;
    // b sees a's commit, also while a holds a read snapshot open.
    ASSERT_EQ(rows, QueryInt(b, "SELECT count(*) FROM t")) << "round " << round;
    if (round % 3 == 0) {
      ASSERT_EQ(SQLITE_OK, Exec(b, "BEGIN; INSERT INTO t(who, n) VALUES ('b', 0); COMMIT"));
      ++rows;
    }
    // Close in either order; a third connection opens after both are gone.
    if (round % 2 == 0) {
      a.Close();
      b.Close();
    } else {
      b.Close();
      a.Close();
    }
    Connection c;
    OpenWithTimeout(c, file);
    ASSERT_EQ(rows, QueryInt(c, "SELECT count(*) FROM t")) << "round " << round;
  }
  Connection last(file);
  EXPECT_EQ("integer 1", Query(last, "SELECT json_extract(manifold_check('t'), '$.ok')"));
}

// Four threads each open and close their own connection many times on the
// same store, writing one row per connection. Regression: while one thread
// closed the last handle of a store, another thread opening it found the
// registry entry expired and opened the store a second time, which the
// closing instance's lock still refused (btree: "another process is
// writing"; rocksdb: "lock hold by current process"); the registry now waits
// for the close (engines/common/store_registry.h).
TEST_P(Lifecycle, OpenCloseFromThreads) {
  if (!persistent()) GTEST_SKIP() << engine() << " keeps no data past its connection";
  const std::string file = dir_.path() + "/main.db";
  {
    Connection c(file);
    MustRun(c, TableSql(engine(), dir_.path(), "t"));
  }
  constexpr int kThreads = 4;
  constexpr int kRounds = 15;
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sqlite3* db = nullptr;
        if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) {
          errors[t] = "open failed";
          ++failures;
          sqlite3_close(db);
          return;
        }
        sqlite3_busy_timeout(db, 10000);
        std::string message;
        int rc = Exec(db, "INSERT INTO t(who, n) VALUES ('thread " + std::to_string(t) + "', " +
                              std::to_string(round) + ")",
                      &message);
        if (rc == SQLITE_OK && round % 4 == 0) {
          // A read snapshot left open while the connection closes.
          sqlite3_stmt* stmt = nullptr;
          sqlite3_prepare_v2(db, "SELECT * FROM t", -1, &stmt, nullptr);
          sqlite3_step(stmt);
          sqlite3_finalize(stmt);
        }
        sqlite3_close(db);
        if (rc != SQLITE_OK) {
          errors[t] = "round " + std::to_string(round) + ": " + message;
          ++failures;
          return;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ("", errors[t]) << "thread " << t;
  ASSERT_EQ(0, failures.load());
  Connection c(file);
  EXPECT_EQ(kThreads * kRounds, QueryInt(c, "SELECT count(*) FROM t"));
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(kRounds, QueryInt(c, "SELECT count(DISTINCT n) FROM t WHERE who = 'thread " +
                                       std::to_string(t) + "'"));
  }
  EXPECT_EQ("integer 1", Query(c, "SELECT json_extract(manifold_check('t'), '$.ok')"));
}

// DROP TABLE and CREATE again with the same name and store: the new table
// starts empty, in autocommit mode and after a DROP inside a transaction,
// while another connection keeps the store open.
TEST_P(Lifecycle, DropAndCreateAgainOnTheSameStore) {
  const std::string file = dir_.path() + "/main.db";
  Connection c(file);
  Connection other;
  if (persistent()) {
    OpenWithTimeout(other, file);
    MustRun(other, TableSql(engine(), dir_.path(), "keep") + "; SELECT * FROM keep");
  }
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(SQLITE_OK, Exec(c, TableSql(engine(), dir_.path(), "t")));
    ASSERT_EQ(0, QueryInt(c, "SELECT count(*) FROM t"));
    for (int i = 0; i <= round; ++i) {
      ASSERT_EQ(SQLITE_OK,
                Exec(c, "INSERT INTO t(who, n) VALUES ('r', " + std::to_string(i) + ")"));
    }
    ASSERT_EQ(round + 1, QueryInt(c, "SELECT count(*) FROM t"));
    if (round % 3 == 1) {
      // Dropped inside a transaction that commits.
      ASSERT_EQ(SQLITE_OK, Exec(c, "BEGIN; DROP TABLE t; COMMIT"));
    } else if (round % 3 == 2) {
      // A DROP rolled back keeps the rows; then dropped for good.
      ASSERT_EQ(SQLITE_OK, Exec(c, "BEGIN; DROP TABLE t; ROLLBACK"));
      ASSERT_EQ(round + 1, QueryInt(c, "SELECT count(*) FROM t"));
      ASSERT_EQ(SQLITE_OK, Exec(c, "DROP TABLE t"));
    } else {
      ASSERT_EQ(SQLITE_OK, Exec(c, "DROP TABLE t"));
    }
    ASSERT_EQ(0, QueryInt(c, "SELECT count(*) FROM sqlite_schema WHERE name = 't'"));
    if (persistent() && round % 5 == 4) {
      c.Close();  // also across a reopen of the connection
      c.Open(file);
    }
  }
  ASSERT_EQ(SQLITE_OK, Exec(c, TableSql(engine(), dir_.path(), "t")));
  EXPECT_EQ(0, QueryInt(c, "SELECT count(*) FROM t"));
  if (persistent()) {
    EXPECT_EQ(0, QueryInt(other, "SELECT count(*) FROM keep"));
  }
}

// ATTACH and DETACH of a database holding manifold tables, many times,
// writing through the attached name; the rows are there when the database
// is opened directly.
TEST_P(Lifecycle, AttachAndDetach) {
  const std::string aux = dir_.path() + "/aux.db";
  Connection c(dir_.path() + "/main.db");
  MustRun(c, "CREATE TABLE native_rows(n)");
  int rows = 0;
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ASSERT_EQ(SQLITE_OK, Exec(c, "ATTACH '" + aux + "' AS aux"));
    if (round == 0 || !persistent()) {
      std::string sql = TableSql(engine(), dir_.path(), "t");
      sql.replace(sql.find(" t USING"), 8, " aux.t USING");
      ASSERT_EQ(SQLITE_OK, Exec(c, sql));
      rows = 0;
    }
    std::string message;
    ASSERT_EQ(SQLITE_OK, Exec(c,
                              "BEGIN; INSERT INTO aux.t(who, n) VALUES ('attached', " +
                                  std::to_string(round) +
                                  "); INSERT INTO native_rows VALUES (1); COMMIT",
                              &message))
        << message;
    ++rows;
    ASSERT_EQ(rows, QueryInt(c, "SELECT count(*) FROM aux.t"));
    if (round % 4 == 3) {
      // A statement still stepping on the attached table blocks DETACH, as
      // natively; once finished, DETACH works.
      sqlite3_stmt* stmt = nullptr;
      ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(c, "SELECT * FROM aux.t", -1, &stmt, nullptr));
      ASSERT_EQ(SQLITE_ROW, sqlite3_step(stmt));
      EXPECT_NE(SQLITE_OK, Exec(c, "DETACH aux"));
      sqlite3_finalize(stmt);
    }
    if (!persistent()) {
      ASSERT_EQ(SQLITE_OK, Exec(c, "DROP TABLE aux.t"));
    }
    ASSERT_EQ(SQLITE_OK, Exec(c, "DETACH aux")) << sqlite3_errmsg(c);
  }
  EXPECT_EQ(20, QueryInt(c, "SELECT count(*) FROM native_rows"));
  if (persistent()) {
    Connection direct(aux);
    EXPECT_EQ(rows, QueryInt(direct, "SELECT count(*) FROM t"));
    EXPECT_EQ("integer 1", Query(direct, "SELECT json_extract(manifold_check('t'), '$.ok')"));
  }
}

// A process ends while it holds an open write transaction and an open read
// transaction (by exit(), by _exit() and by SIGKILL). Afterwards a new writer
// commits at once, nothing of the child's transaction is there, and the
// committed row is unchanged.
TEST_P(Lifecycle, ProcessEndsWithOpenTransactions) {
  if (!persistent()) GTEST_SKIP() << engine() << " is private to one connection";
  const std::string file = dir_.path() + "/main.db";
  {
    Connection c(file);
    MustRun(c, TableSql(engine(), dir_.path(), "t") +
                   "; INSERT INTO t(who, n) VALUES ('committed', 7)");
  }
  int committed = 1;
  for (const char* how : {"exit", "_exit", "kill", "exit", "kill"}) {
    SCOPED_TRACE(std::string("child ends by ") + how);
    Child child = SpawnChild(dir_.path() + "\n" + engine() + "\n" + how);
    ASSERT_GT(child.pid, 0);
    std::string said;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (said.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline &&
           manifold::testing::ReadUntil(child.fd, said, std::chrono::steady_clock::now() +
                                                            std::chrono::milliseconds(20))) {
    }
    if (std::string(how) == "kill") ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    ::close(child.fd);
    ASSERT_EQ("ready\n", said) << "the child " << DescribeStatus(status);
    if (std::string(how) == "kill") {
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << DescribeStatus(status);
    } else {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeStatus(status);
    }
    // A new writer is not blocked: with a short busy timeout it commits.
    Connection c;
    OpenWithTimeout(c, file, 2000);
    const auto start = std::chrono::steady_clock::now();
    std::string message;
    ASSERT_EQ(SQLITE_OK, Exec(c, "BEGIN; INSERT INTO t(who, n) VALUES ('after', 1); COMMIT",
                              &message))
        << message;
    ++committed;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
    EXPECT_EQ(0, QueryInt(c, "SELECT count(*) FROM t WHERE who = 'uncommitted'"));
    EXPECT_EQ(7, QueryInt(c, "SELECT n FROM t WHERE who = 'committed'"));
    EXPECT_EQ(committed, QueryInt(c, "SELECT count(*) FROM t"));
    EXPECT_EQ("integer 1", Query(c, "SELECT json_extract(manifold_check('t'), '$.ok')"));
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Lifecycle, ::testing::ValuesIn(EnginesUnderTest()),
                         EngineName());

}  // namespace
}  // namespace manifold::sqltest
