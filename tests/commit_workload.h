// The workload of the crash and disk-full tests: numbered SQL transactions
// on one manifold table, and the check of what a reopened database holds.
//
// Transaction n writes rows with ids n*8 .. n*8+k-1 (k = 1..3, from a hash of
// n), each with txn = n and v = n, adds k*n to the sum row (id 0), and, by the
// same hash, may put its rows inside a released savepoint, insert id n*8+7
// inside a savepoint it rolls back (that row must never appear), or rewrite
// the padding of the previous transaction's first row. Padding is random
// bytes, sometimes several KiB (overflow pages, bigger WAL records). With a
// window w > 0, transaction n > w also deletes the rows of transaction n - w
// and takes them out of the sum, so the table keeps the last w transactions
// and a long run stays small; with w = 0 it keeps every transaction.
#ifndef MANIFOLD_TESTS_COMMIT_WORKLOAD_H_
#define MANIFOLD_TESTS_COMMIT_WORKLOAD_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sql_oracle.h"

namespace manifold::sqltest {

// The engines that keep data across processes (every one but memory).
inline std::vector<std::string> PersistentEngines() {
  std::vector<std::string> out;
  for (const std::string& name : RegisteredEngineNames()) {
    if (IsPersistent(name)) out.push_back(name);
  }
  return out;
}

inline uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// What transaction n does, derived from n alone so the parent can check it.
struct TxnShape {
  int rows;            // ids n*8 .. n*8+rows-1
  int kind;            // 0 plain, 1 rolled-back savepoint, 2 released savepoint, 3 rewrite previous
  int pad_bytes;       // padding of each row
};

inline TxnShape ShapeOf(int64_t n, int min_pad = 0) {
  uint64_t h = Mix(static_cast<uint64_t>(n));
  TxnShape s;
  s.rows = 1 + static_cast<int>(h % 3);
  s.kind = static_cast<int>((h >> 8) % 4);
  s.pad_bytes = (h >> 16) % 8 == 0 ? 3000 + static_cast<int>((h >> 24) % 6000)
                                   : 10 + static_cast<int>((h >> 24) % 200);
  s.pad_bytes += min_pad;
  return s;
}

// The SQL of transaction n; every row has at least `min_pad` bytes of
// padding; `window` as above.
inline std::string TxnSql(int64_t n, int min_pad, int64_t window) {
  TxnShape s = ShapeOf(n, min_pad);
  std::string ns = std::to_string(n);
  std::string rows;
  for (int i = 0; i < s.rows; ++i) {
    rows += "INSERT INTO t VALUES (" + std::to_string(n * 8 + i) + ", " + ns + ", " + ns +
            ", randomblob(" + std::to_string(s.pad_bytes) + "));";
  }
  std::string sql = "BEGIN;";
  int64_t delta = s.rows * n;
  if (window > 0 && n > window) {
    const int64_t old = n - window;
    sql += "DELETE FROM t WHERE id BETWEEN " + std::to_string(old * 8) + " AND " +
           std::to_string(old * 8 + 7) + ";";
    delta -= ShapeOf(old).rows * old;
  }
  switch (s.kind) {
    case 1:
      sql += rows + "SAVEPOINT a; INSERT INTO t VALUES (" + std::to_string(n * 8 + 7) + ", " + ns +
             ", 1000000, randomblob(100)); UPDATE t SET v = v + 1000000 WHERE id = 0;"
             " ROLLBACK TO a; RELEASE a;";
      break;
    case 2:
      sql += "SAVEPOINT a;" + rows + "RELEASE a;";
      break;
    case 3:
      sql += rows + "UPDATE t SET pad = randomblob(" + std::to_string(s.pad_bytes) +
             ") WHERE id = " + std::to_string((n - 1) * 8) + ";";
      break;
    default:
      sql += rows;
  }
  sql += "UPDATE t SET v = v + " + std::to_string(delta) + " WHERE id = 0; COMMIT;";
  return sql;
}

// The table of the workload, with its sum row, in a fresh database
// `dir`/main.db, on `engine` with the store at `dir`/store.
inline void CreateWorkloadTable(const std::string& dir, const std::string& engine) {
  Connection db(dir + "/main.db");
  Outcome created = RunSql(db, "CREATE VIRTUAL TABLE t USING " + engine +
                                   "(id INTEGER PRIMARY KEY, txn INTEGER, v INTEGER, pad BLOB,"
                                   " path='" + dir + "/store', sync=full);"
                                   " INSERT INTO t VALUES (0, 0, 0, NULL)");
  ASSERT_EQ(SQLITE_OK, created.rc) << created.ToString();
}

// Checks the database `dir`/main.db after a crash or a failure and returns
// the highest transaction present (0 for none). `acknowledged` are the
// transactions that must have committed (acknowledged, or found by an
// earlier check), `in_flight` the one that may or may not have landed.
// Transactions commit in order, so the table must hold exactly the window
// of transactions that ends with the highest one, each whole. Failures are
// reported with `round`.
inline int64_t CheckState(const std::string& dir, const std::set<int64_t>& acknowledged,
                          int64_t in_flight, int64_t window, int round) {
  SCOPED_TRACE("round " + std::to_string(round));
  Connection db(dir + "/main.db");
  if (db.db() == nullptr) return -1;
  std::map<int64_t, std::vector<int64_t>> ids_of;  // transaction -> ids
  int64_t sum = 0, sum_row = -1;
  size_t rows = 0;
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(SQLITE_OK,
            sqlite3_prepare_v2(db, "SELECT id, txn, v FROM t ORDER BY id", -1, &stmt, nullptr))
      << sqlite3_errmsg(db);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(stmt, 0), txn = sqlite3_column_int64(stmt, 1),
            v = sqlite3_column_int64(stmt, 2);
    ++rows;
    if (id == 0) {
      sum_row = v;
      continue;
    }
    EXPECT_EQ(id / 8, txn) << "row " << id;
    EXPECT_EQ(txn, v) << "row " << id;
    sum += v;
    ids_of[txn].push_back(id);
  }
  EXPECT_EQ(SQLITE_DONE, rc) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);

  EXPECT_EQ(sum, sum_row) << "the sum row does not match the rows present: a transaction in part";
  for (const auto& [txn, ids] : ids_of) {
    TxnShape s = ShapeOf(txn);
    std::vector<int64_t> expected;
    for (int i = 0; i < s.rows; ++i) expected.push_back(txn * 8 + i);
    EXPECT_EQ(expected, ids) << "transaction " << txn << " is there in part";
  }
  int64_t highest = ids_of.empty() ? 0 : ids_of.rbegin()->first;
  if (!acknowledged.empty()) {
    EXPECT_GE(highest, *acknowledged.rbegin())
        << "transaction " << *acknowledged.rbegin() << " is missing (it was acknowledged,"
        << " or found by an earlier check)";
  }
  EXPECT_LE(highest, in_flight) << "a transaction past the one in flight is there";
  std::vector<int64_t> expected_txns, present;
  const int64_t lowest = window > 0 ? std::max<int64_t>(1, highest - window + 1) : 1;
  for (int64_t txn = lowest; txn <= highest; ++txn) {
    expected_txns.push_back(txn);
  }
  for (const auto& entry : ids_of) present.push_back(entry.first);
  EXPECT_EQ(expected_txns, present) << "the transactions present are not " << lowest << " to "
                                    << highest;

  // The same answers through other access paths: count, sum, point lookups.
  EXPECT_EQ(static_cast<long long>(rows), QueryInt(db, "SELECT count(*) FROM t"));
  EXPECT_EQ(sum, QueryInt(db, "SELECT coalesce(sum(v), 0) FROM t WHERE id > 0"));
  if (highest > 0) {
    EXPECT_EQ(ShapeOf(highest).rows,
              QueryInt(db, "SELECT count(*) FROM t WHERE id BETWEEN " +
                               std::to_string(highest * 8) + " AND " +
                               std::to_string(highest * 8 + 7)));
    EXPECT_EQ(highest, QueryInt(db, "SELECT txn FROM t WHERE id = " + std::to_string(highest * 8)));
  }
  EXPECT_EQ(0, QueryInt(db, "SELECT count(*) FROM t WHERE id % 8 = 7"));
  std::string check = Query(db, "SELECT manifold_check('t')");
  EXPECT_NE(std::string::npos, check.find("\"ok\":true")) << check;
  EXPECT_EQ(static_cast<long long>(rows),
            QueryInt(db, "SELECT json_extract(manifold_check('t'), '$.rows')"));
  return highest;
}

}  // namespace manifold::sqltest

#endif  // MANIFOLD_TESTS_COMMIT_WORKLOAD_H_
