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
  // Parses the header of `record`; Corruption if it is malformed. `record`
  // must outlive the reader and the ValueRefs it hands out.
  Status Open(std::string_view record);

  // Returns the number of columns in the record.
  int column_count() const { return static_cast<int>(offsets_.size()); }

  // Stores column `index` in *value (text and blob bytes point into the
  // record). A column past column_count() is NULL. Corruption if the body is
  // malformed.
  Status Column(int index, ValueRef* value) const;

 private:
  std::string_view record_;
  std::vector<uint32_t> offsets_;  // body offset of each column
  std::vector<uint64_t> types_;    // type code of each column
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_RECORD_CODEC_H_
