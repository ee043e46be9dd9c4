// The record format, byte by byte.
//
//   varint H          the number of header bytes that follow H itself
//   varint code[n]    one type code per column, H bytes in all
//   body[n]           the column bodies, in column order, back to back
//
// A varint is unsigned LEB128: 7 bits per byte, least significant group
// first, the high bit set on every byte but the last; at most 10 bytes, and
// the value must fit in 64 bits.
//
// Type codes (SQLite's serial types, but with a distinct 6-byte slot):
//   0        NULL                           no body
//   1        INTEGER, 1 byte                big-endian two's complement
//   2        INTEGER, 2 bytes               "
//   3        INTEGER, 3 bytes               "
//   4        INTEGER, 4 bytes               "
//   5        INTEGER, 6 bytes               "
//   6        INTEGER, 8 bytes               "
//   7        REAL                           8 bytes, IEEE-754 bits big-endian
//                                           (exact: -0.0 and infinities kept)
//   8        INTEGER 0                      no body
//   9        INTEGER 1                      no body
//   10, 11   reserved                       Corruption
//   N >= 12, even: BLOB of (N - 12) / 2 bytes
//   N >= 13, odd:  TEXT of (N - 13) / 2 bytes
//
// The bodies must end exactly at the end of the record. An integer uses the
// smallest width that holds it. NaN is stored as NULL, as SQLite stores it.
#include "record_codec.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace manifold {
namespace {

constexpr uint64_t kTypeNull = 0;
constexpr uint64_t kTypeReal = 7;
constexpr uint64_t kTypeZero = 8;
constexpr uint64_t kTypeOne = 9;
constexpr uint64_t kTypeFirstBytes = 12;

// Body width of integer codes 1..6.
constexpr uint8_t kIntWidth[7] = {0, 1, 2, 3, 4, 6, 8};

// Records are addressed with 32-bit offsets.
constexpr uint64_t kMaxRecordSize = UINT32_MAX;

void PutVarint(uint64_t v, std::string* out) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
}

int VarintLength(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Reads a varint at data[*pos..limit); false when truncated or overlong.
bool GetVarintSlow(const char* data, size_t limit, size_t* pos, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && *pos < limit; shift += 7) {
    const uint8_t b = static_cast<uint8_t>(data[(*pos)++]);
    // The tenth byte may carry only the top bit of a 64-bit value.
    if (shift == 63 && b > 1) return false;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// As GetVarintSlow, with the one-byte varint (every type code of a value
// under 58 bytes, and most headers' length) inline.
inline bool GetVarint(const char* data, size_t limit, size_t* pos, uint64_t* v) {
  if (*pos < limit) {
    const uint8_t b = static_cast<uint8_t>(data[*pos]);
    if (b < 0x80) {
      *v = b;
      ++*pos;
      return true;
    }
  }
  return GetVarintSlow(data, limit, pos, v);
}

int IntegerCode(int64_t v) {
  if (v == 0) return 8;
  if (v == 1) return 9;
  if (v >= -128 && v <= 127) return 1;
  if (v >= -32768 && v <= 32767) return 2;
  if (v >= -8388608 && v <= 8388607) return 3;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  if (v >= -(int64_t{1} << 47) && v < (int64_t{1} << 47)) return 5;
  return 6;
}

uint64_t TypeCode(const ValueRef& v) {
  switch (v.type) {
    case ValueType::kNull:
      return kTypeNull;
    case ValueType::kInteger:
      return IntegerCode(v.i);
    case ValueType::kReal:
      return std::isnan(v.r) ? kTypeNull : kTypeReal;
    case ValueType::kText:
      return kTypeFirstBytes + 1 + 2 * static_cast<uint64_t>(v.bytes.size());
    case ValueType::kBlob:
      return kTypeFirstBytes + 2 * static_cast<uint64_t>(v.bytes.size());
  }
  return kTypeNull;
}

// Returns the body size of a type code, or false for a reserved code.
inline bool BodySize(uint64_t code, uint64_t* size) {
  if (code >= kTypeFirstBytes) {
    *size = (code - kTypeFirstBytes) / 2;
    return true;
  }
  if (code >= 1 && code <= 6) {
    *size = kIntWidth[code];
    return true;
  }
  if (code == kTypeReal) {
    *size = 8;
    return true;
  }
  *size = 0;
  return code == kTypeNull || code == kTypeZero || code == kTypeOne;
}

void PutBigEndian(uint64_t v, int width, std::string* out) {
  char buf[8];
  for (int k = 0; k < width; ++k) buf[k] = static_cast<char>(v >> (8 * (width - 1 - k)));
  out->append(buf, width);
}

uint64_t GetBigEndian(const char* p, int width) {
  uint64_t v = 0;
  for (int k = 0; k < width; ++k) v = (v << 8) | static_cast<uint8_t>(p[k]);
  return v;
}

// GetBigEndian(p, 8) as one load (every REAL, and the widest integers).
inline uint64_t GetBigEndian8(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

}  // namespace

void RecordCodec::Encode(std::span<const ValueRef> values, std::string* out) {
  // Two passes over the columns: sizes first, so the header length (which
  // precedes the codes) is known and the output grows once.
  uint64_t header = 0;
  uint64_t body = 0;
  for (const ValueRef& v : values) {
    const uint64_t code = TypeCode(v);
    uint64_t size = 0;
    BodySize(code, &size);
    header += VarintLength(code);
    body += size;
  }
  out->reserve(out->size() + VarintLength(header) + header + body);
  PutVarint(header, out);
  for (const ValueRef& v : values) PutVarint(TypeCode(v), out);
  for (const ValueRef& v : values) {
    const uint64_t code = TypeCode(v);
    if (code >= 1 && code <= 6) {
      PutBigEndian(static_cast<uint64_t>(v.i), kIntWidth[code], out);
    } else if (code == kTypeReal) {
      uint64_t bits;
      std::memcpy(&bits, &v.r, sizeof(bits));
      PutBigEndian(bits, 8, out);
    } else if (code >= kTypeFirstBytes) {
      out->append(v.bytes.data(), v.bytes.size());
    }
  }
}

Status RecordReader::Open(std::string_view record) {
  return OpenPrefix(record, -1);
}

Status RecordReader::OpenPrefix(std::string_view record, int columns) {
  record_ = {};
  columns_.clear();  // keeps capacity: no allocation once warmed up
  header_pos_ = header_end_ = 0;
  body_offset_ = 0;
  corrupt_ = false;
  if (record.size() > kMaxRecordSize) return Status::Corruption("record larger than 4 GiB");
  size_t pos = 0;
  uint64_t header = 0;
  if (!GetVarint(record.data(), record.size(), &pos, &header)) {
    return Status::Corruption("record header length is malformed");
  }
  if (header > record.size() - pos) return Status::Corruption("record header past the end");
  record_ = record;
  header_pos_ = pos;
  header_end_ = pos + static_cast<size_t>(header);
  body_offset_ = header_end_;
  Status s = ParseThrough(columns < 0 ? SIZE_MAX : static_cast<size_t>(columns));
  if (!s.ok()) {
    record_ = {};
    columns_.clear();
    header_pos_ = header_end_ = 0;
  }
  return s;
}

Status RecordReader::ParseThrough(size_t columns) {
  // Locals while parsing, stored back once: the loop runs for every column of
  // every row a scan reads.
  const char* data = record_.data();
  const size_t record_size = record_.size();
  const size_t header_end = header_end_;
  size_t pos = header_pos_;
  uint64_t body_offset = body_offset_;
  Status s;
  while (columns_.size() < columns && pos < header_end) {
    uint64_t code = 0;
    uint64_t size = 0;
    if (!GetVarint(data, header_end, &pos, &code)) {
      s = Malformed("record type code is malformed");
      break;
    }
    if (!BodySize(code, &size)) {
      s = Malformed("record has reserved type code " + std::to_string(code));
      break;
    }
    if (size > record_size - body_offset) {
      s = Malformed("record column past the end");
      break;
    }
    columns_.push_back({code, static_cast<uint32_t>(body_offset)});
    body_offset += size;
  }
  header_pos_ = pos;
  body_offset_ = body_offset;
  if (s.ok() && pos == header_end && body_offset != record_size) {
    s = Malformed("record has trailing bytes");
  }
  return s;
}

Status RecordReader::Malformed(const std::string& what) {
  corrupt_ = true;
  return Status::Corruption(what);
}

Status RecordReader::Column(int index, ValueRef* value) {
  if (index < 0) return Status::InvalidArgument("negative record column index");
  if (static_cast<size_t>(index) >= columns_.size()) {
    // The part of the header OpenPrefix skipped: parse on, or repeat why not.
    if (corrupt_) return Status::Corruption("record header is malformed");
    if (header_pos_ < header_end_) {
      MANIFOLD_RETURN_IF_ERROR(ParseThrough(static_cast<size_t>(index) + 1));
    }
  }
  if (static_cast<size_t>(index) >= columns_.size()) {
    *value = ValueRef::Null();
    return Status::OK();
  }
  const uint64_t code = columns_[index].code;
  const char* p = record_.data() + columns_[index].offset;
  if (code >= kTypeFirstBytes) {
    const std::string_view bytes(p, static_cast<size_t>((code - kTypeFirstBytes) / 2));
    *value = (code & 1) ? ValueRef::Text(bytes) : ValueRef::Blob(bytes);
    return Status::OK();
  }
  switch (code) {
    case kTypeNull:
      *value = ValueRef::Null();
      return Status::OK();
    case kTypeZero:
      *value = ValueRef::Integer(0);
      return Status::OK();
    case kTypeOne:
      *value = ValueRef::Integer(1);
      return Status::OK();
    case kTypeReal: {
      const uint64_t bits = GetBigEndian8(p);
      double r;
      std::memcpy(&r, &bits, sizeof(r));
      if (std::isnan(r)) return Status::Corruption("record holds a NaN");
      *value = ValueRef::Real(r);
      return Status::OK();
    }
    default: {  // 1..6, checked by Open
      const int width = kIntWidth[code];
      const uint64_t raw = GetBigEndian(p, width);
      // Sign-extend from width bytes.
      const int shift = 64 - 8 * width;
      const int64_t v = static_cast<int64_t>(raw << shift) >> shift;
      *value = ValueRef::Integer(v);
      return Status::OK();
    }
  }
}

}  // namespace manifold
