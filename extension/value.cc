#include "value.h"

#include <cmath>
#include <cstring>

namespace manifold {
namespace {

template <typename T>
int Sign(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// Compares an integer with a real by exact value. Converting either side to
// the other's type loses information (int64 beyond 2^53 is not a double; a
// double beyond 2^63 or with a fraction is not an int64), so compare the
// integral parts as integers and let the fraction break a tie.
int CompareIntegerReal(int64_t i, double r) {
  // 2^63 is exact as a double; every int64 lies in [-2^63, 2^63).
  constexpr double kTwo63 = 9223372036854775808.0;
  if (r >= kTwo63) return -1;  // includes +inf
  if (r < -kTwo63) return 1;   // includes -inf
  const double whole = std::trunc(r);
  const int64_t t = static_cast<int64_t>(whole);  // in range by the checks above
  if (i != t) return Sign(i, t);
  const double fraction = r - whole;  // exact: both have the same exponent range
  return fraction > 0 ? -1 : (fraction < 0 ? 1 : 0);
}

int CompareBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  const int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  return Sign(a.size(), b.size());
}

// INTEGER and REAL share one rank: SQLite orders them together by value.
int Rank(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return 0;
    case ValueType::kInteger:
    case ValueType::kReal:
      return 1;
    case ValueType::kText:
      return 2;
    case ValueType::kBlob:
      return 3;
  }
  return 4;
}

}  // namespace

int CompareValues(const ValueRef& a, const ValueRef& b) {
  const int ra = Rank(a.type);
  const int rb = Rank(b.type);
  if (ra != rb) return Sign(ra, rb);
  switch (a.type) {
    case ValueType::kNull:
      return 0;
    case ValueType::kInteger:
      if (b.type == ValueType::kInteger) return Sign(a.i, b.i);
      return CompareIntegerReal(a.i, b.r);
    case ValueType::kReal:
      if (b.type == ValueType::kReal) return Sign(a.r, b.r);
      return -CompareIntegerReal(b.i, a.r);
    case ValueType::kText:
    case ValueType::kBlob:
      return CompareBytes(a.bytes, b.bytes);
  }
  return 0;
}

std::string_view TypeName(ValueType type) {
  switch (type) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return "INTEGER";
    case ValueType::kReal:
      return "REAL";
    case ValueType::kText:
      return "TEXT";
    case ValueType::kBlob:
      return "BLOB";
  }
  return "UNKNOWN";
}

}  // namespace manifold
