// Smoke tests of the virtual-table modules through the sqlite3 C API: each
// mechanism of extension/ (keys and records, planning, writes and conflicts,
// transactions and savepoints, the catalog, lazy opening, functions), on every
// engine this build has, with a native table as the oracle where one applies.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "manifold/registry.h"

extern "C" int sqlite3_manifold_init(sqlite3* db, char** pzErrMsg,
                                     const sqlite3_api_routines* pApi);

namespace manifold {
namespace {

namespace fs = std::filesystem;

// A connection on a database file in a fresh temporary directory.
class TestDb {
 public:
  explicit TestDb(const std::string& path) {
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));
    EXPECT_EQ(SQLITE_OK, sqlite3_open(path.c_str(), &db_));
  }
  ~TestDb() { Close(); }
  void Close() {
    if (db_ != nullptr) {
      EXPECT_EQ(SQLITE_OK, sqlite3_close(db_));
    }
    db_ = nullptr;
  }
  sqlite3* get() { return db_; }

  // Runs `sql`; returns the primary result code.
  int Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    last_error_ = error == nullptr ? "" : error;
    sqlite3_free(error);
    return rc;
  }
  // Returns every row as "typeof:quote|..." lines, or "error: <message>".
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return std::string("error: ") + sqlite3_errmsg(db_);
    }
    std::string out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!out.empty()) out += "\n";
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i > 0) out += "|";
        const unsigned char* text = sqlite3_column_text(stmt, i);
        out += text == nullptr ? "NULL" : reinterpret_cast<const char*>(text);
      }
    }
    if (rc != SQLITE_DONE) out = std::string("error: ") + sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    return out;
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

class VtabBasic : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/manifold-vtab-XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(pattern));
    dir_ = pattern;
    db_ = std::make_unique<TestDb>(dir_ + "/test.db");
  }
  void TearDown() override {
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  const std::string& engine() const { return GetParam(); }
  // Creates manifold table `name` and a native twin `native_<name>`.
  void CreatePair(const std::string& name, const std::string& columns, bool without_rowid) {
    ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE " + name + " USING " + engine() + "(" +
                                   columns + ")"))
        << Db().last_error();
    ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE TABLE native_" + name + "(" + columns + ")" +
                                   (without_rowid ? " WITHOUT ROWID" : "")))
        << Db().last_error();
  }
  // Runs `sql` (with @T standing for the table) on both tables; the results match.
  void ExpectSame(const std::string& name, const std::string& sql) {
    auto on = [&](const std::string& table) {
      std::string text = sql;
      for (size_t at; (at = text.find("@T")) != std::string::npos;) text.replace(at, 2, table);
      return Db().Query(text);
    };
    EXPECT_EQ(on("native_" + name), on(name)) << sql;
  }
  TestDb& Db() { return *db_; }

  std::string dir_;
  std::unique_ptr<TestDb> db_;
};

TEST_P(VtabBasic, ValuesRoundTripWithTheirTypesAsNative) {
  CreatePair("t", "id INTEGER PRIMARY KEY, i INTEGER, r REAL, x TEXT, n NUMERIC, b", false);
  const char* values =
      " VALUES (1, '12', 3, 4, '5.0', x''), (2, -0.0, 1e308, x'00ff', 'abc', 9223372036854775807),"
      " (NULL, 1.5, '2.5', NULL, 7, ''), (-5, NULL, NULL, 'é', '0x10', -1e999)";
  ASSERT_EQ(SQLITE_OK, Db().Exec(std::string("INSERT INTO t") + values)) << Db().last_error();
  ASSERT_EQ(SQLITE_OK, Db().Exec(std::string("INSERT INTO native_t") + values));
  ExpectSame("t",
             "SELECT id, typeof(i), quote(i), typeof(r), quote(r), typeof(x), quote(x), "
             "typeof(n), quote(n), typeof(b), quote(b) FROM @T ORDER BY id");
  ExpectSame("t", "SELECT rowid, id FROM @T WHERE rowid > -5 ORDER BY rowid DESC");
}

TEST_P(VtabBasic, KeyedTablesAnswerRangesPrefixesAndInListsAsNative) {
  CreatePair("c", "a TEXT, b INTEGER, c, PRIMARY KEY(a, b DESC)", true);
  for (const char* table : {"c", "native_c"}) {
    ASSERT_EQ(SQLITE_OK, Db().Exec(std::string("INSERT INTO ") + table +
                                   " VALUES ('x', 1, 1), ('x', 2, 2), ('x', 3.5, 3), ('y', 1, 4),"
                                   " ('y', '7', 5), ('z', -1, 6), ('x', 'text', 7), ('x', x'01', 8)"))
        << Db().last_error();
  }
  for (const char* where :
       {"a = 'x'", "a = 'x' AND b > 1", "a = 'x' AND b >= 2 AND b < 10", "a = 'x' AND b < 3",
        "a = 'x' AND b > 5", "a = 'x' AND b = 3.5", "a = 'y' AND b = '7'", "a > 'x'",
        "a >= 'x' AND a < 'z'", "a IN ('x', 'z') AND b IN (1, -1, 3.5)", "a = 'x' AND b = NULL",
        "a = 'x' AND b > NULL", "a LIKE 'X'", "a = 'X' COLLATE NOCASE"}) {
    ExpectSame("c", std::string("SELECT a, typeof(b), b, c FROM @T WHERE ") + where +
                        " ORDER BY a, b DESC");
    ExpectSame("c", std::string("SELECT a, b, c FROM @T WHERE ") + where + " ORDER BY a DESC, b");
  }
  ExpectSame("c", "SELECT a, b FROM @T ORDER BY a, b DESC LIMIT 3 OFFSET 2");
  ExpectSame("c", "SELECT a, b FROM @T WHERE a = 'x' ORDER BY a, b DESC LIMIT 2 OFFSET 1");
}

// A TEXT key compared with a number: a literal or parameter becomes text, a
// column of BLOB affinity is compared as it is, a numeric column makes both
// sides numeric ('2.0' = 2). The planner cannot see which, so such terms must
// give the native answer on every path: joins, parameters, IN lists.
TEST_P(VtabBasic, TextKeysComparedWithNumbersFollowTheOtherOperandsAffinity) {
  CreatePair("k", "a TEXT PRIMARY KEY, v", true);
  for (const char* table : {"k", "native_k"}) {
    ASSERT_EQ(SQLITE_OK, Db().Exec(std::string("INSERT INTO ") + table +
                                   " VALUES ('2', 1), ('2.0', 2), (' 2', 3), ('10', 4), ('abc', 5),"
                                   " (x'32', 6)"))
        << Db().last_error();
  }
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE TABLE any_o(k); CREATE TABLE int_o(k INTEGER);"
                                 "CREATE TABLE text_o(k TEXT);"
                                 "INSERT INTO any_o VALUES (2), ('2'), (2.0), ('abc'), (x'32');"
                                 "INSERT INTO int_o VALUES (2), (10), ('abc');"
                                 "INSERT INTO text_o VALUES (2), ('10')"))
      << Db().last_error();
  for (const char* other : {"any_o", "int_o", "text_o"}) {
    ExpectSame("k", std::string("SELECT o.k, typeof(o.k), t.a, t.v FROM ") + other +
                        " o JOIN @T t ON t.a = o.k ORDER BY 1, 3");
    ExpectSame("k", std::string("SELECT o.k, t.a FROM ") + other +
                        " o JOIN @T t ON t.a > o.k ORDER BY 1, 2");
    ExpectSame("k", std::string("SELECT t.a FROM @T t WHERE t.a IN (SELECT k FROM ") + other +
                        ") ORDER BY 1");
  }
  for (const char* where : {"a = 2", "a = '2'", "a > 2", "a <= 10", "a IN (2, 10)",
                            "a IN ('2', 10.0)", "a = 2 LIMIT 1"}) {
    ExpectSame("k", std::string("SELECT a, v FROM @T WHERE ") + where);
  }
  // A bound parameter has no affinity: the number becomes text.
  for (const char* table : {"k", "native_k"}) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(Db().get(),
                                            (std::string("SELECT count(*), min(v) FROM ") + table +
                                             " WHERE a = ?1 OR a = ?2")
                                                .c_str(),
                                            -1, &stmt, nullptr));
    sqlite3_bind_int(stmt, 1, 2);
    sqlite3_bind_double(stmt, 2, 10.0);  // the text '10.0': no row
    ASSERT_EQ(SQLITE_ROW, sqlite3_step(stmt));
    EXPECT_EQ(1, sqlite3_column_int(stmt, 0)) << table;
    EXPECT_EQ(1, sqlite3_column_int(stmt, 1)) << table;
    sqlite3_finalize(stmt);
    ASSERT_EQ(SQLITE_OK, sqlite3_prepare_v2(Db().get(),
                                            (std::string("SELECT v FROM ") + table + " WHERE a = ?")
                                                .c_str(),
                                            -1, &stmt, nullptr));
    sqlite3_bind_int(stmt, 1, 10);
    ASSERT_EQ(SQLITE_ROW, sqlite3_step(stmt)) << table;
    EXPECT_EQ(4, sqlite3_column_int(stmt, 0)) << table;
    EXPECT_EQ(SQLITE_DONE, sqlite3_step(stmt)) << table;
    sqlite3_finalize(stmt);
  }
}

// SQLite marks only the savepoints open when a table joins the transaction
// (and every later one): ROLLBACK TO a savepoint made before the table's first
// write must undo all of that write, also after a failed statement.
TEST_P(VtabBasic, RollbackToASavepointMadeBeforeTheFirstWriteUndoesIt) {
  CreatePair("s", "c0 INTEGER PRIMARY KEY, c1", false);
  for (const char* table : {"s", "native_s"}) {
    const std::string t = table;
    ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO " + t + " VALUES (3, 'x')")) << Db().last_error();
    ASSERT_EQ(SQLITE_OK, Db().Exec("SAVEPOINT s2; SAVEPOINT s1"));
    EXPECT_EQ(SQLITE_CONSTRAINT, Db().Exec("INSERT INTO " + t + " VALUES (8, 'a'), (3, 'b')"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT OR IGNORE INTO " + t + " VALUES (-2, 'c')"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("ROLLBACK TO s1"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO " + t + " VALUES (9, 'y')"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("RELEASE s1"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO " + t + " VALUES (10, 'z')"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("ROLLBACK TO s2; COMMIT")) << Db().last_error();
  }
  ExpectSame("s", "SELECT c0, c1 FROM @T ORDER BY c0");
  EXPECT_EQ("3|x", Db().Query("SELECT c0, c1 FROM s ORDER BY c0"));
}

// A comparison with a REAL key applies NUMERIC affinity to the other operand:
// 9223372036854775807 stays that integer, below the stored REAL 2^63.
TEST_P(VtabBasic, RangesOnARealKeyCompareIntegersExactly) {
  CreatePair("r", "k REAL PRIMARY KEY, v", true);
  for (const char* table : {"r", "native_r"}) {
    ASSERT_EQ(SQLITE_OK, Db().Exec(std::string("INSERT INTO ") + table +
                                   " VALUES (9223372036854775807, 'top'), (2.5, 'mid'), (-1, 'low')"))
        << Db().last_error();
  }
  for (const char* where : {"k <= 9223372036854775807", "k < 9223372036854775807",
                            "k >= 9223372036854775807", "k = 9223372036854775807",
                            "k > 9223372036854775806", "k = '2.5'", "k < '3'"}) {
    ExpectSame("r", std::string("SELECT typeof(k), k, v FROM @T WHERE ") + where + " ORDER BY k");
  }
  EXPECT_EQ("", Db().Query("SELECT v FROM r WHERE k <= 9223372036854775807 AND v = 'top'"));
}

TEST_P(VtabBasic, PlansUseTheKeyAndConsumeOrderBy) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE k USING " + engine() +
                                 "(a TEXT, b INT, c, PRIMARY KEY(a, b))"));
  std::string point = Db().Query("EXPLAIN QUERY PLAN SELECT * FROM k WHERE a = 'x' AND b = 1");
  EXPECT_NE(std::string::npos, point.find("VIRTUAL TABLE INDEX 2:ee")) << point;
  std::string range = Db().Query("EXPLAIN QUERY PLAN SELECT * FROM k WHERE a = 'x' AND b > 1");
  EXPECT_NE(std::string::npos, range.find(":e>")) << range;
  std::string ordered = Db().Query("EXPLAIN QUERY PLAN SELECT * FROM k ORDER BY a DESC, b DESC");
  EXPECT_NE(std::string::npos, ordered.find(":r")) << ordered;
  EXPECT_EQ(std::string::npos, ordered.find("TEMP B-TREE")) << ordered;
  std::string unordered = Db().Query("EXPLAIN QUERY PLAN SELECT * FROM k ORDER BY b");
  EXPECT_NE(std::string::npos, unordered.find("TEMP B-TREE")) << unordered;
  std::string like = Db().Query("EXPLAIN QUERY PLAN SELECT * FROM k WHERE a LIKE 'x%'");
  EXPECT_NE(std::string::npos, like.find("INDEX 0:")) << like;
}

TEST_P(VtabBasic, ConstraintViolationsFailWithNativeMessages) {
  CreatePair("u", "a TEXT PRIMARY KEY, b NOT NULL", true);
  ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO u VALUES ('k', 1)"));
  EXPECT_EQ(SQLITE_CONSTRAINT, Db().Exec("INSERT INTO u VALUES ('k', 2)"));
  EXPECT_EQ("UNIQUE constraint failed: u.a", Db().last_error());
  EXPECT_EQ(SQLITE_CONSTRAINT, Db().Exec("INSERT INTO u VALUES ('m', NULL)"));
  EXPECT_EQ("NOT NULL constraint failed: u.b", Db().last_error());
  EXPECT_EQ(SQLITE_CONSTRAINT, Db().Exec("INSERT INTO u VALUES (NULL, 1)"));
  EXPECT_EQ("NOT NULL constraint failed: u.a", Db().last_error());
  ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT OR REPLACE INTO u VALUES ('k', 'replaced')"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT OR IGNORE INTO u VALUES ('k', 'ignored'), ('n', 3)"));
  EXPECT_EQ("k|replaced\nn|3", Db().Query("SELECT * FROM u ORDER BY a"));

  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE r USING " + engine() +
                                 "(id INTEGER PRIMARY KEY, v)"));
  EXPECT_EQ(SQLITE_MISMATCH, Db().Exec("INSERT INTO r VALUES ('abc', 1)"));
  EXPECT_EQ(SQLITE_OK, Db().Exec("INSERT INTO r VALUES ('12', 1)"));
  EXPECT_EQ(SQLITE_CONSTRAINT, Db().Exec("INSERT INTO r VALUES (12, 2)"));
  EXPECT_EQ("UNIQUE constraint failed: r.id", Db().last_error());
  EXPECT_EQ(SQLITE_OK, Db().Exec("INSERT INTO r(v) VALUES (3)"));
  EXPECT_EQ("12|1\n13|3", Db().Query("SELECT id, v FROM r ORDER BY id"));
}

TEST_P(VtabBasic, CompositeKeysAreFullyWritable) {
  CreatePair("w", "a TEXT, b INTEGER, c, PRIMARY KEY(a, b)", true);
  for (const char* sql :
       {"INSERT INTO @T VALUES ('x', 1, 'one'), ('x', 2, 'two'), ('y', 1, 'three')",
        "UPDATE @T SET b = b + 10 WHERE a = 'x'", "UPDATE @T SET a = 'z' WHERE b = 1",
        "DELETE FROM @T WHERE a = 'x' AND b = 12", "UPDATE OR REPLACE @T SET a = 'x', b = 11"}) {
    std::string manifold = sql, native = sql;
    manifold.replace(manifold.find("@T"), 2, "w");
    native.replace(native.find("@T"), 2, "native_w");
    EXPECT_EQ(Db().Exec(native), Db().Exec(manifold)) << sql << ": " << Db().last_error();
    ExpectSame("w", "SELECT a, b, c FROM @T ORDER BY a, b");
  }
  EXPECT_EQ(SQLITE_ERROR, Db().Exec("INSERT INTO w(rowid, a, b) VALUES (5, 'q', 1)"));
  EXPECT_NE(std::string::npos, Db().last_error().find("rowid cannot be set"));
  EXPECT_EQ("0|a|TEXT|1|NULL|1\n1|b|INTEGER|1|NULL|2\n2|c||0|NULL|0", Db().Query("PRAGMA table_info(w)"));
}

TEST_P(VtabBasic, TransactionsAndSavepointsRollBackAsNative) {
  CreatePair("s", "a INTEGER PRIMARY KEY, b", false);
  for (const char* table : {"s", "native_s"}) {
    std::string t = table;
    ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO " + t + " VALUES (1, 'base')"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; INSERT INTO " + t + " VALUES (2, 'gone'); ROLLBACK"));
    ASSERT_EQ(SQLITE_OK, Db().Exec("SAVEPOINT one; INSERT INTO " + t +
                                   " VALUES (3, 'one'); SAVEPOINT two; UPDATE " + t +
                                   " SET b = 'changed'; ROLLBACK TO two; INSERT INTO " + t +
                                   " VALUES (4, 'after'); RELEASE one"))
        << Db().last_error();
    ASSERT_EQ(SQLITE_OK, Db().Exec("SAVEPOINT x; INSERT INTO " + t +
                                   " VALUES (5, 'x'); ROLLBACK TO x; RELEASE x"));
    // A failing statement leaves nothing behind.
    EXPECT_EQ(SQLITE_CONSTRAINT,
              Db().Exec("INSERT INTO " + t + " VALUES (6, 'partial'), (1, 'duplicate')"));
  }
  ExpectSame("s", "SELECT a, b FROM @T ORDER BY a");
}

TEST_P(VtabBasic, TransactionReadsItsOwnWritesAndOthersSeeOnlyCommits) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b)"));
  if (engine() == "memory") GTEST_SKIP() << "memory stores are private to a connection by default";
  TestDb other(dir_ + "/test.db");
  ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; INSERT INTO t VALUES (1, 'mine')"));
  EXPECT_EQ("1", Db().Query("SELECT count(*) FROM t"));
  EXPECT_EQ("0", other.Query("SELECT count(*) FROM t"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("COMMIT"));
  EXPECT_EQ("1", other.Query("SELECT count(*) FROM t"));
}

TEST_P(VtabBasic, DropAndRenameFollowSqliteTransactions) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b); CREATE VIRTUAL TABLE keep USING " +
                                 engine() + "(a INTEGER PRIMARY KEY, b)"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO t VALUES (1, 'kept'); INSERT INTO keep VALUES (7, 'x')"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; DROP TABLE t; ROLLBACK"));
  EXPECT_EQ("1|kept", Db().Query("SELECT * FROM t"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; ALTER TABLE t RENAME TO u; ROLLBACK"));
  EXPECT_EQ("1|kept", Db().Query("SELECT * FROM t"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("ALTER TABLE t RENAME TO u"));
  EXPECT_EQ("1|kept", Db().Query("SELECT * FROM u"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b)"));
  EXPECT_EQ("0", Db().Query("SELECT count(*) FROM t"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; DROP TABLE u; COMMIT"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("DROP TABLE t"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE u USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b)"));
  EXPECT_EQ("0", Db().Query("SELECT count(*) FROM u"));
  EXPECT_EQ("7|x", Db().Query("SELECT * FROM keep"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("BEGIN; CREATE VIRTUAL TABLE n USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b); INSERT INTO n VALUES (1, 2); "
                                 "ROLLBACK"));
  EXPECT_NE(std::string::npos, Db().Query("SELECT * FROM n").find("no such table"));
}

TEST_P(VtabBasic, ConnectOpensNothingAndAMissingStoreIsAClearError) {
  if (engine() == "memory") GTEST_SKIP() << "memory stores have no files";
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b, path='store'); "
                                 "CREATE TABLE plain(x); INSERT INTO plain VALUES (1)"));
  Db().Close();
  fs::remove_all(dir_ + "/store");
  db_ = std::make_unique<TestDb>(dir_ + "/test.db");
  EXPECT_EQ("0|a|INTEGER|0|NULL|1\n1|b||0|NULL|0", Db().Query("PRAGMA table_info(t)"));
  std::string error = Db().Query("SELECT * FROM t");
  EXPECT_NE(std::string::npos, error.find(engine() + " table \"t\"")) << error;
  EXPECT_FALSE(fs::exists(dir_ + "/store"));
  EXPECT_EQ("1", Db().Query("SELECT x FROM plain"));
  EXPECT_EQ(SQLITE_OK, Db().Exec("DROP TABLE t"));
}

TEST_P(VtabBasic, ReadOnlyTablesRefuseWrites) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(k TEXT PRIMARY KEY, v, path='ro', table='data');"
                                 "INSERT INTO t VALUES ('a', 1)"));
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE r USING " + engine() +
                                 "(k TEXT PRIMARY KEY, v, path='ro', table='data', readonly=1)"))
      << Db().last_error();
  EXPECT_EQ("a|1", Db().Query("SELECT * FROM r"));
  EXPECT_EQ(SQLITE_READONLY, Db().Exec("INSERT INTO r VALUES ('b', 2)"));
  EXPECT_EQ(engine() + " table \"r\": the store is read-only", Db().last_error());
}

TEST_P(VtabBasic, RawTablesHoldTheStoredBytes) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE raw USING " + engine() + "()"))
      << Db().last_error();
  ASSERT_EQ(SQLITE_OK, Db().Exec("INSERT INTO raw VALUES (x'0102', x'ff'), ('text', 12)"));
  EXPECT_EQ("blob|X'0102'|X'FF'\nblob|X'74657874'|X'3132'",
            Db().Query("SELECT typeof(key), quote(key), quote(value) FROM raw ORDER BY key"));
  EXPECT_EQ("X'FF'", Db().Query("SELECT quote(value) FROM raw WHERE key = x'0102'"));
}

TEST_P(VtabBasic, FunctionsDescribeTheTableAndItsEngines) {
  ASSERT_EQ(SQLITE_OK, Db().Exec("CREATE VIRTUAL TABLE t USING " + engine() +
                                 "(a INTEGER PRIMARY KEY, b); INSERT INTO t VALUES (1, 'x')"));
  std::string stats = Db().Query("SELECT manifold_stats('t')");
  EXPECT_NE(std::string::npos, stats.find("\"engine\":\"" + engine() + "\"")) << stats;
  EXPECT_NE(std::string::npos, stats.find("\"rows\":1")) << stats;
  std::string compact = Db().Query("SELECT manifold_compact('t')");
  EXPECT_NE(std::string::npos, compact.find("\"bytes_after\":")) << compact;
  EXPECT_EQ("1", Db().Query("SELECT available FROM manifold_engines WHERE name = '" + engine() +
                            "'"));
  EXPECT_NE(std::string::npos, Db().Query("SELECT manifold_stats('nope')").find("error"));
}

INSTANTIATE_TEST_SUITE_P(Engines, VtabBasic, ::testing::ValuesIn(RegisteredEngineNames()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace manifold
