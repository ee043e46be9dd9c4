// ZstdDictionary and ZstdCodec: the stored value format of the zstd value
// layer (written down byte by byte in zstd_engine.h), its dictionaries, and
// dictionary training.
//
// Thread-safety: a ZstdDictionary is immutable and shared between threads; a
// ZstdCodec holds zstd contexts and is used by one thread at a time.
#ifndef MANIFOLD_ENGINES_ZSTD_ZSTD_CODEC_H_
#define MANIFOLD_ENGINES_ZSTD_ZSTD_CODEC_H_

#include <zstd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "manifold/engine.h"

namespace manifold {

enum ZstdHeader : uint8_t {
  kZstdRaw = 0x00,
  kZstdPlain = 0x01,
  kZstdWithDictionary = 0x02,
};

// A trained dictionary, ready for compression (at one level) and decompression.
class ZstdDictionary {
 public:
  // Returns the dictionary for `bytes` at compression `level`, or Corruption
  // if zstd refuses the bytes.
  static Result<std::shared_ptr<const ZstdDictionary>> Make(uint64_t id, std::string bytes,
                                                            int level);
  ZstdDictionary(const ZstdDictionary&) = delete;
  ZstdDictionary& operator=(const ZstdDictionary&) = delete;
  ~ZstdDictionary();

  uint64_t id() const { return id_; }
  const std::string& bytes() const { return bytes_; }
  const ZSTD_CDict* cdict() const { return cdict_; }
  const ZSTD_DDict* ddict() const { return ddict_; }

 private:
  ZstdDictionary() = default;
  uint64_t id_ = 0;
  std::string bytes_;
  ZSTD_CDict* cdict_ = nullptr;
  ZSTD_DDict* ddict_ = nullptr;
};

using DictionaryPtr = std::shared_ptr<const ZstdDictionary>;
// Finds dictionary `id` for decoding; NotFound/Corruption if it cannot.
using DictionaryLookup = std::function<Result<DictionaryPtr>(uint64_t id)>;

// What the header of a stored value says.
struct ZstdStoredHeader {
  ZstdHeader kind = kZstdRaw;
  uint64_t dictionary_id = 0;  // when kind is kZstdWithDictionary
  uint64_t decoded_size = 0;   // the size of the value it holds
  Bytes payload;               // the raw value or the zstd frame, within `stored`
};
// Reads the header of `stored`; Corruption when it is damaged.
Result<ZstdStoredHeader> ReadZstdHeader(Bytes stored);

// Creates each zstd context at its first use (a transaction that only reads
// never compresses); throws std::bad_alloc when zstd cannot allocate one.
class ZstdCodec {
 public:
  explicit ZstdCodec(int level);
  ZstdCodec(const ZstdCodec&) = delete;
  ZstdCodec& operator=(const ZstdCodec&) = delete;
  ~ZstdCodec();

  // Stores in *out the stored form of `value`: compressed with `dict` (or
  // without one when null) if that is smaller, else raw.
  Status Encode(Bytes value, const ZstdDictionary* dict, std::string* out);
  // Stores in *out the value that `stored` holds.
  Status Decode(Bytes stored, const DictionaryLookup& lookup, std::string* out);
  // Stores in *out the value of a stored value whose header ReadZstdHeader
  // has read, with the dictionary it names already found: `dict` is that
  // dictionary, or null when it names none.
  Status DecodeFrame(const ZstdStoredHeader& header, const ZstdDictionary* dict,
                     std::string* out);

 private:
  int level_;
  ZSTD_CCtx* cctx_ = nullptr;
  ZSTD_DCtx* dctx_ = nullptr;
};

// Returns the size of the value `stored` holds, from its header alone.
Result<uint64_t> ZstdDecodedSize(Bytes stored);

// Trains a dictionary from `samples`; an empty string when zstd finds the
// samples too few or too alike to train on.
std::string TrainZstdDictionary(const std::vector<std::string>& samples);

// LEB128 varints, as in the stored format.
void AppendVarint(std::string* out, uint64_t value);
// Reads a varint from the front of *in and advances it; false if malformed.
bool ReadVarint(Bytes* in, uint64_t* value);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ZSTD_ZSTD_CODEC_H_
