// Value and ValueRef: a SQLite value as manifold's codecs see it, without
// depending on sqlite3.h (so the codecs can be tested and fuzzed alone).
// Plain values; thread-safe as values.
#ifndef MANIFOLD_EXTENSION_VALUE_H_
#define MANIFOLD_EXTENSION_VALUE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace manifold {

// The storage classes of SQLite, in SQLite's sort order.
enum class ValueType : uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

// A borrowed value: text and blob bytes belong to someone else.
struct ValueRef {
  ValueType type = ValueType::kNull;
  int64_t i = 0;           // kInteger
  double r = 0.0;          // kReal
  std::string_view bytes;  // kText (UTF-8, any bytes) and kBlob

  static ValueRef Null() { return {}; }
  static ValueRef Integer(int64_t v) { return {ValueType::kInteger, v, 0.0, {}}; }
  static ValueRef Real(double v) { return {ValueType::kReal, 0, v, {}}; }
  static ValueRef Text(std::string_view v) { return {ValueType::kText, 0, 0.0, v}; }
  static ValueRef Blob(std::string_view v) { return {ValueType::kBlob, 0, 0.0, v}; }
};

// An owned value.
struct Value {
  ValueType type = ValueType::kNull;
  int64_t i = 0;
  double r = 0.0;
  std::string bytes;

  static Value From(const ValueRef& ref) {
    return Value{ref.type, ref.i, ref.r, std::string(ref.bytes)};
  }
  ValueRef ref() const { return ValueRef{type, i, r, bytes}; }
};

// Returns <0, 0, >0 comparing a and b as SQLite does under BINARY collation:
// NULL < INTEGER and REAL (compared by exact value, so 1 == 1.0) < TEXT (by
// bytes) < BLOB (by bytes). NULLs compare equal to each other here.
int CompareValues(const ValueRef& a, const ValueRef& b);

// Returns "NULL", "INTEGER", "REAL", "TEXT" or "BLOB".
std::string_view TypeName(ValueType type);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_VALUE_H_
