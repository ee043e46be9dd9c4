// manifold_export('t', 'native') against the native oracle: the same rows
// written to a manifold table and to a native table declared the same way
// must come out of the exported table exactly as out of the native one (every
// value with its typeof(), every rowid), with the same declaration (columns,
// types, NOT NULL, collations, key and its order, WITHOUT ROWID), on every
// engine this build has.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "manifold/registry.h"
#include "sql_oracle.h"

namespace manifold {
namespace {

using sqltest::Outcome;
using sqltest::RunSql;

// Returns `sql` with every "%T" replaced by `table`.
std::string ForTable(std::string_view sql, std::string_view table) {
  std::string out;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '%' && i + 1 < sql.size() && sql[i + 1] == 'T') {
      out += table;
      ++i;
    } else {
      out += sql[i];
    }
  }
  return out;
}

// One table shape: its column definitions, how a native table with the same
// behaviour is declared, the rows written to it, and how its rows are listed.
struct Shape {
  const char* name;
  const char* columns;         // CREATE TABLE's column list, as given to the module
  const char* native_suffix;   // "" or " WITHOUT ROWID" for the native oracle
  const char* writes;          // statements on table %T
  const char* select_columns;  // what to list (the rowid too where it is kept)
  const char* order_by;        // a total order of the rows
};

// The values cover every storage class, affinity conversions on the way in,
// integral reals, -0.0, big integers, empty text and blobs, and NULLs; the
// deletes leave rowid gaps that an export must keep.
const Shape kShapes[] = {
    {"Rowid",
     R"(a INTEGER, b TEXT, c REAL, d NUMERIC, e BLOB, f, "odd ""name"" col" VARCHAR(10) COLLATE NOCASE NOT NULL)",
     "",
     R"(INSERT INTO %T VALUES (1, 'one', 1.5, '10', x'01', NULL, 'x');
        INSERT INTO %T VALUES ('2', 2, '3', '1e3', 'text', 2.0, 'Y');
        INSERT INTO %T VALUES (9223372036854775807, NULL, -0.0, '3.0', NULL, x'', '');
        INSERT INTO %T VALUES (-5, 'five', 4, 'abc', 5, '5', 'z');
        INSERT INTO %T(rowid, a, "odd ""name"" col") VALUES (1000, 1000, 'far');
        INSERT INTO %T VALUES (6.0, '', 1e300, 0.5, 6.5, -7, 'last');
        DELETE FROM %T WHERE a = -5;
        INSERT INTO %T VALUES (7, 'after gap', NULL, NULL, NULL, NULL, 'w');)",
     "rowid, *", "rowid"},
    {"IntegerPrimaryKey",
     "id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, tag",
     "",
     R"(INSERT INTO %T VALUES (10, 'ten', 10, 'a');
        INSERT INTO %T VALUES (-3, 'minus three', '2.5', 3);
        INSERT INTO %T VALUES (NULL, 'assigned', NULL, x'ff00');
        INSERT INTO %T VALUES ('42', 42, 42.25, 42.0);
        INSERT INTO %T(name) VALUES ('next');
        DELETE FROM %T WHERE id = 10;)",
     "rowid, *", "id"},
    {"TextKey",
     "k TEXT PRIMARY KEY, v, n NUMERIC NOT NULL",
     " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES ('b', 1, 1);
        INSERT INTO %T VALUES ('a', 'one', '2');
        INSERT INTO %T VALUES (3, 3.5, '4.0');
        INSERT INTO %T VALUES ('', x'00', 'text');
        INSERT INTO %T VALUES ('Z', NULL, -1.5);)",
     "*", "k"},
    {"CompositeKey",
     "a INTEGER, b TEXT, c BLOB, d REAL NOT NULL, PRIMARY KEY(a, b)",
     " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES (1, 'x', x'01', 1);
        INSERT INTO %T VALUES (1, 'w', NULL, '2');
        INSERT INTO %T VALUES ('2', 2, 'blob?', 2.5);
        INSERT INTO %T VALUES (1.0, 'y', 3, -0.0);
        INSERT INTO %T VALUES (-1, '', x'', 1e-300);
        DELETE FROM %T WHERE a = 1 AND b = 'x';)",
     "*", "a, b"},
    {"DescKeys",
     "a INTEGER, b TEXT, v, PRIMARY KEY(a DESC, b ASC)",
     " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES (1, 'p', 1);
        INSERT INTO %T VALUES (2, 'p', '2');
        INSERT INTO %T VALUES (2, 'a', 2.0);
        INSERT INTO %T VALUES (-7, 'q', NULL);
        INSERT INTO %T VALUES ('3', 3, x'33');)",
     "*", "a DESC, b"},
    {"SingleDescKey",
     "k REAL PRIMARY KEY DESC, v TEXT",
     " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES (1, 'one');
        INSERT INTO %T VALUES (2.5, 2.5);
        INSERT INTO %T VALUES ('-4', 'minus four');
        INSERT INTO %T VALUES (1e10, NULL);)",
     "*", "k DESC"},
    {"IntegerPrimaryKeyDesc",  // not a rowid alias: a WITHOUT ROWID key
     "id INTEGER PRIMARY KEY DESC, v",
     " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES (5, 'five');
        INSERT INTO %T VALUES ('6', 6.0);
        INSERT INTO %T VALUES (-1, NULL);)",
     "*", "id DESC"},
};

// What SQLite knows of a table's declaration, in a comparable form.
std::string DescribeTable(sqlite3* db, const std::string& table) {
  std::string out;
  Outcome columns = RunSql(
      db, "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('" + table + "')");
  Outcome list = RunSql(db, "SELECT type, ncol, wr, strict FROM pragma_table_list('" + table + "')");
  // The key's index (WITHOUT ROWID tables): its columns, order and collations.
  Outcome key = RunSql(db,
                       "SELECT x.seqno, x.name, x.desc, x.coll, x.key FROM pragma_index_list('" +
                           table + "') AS l, pragma_index_xinfo(l.name) AS x WHERE l.origin = 'pk'");
  // Collations of the other columns, as the schema states them.
  Outcome sql = RunSql(db, "SELECT instr(sql, 'COLLATE NOCASE') > 0 FROM sqlite_schema WHERE name = '" +
                               table + "'");
  return "columns:\n" + columns.ToString() + "table:\n" + list.ToString() + "key:\n" +
         key.ToString() + "nocase:\n" + sql.ToString();
}

class ExportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    sqltest::RegisterManifold();
    ASSERT_TRUE(db_.Open(dir_.path() + "/export.db"));
  }

  // Runs `sql`, failing the test with SQLite's message if it fails.
  Outcome Run(const std::string& sql) {
    Outcome outcome = RunSql(db_, sql);
    EXPECT_EQ(outcome.rc, SQLITE_OK) << sql << "\n" << outcome.ToString();
    return outcome;
  }

  // Creates manifold table `t<suffix>` and native table `oracle<suffix>` of
  // `shape`, with the same rows.
  void CreateBoth(const Shape& shape, const std::string& suffix = "") {
    Run("CREATE VIRTUAL TABLE t" + suffix + " USING manifold(engine=" + GetParam() + ", " +
        shape.columns + ")");
    Run("CREATE TABLE oracle" + suffix + "(" + shape.columns + ")" + shape.native_suffix);
    Run(ForTable(shape.writes, "t" + suffix));
    Run(ForTable(shape.writes, "oracle" + suffix));
  }

  std::string Rows(const Shape& shape, const std::string& table) {
    return Run(std::string("SELECT ") + shape.select_columns + " FROM \"" + table +
               "\" ORDER BY " + shape.order_by)
        .ToString();
  }

  sqltest::TempDir dir_;
  sqltest::Connection db_;
};

TEST_P(ExportTest, ExportedTableHasTheNativeDeclarationAndEveryRowAndRowid) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(shape.name);
    const std::string suffix = std::string("_") + shape.name;
    CreateBoth(shape, suffix);
    Outcome count = Run("SELECT count(*) FROM oracle" + suffix);
    Outcome exported = Run("SELECT manifold_export('t" + suffix + "', 'exported" + suffix + "')");
    ASSERT_EQ(exported.rows.size(), 1u);
    EXPECT_EQ(exported.rows[0], count.rows[0]) << "manifold_export returns the rows copied";
    EXPECT_EQ(DescribeTable(db_, "exported" + suffix), DescribeTable(db_, "oracle" + suffix));
    std::string oracle_rows = Rows(shape, "oracle" + suffix);
    EXPECT_EQ(Rows(shape, "exported" + suffix), oracle_rows);
    // The source is untouched.
    EXPECT_EQ(Rows(shape, "t" + suffix), oracle_rows);
  }
}

TEST_P(ExportTest, ExportedTableBehavesAsTheNativeOneAfterwards) {
  // Later writes see the same keys, rowids and affinities as the oracle's.
  const Shape& shape = kShapes[0];
  CreateBoth(shape);
  Run("SELECT manifold_export('t', 'exported')");
  const char* more = R"(INSERT INTO %T VALUES ('8', 8, '8', '8', '8', '8', '8');
                        INSERT INTO %T(a, "odd ""name"" col") VALUES (NULL, 'q');)";
  Run(ForTable(more, "exported"));
  Run(ForTable(more, "oracle"));
  EXPECT_EQ(Rows(shape, "exported"), Rows(shape, "oracle"));
}

TEST_P(ExportTest, ExportedTableIsReadableWithoutManifold) {
  CreateBoth(kShapes[3]);
  Run("SELECT manifold_export('t', 'exported')");
  std::string expected = Rows(kShapes[3], "oracle");
  db_.Close();

  // A connection that has not loaded manifold: the exported table is plain
  // SQLite, the manifold table is not.
  sqlite3_reset_auto_extension();
  sqltest::Connection plain;
  ASSERT_TRUE(plain.Open(dir_.path() + "/export.db"));
  Outcome rows = RunSql(plain, "SELECT * FROM exported ORDER BY a, b");
  EXPECT_EQ(rows.ToString(), expected);
  Outcome manifold_table = RunSql(plain, "SELECT * FROM t");
  EXPECT_EQ(manifold_table.rc, SQLITE_ERROR);
  EXPECT_EQ(manifold_table.message, "no such module: manifold");
  plain.Close();
  sqltest::RegisterManifold();
}

TEST_P(ExportTest, ExistingNativeNameIsAnErrorAndChangesNothing) {
  CreateBoth(kShapes[2]);
  Run("CREATE TABLE taken(x)");
  Outcome outcome = RunSql(db_, "SELECT manifold_export('t', 'taken')");
  EXPECT_EQ(outcome.rc, SQLITE_ERROR);
  EXPECT_EQ(outcome.message, "manifold_export: table \"taken\" already exists");
  EXPECT_EQ(Run("SELECT count(*) FROM taken").rows[0], "integer 0");
  // Its own name is taken too.
  outcome = RunSql(db_, "SELECT manifold_export('t', 't')");
  EXPECT_EQ(outcome.rc, SQLITE_ERROR);
  EXPECT_EQ(outcome.message, "manifold_export: table \"t\" already exists");
}

TEST_P(ExportTest, ExportInsideATransactionRollsBackWithIt) {
  CreateBoth(kShapes[1]);
  Run("BEGIN");
  Outcome exported = Run("SELECT manifold_export('t', 'exported')");
  EXPECT_EQ(exported.rows, std::vector<std::string>{"integer 4"});
  EXPECT_EQ(Rows(kShapes[1], "exported"), Rows(kShapes[1], "oracle"));
  Run("ROLLBACK");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name = 'exported'").rows[0],
            "integer 0");
  // And commits with it.
  Run("BEGIN; SELECT manifold_export('t', 'exported'); COMMIT");
  EXPECT_EQ(Rows(kShapes[1], "exported"), Rows(kShapes[1], "oracle"));
}

TEST_P(ExportTest, UnknownTablesAndNullNamesAreErrors) {
  CreateBoth(kShapes[0]);
  Outcome outcome = RunSql(db_, "SELECT manifold_export('oracle', 'copy')");
  EXPECT_EQ(outcome.rc, SQLITE_CANTOPEN);
  EXPECT_EQ(outcome.message, "manifold_export: no manifold table named 'oracle'");
  outcome = RunSql(db_, "SELECT manifold_export('nothing', 'copy')");
  EXPECT_EQ(outcome.message, "manifold_export: no manifold table named 'nothing'");
  outcome = RunSql(db_, "SELECT manifold_export(NULL, 'copy')");
  EXPECT_EQ(outcome.message, "manifold_export: expects a manifold table name, not NULL");
  outcome = RunSql(db_, "SELECT manifold_export('t', NULL)");
  EXPECT_EQ(outcome.message, "manifold_export: expects a name for the native table, not NULL");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name = 'copy'").rows[0], "integer 0");
}

TEST_P(ExportTest, RawViewExportsAsKeyValueBlobs) {
  Run("CREATE VIRTUAL TABLE t USING manifold(engine=" + GetParam() + ")");
  Run("INSERT INTO t VALUES (x'02', x'beef'), (x'01', x'')");
  Run("CREATE TABLE oracle(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID");
  Run("INSERT INTO oracle VALUES (x'02', x'beef'), (x'01', x'')");
  Run("SELECT manifold_export('t', 'exported')");
  EXPECT_EQ(DescribeTable(db_, "exported"), DescribeTable(db_, "oracle"));
  EXPECT_EQ(Run("SELECT * FROM exported ORDER BY key").ToString(),
            Run("SELECT * FROM oracle ORDER BY key").ToString());
}

INSTANTIATE_TEST_SUITE_P(Engines, ExportTest,
                         ::testing::ValuesIn(RegisteredEngineNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace manifold
