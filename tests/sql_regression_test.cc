// Regression tests: statement sequences that the randomized differential test
// (sql_random_test) once found to differ from a native table, shrunk to the
// fewest statements that still showed it. Each runs on every engine against a
// native table with the same declaration (tests/sql_oracle.h), and compares the
// table's contents after every statement that writes or rolls back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sql_oracle.h"

namespace manifold::sqltest {
namespace {

using ::testing::ValuesIn;

class SqlRegression : public ::testing::TestWithParam<std::string> {
 protected:
  SqlRegression() : o_(GetParam()) {}

  // Checks each statement in turn and, after each one that may change `t`,
  // the contents of `t`; stops at the first difference.
  ::testing::AssertionResult CheckSequence(const std::vector<std::string>& statements) {
    for (const std::string& sql : statements) {
      ::testing::AssertionResult same = o_.Check(sql);
      if (same && IsWrite(sql)) same = o_.CheckContents("t");
      if (!same) return same << "\nstatements so far:\n" << o_.log();
    }
    return o_.CheckContents("t");
  }

  static bool IsWrite(const std::string& sql) {
    for (const char* verb : {"INSERT", "UPDATE", "DELETE", "ROLLBACK", "COMMIT", "RELEASE"}) {
      if (sql.rfind(verb, 0) == 0) return true;
    }
    return false;
  }

  SqlOracle o_;
};

// A multi-row INSERT runs in a statement savepoint; the table joins the
// transaction inside it, and SQLite marks for the joining table only that
// statement level, which it releases when the statement ends. A savepoint made
// after that (s2) must not stand in for one made before the join (s1):
// ROLLBACK TO s1 undoes the whole INSERT.
TEST_P(SqlRegression, RollbackToASavepointOlderThanTheJoinUndoesAMultiRowInsert) {
  ASSERT_TRUE(o_.CreateTable("t", "c0 INTEGER, c1 INTEGER, c2 TEXT, PRIMARY KEY(c1 DESC, c0)"));
  EXPECT_TRUE(CheckSequence({
      "BEGIN",
      "SAVEPOINT s1",
      "INSERT INTO t(c0, c1, c2) VALUES (2, '2.5', 0), (2.5, -9e999, -7)",
      "SAVEPOINT s2",
      "ROLLBACK TO s1",
      "INSERT INTO t(c0, c1, c2) VALUES (1, 1, 'kept'), (3, 3, 'kept')",
      "SAVEPOINT s2",
      "ROLLBACK TO s1",
      "COMMIT",
  }));
}

// The same on a rowid table, with savepoints that began the transaction, a
// later savepoint over further writes, and a second ROLLBACK TO the same one.
TEST_P(SqlRegression, RollbackToTheSavepointThatBeganTheTransactionAfterALaterOne) {
  ASSERT_TRUE(o_.CreateTable("t", "a, b"));
  EXPECT_TRUE(CheckSequence({
      "INSERT INTO t VALUES (0, 'committed')",
      "SAVEPOINT s1",
      "SAVEPOINT s2",
      "INSERT INTO t VALUES (1, 'x'), (2, 'y')",
      "SAVEPOINT s3",
      "INSERT INTO t VALUES (3, 'z')",
      "ROLLBACK TO s2",
      "INSERT INTO t VALUES (4, 'w'), (5, 'v')",
      "SAVEPOINT s3",
      "ROLLBACK TO s1",
      "INSERT INTO t VALUES (6, 'u'), (7, 't')",
      "SAVEPOINT s2",
      "ROLLBACK TO s1",
      "RELEASE s1",
  }));
}

// A table created inside the transaction joins it at its first write, after
// SQLite has sent it the savepoints open then: ROLLBACK TO one of those undoes
// every write the table made.
TEST_P(SqlRegression, RollbackToASavepointMadeBeforeATableCreatedInTheTransactionWrote) {
  ASSERT_TRUE(o_.Both("BEGIN"));
  ASSERT_TRUE(o_.CreateTable("t", "k TEXT PRIMARY KEY, v"));
  EXPECT_TRUE(CheckSequence({
      "SAVEPOINT s1",
      "INSERT INTO t VALUES ('a', 1), ('b', 2)",
      "SAVEPOINT s2",
      "INSERT INTO t VALUES ('c', 3)",
      "ROLLBACK TO s1",
      "COMMIT",
  }));
}

// SQLite calls xFilter once per value of an IN on a key column that the table
// does not take all at once, in ascending value order; a native table visits
// the rows in key order, which on a DESC column is the other way round. An
// UPDATE OR IGNORE or OR FAIL that moves two rows onto one key keeps the one
// it visits first, so the rows must come in key order.
TEST_P(SqlRegression, UpdateOrIgnoreThroughAnInOnADescKeyColumnVisitsRowsInKeyOrder) {
  ASSERT_TRUE(o_.CreateTable("t", "c0, c1 REAL, PRIMARY KEY(c1 DESC, c0)"));
  EXPECT_TRUE(CheckSequence({
      "INSERT INTO t(c0, c1) VALUES (x'01', '2'), (x'6162', 'A'), (3, 5)",
      "UPDATE OR IGNORE t SET c0 = 9223372036854775807, c1 = 1 "
      "WHERE c1 IN ('A', CAST(x'610062' AS TEXT), '2')",
      "UPDATE OR FAIL t SET c0 = 7, c1 = 0 WHERE c1 IN (5, 1, 'A')",
      "SELECT typeof(c0), c0, typeof(c1), c1 FROM t WHERE c1 IN (0, 1, 2, 5, 'A') "
      "ORDER BY c1 DESC, c0",
  }));
}

// The same with the IN on the DESC middle column of a composite key, after an
// equality on the first.
TEST_P(SqlRegression, UpdateOrFailThroughAnInOnADescMiddleKeyColumnVisitsRowsInKeyOrder) {
  ASSERT_TRUE(o_.CreateTable("t", "a INT, b TEXT, c INT, PRIMARY KEY(a, b DESC, c)"));
  EXPECT_TRUE(CheckSequence({
      "INSERT INTO t VALUES (1, 'x', 1), (1, 'y', 1), (1, 'z', 1), (2, 'y', 1)",
      "UPDATE OR FAIL t SET b = 'w' WHERE a = 1 AND b IN ('x', 'y', 'z')",
      "UPDATE OR IGNORE t SET b = 'v', c = 2 WHERE a = 1 AND b IN ('x', 'y', 'z', 'w')",
      "DELETE FROM t WHERE a = 1 AND b IN ('v', 'w') AND c > 0",
  }));
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlRegression, ValuesIn(EnginesUnderTest()), EngineName());

}  // namespace
}  // namespace manifold::sqltest
