// SQL behaviour of manifold tables that no single native table shows:
// several connections on one store, stores shared by tables, persistence,
// ALTER/DROP/CREATE inside transactions, declarations that must be refused,
// read-only tables, trusted_schema, the SQL functions and query plans.
// Each test runs on every engine this build has.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "manifold/engine.h"
#include "manifold/registry.h"
#include "sql_oracle.h"

namespace manifold::sqltest {
namespace {

using ::testing::ValuesIn;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Fails the test unless `sql` succeeds on `db`.
#define EXPECT_SQL_OK(db, sql)                                                                  \
  do {                                                                                          \
    Outcome outcome_ = RunSql((db), (sql));                                                     \
    EXPECT_EQ(SQLITE_OK, outcome_.rc) << "statement: " << (sql) << "\n" << outcome_.ToString(); \
  } while (0)
#define ASSERT_SQL_OK(db, sql)                                                                  \
  do {                                                                                          \
    Outcome outcome_ = RunSql((db), (sql));                                                     \
    ASSERT_EQ(SQLITE_OK, outcome_.rc) << "statement: " << (sql) << "\n" << outcome_.ToString(); \
  } while (0)

class SqlBehaviour : public ::testing::TestWithParam<std::string> {
 protected:
  SqlBehaviour() { RegisterManifold(); }

  const std::string& engine() const { return GetParam(); }
  std::string DbPath(const std::string& name = "main.db") const { return dir_.path() + "/" + name; }
  std::string StorePath(const std::string& name = "store") const {
    return dir_.path() + "/" + name;
  }
  // path= for a store in this test's directory. For the memory engine the
  // path is a process-wide store name; it is unique to this test as well.
  std::string PathOption(const std::string& name = "store") const {
    return "path='" + StorePath(name) + "'";
  }
  std::string Create(const std::string& table, const std::string& columns,
                     const std::string& options) const {
    std::string sql = "CREATE VIRTUAL TABLE " + table + " USING " + engine() + "(";
    if (!columns.empty()) sql += columns + ", ";
    return sql + options + ")";
  }

  TempDir dir_;
};

TEST_P(SqlBehaviour, TableInfoShowsCompositeKeyPositions) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a TEXT, b INT, c, PRIMARY KEY(b, a DESC)", PathOption()));
  EXPECT_EQ(
      "text 'a' | text 'TEXT' | integer 2\n"
      "text 'b' | text 'INT' | integer 1\n"
      "text 'c' | text '' | integer 0",
      Query(db, "SELECT name, type, pk FROM pragma_table_info('t') ORDER BY cid"));
  ASSERT_SQL_OK(db, Create("s", "id INTEGER PRIMARY KEY, v", PathOption()));
  EXPECT_EQ("text 'id' | integer 1\ntext 'v' | integer 0",
            Query(db, "SELECT name, pk FROM pragma_table_info('s') ORDER BY cid"));
}

// A GUI editor reads rows with their rowids, then updates one row by the
// rowid it read, in a later statement (DB Browser for SQLite does). A
// composite-key row's rowid is a handle: it must still name the same row.
TEST_P(SqlBehaviour, CompositeKeyRowidsNameTheSameRowInLaterStatements) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a TEXT, b INT, v, PRIMARY KEY(a, b DESC)", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES ('x', 1, 'one'), ('x', 2, 'two'), ('y', 1, 'three')");
  const std::string listed = Query(db, "SELECT rowid, a, b FROM t ORDER BY a, b");
  // Reading again, in another statement and another transaction, gives the same rowids.
  EXPECT_EQ(listed, Query(db, "SELECT rowid, a, b FROM t ORDER BY a, b"));
  const std::string rowid = Query(db, "SELECT rowid FROM t WHERE a = 'x' AND b = 1");
  ASSERT_EQ(0u, rowid.rfind("integer ", 0)) << rowid;
  const std::string handle = rowid.substr(8);
  ASSERT_SQL_OK(db, "UPDATE t SET v = 'edited' WHERE _rowid_ = '" + handle + "'");
  EXPECT_EQ("integer 1", Query(db, "SELECT changes()"));
  EXPECT_EQ("text 'x' | integer 1 | text 'edited'\n"
            "text 'x' | integer 2 | text 'two'\n"
            "text 'y' | integer 1 | text 'three'",
            Query(db, "SELECT a, b, v FROM t ORDER BY a, b"));
  ASSERT_SQL_OK(db, "DELETE FROM t WHERE rowid = " + handle);
  EXPECT_EQ("integer 2", Query(db, "SELECT count(*) FROM t"));
  // A handle of a deleted row names no row, never another one.
  ASSERT_SQL_OK(db, "UPDATE t SET v = 'wrong' WHERE rowid = " + handle);
  EXPECT_EQ("integer 0", Query(db, "SELECT changes()"));
}

TEST_P(SqlBehaviour, SecondConnectionSeesOnlyCommittedData) {
  Connection writer(DbPath());
  ASSERT_SQL_OK(writer, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(writer, "INSERT INTO t VALUES (1, 'committed')");
  Connection reader(DbPath());
  EXPECT_EQ("integer 1", Query(reader, "SELECT count(*) FROM t"));

  ASSERT_SQL_OK(writer, "BEGIN; INSERT INTO t VALUES (2, 'pending'); UPDATE t SET b = 'x'");
  EXPECT_EQ("integer 2", Query(writer, "SELECT count(*) FROM t"));
  EXPECT_EQ("text 'x'", Query(writer, "SELECT b FROM t WHERE a = 1"));
  EXPECT_EQ("integer 1 | text 'committed'", Query(reader, "SELECT a, b FROM t"));
  EXPECT_EQ("", Query(reader, "SELECT b FROM t WHERE a = 2"));
  ASSERT_SQL_OK(writer, "COMMIT");
  EXPECT_EQ("integer 1 | text 'x'\ninteger 2 | text 'x'",
            Query(reader, "SELECT a, b FROM t ORDER BY a"));

  ASSERT_SQL_OK(writer, "BEGIN; DELETE FROM t; ROLLBACK");
  EXPECT_EQ("integer 2", Query(reader, "SELECT count(*) FROM t"));
}

// Two database files whose tables share one store: the store's write lock,
// not SQLite's file lock, is what the second writer meets.
TEST_P(SqlBehaviour, BlockedWriterGetsBusyAfterTheBusyTimeout) {
  Connection first(DbPath("a.db"));
  Connection second(DbPath("b.db"));
  ASSERT_SQL_OK(first, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(second, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  sqlite3_busy_timeout(first, 100);
  sqlite3_busy_timeout(second, 100);

  ASSERT_SQL_OK(first, "BEGIN; INSERT INTO t VALUES (1, 'first')");
  Outcome blocked = RunSql(second, "INSERT INTO t VALUES (2, 'second')");
  EXPECT_EQ(SQLITE_BUSY, blocked.rc) << blocked.ToString();
  // Blocked inside its own transaction too; neither side waits forever.
  Outcome blocked_in_txn = RunSql(second, "BEGIN; INSERT INTO t VALUES (3, 'second')");
  EXPECT_EQ(SQLITE_BUSY, blocked_in_txn.rc) << blocked_in_txn.ToString();
  RunSql(second, "ROLLBACK");
  // Readers are never blocked by the writer.
  EXPECT_EQ("integer 0", Query(second, "SELECT count(*) FROM t"));
  ASSERT_SQL_OK(first, "COMMIT");

  EXPECT_SQL_OK(second, "INSERT INTO t VALUES (2, 'second')");
  EXPECT_EQ("integer 1 | text 'first'\ninteger 2 | text 'second'",
            Query(first, "SELECT a, b FROM t ORDER BY a"));
}

TEST_P(SqlBehaviour, TablesSharingAStoreCommitTogether) {
  Connection db(DbPath());
  Connection other(DbPath());
  ASSERT_SQL_OK(db, Create("t1", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, Create("t2", "k TEXT PRIMARY KEY, v", PathOption()));

  ASSERT_SQL_OK(db, "BEGIN; INSERT INTO t1 VALUES (1, 'x'); INSERT INTO t2 VALUES ('k', 'x')");
  EXPECT_EQ("integer 0 | integer 0",
            Query(other, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM t2)"));
  ASSERT_SQL_OK(db, "ROLLBACK");
  EXPECT_EQ("integer 0 | integer 0",
            Query(db, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM t2)"));

  ASSERT_SQL_OK(db, "BEGIN; INSERT INTO t1 VALUES (1, 'x'); INSERT INTO t2 VALUES ('k', 'x')");
  ASSERT_SQL_OK(db, "COMMIT");
  EXPECT_EQ("integer 1 | integer 1",
            Query(other, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM t2)"));

  // OR ROLLBACK on one table rolls back the other table's writes as well.
  ASSERT_SQL_OK(db, "BEGIN; INSERT INTO t1 VALUES (2, 'y')");
  Outcome failed = RunSql(db, "INSERT OR ROLLBACK INTO t2 VALUES ('k', 'duplicate')");
  EXPECT_EQ(SQLITE_CONSTRAINT, failed.rc) << failed.ToString();
  EXPECT_NE(0, sqlite3_get_autocommit(db));
  EXPECT_EQ("integer 1 | integer 1",
            Query(db, "SELECT (SELECT count(*) FROM t1), (SELECT count(*) FROM t2)"));
}

TEST_P(SqlBehaviour, DataPersistsAcrossCloseAndReopen) {
  if (!IsPersistent(engine())) GTEST_SKIP() << engine() << " is not a persistent engine";
  const std::string values =
      "(1, NULL), (2, -0.0), (3, 9e999), (4, -9223372036854775808), (5, 'text'), "
      "(6, CAST(x'610062' AS TEXT)), (7, x''), (8, x'00ff'), (9, 1.5), (10, '')";
  const std::string dump = "SELECT a, typeof(b), quote(b) FROM t ORDER BY a";
  std::string expected;
  {
    Connection native(":memory:");
    ASSERT_SQL_OK(native,
                  "CREATE TABLE t(a INTEGER PRIMARY KEY, b); INSERT INTO t VALUES " + values);
    expected = Query(native, dump);
  }
  {
    Connection db(DbPath());
    ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
    ASSERT_SQL_OK(db, Create("c", "x TEXT, y INT, PRIMARY KEY(x, y DESC)", PathOption()));
    ASSERT_SQL_OK(db, "INSERT INTO t VALUES " + values);
    ASSERT_SQL_OK(db, "INSERT INTO c VALUES ('a', 1), ('a', 2), ('b', 1)");
  }
  Connection db(DbPath());
  EXPECT_EQ(expected, Query(db, dump));
  EXPECT_EQ("text 'a' | integer 2\ntext 'a' | integer 1\ntext 'b' | integer 1",
            Query(db, "SELECT x, y FROM c ORDER BY x, y DESC"));
  EXPECT_SQL_OK(db, "INSERT INTO t VALUES (11, 'after reopen')");
  EXPECT_EQ("integer 11", Query(db, "SELECT count(*) FROM t"));
}

TEST_P(SqlBehaviour, DefaultAndRelativeStorePathsAreBesideTheDatabase) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a, b", "path='relative.store'"));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 2)");
  EXPECT_EQ("integer 1 | integer 2", Query(db, "SELECT a, b FROM t"));
  if (IsPersistent(engine())) {
    EXPECT_TRUE(std::filesystem::exists(StorePath("relative.store")));
    ASSERT_SQL_OK(db, "CREATE VIRTUAL TABLE d USING " + engine() + "(a, b)");
    ASSERT_SQL_OK(db, "INSERT INTO d VALUES (3, 4)");
    EXPECT_TRUE(std::filesystem::exists(DbPath("main.db." + engine())));
  }
}

TEST_P(SqlBehaviour, PersistentEngineOnInMemoryDatabaseNeedsAPath) {
  Connection db(":memory:");
  Outcome created = RunSql(db, "CREATE VIRTUAL TABLE t USING " + engine() + "(a, b)");
  if (IsPersistent(engine())) {
    EXPECT_NE(SQLITE_OK, created.rc) << created.ToString();
    EXPECT_SQL_OK(db, Create("t", "a, b", PathOption()));
  } else {
    EXPECT_EQ(SQLITE_OK, created.rc) << created.ToString();
  }
  EXPECT_SQL_OK(db, "INSERT INTO t VALUES (1, 2)");
  EXPECT_EQ("integer 1", Query(db, "SELECT count(*) FROM t"));
}

TEST_P(SqlBehaviour, AlterTableRenameKeepsTheData) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a TEXT PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES ('x', 1), ('y', 2)");
  ASSERT_SQL_OK(db, "ALTER TABLE t RENAME TO u");
  EXPECT_EQ("text 'x' | integer 1\ntext 'y' | integer 2",
            Query(db, "SELECT a, b FROM u ORDER BY a"));
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM t").rc);
  EXPECT_SQL_OK(db, "INSERT INTO u VALUES ('z', 3)");
  EXPECT_EQ("integer 3", Query(db, "SELECT count(*) FROM u"));
  // A new table may take the old name; it starts empty.
  EXPECT_SQL_OK(db, Create("t", "a TEXT PRIMARY KEY, b", PathOption()));
  EXPECT_EQ("integer 0", Query(db, "SELECT count(*) FROM t"));
  EXPECT_EQ("integer 3", Query(db, "SELECT count(*) FROM u"));
  if (IsPersistent(engine())) {
    db.Close();
    Connection reopened(DbPath());
    EXPECT_EQ("integer 3", Query(reopened, "SELECT count(*) FROM u"));
  }
}

TEST_P(SqlBehaviour, DropTableRemovesOnlyThatTable) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t1", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, Create("t2", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t1 VALUES (1, 'one'); INSERT INTO t2 VALUES (2, 'two')");
  ASSERT_SQL_OK(db, "DROP TABLE t1");
  EXPECT_EQ("integer 2 | text 'two'", Query(db, "SELECT a, b FROM t2"));
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM t1").rc);
  // The keyspace is gone: the same name starts empty, even with another declaration.
  ASSERT_SQL_OK(db, Create("t1", "k TEXT PRIMARY KEY, v", PathOption()));
  EXPECT_EQ("integer 0", Query(db, "SELECT count(*) FROM t1"));
  EXPECT_EQ("integer 1", Query(db, "SELECT count(*) FROM t2"));
}

TEST_P(SqlBehaviour, DropInARolledBackTransactionKeepsTheTable) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 'kept')");
  ASSERT_SQL_OK(db, "BEGIN; DROP TABLE t; ROLLBACK");
  EXPECT_EQ("integer 1 | text 'kept'", Query(db, "SELECT a, b FROM t"));
  EXPECT_SQL_OK(db, "INSERT INTO t VALUES (2, 'after')");
  EXPECT_EQ("integer 2", Query(db, "SELECT count(*) FROM t"));
  // Committed inside a transaction: gone, and a new table of that name is empty.
  ASSERT_SQL_OK(db, "BEGIN; DROP TABLE t; COMMIT");
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM t").rc);
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  EXPECT_EQ("integer 0", Query(db, "SELECT count(*) FROM t"));
}

TEST_P(SqlBehaviour, RenameInARolledBackTransactionKeepsTheName) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 'kept')");
  ASSERT_SQL_OK(db, "BEGIN; ALTER TABLE t RENAME TO u; INSERT INTO u VALUES (2, 'gone')");
  ASSERT_SQL_OK(db, "ROLLBACK");
  EXPECT_EQ("integer 1 | text 'kept'", Query(db, "SELECT a, b FROM t"));
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM u").rc);
  EXPECT_SQL_OK(db, "INSERT INTO t VALUES (3, 'after')");
  EXPECT_SQL_OK(db, "ALTER TABLE t RENAME TO u");
  EXPECT_EQ("integer 1\ninteger 3", Query(db, "SELECT a FROM u ORDER BY a"));
}

TEST_P(SqlBehaviour, CreateInARolledBackTransactionLeavesNoTable) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, "BEGIN");
  ASSERT_SQL_OK(db, Create("w", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO w VALUES (1, 'gone')");
  ASSERT_SQL_OK(db, "ROLLBACK");
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM w").rc);
  ASSERT_SQL_OK(db, Create("w", "a INTEGER PRIMARY KEY, b", PathOption()));
  EXPECT_EQ("integer 0", Query(db, "SELECT count(*) FROM w"));
}

TEST_P(SqlBehaviour, ReopeningAStoreWithAnotherDeclarationFails) {
  Connection first(DbPath("a.db"));
  ASSERT_SQL_OK(first, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(first, "INSERT INTO t VALUES (1, 'one')");
  Connection second(DbPath("b.db"));
  Outcome different = RunSql(second, Create("t", "x TEXT PRIMARY KEY, y", PathOption()));
  EXPECT_NE(SQLITE_OK, different.rc) << different.ToString();
  // The same declaration attaches to the existing data.
  ASSERT_SQL_OK(second, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  EXPECT_EQ("integer 1 | text 'one'", Query(second, "SELECT a, b FROM t"));
}

TEST_P(SqlBehaviour, MissingStoreIsAnErrorAndOtherTablesStillWork) {
  if (!IsPersistent(engine())) GTEST_SKIP() << engine() << " keeps no store on disk";
  {
    Connection db(DbPath());
    ASSERT_SQL_OK(db, Create("t", "a, b", PathOption("gone")));
    ASSERT_SQL_OK(db, Create("u", "a, b", PathOption("kept")));
    ASSERT_SQL_OK(db, "CREATE TABLE n(a, b)");
    ASSERT_SQL_OK(db,
                  "INSERT INTO t VALUES (1, 1); INSERT INTO u VALUES (2, 2); "
                  "INSERT INTO n VALUES (3, 3)");
  }
  std::filesystem::remove_all(StorePath("gone"));
  Connection db(DbPath());
  Outcome read = RunSql(db, "SELECT * FROM t");
  EXPECT_NE(SQLITE_OK, read.rc);
  EXPECT_NE(std::string::npos, read.message.find(engine())) << read.ToString();
  EXPECT_NE(SQLITE_OK, RunSql(db, "INSERT INTO t VALUES (4, 4)").rc);
  EXPECT_FALSE(std::filesystem::exists(StorePath("gone"))) << "using a table created a store";
  EXPECT_EQ("integer 2 | integer 2", Query(db, "SELECT a, b FROM u"));
  EXPECT_EQ("integer 3 | integer 3", Query(db, "SELECT a, b FROM n"));
  EXPECT_SQL_OK(db, "INSERT INTO n VALUES (5, 5)");
}

TEST_P(SqlBehaviour, CreateRefusesWhatItCannotHonourAndNamesIt) {
  struct Case {
    std::string arguments;
    std::string named;  // the message must contain this (case-insensitive)
  };
  const std::vector<Case> cases = {
      {"a, b, page_sise=1", "page_sise"},
      {"a, b, readonly=2", "readonly"},
      {"a, b, sync=fast", "sync"},
      {"a, b, compression=lz4", "compression"},
      {"a, b, engine=memory", "engine"},
      {"a CHECK(a > 0), b", "check"},
      {"a, b, CHECK(a < b)", "check"},
      {"a, b REFERENCES p(x)", "references"},
      {"a, b, FOREIGN KEY(b) REFERENCES p(x)", "foreign key"},
      {"a, b UNIQUE", "unique"},
      {"a, b, UNIQUE(b)", "unique"},
      {"a, b GENERATED ALWAYS AS (a + 1)", "generated"},
      {"a TEXT PRIMARY KEY COLLATE NOCASE, b", "nocase"},
      {"a, b DEFAULT 3", "default"},
      {"a INTEGER PRIMARY KEY AUTOINCREMENT, b", "autoincrement"},
  };
  Connection db(DbPath());
  for (const Case& c : cases) {
    std::string sql = Create("x", c.arguments, PathOption());
    Outcome created = RunSql(db, sql);
    EXPECT_NE(SQLITE_OK, created.rc) << sql;
    EXPECT_NE(std::string::npos, Lower(created.message).find(c.named))
        << sql << "\nmessage does not name '" << c.named << "': " << created.message;
    EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT * FROM x").rc) << "refused table exists: " << sql;
  }
  Outcome unknown = RunSql(db, "CREATE VIRTUAL TABLE x USING manifold(a, engine=nosuchengine)");
  EXPECT_NE(SQLITE_OK, unknown.rc);
  EXPECT_NE(std::string::npos, unknown.message.find("nosuchengine")) << unknown.ToString();
}

TEST_P(SqlBehaviour, ReadonlyTableRejectsEveryWriteWithReadonly) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 'one'), (2, 'two')");
  Connection reader_db;
  sqlite3* ro_db = db;
  if (IsPersistent(engine())) {
    // A fresh process-like view: the writer is gone, only the read-only table is open.
    db.Close();
    reader_db.Open(DbPath("readonly.db"));
    ro_db = reader_db;
  }
  ASSERT_SQL_OK(ro_db,
                Create("r", "a INTEGER PRIMARY KEY, b", PathOption() + ", table='t', readonly=1"));
  EXPECT_EQ("integer 1 | text 'one'\ninteger 2 | text 'two'",
            Query(ro_db, "SELECT a, b FROM r ORDER BY a"));
  for (const char* write : {"INSERT INTO r VALUES (3, 'three')", "UPDATE r SET b = 'x'",
                            "DELETE FROM r WHERE a = 1", "DELETE FROM r"}) {
    Outcome o = RunSql(ro_db, write);
    EXPECT_EQ(SQLITE_READONLY, o.rc) << write << "\n" << o.ToString();
  }
  EXPECT_EQ("integer 1 | text 'one'\ninteger 2 | text 'two'",
            Query(ro_db, "SELECT a, b FROM r ORDER BY a"));
}

TEST_P(SqlBehaviour, UntrustedSchemaCannotReachTablesFromViewsOrTriggers) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a, b", PathOption()));
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 2)");
  ASSERT_SQL_OK(db, "CREATE VIEW v AS SELECT a, b FROM t");
  ASSERT_SQL_OK(db, "CREATE TABLE n(x)");
  ASSERT_SQL_OK(db,
                "CREATE TRIGGER tr AFTER INSERT ON n BEGIN INSERT INTO t VALUES "
                "(new.x, new.x); END");
  EXPECT_EQ("integer 1 | integer 2", Query(db, "SELECT a, b FROM v"));
  EXPECT_SQL_OK(db, "INSERT INTO n VALUES (5)");
  EXPECT_EQ("integer 2", Query(db, "SELECT count(*) FROM t"));

  ASSERT_SQL_OK(db, "PRAGMA trusted_schema=OFF");
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT a, b FROM v").rc);
  EXPECT_NE(SQLITE_OK, RunSql(db, "INSERT INTO n VALUES (6)").rc);
  EXPECT_EQ("integer 2", Query(db, "SELECT count(*) FROM t"));
}

TEST_P(SqlBehaviour, StatsReportTheEngineKeyspaceAndRowCount) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, Create("c", "x, y", PathOption() + ", table='custom'"));
  for (int i = 0; i < 25; ++i) {
    ASSERT_SQL_OK(db, "INSERT INTO t VALUES (" + std::to_string(i) + ", 'row')");
  }
  const std::string stats =
      "SELECT json_valid(s), json_extract(s, '$.engine'), json_extract(s, '$.keyspace'), "
      "json_extract(s, '$.rows'), json_type(s, '$.path'), json_type(s, '$.bytes_on_disk'), "
      "json_type(s, '$.logical_bytes'), json_type(s, '$.stored_bytes') FROM (SELECT "
      "manifold_stats('t') AS s)";
  EXPECT_EQ("integer 1 | text '" + engine() +
                "' | text 't' | integer 25 | text 'text' | text 'integer' | text 'integer' | "
                "text 'integer'",
            Query(db, stats));
  ASSERT_SQL_OK(db, "DELETE FROM t WHERE a < 5");
  EXPECT_EQ("integer 20", Query(db, "SELECT json_extract(manifold_stats('t'), '$.rows')"));
  EXPECT_EQ("integer 20", Query(db, "SELECT json_extract(manifold_stats('T'), '$.rows')"));
  EXPECT_EQ("text 'custom' | integer 0",
            Query(db,
                  "SELECT json_extract(manifold_stats('c'), '$.keyspace'), "
                  "json_extract(manifold_stats('c'), '$.rows')"));
  EXPECT_NE(SQLITE_OK, RunSql(db, "SELECT manifold_stats('nosuchtable')").rc);
}

TEST_P(SqlBehaviour, CompactReportsBytesAndKeepsTheData) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db,
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199) "
                "INSERT INTO t SELECT i, randomblob(100) FROM n");
  ASSERT_SQL_OK(db, "DELETE FROM t WHERE a % 2 = 0");
  EXPECT_EQ("integer 1 | text 'integer' | text 'integer'",
            Query(db,
                  "SELECT json_valid(s), json_type(s, '$.bytes_before'), "
                  "json_type(s, '$.bytes_after') FROM (SELECT manifold_compact('t') AS s)"));
  EXPECT_EQ("integer 100 | integer 199", Query(db, "SELECT count(*), max(a) FROM t"));
}

TEST_P(SqlBehaviour, OrderByTheKeyNeedsNoSort) {
  Connection db(DbPath());
  ASSERT_SQL_OK(db, Create("t", "a INTEGER PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, Create("s", "a TEXT PRIMARY KEY, b", PathOption()));
  ASSERT_SQL_OK(db, Create("c", "a TEXT, b INT, v, PRIMARY KEY(a, b DESC)", PathOption()));
  auto plan = [&](const std::string& sql) { return Query(db, "EXPLAIN QUERY PLAN " + sql); };
  const std::string sort = "USE TEMP B-TREE FOR ORDER BY";
  for (const char* sql : {
           "SELECT * FROM t ORDER BY a",
           "SELECT * FROM t ORDER BY a DESC",
           "SELECT * FROM t WHERE a > 5 ORDER BY a DESC",
           "SELECT * FROM s ORDER BY a",
           "SELECT * FROM s ORDER BY a DESC",
           "SELECT * FROM s WHERE a BETWEEN 'b' AND 'd' ORDER BY a",
           "SELECT * FROM c ORDER BY a, b DESC",
           "SELECT * FROM c ORDER BY a DESC, b",
           "SELECT * FROM c ORDER BY a",
           "SELECT * FROM c WHERE a = 'x' ORDER BY b DESC",
       }) {
    EXPECT_EQ(std::string::npos, plan(sql).find(sort)) << sql << "\n" << plan(sql);
  }
  // The check can fail: a non-key order is sorted.
  EXPECT_NE(std::string::npos, plan("SELECT * FROM s ORDER BY b").find(sort));
}

TEST_P(SqlBehaviour, ManifoldModuleDefaultsToTheDefaultEngine) {
  Connection db(DbPath());
  ASSERT_SQL_OK(
      db, "CREATE VIRTUAL TABLE t USING manifold(a INTEGER PRIMARY KEY, b, " + PathOption() + ")");
  ASSERT_SQL_OK(db, "INSERT INTO t VALUES (1, 2)");
  std::string expected = std::string(DefaultEngineName());
  std::vector<std::string> available = RegisteredEngineNames();
  if (std::find(available.begin(), available.end(), expected) == available.end()) {
    expected = "lmdb";  // until the B+tree is part of the build
  }
  EXPECT_EQ("text '" + expected + "'",
            Query(db, "SELECT json_extract(manifold_stats('t'), '$.engine')"));
  ASSERT_SQL_OK(db, "CREATE VIRTUAL TABLE u USING manifold(a, engine=" + engine() + ", " +
                        PathOption("other") + ")");
  EXPECT_EQ("text '" + engine() + "'",
            Query(db, "SELECT json_extract(manifold_stats('u'), '$.engine')"));
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlBehaviour, ValuesIn(EnginesUnderTest()), EngineName());

TEST(SqlFunctions, ManifoldVersionIsTheLibraryVersion) {
  RegisterManifold();
  Connection db(":memory:");
  EXPECT_EQ("text '" + std::string(Version()) + "'", Query(db, "SELECT manifold_version()"));
}

TEST(SqlFunctions, ManifoldEnginesListsEveryRegisteredEngine) {
  RegisterManifold();
  Connection db(":memory:");
  std::string expected;
  for (const EngineInfo& info : RegisteredEngines()) {
    if (!expected.empty()) expected += "\n";
    expected += "text '" + info.name + "' | integer " +
                std::to_string(info.capabilities.persistent ? 1 : 0) + " | integer " +
                std::to_string(info.capabilities.multi_process ? 1 : 0) + " | integer " +
                std::to_string(info.available ? 1 : 0) + " | text 'text'";
  }
  EXPECT_EQ(expected, Query(db,
                            "SELECT name, persistent, multi_process, available, "
                            "typeof(library_version) FROM manifold_engines"));
  EXPECT_EQ(SQLITE_OK, RunSql(db, "SELECT compression FROM manifold_engines").rc);
}

TEST(SqlFunctions, UnavailableEnginesRefuseToCreateTables) {
  RegisterManifold();
  Connection db(":memory:");
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.available) continue;
    Outcome o = RunSql(db, "CREATE VIRTUAL TABLE t USING " + info.name + "(a, path='x')");
    EXPECT_NE(SQLITE_OK, o.rc) << info.name;
    EXPECT_NE(std::string::npos, o.message.find("not part of this build")) << o.ToString();
  }
}

}  // namespace
}  // namespace manifold::sqltest
