// The key encoding, byte by byte.
//
// A key is the concatenation of its components. Each component starts with a
// tag byte that orders the storage classes as SQLite does; the gaps between
// tags leave room for later classes:
//
//   0x05  NULL    the tag alone.
//   0x15  number  INTEGER or REAL, 10 more bytes:
//                 bytes 1..8  the value rounded to the nearest double d, as
//                             the IEEE-754 bits big-endian, with the sign bit
//                             flipped when d >= +0.0 and every bit flipped
//                             when d < 0 (so unsigned byte order is numeric
//                             order). -0.0 is written as +0.0; NaN never
//                             occurs (SQLite turns it into NULL, and so do we).
//                 bytes 9..10 the exact remainder (value - d) as a signed
//                             integer plus 0x8000, big-endian. It is 0 for
//                             every REAL and for every INTEGER below 2^53 in
//                             magnitude; above that |value - d| <= 512.
//                 Rounding to nearest is monotone, so d orders the numbers
//                 except among integers that round to the same d, which the
//                 remainder orders exactly. Equal numbers (1 and 1.0, 0 and
//                 -0.0) have equal bytes.
//   0x25  TEXT    the bytes, each 0x00 written as 0x00 0xFF, then the
//                 terminator 0x00 0x00.
//   0x35  BLOB    as TEXT.
//                 The terminator sorts below every escaped or plain byte, so
//                 a string sorts before its extensions ("ab" < "ab\0" <
//                 "ab\1" < "abc"), and no component is a prefix of another.
//
// A DESC component is the bitwise complement of all of its ASC bytes, tag
// included: complementing reverses the order of prefix-free strings.
//
// Rowid keys are separate: the rowid as 8 bytes big-endian with the sign bit
// flipped, so negative rowids sort first.
#include "key_codec.h"

#include <cmath>
#include <cstring>

namespace manifold {
namespace {

constexpr uint8_t kTagNull = 0x05;
constexpr uint8_t kTagNumber = 0x15;
constexpr uint8_t kTagText = 0x25;
constexpr uint8_t kTagBlob = 0x35;

constexpr uint64_t kSignBit = uint64_t{1} << 63;
constexpr double kTwo53 = 9007199254740992.0;
constexpr double kTwo63 = 9223372036854775808.0;
constexpr int kRemainderBias = 0x8000;

// The byte written for `b` in a component of `order`.
inline char Out(uint8_t b, SortOrder order) {
  return static_cast<char>(order == SortOrder::kAsc ? b : static_cast<uint8_t>(~b));
}
// The ASC byte read from raw component byte `c`.
inline uint8_t In(char c, SortOrder order) {
  const uint8_t b = static_cast<uint8_t>(c);
  return order == SortOrder::kAsc ? b : static_cast<uint8_t>(~b);
}

void AppendNumber(double d, int remainder, SortOrder order, std::string* out) {
  if (d == 0.0) d = 0.0;  // -0.0 sorts and compares as +0.0
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  bits = (bits & kSignBit) ? ~bits : (bits | kSignBit);
  char buf[11];
  buf[0] = Out(kTagNumber, order);
  for (int k = 0; k < 8; ++k) buf[1 + k] = Out(static_cast<uint8_t>(bits >> (56 - 8 * k)), order);
  const unsigned biased = static_cast<unsigned>(remainder + kRemainderBias);
  buf[9] = Out(static_cast<uint8_t>(biased >> 8), order);
  buf[10] = Out(static_cast<uint8_t>(biased), order);
  out->append(buf, sizeof(buf));
}

void AppendBytes(uint8_t tag, std::string_view bytes, SortOrder order, std::string* out) {
  out->reserve(out->size() + bytes.size() + 3);
  out->push_back(Out(tag, order));
  if (order == SortOrder::kAsc) {
    // Copy runs between zero bytes in bulk: the common case has none.
    size_t start = 0;
    while (start <= bytes.size()) {
      const size_t zero = bytes.find('\0', start);
      const size_t end = zero == std::string_view::npos ? bytes.size() : zero;
      out->append(bytes.data() + start, end - start);
      if (zero == std::string_view::npos) break;
      out->push_back('\0');
      out->push_back('\xff');
      start = zero + 1;
    }
  } else {
    for (char c : bytes) {
      out->push_back(Out(static_cast<uint8_t>(c), order));
      if (c == '\0') out->push_back(Out(0xff, order));
    }
  }
  out->push_back(Out(0x00, order));
  out->push_back(Out(0x00, order));
}

Status Truncated(std::string_view what) {
  return Status::Corruption("key component truncated: " + std::string(what));
}

// Parses a number component (tag already consumed). Stores the value in *out
// unless out is null. Rejects every byte string Append cannot produce, so
// that equal values never have two encodings.
Status ParseNumber(std::string_view* in, SortOrder order, Value* out) {
  if (in->size() < 10) return Truncated("number");
  uint64_t bits = 0;
  for (int k = 0; k < 8; ++k) bits = (bits << 8) | In((*in)[k], order);
  const int remainder = ((In((*in)[8], order) << 8) | In((*in)[9], order)) - kRemainderBias;
  bits = (bits & kSignBit) ? (bits & ~kSignBit) : ~bits;
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  if (std::isnan(d)) return Status::Corruption("key number is NaN");
  if (d == 0.0 && std::signbit(d)) return Status::Corruption("key number is -0.0");
  const bool integral = std::isfinite(d) && std::trunc(d) == d;
  // INTEGER exactly when integral and d + remainder fits int64.
  bool is_integer = false;
  int64_t i = 0;
  if (integral && d >= -kTwo63 && d <= kTwo63) {
    const __int128 exact = static_cast<__int128>(d) + remainder;
    if (exact >= INT64_MIN && exact <= INT64_MAX) {
      i = static_cast<int64_t>(exact);
      is_integer = true;
    }
  }
  if (remainder != 0) {
    // Only integers beyond 2^53 carry a remainder, and only the one that
    // rounding to nearest produced.
    if (!is_integer || std::fabs(d) < kTwo53 || static_cast<double>(i) != d) {
      return Status::Corruption("key number has an impossible remainder");
    }
  }
  in->remove_prefix(10);
  if (out != nullptr) {
    out->bytes.clear();
    if (is_integer) {
      out->type = ValueType::kInteger;
      out->i = i;
      out->r = 0.0;
    } else {
      out->type = ValueType::kReal;
      out->i = 0;
      out->r = d;
    }
  }
  return Status::OK();
}

// Parses an escaped byte string up to and including its terminator (tag
// already consumed). Appends the bytes to *out unless out is null.
Status ParseBytes(std::string_view* in, SortOrder order, std::string* out) {
  const uint8_t zero = In('\0', order);  // the raw byte that stands for 0x00
  size_t pos = 0;
  const size_t n = in->size();
  while (true) {
    // Find the next raw zero byte; everything before it is literal.
    const size_t z = in->find(static_cast<char>(zero), pos);
    if (z == std::string_view::npos || z + 1 >= n) return Truncated("string without terminator");
    if (out != nullptr) {
      if (order == SortOrder::kAsc) {
        out->append(in->data() + pos, z - pos);
      } else {
        for (size_t k = pos; k < z; ++k) out->push_back(static_cast<char>(In((*in)[k], order)));
      }
    }
    const uint8_t next = In((*in)[z + 1], order);
    if (next == 0x00) {  // terminator
      in->remove_prefix(z + 2);
      return Status::OK();
    }
    if (next != 0xff) return Status::Corruption("key string has a bad escape");
    if (out != nullptr) out->push_back('\0');
    pos = z + 2;
  }
}

Status Parse(std::string_view* in, SortOrder order, Value* out) {
  if (in->empty()) return Truncated("empty");
  const uint8_t tag = In((*in)[0], order);
  in->remove_prefix(1);
  switch (tag) {
    case kTagNull:
      if (out != nullptr) {
        out->type = ValueType::kNull;
        out->i = 0;
        out->r = 0.0;
        out->bytes.clear();  // keeps its capacity for the next component
      }
      return Status::OK();
    case kTagNumber:
      return ParseNumber(in, order, out);
    case kTagText:
    case kTagBlob: {
      if (out == nullptr) return ParseBytes(in, order, nullptr);
      out->type = tag == kTagText ? ValueType::kText : ValueType::kBlob;
      out->i = 0;
      out->r = 0.0;
      out->bytes.clear();
      return ParseBytes(in, order, &out->bytes);
    }
    default:
      return Status::Corruption("key component has unknown tag " + std::to_string(tag));
  }
}

}  // namespace

void KeyCodec::Append(const ValueRef& value, SortOrder order, std::string* out) {
  switch (value.type) {
    case ValueType::kNull:
      out->push_back(Out(kTagNull, order));
      return;
    case ValueType::kInteger: {
      // Round to nearest (the default mode): monotone, so order-preserving.
      const double d = static_cast<double>(value.i);
      const __int128 remainder = static_cast<__int128>(value.i) - static_cast<__int128>(d);
      AppendNumber(d, static_cast<int>(remainder), order, out);
      return;
    }
    case ValueType::kReal:
      if (std::isnan(value.r)) {  // as SQLite does with NaN
        out->push_back(Out(kTagNull, order));
        return;
      }
      AppendNumber(value.r, 0, order, out);
      return;
    case ValueType::kText:
      AppendBytes(kTagText, value.bytes, order, out);
      return;
    case ValueType::kBlob:
      AppendBytes(kTagBlob, value.bytes, order, out);
      return;
  }
}

Status KeyCodec::Decode(std::string_view* in, SortOrder order, Value* out) {
  std::string_view rest = *in;
  MANIFOLD_RETURN_IF_ERROR(Parse(&rest, order, out));
  *in = rest;
  return Status::OK();
}

Status KeyCodec::Skip(std::string_view* in, SortOrder order) {
  std::string_view rest = *in;
  MANIFOLD_RETURN_IF_ERROR(Parse(&rest, order, nullptr));
  *in = rest;
  return Status::OK();
}

bool KeyCodec::DecodesExactly(const ValueRef& value) {
  if (value.type != ValueType::kReal) return true;
  const double r = value.r;
  if (std::isnan(r)) return false;  // comes back as NULL
  // An integral REAL in [-2^63, 2^63) decodes as an INTEGER.
  return !(std::trunc(r) == r && r >= -kTwo63 && r < kTwo63);
}

void KeyCodec::AppendRowid(int64_t rowid, std::string* out) {
  const uint64_t u = static_cast<uint64_t>(rowid) ^ kSignBit;
  char buf[8];
  for (int k = 0; k < 8; ++k) buf[k] = static_cast<char>(u >> (56 - 8 * k));
  out->append(buf, sizeof(buf));
}

std::string KeyCodec::EncodeRowid(int64_t rowid) {
  std::string key;
  AppendRowid(rowid, &key);
  return key;
}

Status KeyCodec::DecodeRowid(std::string_view key, int64_t* rowid) {
  if (key.size() != 8) {
    return Status::Corruption("rowid key has " + std::to_string(key.size()) +
                              " bytes (expected 8)");
  }
  uint64_t u = 0;
  for (char c : key) u = (u << 8) | static_cast<uint8_t>(c);
  *rowid = static_cast<int64_t>(u ^ kSignBit);
  return Status::OK();
}

std::string KeyCodec::PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty() && static_cast<uint8_t>(s.back()) == 0xff) s.pop_back();
  if (!s.empty()) s.back() = static_cast<char>(static_cast<uint8_t>(s.back()) + 1);
  return s;
}

}  // namespace manifold
