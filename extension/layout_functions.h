// SQL functions that decode (and encode) common key and value layouts of
// stores written by other programs, for use with raw tables
// (`(key BLOB PRIMARY KEY, value BLOB)`):
//
//   manifold_decode_be(bytes)          -> INTEGER
//     1 to 8 bytes, big-endian. 1 to 7 bytes: the unsigned value; 8 bytes:
//     the signed 64-bit value with those bits (two's complement), as a C
//     program reading an int64_t/uint64_t key would store it. NULL gives
//     NULL; any other length is an error.
//   manifold_encode_be(integer [, n])  -> BLOB
//     The inverse: `n` bytes (1 to 8, default 8), big-endian. For n < 8 the
//     value must be in 0 .. 2^(8n)-1; for n = 8 any integer (negative ones as
//     two's complement). So `WHERE key = manifold_encode_be(42)` is a point
//     lookup and a range of encode_be values a bounded key scan.
//   manifold_decode_lp(bytes, n [, prefix]) -> BLOB
//     The n-th (counting from 1) length-prefixed field of `bytes`: each field
//     is its length, then that many bytes. `prefix` says how the length is
//     written: 'varint' (the default: unsigned LEB128, as LevelDB's
//     PutLengthPrefixedSlice and protobuf write it), or 1, 2, 4 or 8 (a
//     big-endian unsigned integer of that many bytes). NULL when `bytes` is
//     NULL or holds fewer than n well-formed fields; CAST the result AS TEXT
//     for text.
//
// Pure functions (deterministic, innocuous), registered per connection.
#ifndef MANIFOLD_EXTENSION_LAYOUT_FUNCTIONS_H_
#define MANIFOLD_EXTENSION_LAYOUT_FUNCTIONS_H_

#include "sqlite_api.h"

namespace manifold {

// Registers the functions above on `db`. Returns a SQLite code.
int RegisterLayoutFunctions(sqlite3* db);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_LAYOUT_FUNCTIONS_H_
