// The zstd value layer: wraps any engine so that its values are stored
// compressed, with a zstd dictionary per keyspace trained from the keyspace's
// own values. Keys are never compressed, so key order and seeks are the inner
// engine's.
//
// Stored value format (what the inner engine holds), by its first byte:
//   0x00  raw: the value follows as is (small or incompressible values; one
//         byte of overhead)
//   0x01  a zstd frame without dictionary follows
//   0x02  a LEB128 varint dictionary id, then a zstd frame made with that
//         dictionary (frames carry their content size, no checksum, no
//         dictionary id of their own)
//
// Dictionaries live in the store itself, in the reserved keyspace
// "__manifold_zstd" (hidden from ListKeyspaces, refused by Create/Drop/Open):
//   "next"                    8-byte big-endian: the next dictionary id
//   "ks:" + keyspace name     the keyspace's dictionary ids as LEB128 varints,
//                             oldest first; the last one compresses new values
//   "dict:" + 8-byte BE id    the dictionary's bytes
// Ids are never reused, so a value always finds the dictionary it was made
// with, and dictionaries are cached per wrapped engine by id. A keyspace gets
// its first dictionary once it has seen kTrainBytes of values written through
// this process; Compact() retrains every keyspace from all its values,
// rewrites them with the new dictionary, drops the old ones, then compacts the
// inner engine. DropKeyspace drops the keyspace's dictionaries too.
//
// Thread-safety: as Engine (engine.h).
#ifndef MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_
#define MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_

#include <cstdint>
#include <memory>

#include "manifold/engine.h"

namespace manifold {

// The reserved keyspace that holds the dictionaries.
inline constexpr std::string_view kZstdKeyspace = "__manifold_zstd";
// Bytes of sample values a keyspace collects before its first dictionary.
inline constexpr size_t kZstdTrainBytes = 256 * 1024;

// Returns `inner` with its values compressed by zstd at
// options.compression_level. Other fields of `options` are not used.
Result<std::unique_ptr<Engine>> WrapWithZstd(std::unique_ptr<Engine> inner, const Options& options);

// Retrains the dictionary of every keyspace of `engine` from its values and
// rewrites them with it, dropping the older dictionaries; what Compact() does
// before compacting the inner engine. InvalidArgument unless `engine` was made
// by WrapWithZstd. Waits up to 5 s for the store's write transaction.
Status RetrainZstdDictionaries(Engine& engine);

// Value bytes of one keyspace: what callers put (logical) and what the inner
// engine holds (stored). Keys are not counted.
struct ValueByteCounts {
  uint64_t values = 0;
  uint64_t logical = 0;
  uint64_t stored = 0;
};

// Returns the value bytes of keyspace `name` as of now. For an engine made by
// WrapWithZstd, logical is read from the value headers (no decompression);
// for any other engine logical == stored == the sum of value sizes.
Result<ValueByteCounts> CountValueBytes(Engine& engine, std::string_view name);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_
