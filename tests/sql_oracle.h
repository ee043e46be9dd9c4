// SqlOracle: runs the same SQL on a native SQLite table and on a manifold
// table with the same declaration, and says where the answers differ.
//
// Two connections, each on its own database file in a fresh temporary
// directory: `native` holds ordinary SQLite tables (a rowid table for no
// PRIMARY KEY or an INTEGER PRIMARY KEY alias, a WITHOUT ROWID table for any
// other key), `manifold` holds the virtual tables. Both name their tables the
// same, so the same statement text runs on both and constraint messages
// ("UNIQUE constraint failed: t.a") can be compared word for word. Two
// connections rather than one with an attached database keep transactions
// apart: `INSERT OR ROLLBACK` on one side must not roll back the other.
//
// A statement's outcome is compared as: the primary result code, the error
// message when the native side failed, every result row with typeof() and the
// exact value of each column, and sqlite3_changes() after a successful
// statement. Rows are compared in order when the statement has an ORDER BY
// (the caller makes the order total) and as sorted multisets otherwise.
//
// Environment: MANIFOLD_ORACLE_SELFTEST=1 makes the "manifold" side native
// too, which checks the test cases themselves against SQLite.
//
// Header-only test helper; not thread-safe (one oracle per test).
#ifndef MANIFOLD_TESTS_SQL_ORACLE_H_
#define MANIFOLD_TESTS_SQL_ORACLE_H_

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/registry.h"

extern "C" int sqlite3_manifold_init(sqlite3* db, char** pzErrMsg,
                                     const sqlite3_api_routines* pApi);

namespace manifold::sqltest {

// Registers the manifold modules for every connection opened afterwards.
// Idempotent (SQLite ignores a second registration of the same function).
inline void RegisterManifold() {
  sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));
}

// True when MANIFOLD_ORACLE_SELFTEST=1: both sides are native tables.
inline bool SelfTest() {
  const char* v = std::getenv("MANIFOLD_ORACLE_SELFTEST");
  return v != nullptr && std::string_view(v) == "1";
}

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/manifold-sqltest-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
      return;
    }
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An open connection, closed by the destructor.
class Connection {
 public:
  Connection() = default;
  explicit Connection(const std::string& filename) { Open(filename); }
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens `filename` (":memory:" or a file); on failure db() stays null.
  bool Open(const std::string& filename) {
    Close();
    int rc = sqlite3_open_v2(filename.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << filename << ": "
                    << (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
      Close();
      return false;
    }
    sqlite3_extended_result_codes(db_, 0);
    return true;
  }
  void Close() {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
  }
  sqlite3* db() const { return db_; }
  operator sqlite3*() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

// Renders one column value as "<typeof> <exact value>", so that 1 and 1.0,
// '1' and x'31', 0.0 and -0.0 all differ.
inline std::string FormatColumn(sqlite3_stmt* stmt, int i) {
  char buf[64];
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      return "null";
    case SQLITE_INTEGER:
      return "integer " + std::to_string(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(stmt, i);
      if (std::isinf(d)) return d > 0 ? "real Inf" : "real -Inf";
      if (d == 0.0) return std::signbit(d) ? "real -0.0" : "real 0.0";
      std::snprintf(buf, sizeof(buf), "real %.17g", d);
      return buf;
    }
    case SQLITE_TEXT: {
      const unsigned char* p = sqlite3_column_text(stmt, i);
      int n = sqlite3_column_bytes(stmt, i);
      std::string out = "text '";
      for (int k = 0; k < n; ++k) {
        unsigned char c = p[k];
        if (c == '\'') {
          out += "''";
        } else if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        }
      }
      return out + "'";
    }
    default: {
      const unsigned char* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
      int n = sqlite3_column_bytes(stmt, i);
      std::string out = "blob x'";
      for (int k = 0; k < n; ++k) {
        std::snprintf(buf, sizeof(buf), "%02x", p[k]);
        out += buf;
      }
      return out + "'";
    }
  }
}

// What one SQL text did: the result code of the first failing statement (or
// SQLITE_OK), its message, every row of every statement, and changes().
struct Outcome {
  int rc = SQLITE_OK;
  std::string message;
  std::vector<std::string> rows;  // one line per row: columns joined by " | "
  long long changes = -1;         // sqlite3_changes() after the last INSERT/UPDATE/DELETE; -1: none

  std::string ToString() const {
    std::string out;
    if (rc != SQLITE_OK) {
      out += "  error " + std::string(sqlite3_errstr(rc)) + " (" + std::to_string(rc) +
             "): " + message + "\n";
    } else {
      out +=
          changes < 0 ? std::string("  ok\n") : "  ok, changes=" + std::to_string(changes) + "\n";
    }
    for (const std::string& row : rows) out += "  | " + row + "\n";
    if (rows.empty()) out += "  (no rows)\n";
    return out;
  }
};

// Runs every statement of `sql` in turn, stopping at the first failure.
inline Outcome RunSql(sqlite3* db, const std::string& sql) {
  Outcome outcome;
  const char* tail = sql.c_str();
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, tail, -1, &stmt, &tail);
    if (rc != SQLITE_OK) {
      outcome.rc = rc & 0xff;
      outcome.message = sqlite3_errmsg(db);
      return outcome;
    }
    if (stmt == nullptr) continue;  // whitespace or a comment
    int columns = sqlite3_column_count(stmt);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < columns; ++i) {
        if (i > 0) row += " | ";
        row += FormatColumn(stmt, i);
      }
      outcome.rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) {
      outcome.rc = rc & 0xff;
      outcome.message = sqlite3_errmsg(db);
      sqlite3_finalize(stmt);
      return outcome;
    }
    // changes() means something only after INSERT, UPDATE and DELETE; after
    // other statements it keeps an older count (see DdlKeepsChangesAndLastInsertRowid).
    std::string_view text = sqlite3_sql(stmt);
    size_t start = text.find_first_not_of(" \t\r\n(");
    std::string verb(text.substr(start == std::string_view::npos ? text.size() : start, 7));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (verb.rfind("INSERT", 0) == 0 || verb.rfind("UPDATE", 0) == 0 ||
        verb.rfind("DELETE", 0) == 0 || verb.rfind("REPLACE", 0) == 0) {
      outcome.changes = sqlite3_changes64(db);
    }
    sqlite3_finalize(stmt);
  }
  return outcome;
}

// Runs `sql` and fails the current test unless it succeeds; returns its rows.
inline std::vector<std::string> MustRun(sqlite3* db, const std::string& sql) {
  Outcome o = RunSql(db, sql);
  EXPECT_EQ(SQLITE_OK, o.rc) << "statement: " << sql << "\n" << o.ToString();
  return o.rows;
}

// The rows of `sql` as one string (rows separated by "\n"), or "error: <msg>".
inline std::string Query(sqlite3* db, const std::string& sql) {
  Outcome o = RunSql(db, sql);
  if (o.rc != SQLITE_OK) return "error: " + o.message;
  std::string out;
  for (size_t i = 0; i < o.rows.size(); ++i) out += (i > 0 ? "\n" : "") + o.rows[i];
  return out;
}

// The first column of the first row of `sql` as an integer; -1 on error or
// when there is no row.
inline long long QueryInt(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  long long result = -1;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    result = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return result;
}

inline bool ContainsOrderBy(std::string_view sql) {
  std::string upper(sql);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper.find("ORDER BY") != std::string::npos;
}

enum class RowOrder {
  kAuto,    // exact when the statement says ORDER BY, else sorted
  kExact,   // compare rows in the order they came
  kSorted,  // compare rows as multisets
};

// Returns "" when two outcomes of the same statement agree, else why not.
inline std::string Compare(const Outcome& native, const Outcome& manifold, bool exact_order) {
  if (native.rc != manifold.rc) return "result codes differ";
  if (native.rc != SQLITE_OK) {
    if (native.message != manifold.message) return "error messages differ";
  } else if (native.changes != manifold.changes) {
    return "changes() differ";
  }
  std::vector<std::string> a = native.rows, b = manifold.rows;
  if (!exact_order) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
  }
  if (a != b) return exact_order ? "rows differ (in order)" : "rows differ (as sorted sets)";
  return "";
}

// How a table is keyed natively; decides the native oracle's declaration.
enum class NativeKind { kRowid, kWithoutRowid };

// Returns how SQLite itself keys `CREATE TABLE x(<columns>)`: a table whose
// primary key is not the rowid alias becomes the WITHOUT ROWID oracle.
inline NativeKind NativeKindOf(const std::string& columns) {
  Connection scratch(":memory:");
  Outcome created = RunSql(scratch, "CREATE TABLE x(" + columns + ")");
  if (created.rc != SQLITE_OK) return NativeKind::kRowid;  // the caller's CREATE reports it
  long long pk_columns =
      QueryInt(scratch, "SELECT count(*) FROM pragma_table_info('x') WHERE pk > 0");
  if (pk_columns == 0) return NativeKind::kRowid;
  // A primary key that is not the rowid alias gets an automatic index.
  long long pk_indexes =
      QueryInt(scratch, "SELECT count(*) FROM pragma_index_list('x') WHERE origin = 'pk'");
  return pk_indexes == 0 ? NativeKind::kRowid : NativeKind::kWithoutRowid;
}

// The pair of connections and the comparison. See the file comment.
class SqlOracle {
 public:
  // `engine` is a registered engine name. The tables are created with the
  // module of that name, or with module `manifold` and engine=<engine> when
  // `through_manifold_module` is set.
  explicit SqlOracle(std::string engine, bool through_manifold_module = false)
      : engine_(std::move(engine)), through_manifold_(through_manifold_module) {
    RegisterManifold();
    native_.Open(dir_.path() + "/native.db");
    manifold_.Open(dir_.path() + "/manifold.db");
    // The database files' durability is not under test; fsyncs only slow the suite.
    RunSql(native_, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");
    RunSql(manifold_, "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY");
  }

  sqlite3* native() const { return native_; }
  sqlite3* manifold() const { return manifold_; }
  const std::string& dir() const { return dir_.path(); }
  const std::string& engine() const { return engine_; }

  // The `path=` option for a table of this oracle's engine ("" for memory,
  // whose default store is private to the database).
  std::string PathOption() const {
    if (engine_ == "memory") return "";
    return "path='" + dir_.path() + "/store." + engine_ + "'";
  }

  // The CREATE VIRTUAL TABLE text for `name` with `columns` (may be empty:
  // the raw view) plus `options` (comma-separated, may be empty).
  std::string VirtualTableSql(const std::string& name, const std::string& columns,
                              const std::string& options = "") const {
    std::vector<std::string> args;
    if (!columns.empty()) args.push_back(columns);
    if (through_manifold_) args.push_back("engine=" + engine_);
    // Durability is not what these tests compare, and fsyncs would dominate them.
    if (options.find("sync=") == std::string::npos) args.push_back("sync=off");
    if (!PathOption().empty()) args.push_back(PathOption());
    if (!options.empty()) args.push_back(options);
    std::string sql = "CREATE VIRTUAL TABLE " + name + " USING " +
                      (through_manifold_ ? std::string("manifold") : engine_) + "(";
    for (size_t i = 0; i < args.size(); ++i) sql += (i > 0 ? ", " : "") + args[i];
    return sql + ")";
  }

  // Creates `name` on both sides: natively as SQLite would key it, and as a
  // manifold table. Returns failure (with both outcomes) unless both succeed.
  ::testing::AssertionResult CreateTable(const std::string& name, const std::string& columns,
                                         const std::string& options = "") {
    std::string native_sql = "CREATE TABLE " + name + "(" + columns + ")";
    if (NativeKindOf(columns) == NativeKind::kWithoutRowid) native_sql += " WITHOUT ROWID";
    std::string manifold_sql = SelfTest() ? native_sql : VirtualTableSql(name, columns, options);
    Outcome n = RunSql(native_, native_sql);
    Outcome m = RunSql(manifold_, manifold_sql);
    Log("-- create: " + native_sql + "  /  " + manifold_sql);
    if (n.rc == SQLITE_OK && m.rc == SQLITE_OK) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "CREATE failed\nnative: " << native_sql << "\n"
                                         << n.ToString() << "manifold: " << manifold_sql << "\n"
                                         << m.ToString();
  }

  // Creates the raw view `name` (no columns: key BLOB, value BLOB) and, as
  // its oracle, a native `(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID`.
  ::testing::AssertionResult CreateRawTable(const std::string& name) {
    std::string native_sql =
        "CREATE TABLE " + name + "(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID";
    std::string manifold_sql = SelfTest() ? native_sql : VirtualTableSql(name, "");
    Outcome n = RunSql(native_, native_sql);
    Outcome m = RunSql(manifold_, manifold_sql);
    Log("-- create: " + native_sql + "  /  " + manifold_sql);
    if (n.rc == SQLITE_OK && m.rc == SQLITE_OK) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "CREATE failed\nnative: " << native_sql << "\n"
                                         << n.ToString() << "manifold: " << manifold_sql << "\n"
                                         << m.ToString();
  }

  // Runs `sql` on both sides (native tables only, e.g. a join partner).
  ::testing::AssertionResult Both(const std::string& sql) {
    Outcome n = RunSql(native_, sql);
    Outcome m = RunSql(manifold_, sql);
    Log(sql);
    if (n.rc == SQLITE_OK && m.rc == SQLITE_OK) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "statement failed: " << sql << "\nnative:\n"
                                         << n.ToString() << "manifold:\n"
                                         << m.ToString();
  }

  // Runs `sql` on both sides and compares the outcomes.
  ::testing::AssertionResult Check(const std::string& sql, RowOrder order = RowOrder::kAuto) {
    Outcome n = RunSql(native_, sql);
    Outcome m = RunSql(manifold_, sql);
    Log(sql);
    bool exact = order == RowOrder::kExact || (order == RowOrder::kAuto && ContainsOrderBy(sql));
    std::string why = Compare(n, m, exact);
    if (why.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << why << " [engine " << engine_ << "]\nstatement: " << sql << "\nnative:\n"
           << n.ToString() << "manifold:\n"
           << m.ToString();
  }

  // Checks each statement in turn; stops at the first difference.
  ::testing::AssertionResult CheckAll(const std::vector<std::string>& statements) {
    for (const std::string& sql : statements) {
      ::testing::AssertionResult r = Check(sql);
      if (!r) return r;
    }
    return ::testing::AssertionSuccess();
  }

  // Compares the full contents of table `name` on both sides, in rowid/key
  // order for rowid tables and as a sorted multiset otherwise.
  ::testing::AssertionResult CheckContents(const std::string& name) {
    std::string sql = "SELECT * FROM " + name;
    ::testing::AssertionResult r = Check(sql, RowOrder::kSorted);
    if (!r) return r << "(contents of " << name << ")";
    return r;
  }

  // Every statement run so far, one per line (for a failure report).
  const std::string& log() const { return log_; }

 private:
  void Log(const std::string& sql) {
    log_ += sql;
    log_ += ";\n";
  }

  std::string engine_;
  bool through_manifold_ = false;
  TempDir dir_;  // declared before the connections: removed after they close
  Connection native_;
  Connection manifold_;
  std::string log_;
};

// The engines to run SQL tests on: every engine this build can open (in the
// self-test, one pseudo-engine "native", since no manifold table is made).
inline std::vector<std::string> EnginesUnderTest() {
  if (SelfTest()) return {"native"};
  return RegisteredEngineNames();
}

// Whether engine `name` keeps data across close and reopen.
inline bool IsPersistent(const std::string& name) {
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name == name) return info.capabilities.persistent;
  }
  return false;
}

// A readable test-name suffix for an engine parameter.
struct EngineName {
  std::string operator()(const ::testing::TestParamInfo<std::string>& info) const {
    return info.param;
  }
};

}  // namespace manifold::sqltest

#endif  // MANIFOLD_TESTS_SQL_ORACLE_H_
