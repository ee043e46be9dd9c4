// libFuzzer target: random SQL on a manifold table and on a native SQLite
// table with the same declaration must give the same answers.
//
// The first byte picks the engine (memory, or btree in a temporary
// directory) and one of a few declarations (rowid table, INTEGER PRIMARY
// KEY, single and composite keys with DESC columns, NOT NULL). The rest is
// decoded into up to 48 statements: INSERT, UPDATE and DELETE with conflict
// clauses and WHERE terms on key ranges, SELECT with typeof() of every
// column, ORDER BY the whole key with LIMIT/OFFSET, aggregates, BEGIN,
// COMMIT, ROLLBACK and savepoints. Each statement runs on both sides (two
// connections, so that a transaction on one never touches the other); the
// primary result code, the error message of a native failure, every row
// (with typeof() and the exact value; in order under ORDER BY, as a sorted
// multiset otherwise) and changes() must agree, and after every write the
// whole table must agree. A difference prints both outcomes and every
// statement of the input, ready to paste into sqlite3, and traps.
//
// The documented limits of README "Known limits" are not generated: a
// statement with OR FAIL/IGNORE/REPLACE/ROLLBACK only gets rowid values that
// are no datatype mismatch, and an UPDATE OR REPLACE that moves keys changes
// one row; an INSERT never names both the rowid and its INTEGER PRIMARY KEY
// alias. Everything else a native table answers, manifold must answer alike.
#include <fuzzer/FuzzedDataProvider.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

extern "C" int sqlite3_manifold_init(sqlite3* db, char** pzErrMsg,
                                     const sqlite3_api_routines* pApi);

namespace {

// One declaration: its columns (first the key columns, in key order) and how
// it is keyed.
struct Schema {
  const char* columns;        // the CREATE TABLE column list
  bool without_rowid;         // natively WITHOUT ROWID
  bool rowid_alias;           // column a is INTEGER PRIMARY KEY
  const char* order_asc;      // ORDER BY that is total, ascending key order
  const char* order_desc;     // the same, descending
  std::vector<const char*> key;  // key columns (for UPDATE OR REPLACE's one-row form)
};

const Schema kSchemas[] = {
    {"a INTEGER PRIMARY KEY, b, c TEXT", false, true, "a", "a DESC", {"a"}},
    {"a, b NUMERIC, c", false, false, "rowid", "rowid DESC", {"rowid"}},
    {"a TEXT PRIMARY KEY, b INT, c", true, false, "a", "a DESC", {"a"}},
    {"a, b, c, PRIMARY KEY(a, b DESC)", true, false, "a, b DESC", "a DESC, b", {"a", "b"}},
    {"a REAL PRIMARY KEY DESC, b NOT NULL, c BLOB", true, false, "a DESC", "a", {"a"}},
    {"a INT, b TEXT, c REAL, PRIMARY KEY(b, a)", true, false, "b, a", "b DESC, a DESC",
     {"b", "a"}},
    {"a BLOB, b ANY, c, PRIMARY KEY(c DESC, a, b)", true, false, "c DESC, a, b",
     "c, a DESC, b DESC", {"c", "a", "b"}},
};
constexpr int kSchemaCount = sizeof(kSchemas) / sizeof(kSchemas[0]);
const char* const kColumns[] = {"a", "b", "c"};

// Renders a column as "<typeof> <exact value>" (reals bit-exact, -0.0 apart).
std::string FormatColumn(sqlite3_stmt* stmt, int i) {
  char buf[64];
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_NULL:
      return "null";
    case SQLITE_INTEGER:
      return "integer " + std::to_string(sqlite3_column_int64(stmt, i));
    case SQLITE_FLOAT: {
      double d = sqlite3_column_double(stmt, i);
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof(bits));
      std::snprintf(buf, sizeof(buf), "real %.17g (%016llx)", d,
                    static_cast<unsigned long long>(bits));
      return buf;
    }
    default: {
      const bool text = sqlite3_column_type(stmt, i) == SQLITE_TEXT;
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
      int n = sqlite3_column_bytes(stmt, i);
      std::string out = text ? "text x'" : "blob x'";
      for (int k = 0; k < n; ++k) {
        std::snprintf(buf, sizeof(buf), "%02x", p[k]);
        out += buf;
      }
      return out + "'";
    }
  }
}

struct Outcome {
  int rc = SQLITE_OK;
  std::string message;
  std::vector<std::string> rows;
  long long changes = -1;

  std::string ToString() const {
    std::string out = rc == SQLITE_OK ? "  ok, changes=" + std::to_string(changes) + "\n"
                                      : "  error " + std::to_string(rc) + ": " + message + "\n";
    for (const std::string& row : rows) out += "  | " + row + "\n";
    return out;
  }
};

Outcome Run(sqlite3* db, const std::string& sql) {
  Outcome outcome;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    outcome.rc = rc & 0xff;
    outcome.message = sqlite3_errmsg(db);
    return outcome;
  }
  if (stmt == nullptr) return outcome;
  const int columns = sqlite3_column_count(stmt);
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < columns; ++i) row += (i > 0 ? " | " : "") + FormatColumn(stmt, i);
    outcome.rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) {
    outcome.rc = rc & 0xff;
    outcome.message = sqlite3_errmsg(db);
  } else if (!sqlite3_stmt_readonly(stmt)) {
    outcome.changes = sqlite3_changes64(db);
  }
  sqlite3_finalize(stmt);
  return outcome;
}

// Builds random statements from the fuzz input.
class Generator {
 public:
  Generator(FuzzedDataProvider& in, const Schema& schema) : in_(in), schema_(schema) {}

  // A value literal: a few fixed edges (so that keys collide) or one drawn
  // from the input.
  std::string Value() {
    static const char* const kEdges[] = {
        "NULL", "0", "1", "2", "-1", "2.0", "2.5", "-0.0", "0.0", "1e308", "9e999", "-9e999",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "'2'", "'2.5'",
        "' 3 '", "'a'", "'A'", "'ab'", "''", "x''", "x'00'", "x'ff'", "CAST(x'610062' AS TEXT)",
        "(9e999 - 9e999)", "4.0e-324", "'1e3'", "'0x10'", "9007199254740993"};
    switch (in_.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
      case 1:
      case 2:
        return kEdges[in_.ConsumeIntegralInRange<size_t>(0, std::size(kEdges) - 1)];
      case 3:
        return std::to_string(in_.ConsumeIntegralInRange<int64_t>(-4, 8));
      case 4: {
        switch (in_.ConsumeIntegralInRange<int>(0, 2)) {
          case 0:
            return std::to_string(in_.ConsumeIntegral<int64_t>());
          case 1: {
            double d = in_.ConsumeFloatingPoint<double>();
            if (std::isnan(d)) return "NULL";
            char buf[64];
            std::snprintf(buf, sizeof(buf), "%.17g", d);
            std::string s = buf;
            if (s == "inf") return "9e999";
            if (s == "-inf") return "-9e999";
            if (s.find_first_of(".en") == std::string::npos) s += ".0";
            return s;
          }
          default:
            return std::to_string(in_.ConsumeIntegralInRange<int>(-3, 6)) + ".5";
        }
      }
      default: {
        std::string bytes = in_.ConsumeRandomLengthString(6);
        std::string hex;
        char buf[4];
        for (unsigned char c : bytes) {
          std::snprintf(buf, sizeof(buf), "%02x", c);
          hex += buf;
        }
        return in_.ConsumeBool() ? "x'" + hex + "'" : "CAST(x'" + hex + "' AS TEXT)";
      }
    }
  }

  // A value for the rowid (or INTEGER PRIMARY KEY); `valid` keeps to values
  // that are no datatype mismatch.
  std::string Rowid(bool valid) {
    static const char* const kValid[] = {"NULL", "1", "2", "3", "-2", "'4'", "2.0", "7"};
    // No rowid at the top of the range: after it SQLite picks new rowids at
    // random, natively and in manifold alike.
    static const char* const kAny[] = {"'x'", "1.5", "x'01'", "1e3", "' 5'"};
    if (valid || in_.ConsumeIntegralInRange<int>(0, 3) != 0) {
      return kValid[in_.ConsumeIntegralInRange<size_t>(0, std::size(kValid) - 1)];
    }
    return kAny[in_.ConsumeIntegralInRange<size_t>(0, std::size(kAny) - 1)];
  }

  std::string Column() {
    if (!schema_.without_rowid && in_.ConsumeIntegralInRange<int>(0, 4) == 0) return "rowid";
    return kColumns[in_.ConsumeIntegralInRange<int>(0, 2)];
  }

  std::string Term() {
    const std::string c = Column();
    const bool rowid = c == "rowid" || (schema_.rowid_alias && c == "a");
    auto v = [&] { return rowid && in_.ConsumeBool() ? Rowid(false) : Value(); };
    switch (in_.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1:
        return c + " = " + v();
      case 2:
        return c + " < " + v();
      case 3:
        return c + " <= " + v();
      case 4:
        return c + " > " + v();
      case 5:
        return c + " >= " + v();
      case 6:
        return c + " BETWEEN " + v() + " AND " + v();
      case 7:
        return c + " IN (" + v() + ", " + v() + ", " + v() + ")";
      case 8:
        return c + (in_.ConsumeBool() ? " IS NULL" : " IS NOT " + v());
      default:
        return c + (in_.ConsumeBool() ? " LIKE 'a%'" : " GLOB 'a*'");
    }
  }

  std::string Where() {
    switch (in_.ConsumeIntegralInRange<int>(0, 5)) {
      case 0:
        return "1";
      case 1:
        return Term() + " AND " + Term();
      case 2:
        return Term() + " OR " + Term();
      default:
        return Term();
    }
  }

  std::string Conflict() {
    static const char* const kClauses[] = {"",          "",           " OR REPLACE", " OR IGNORE",
                                           " OR FAIL", " OR ABORT", " OR ROLLBACK"};
    return kClauses[in_.ConsumeIntegralInRange<size_t>(0, std::size(kClauses) - 1)];
  }
  static bool KeepsRowsOnError(const std::string& clause) {
    return clause == " OR FAIL" || clause == " OR IGNORE" || clause == " OR REPLACE" ||
           clause == " OR ROLLBACK";
  }

  std::string OrderBy() {
    const char* order = in_.ConsumeBool() ? schema_.order_asc : schema_.order_desc;
    std::string out = std::string(" ORDER BY ") + order;
    if (in_.ConsumeBool()) {
      out += " LIMIT " + std::to_string(in_.ConsumeIntegralInRange<int>(-1, 4));
      if (in_.ConsumeBool()) out += " OFFSET " + std::to_string(in_.ConsumeIntegralInRange<int>(0, 3));
    }
    return out;
  }

  std::string Statement() {
    switch (in_.ConsumeIntegralInRange<int>(0, 19)) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4: {  // INSERT
        const std::string clause = Conflict();
        const bool valid = KeepsRowsOnError(clause);
        // Not on an INTEGER PRIMARY KEY table: naming both the rowid and its
        // alias is a documented limit (README "Known limits").
        const bool explicit_rowid = !schema_.without_rowid && !schema_.rowid_alias &&
                                    in_.ConsumeIntegralInRange<int>(0, 3) == 0;
        std::string sql = "INSERT" + clause + " INTO t(" + (explicit_rowid ? "rowid, " : "") +
                          "a, b, c) VALUES ";
        const int rows = in_.ConsumeIntegralInRange<int>(1, 3);
        for (int r = 0; r < rows; ++r) {
          sql += r > 0 ? ", (" : "(";
          if (explicit_rowid) sql += Rowid(valid) + ", ";
          sql += (schema_.rowid_alias ? Rowid(valid) : Value()) + ", " + Value() + ", " + Value();
          sql += ")";
        }
        return sql;
      }
      case 5:
      case 6:
      case 7: {  // UPDATE
        const std::string clause = Conflict();
        const bool valid = KeepsRowsOnError(clause);
        std::string target = kColumns[in_.ConsumeIntegralInRange<int>(0, 2)];
        auto set_value = [&](const std::string& column) {
          if (schema_.rowid_alias && column == "a") return Rowid(valid);
          switch (in_.ConsumeIntegralInRange<int>(0, 3)) {
            case 0:
              return column + " + 1";
            case 1:
              return std::string(kColumns[in_.ConsumeIntegralInRange<int>(0, 2)]);
            default:
              return Value();
          }
        };
        std::string sql = "UPDATE" + clause + " t SET " + target + " = " + set_value(target);
        bool moves_key = std::find_if(schema_.key.begin(), schema_.key.end(), [&](const char* k) {
                           return target == k;
                         }) != schema_.key.end();
        if (in_.ConsumeBool()) {
          std::string second = kColumns[in_.ConsumeIntegralInRange<int>(0, 2)];
          if (second != target) {
            sql += ", " + second + " = " + set_value(second);
            moves_key = moves_key ||
                        std::find_if(schema_.key.begin(), schema_.key.end(), [&](const char* k) {
                          return second == k;
                        }) != schema_.key.end();
          }
        }
        // An "a + 1" on the INTEGER PRIMARY KEY may be a mismatch (a text a).
        if (schema_.rowid_alias && valid && sql.find("a + 1") != std::string::npos) moves_key = true;
        if ((clause == " OR REPLACE" && moves_key) ||
            (valid && schema_.rowid_alias && moves_key)) {
          // One row only (README "Known limits"), picked by its key.
          std::string keys;
          for (size_t k = 0; k < schema_.key.size(); ++k) {
            keys += std::string(k > 0 ? ", " : "") + schema_.key[k];
          }
          if (schema_.rowid_alias && valid) {
            // Only rowid values, so no mismatch: rewrite the SET as a rowid.
            sql = "UPDATE" + clause + " t SET a = " + Rowid(true);
          }
          return sql + " WHERE (" + keys + ") = (SELECT " + keys + " FROM t ORDER BY " +
                 schema_.order_asc + " LIMIT 1 OFFSET " +
                 std::to_string(in_.ConsumeIntegralInRange<int>(0, 3)) + ")";
        }
        return sql + " WHERE " + Where();
      }
      case 8:
      case 9:
        return "DELETE FROM t WHERE " + Where();
      case 10:
      case 11: {
        static const char* const kTxn[] = {"BEGIN",        "COMMIT",         "ROLLBACK",
                                           "SAVEPOINT s1", "SAVEPOINT s2",   "RELEASE s1",
                                           "RELEASE s2",   "ROLLBACK TO s1", "ROLLBACK TO s2"};
        return kTxn[in_.ConsumeIntegralInRange<size_t>(0, std::size(kTxn) - 1)];
      }
      case 12: {
        const char* c = kColumns[in_.ConsumeIntegralInRange<int>(0, 2)];
        return std::string("SELECT count(*), min(") + c + "), max(" + c + "), typeof(sum(" + c +
               ")) FROM t WHERE " + Where();
      }
      default: {
        std::string sql = std::string("SELECT ") + (schema_.without_rowid ? "" : "rowid, ") +
                          "typeof(a), a, typeof(b), b, typeof(c), c FROM t WHERE " + Where();
        if (in_.ConsumeIntegralInRange<int>(0, 3) != 0) sql += OrderBy();
        return sql;
      }
    }
  }

 private:
  FuzzedDataProvider& in_;
  const Schema& schema_;
};

std::string Compare(const Outcome& native, const Outcome& manifold, bool ordered) {
  if (native.rc != manifold.rc) return "result codes differ";
  if (native.rc != SQLITE_OK) {
    if (native.message != manifold.message) return "error messages differ";
    return "";
  }
  if (native.changes != manifold.changes) return "changes() differ";
  std::vector<std::string> a = native.rows, b = manifold.rows;
  if (!ordered) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
  }
  if (a != b) return ordered ? "rows differ (in order)" : "rows differ (as sorted sets)";
  return "";
}

// The directory of the btree store, removed at exit (the string is never
// destroyed, so the exit handler can still read it).
const std::string& TempDirectory() {
  static const std::string& dir = *new std::string([] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                       "/manifold-sqlfuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "sql_differential_fuzz: mkdtemp failed\n");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(TempDirectory(), ignored);
    });
    return tmpl;
  }());
  return dir;
}

sqlite3* Open() {
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    std::fprintf(stderr, "sql_differential_fuzz: cannot open SQLite\n");
    std::abort();
  }
  return db;
}

}  // namespace

// Each input runs about 200 statements through SQLite's parser, which
// allocates a lot: with AddressSanitizer's default 256 MB quarantine and
// fill of every allocation, most of the time went to page faults on fresh
// memory. A small quarantine and no fill make it twice as fast; use-after-free
// is still caught within the last 4 MB freed.
extern "C" const char* __asan_default_options() {
  return "quarantine_size_mb=4:max_malloc_fill_size=0";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = [] {
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));
    return true;
  }();
  (void)registered;
  if (size == 0) return 0;
  FuzzedDataProvider in(data, size);
  const uint8_t first = in.ConsumeIntegral<uint8_t>();
  const bool btree = (first & 0x80) != 0;
  const Schema& schema = kSchemas[(first & 0x7f) % kSchemaCount];

  const std::string store = TempDirectory() + "/store.btree";
  std::error_code ignored;
  std::filesystem::remove(store, ignored);
  sqlite3* native = Open();
  sqlite3* manifold = Open();
  std::string log;
  const std::string native_create = std::string("CREATE TABLE t(") + schema.columns + ")" +
                                    (schema.without_rowid ? " WITHOUT ROWID" : "");
  const std::string manifold_create =
      std::string("CREATE VIRTUAL TABLE t USING ") + (btree ? "btree(" : "memory(") +
      schema.columns + (btree ? ", sync=off, path='" + store + "')" : ")");
  log = "-- native: " + native_create + ";\n" + manifold_create + ";\n";
  Outcome n = Run(native, native_create);
  Outcome m = Run(manifold, manifold_create);
  if (n.rc != SQLITE_OK || m.rc != SQLITE_OK) {
    std::fprintf(stderr, "sql_differential_fuzz: CREATE failed\n%s%s%s", log.c_str(),
                 n.ToString().c_str(), m.ToString().c_str());
    __builtin_trap();
  }

  Generator gen(in, schema);
  auto check = [&](const std::string& sql, bool ordered) {
    Outcome native_outcome = Run(native, sql);
    Outcome manifold_outcome = Run(manifold, sql);
    log += sql + ";\n";
    std::string why = Compare(native_outcome, manifold_outcome, ordered);
    if (!why.empty()) {
      std::fprintf(stderr,
                   "sql_differential_fuzz: %s [engine %s]\nstatement: %s\nnative:\n%smanifold:\n%s"
                   "statements:\n%s",
                   why.c_str(), btree ? "btree" : "memory", sql.c_str(),
                   native_outcome.ToString().c_str(), manifold_outcome.ToString().c_str(),
                   log.c_str());
      __builtin_trap();
    }
    return native_outcome.rc == SQLITE_OK;
  };
  const std::string contents = std::string("SELECT ") + (schema.without_rowid ? "" : "rowid, ") +
                               "typeof(a), a, typeof(b), b, typeof(c), c FROM t";
  for (int i = 0; i < 48 && in.remaining_bytes() > 0; ++i) {
    const std::string sql = gen.Statement();
    check(sql, sql.find("ORDER BY") != std::string::npos);
    if (sql.rfind("SELECT", 0) != 0 && sql.rfind("BEGIN", 0) != 0 &&
        sql.rfind("SAVEPOINT", 0) != 0) {
      check(contents, false);
    }
  }
  check("COMMIT", false);
  check(contents, false);
  sqlite3_close_v2(manifold);
  sqlite3_close_v2(native);
  std::filesystem::remove(store, ignored);
  return 0;
}
