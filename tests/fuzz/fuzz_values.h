// Shared by the codec fuzz targets: SQLite values drawn from fuzz input, and
// SQLite itself as the oracle of their comparison. Not thread-safe (one
// fuzzing thread).
#ifndef MANIFOLD_TESTS_FUZZ_FUZZ_VALUES_H_
#define MANIFOLD_TESTS_FUZZ_FUZZ_VALUES_H_

#include <fuzzer/FuzzedDataProvider.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "value.h"

namespace manifold {

[[noreturn]] inline void FuzzFail(const char* target, const std::string& what) {
  fprintf(stderr, "%s: %s\n", target, what.c_str());
  abort();
}

// Returns a value of any storage class, favouring the edges: integers near
// the int64 limits and near 2^53, reals with integral values, -0.0,
// infinities, empty text and blobs. Never NaN (SQLite stores NaN as NULL).
inline Value ConsumeValue(FuzzedDataProvider& in) {
  Value v;
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      break;  // NULL
    case 1:
      v.type = ValueType::kInteger;
      v.i = in.ConsumeIntegral<int64_t>();
      break;
    case 2: {
      static constexpr int64_t kEdges[] = {0,
                                           1,
                                           -1,
                                           std::numeric_limits<int64_t>::max(),
                                           std::numeric_limits<int64_t>::min(),
                                           int64_t{1} << 53,
                                           (int64_t{1} << 53) + 1,
                                           -(int64_t{1} << 53) - 1};
      v.type = ValueType::kInteger;
      // Near each edge, wrapping around past the ends of the range.
      v.i = static_cast<int64_t>(static_cast<uint64_t>(kEdges[in.ConsumeIntegralInRange<size_t>(0, 7)]) +
                                 static_cast<uint64_t>(in.ConsumeIntegralInRange<int64_t>(-2, 2)));
      break;
    }
    case 3:
      v.type = ValueType::kReal;
      v.r = in.ConsumeFloatingPoint<double>();
      break;
    case 4: {
      static constexpr double kEdges[] = {0.0,
                                          -0.0,
                                          1.0,
                                          -1.5,
                                          9223372036854775807.0,
                                          -9223372036854775808.0,
                                          9007199254740992.0,
                                          std::numeric_limits<double>::infinity(),
                                          -std::numeric_limits<double>::infinity(),
                                          std::numeric_limits<double>::denorm_min(),
                                          std::numeric_limits<double>::max()};
      v.type = ValueType::kReal;
      v.r = kEdges[in.ConsumeIntegralInRange<size_t>(0, 10)];
      break;
    }
    case 5:
      v.type = ValueType::kReal;
      v.r = static_cast<double>(in.ConsumeIntegral<int64_t>());
      break;
    case 6:
      v.type = ValueType::kText;
      v.bytes = in.ConsumeRandomLengthString(64);
      break;
    default:
      v.type = ValueType::kBlob;
      v.bytes = in.ConsumeRandomLengthString(64);
      break;
  }
  if (v.type == ValueType::kReal && std::isnan(v.r)) v.r = 0.0;
  return v;
}

// True when a and b are the same value of the same storage class, reals bit
// for bit (so -0.0 differs from 0.0).
inline bool SameValue(const ValueRef& a, const ValueRef& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ValueType::kNull:
      return true;
    case ValueType::kInteger:
      return a.i == b.i;
    case ValueType::kReal:
      return std::memcmp(&a.r, &b.r, sizeof(double)) == 0;
    default:
      return a.bytes == b.bytes;
  }
}

inline std::string Describe(const ValueRef& v) {
  char text[64];
  switch (v.type) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      snprintf(text, sizeof(text), "INTEGER %lld", static_cast<long long>(v.i));
      return text;
    case ValueType::kReal:
      snprintf(text, sizeof(text), "REAL %.17g", v.r);
      return text;
    default:
      return std::string(v.type == ValueType::kText ? "TEXT " : "BLOB ") +
             std::to_string(v.bytes.size()) + " bytes";
  }
}

// SQLite's own comparison of two values (BINARY collation, no affinity):
// returns -1, 0 or 1. Uses one in-memory connection for the whole run.
class SqliteOracle {
 public:
  SqliteOracle() {
    if (sqlite3_open(":memory:", &db_) != SQLITE_OK ||
        sqlite3_prepare_v2(db_,
                           "SELECT CASE WHEN ?1 IS ?2 THEN 0 WHEN ?1 IS NULL THEN -1 "
                           "WHEN ?2 IS NULL THEN 1 WHEN ?1 < ?2 THEN -1 ELSE 1 END",
                           -1, &compare_, nullptr) != SQLITE_OK) {
      FuzzFail("fuzz", "cannot prepare the SQLite oracle");
    }
  }
  int Compare(const ValueRef& a, const ValueRef& b) {
    Bind(1, a);
    Bind(2, b);
    if (sqlite3_step(compare_) != SQLITE_ROW) FuzzFail("fuzz", sqlite3_errmsg(db_));
    int result = sqlite3_column_int(compare_, 0);
    sqlite3_reset(compare_);
    sqlite3_clear_bindings(compare_);
    return result;
  }

 private:
  void Bind(int slot, const ValueRef& v) {
    switch (v.type) {
      case ValueType::kNull:
        sqlite3_bind_null(compare_, slot);
        break;
      case ValueType::kInteger:
        sqlite3_bind_int64(compare_, slot, v.i);
        break;
      case ValueType::kReal:
        sqlite3_bind_double(compare_, slot, v.r);
        break;
      case ValueType::kText:
        sqlite3_bind_text(compare_, slot, v.bytes.data(), static_cast<int>(v.bytes.size()),
                          SQLITE_TRANSIENT);
        break;
      case ValueType::kBlob:
        sqlite3_bind_blob(compare_, slot, v.bytes.data(), static_cast<int>(v.bytes.size()),
                          SQLITE_TRANSIENT);
        break;
    }
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* compare_ = nullptr;
};

inline int Sign(int x) { return (x > 0) - (x < 0); }

}  // namespace manifold

#endif  // MANIFOLD_TESTS_FUZZ_FUZZ_VALUES_H_
