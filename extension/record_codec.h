// RecordCodec: a row's non-key columns <-> compact record bytes.
//
// A record is a header (its own length, then one type code per column, as
// varints) followed by the column bodies, in the spirit of SQLite's record
// format. RecordReader parses the header once and decodes a column only when
// asked, so a query pays only for the columns it uses. The format is written
// down byte by byte in record_codec.cc. Thread-safe as values.
#ifndef MANIFOLD_EXTENSION_RECORD_CODEC_H_
#define MANIFOLD_EXTENSION_RECORD_CODEC_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/status.h"
#include "value.h"

namespace manifold {

class RecordCodec {
 public:
  // Appends the record of `values` to *out. Every value round-trips exactly,
  // with its storage class (-0.0, infinities, empty text and blob included).
  static void Encode(std::span<const ValueRef> values, std::string* out);
};

class RecordReader {
 public:
  // Parses the whole header of `record`; Corruption if it is malformed.
  // `record` must outlive the reader and the ValueRefs it hands out.
  Status Open(std::string_view record);

  // Parses the header only as far as the first `columns` columns: a query
  // that uses the leading columns of a wide record skips the rest of the
  // header. Column() parses further on demand, so every column stays
  // readable. A malformation past the parsed part is Corruption only once a
  // column reaches it; trailing bytes only once the whole header is parsed.
  Status OpenPrefix(std::string_view record, int columns);

  // Returns the number of columns in the record.
  // REQUIRES: opened by Open(), which parses the whole header.
  int column_count() const { return static_cast<int>(columns_.size()); }

  // Stores column `index` in *value (text and blob bytes point into the
  // record). A column past the last is NULL. Corruption if the body is
  // malformed. May parse more of the header (after OpenPrefix).
  Status Column(int index, ValueRef* value);

 private:
  struct ColumnSlot {
    uint64_t code;    // type code
    uint32_t offset;  // body offset in the record
  };

  // Parses header codes until `columns` are known or the header ends.
  Status ParseThrough(size_t columns);
  // Marks the record corrupt; returns Corruption with `what`.
  [[gnu::cold]] Status Malformed(const std::string& what);

  std::string_view record_;
  size_t header_pos_ = 0;     // next unparsed header byte
  size_t header_end_ = 0;     // first body byte
  uint64_t body_offset_ = 0;  // body offset of the next column to parse
  std::vector<ColumnSlot> columns_;  // parsed so far, in column order
  bool corrupt_ = false;             // parsing on found a malformation
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_RECORD_CODEC_H_
