#include "affinity.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace manifold {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t start = 0; start + needle.size() <= haystack.size(); ++start) {
    size_t k = 0;
    while (k < needle.size() &&
           std::toupper(static_cast<unsigned char>(haystack[start + k])) == needle[k]) {
      ++k;
    }
    if (k == needle.size()) return true;
  }
  return false;
}

// SQLite's notion of white space around a number (sqlite3Isspace): ASCII only.
bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// 10^e in long double by repeated squaring, the way SQLite computes the
// scale in sqlite3AtoF; the rounding of each step shows in the last bit of
// some results, so the steps must be the same.
long double PowerOfTen(int e) {
  long double x = 10.0;
  long double r = 1.0;
  while (true) {
    if (e & 1) r *= x;
    e >>= 1;
    if (e == 0) break;
    x *= x;
  }
  return r;
}

// Text -> number, as SQLite 3.40 reads a number out of text (sqlite3AtoF),
// including its rounding: the significand keeps at most about 18 digits and
// the power of ten is applied in long double, so the result can differ from
// a correctly rounded strtod() in the last bit. Matching that is the point:
// typeof() and the stored value must be what a native table stores.
//
// Returns 0 when `text` is not a number (empty, extra characters, hex), 1 for
// a pure integer and 2 or 3 when it has a decimal point and/or an exponent;
// *result holds the value for nonzero returns.
int TextToDouble(std::string_view text, double* result) {
  const char* z = text.data();
  const char* const end = z + text.size();
  int sign = 1;
  int64_t s = 0;  // significand
  int d = 0;      // decimal exponent adjustment from digits dropped or after '.'
  int esign = 1;
  int e = 0;
  bool e_valid = true;
  int n_digit = 0;
  int kind = 1;  // 1 integer, +1 for '.', +1 for an exponent
  *result = 0.0;

  while (z < end && IsSpace(*z)) ++z;
  if (z >= end) return 0;
  if (*z == '-') {
    sign = -1;
    ++z;
  } else if (*z == '+') {
    ++z;
  }
  constexpr int64_t kSignificandLimit = (kInt64Max - 9) / 10;
  while (z < end && IsDigit(*z)) {
    s = s * 10 + (*z - '0');
    ++z;
    ++n_digit;
    if (s >= kSignificandLimit) {
      // Further digits only scale the value.
      while (z < end && IsDigit(*z)) {
        ++z;
        ++d;
      }
    }
  }
  if (z < end && *z == '.') {
    ++z;
    ++kind;
    while (z < end && IsDigit(*z)) {
      if (s < kSignificandLimit) {
        s = s * 10 + (*z - '0');
        --d;
        ++n_digit;
      }
      ++z;
    }
  }
  if (z < end && (*z == 'e' || *z == 'E')) {
    ++z;
    e_valid = false;
    ++kind;
    if (z < end) {
      if (*z == '-') {
        esign = -1;
        ++z;
      } else if (*z == '+') {
        ++z;
      }
      while (z < end && IsDigit(*z)) {
        e = e < 10000 ? e * 10 + (*z - '0') : 10000;
        ++z;
        e_valid = true;
      }
    }
  }
  while (z < end && IsSpace(*z)) ++z;

  e = e * esign + d;
  if (e < 0) {
    esign = -1;
    e = -e;
  } else {
    esign = 1;
  }
  double r;
  if (s == 0) {
    r = sign < 0 ? -0.0 : 0.0;
  } else {
    // Move powers of ten into the significand while that is exact.
    while (e > 0) {
      if (esign > 0) {
        if (s >= kInt64Max / 10) break;
        s *= 10;
      } else {
        if (s % 10 != 0) break;
        s /= 10;
      }
      --e;
    }
    if (sign < 0) s = -s;
    if (e == 0) {
      r = static_cast<double>(s);
    } else {
      if (e > 307) {
        if (e < 342) {
          const long double scale = PowerOfTen(e - 308);
          if (esign < 0) {
            r = static_cast<double>(s / scale);
            r /= 1.0e+308;
          } else {
            r = static_cast<double>(s * scale);
            r *= 1.0e+308;
          }
        } else {
          r = esign < 0 ? 0.0 * static_cast<double>(s)
                        : std::numeric_limits<double>::infinity() * static_cast<double>(s);
        }
      } else {
        const long double scale = PowerOfTen(e);
        r = static_cast<double>(esign < 0 ? s / scale : s * scale);
      }
    }
  }
  *result = r;
  if (z == end && n_digit > 0 && e_valid) return kind;
  return 0;
}

// Text -> int64 (sqlite3Atoi64 for text AtoF called a pure integer):
// false when the value is outside int64.
bool TextToInt64(std::string_view text, int64_t* out) {
  size_t k = 0;
  while (k < text.size() && IsSpace(text[k])) ++k;
  bool negative = false;
  if (k < text.size() && (text[k] == '-' || text[k] == '+')) negative = text[k++] == '-';
  uint64_t u = 0;
  constexpr uint64_t kLimit = uint64_t{1} << 63;  // |INT64_MIN|
  for (; k < text.size() && IsDigit(text[k]); ++k) {
    const uint64_t digit = static_cast<uint64_t>(text[k] - '0');
    if (u > (kLimit - digit) / 10) return false;
    u = u * 10 + digit;
  }
  if (negative) {
    *out = u == kLimit ? kInt64Min : -static_cast<int64_t>(u);
    return true;
  }
  if (u >= kLimit) return false;
  *out = static_cast<int64_t>(u);
  return true;
}

// double -> int64 clamped to the int64 range, as SQLite's doubleToInt64.
int64_t ClampToInt64(double r) {
  if (r <= static_cast<double>(kInt64Min)) return kInt64Min;
  if (r >= static_cast<double>(kInt64Max)) return kInt64Max;
  return static_cast<int64_t>(r);
}

// sqlite3VdbeIntegerAffinity: a REAL holding an integer strictly inside the
// int64 range becomes that INTEGER (so -0.0 becomes 0, and +-2^63 stay REAL).
ValueRef IntegerIfExact(double r) {
  const int64_t ix = ClampToInt64(r);
  if (r == static_cast<double>(ix) && ix > kInt64Min && ix < kInt64Max) {
    return ValueRef::Integer(ix);
  }
  return ValueRef::Real(r);
}

// sqlite3RealSameAsInt: only small integers (below 2^51) are trusted from
// the double; larger ones are re-read from the text exactly.
bool RealSameAsInt(double r, int64_t i) {
  if (r == 0.0) return true;
  const double back = static_cast<double>(i);
  return back == r && !(std::signbit(back) != std::signbit(r)) && i >= -2251799813685248LL &&
         i < 2251799813685248LL;
}

int64_t RealToInt64(double r) {
  if (r < -9223372036854774784.0) return kInt64Min;
  if (r > +9223372036854774784.0) return kInt64Max;
  return static_cast<int64_t>(r);
}

// NUMERIC affinity applied to text; returns `value` itself when the text is
// not a well-formed number.
ValueRef NumericFromText(const ValueRef& value) {
  double r;
  const int kind = TextToDouble(value.bytes, &r);
  if (kind <= 0) return value;
  if (kind == 1) {
    const int64_t i = RealToInt64(r);
    if (RealSameAsInt(r, i)) return ValueRef::Integer(i);
    int64_t exact;
    if (TextToInt64(value.bytes, &exact)) return ValueRef::Integer(exact);
  }
  return IntegerIfExact(r);
}

// One decimal digit of `*v` (in [0, 10)), SQLite's et_getdigit: at most
// *budget significant digits, zeros after that.
char NextDigit(long double* v, int* budget) {
  if (*budget <= 0) return '0';
  --*budget;
  const int digit = static_cast<int>(*v);
  *v = (*v - digit) * 10.0;
  return static_cast<char>('0' + digit);
}

// A REAL as SQLite 3.40 renders it for TEXT affinity and CAST: printf
// "%!.15g", i.e. 15 significant digits with SQLite's own long double digit
// generation (which rounds some ties differently from glibc), trailing zeros
// removed but at least one digit after the point ("1.0", "1.0e+20"), a
// two-digit exponent at least, "Inf"/"-Inf", and -0.0 printed as "0.0".
void RenderReal(double value, std::string* out) {
  static constexpr double kRound[] = {5.0e-01, 5.0e-02, 5.0e-03, 5.0e-04, 5.0e-05,
                                      5.0e-06, 5.0e-07, 5.0e-08, 5.0e-09, 5.0e-10};
  long double v = value;
  bool negative = false;
  if (v < 0.0) {
    v = -v;
    negative = true;
  }
  int precision = 15 - 1;  // %g counts the digit before the point
  double rounder = kRound[precision % 10];
  for (int idx = precision; idx >= 10; idx -= 10) rounder *= 1.0e-10;
  int exp = 0;
  if (v > 0.0) {
    long double scale = 1.0;
    while (v >= 1e100 * scale && exp <= 350) {
      scale *= 1e100;
      exp += 100;
    }
    while (v >= 1e10 * scale && exp <= 350) {
      scale *= 1e10;
      exp += 10;
    }
    while (v >= 10.0 * scale && exp <= 350) {
      scale *= 10.0;
      exp++;
    }
    v /= scale;
    while (v < 1e-8) {
      v *= 1.0e8;
      exp -= 8;
    }
    while (v < 1.0) {
      v *= 10.0;
      exp--;
    }
    if (exp > 350) {
      out->append(negative ? "-Inf" : "Inf");
      return;
    }
  }
  v += rounder;
  if (v >= 10.0) {
    v *= 0.1;
    exp++;
  }
  const bool exponential = exp < -4 || exp > precision;
  int e2 = exponential ? 0 : exp;
  if (!exponential) precision -= exp;
  int budget = 16 + 10;  // "!" allows 26 significant digits
  char buf[64];
  char* p = buf;
  if (negative) *p++ = '-';
  if (e2 < 0) {
    *p++ = '0';
  } else {
    for (; e2 >= 0; e2--) *p++ = NextDigit(&v, &budget);
  }
  *p++ = '.';
  for (e2++; e2 < 0; precision--, e2++) *p++ = '0';
  while ((precision--) > 0) *p++ = NextDigit(&v, &budget);
  while (p[-1] == '0') --p;
  if (p[-1] == '.') *p++ = '0';
  if (exponential) {
    *p++ = 'e';
    if (exp < 0) {
      *p++ = '-';
      exp = -exp;
    } else {
      *p++ = '+';
    }
    if (exp >= 100) {
      *p++ = static_cast<char>('0' + exp / 100);
      exp %= 100;
    }
    *p++ = static_cast<char>('0' + exp / 10);
    *p++ = static_cast<char>('0' + exp % 10);
  }
  out->append(buf, p - buf);
}

}  // namespace

Affinity AffinityOfDeclaredType(std::string_view declared_type) {
  // The order of these tests is SQLite's (datatype3.html, 3.1).
  if (ContainsNoCase(declared_type, "INT")) return Affinity::kInteger;
  if (ContainsNoCase(declared_type, "CHAR") || ContainsNoCase(declared_type, "CLOB") ||
      ContainsNoCase(declared_type, "TEXT")) {
    return Affinity::kText;
  }
  if (declared_type.empty() || ContainsNoCase(declared_type, "BLOB")) return Affinity::kBlob;
  if (ContainsNoCase(declared_type, "REAL") || ContainsNoCase(declared_type, "FLOA") ||
      ContainsNoCase(declared_type, "DOUB")) {
    return Affinity::kReal;
  }
  return Affinity::kNumeric;
}

ValueRef ApplyAffinity(Affinity affinity, const ValueRef& value, std::string* scratch) {
  switch (affinity) {
    case Affinity::kBlob:
      return value;
    case Affinity::kText:
      if (value.type == ValueType::kInteger) {
        char buf[24];
        const auto result = std::to_chars(buf, buf + sizeof(buf), value.i);
        scratch->assign(buf, result.ptr);
        return ValueRef::Text(*scratch);
      }
      if (value.type == ValueType::kReal) {
        scratch->clear();
        RenderReal(value.r, scratch);
        return ValueRef::Text(*scratch);
      }
      return value;
    case Affinity::kNumeric:
    case Affinity::kInteger:
      if (value.type == ValueType::kText) return NumericFromText(value);
      if (value.type == ValueType::kReal) return IntegerIfExact(value.r);
      return value;
    case Affinity::kReal: {
      // SQLite stores an integer here and reads it back as a REAL, which
      // also turns -0.0 into 0.0.
      ValueRef numeric = value;
      if (value.type == ValueType::kText) numeric = NumericFromText(value);
      if (value.type == ValueType::kReal) numeric = IntegerIfExact(value.r);
      if (numeric.type == ValueType::kInteger)
        return ValueRef::Real(static_cast<double>(numeric.i));
      return numeric;
    }
  }
  return value;
}

}  // namespace manifold
