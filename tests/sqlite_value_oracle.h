// Real SQLite as the judge of single values, for the tests of manifold's own
// value handling (comparison, key encoding, affinity): binding a Value as a
// parameter, SQLite's comparison of two values, and a readable rendering.
#ifndef MANIFOLD_TESTS_SQLITE_VALUE_ORACLE_H_
#define MANIFOLD_TESTS_SQLITE_VALUE_ORACLE_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <string>

#include "value.h"

namespace manifold::testing {

// Binds `v` to parameter `index` of `stmt` with its own storage class.
inline void BindValue(sqlite3_stmt* stmt, int index, const ValueRef& v) {
  switch (v.type) {
    case ValueType::kNull:
      sqlite3_bind_null(stmt, index);
      break;
    case ValueType::kInteger:
      sqlite3_bind_int64(stmt, index, v.i);
      break;
    case ValueType::kReal:
      sqlite3_bind_double(stmt, index, v.r);
      break;
    case ValueType::kText:
      sqlite3_bind_text(stmt, index, v.bytes.data(), static_cast<int>(v.bytes.size()),
                        SQLITE_TRANSIENT);
      break;
    case ValueType::kBlob:
      sqlite3_bind_blob(stmt, index, v.bytes.data(), static_cast<int>(v.bytes.size()),
                        SQLITE_TRANSIENT);
      break;
  }
}

// -1, 0 or 1 as SQLite orders two values in ORDER BY (NULLs first, NULL IS
// NULL), asked of a real SQLite connection.
class SqliteComparator {
 public:
  SqliteComparator() {
    EXPECT_EQ(SQLITE_OK, sqlite3_open(":memory:", &db_));
    EXPECT_EQ(SQLITE_OK,
              sqlite3_prepare_v2(db_,
                                 "SELECT CASE WHEN ?1 IS ?2 THEN 0 WHEN ?1 IS NULL THEN -1 "
                                 "WHEN ?2 IS NULL THEN 1 WHEN ?1 < ?2 THEN -1 ELSE 1 END",
                                 -1, &stmt_, nullptr));
  }
  ~SqliteComparator() {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }
  SqliteComparator(const SqliteComparator&) = delete;
  SqliteComparator& operator=(const SqliteComparator&) = delete;

  int Compare(const ValueRef& a, const ValueRef& b) {
    sqlite3_reset(stmt_);
    BindValue(stmt_, 1, a);
    BindValue(stmt_, 2, b);
    EXPECT_EQ(SQLITE_ROW, sqlite3_step(stmt_));
    return sqlite3_column_int(stmt_, 0);
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

inline int SignOf(int c) { return c < 0 ? -1 : (c > 0 ? 1 : 0); }

// Lower-case hex of `bytes`.
inline std::string Hex(std::string_view bytes) {
  std::string s;
  char buf[4];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof(buf), "%02x", c);
    s += buf;
  }
  return s;
}

// "INTEGER 3", "REAL 1.5", "TEXT x'61'", "BLOB x''", "NULL": exact enough to
// repeat a failing case.
inline std::string Describe(const ValueRef& v) {
  char buf[64];
  switch (v.type) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return "INTEGER " + std::to_string(v.i);
    case ValueType::kReal:
      std::snprintf(buf, sizeof(buf), "REAL %.17g", v.r);
      return buf;
    case ValueType::kText:
    case ValueType::kBlob:
      return std::string(TypeName(v.type)) + " x'" + Hex(v.bytes) + "'";
  }
  return "?";
}

}  // namespace manifold::testing

#endif  // MANIFOLD_TESTS_SQLITE_VALUE_ORACLE_H_
