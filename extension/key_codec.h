// KeyCodec: SQLite values <-> ordered key bytes.
//
// Comparing two encoded keys as unsigned bytes gives the same answer as
// SQLite's own comparison of the values (BINARY collation): NULL < INTEGER and
// REAL by value < TEXT by bytes < BLOB by bytes. Equal numbers encode equal
// (1 and 1.0, 0.0 and -0.0), so key uniqueness matches a native table; the
// storage class a key number cannot tell (a REAL with an integral value) is
// kept by the caller in the record (see KeyDecodesExactly). Each component is
// self-delimiting, so composite keys are concatenations, and a DESC component
// is the bitwise complement of its ASC encoding. The encoding is written down
// byte by byte in key_codec.cc. Pure functions; thread-safe.
#ifndef MANIFOLD_EXTENSION_KEY_CODEC_H_
#define MANIFOLD_EXTENSION_KEY_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "manifold/status.h"
#include "value.h"

namespace manifold {

enum class SortOrder { kAsc, kDesc };

class KeyCodec {
 public:
  // Appends the encoding of one key component to *out.
  static void Append(const ValueRef& value, SortOrder order, std::string* out);

  // Decodes one component from the front of *in and advances *in past it.
  // Numbers come back as INTEGER when integral and within int64, else REAL.
  // Corruption when the bytes are not a valid component.
  static Status Decode(std::string_view* in, SortOrder order, Value* out);

  // Advances *in past one component without decoding it.
  static Status Skip(std::string_view* in, SortOrder order);

  // Returns true when Decode(Append(value)) gives back value with the same
  // storage class; false for REALs with an integral value (including -0.0).
  static bool DecodesExactly(const ValueRef& value);

  // Rowid tables: the 8-byte big-endian rowid with its sign bit flipped.
  static std::string EncodeRowid(int64_t rowid);
  static void AppendRowid(int64_t rowid, std::string* out);
  // Corruption unless `key` is exactly 8 bytes.
  static Status DecodeRowid(std::string_view key, int64_t* rowid);

  // Returns the smallest byte string greater than every string that starts
  // with `prefix`, or "" when there is none (prefix all 0xFF).
  static std::string PrefixSuccessor(std::string_view prefix);
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_KEY_CODEC_H_
