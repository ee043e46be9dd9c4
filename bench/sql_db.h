// A SQLite connection for the SQL benchmarks: every failure ends the run
// with a message (harness.h's Fail), so the timed loops stay free of checks.
#ifndef MANIFOLD_BENCH_SQL_DB_H_
#define MANIFOLD_BENCH_SQL_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "harness.h"

namespace manifold::bench {

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) Fail("open " + path);
  }
  ~Db() { sqlite3_close_v2(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::string message = error ? error : "?";
      sqlite3_free(error);
      Fail(sql + ": " + message);
    }
  }

  // Returns a statement prepared for reuse; the caller finalizes it.
  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
        SQLITE_OK) {
      Fail(sql + ": " + sqlite3_errmsg(db_));
    }
    return stmt;
  }

  // Steps `stmt` once, expecting SQLITE_DONE, and resets it.
  void Run(sqlite3_stmt* stmt) {
    if (sqlite3_step(stmt) != SQLITE_DONE) Fail(std::string("step: ") + sqlite3_errmsg(db_));
    sqlite3_reset(stmt);
  }

  // Steps `stmt` to the end and resets it; returns the number of rows.
  int64_t Drain(sqlite3_stmt* stmt) {
    int64_t rows = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) ++rows;
    if (rc != SQLITE_DONE) Fail(std::string("step: ") + sqlite3_errmsg(db_));
    sqlite3_reset(stmt);
    return rows;
  }

  std::string ErrorMessage() const { return sqlite3_errmsg(db_); }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace manifold::bench

#endif  // MANIFOLD_BENCH_SQL_DB_H_
