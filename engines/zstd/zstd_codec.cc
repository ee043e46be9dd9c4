#include "zstd/zstd_codec.h"

#include <zdict.h>

#include <algorithm>
#include <new>

namespace manifold {
namespace {

// Below this many bytes a value is stored raw: a zstd frame header alone is
// ~6 bytes, so nothing is won. With a dictionary short values do compress.
constexpr size_t kMinPlainSize = 64;
constexpr size_t kMinDictionarySize = 16;
// A decoded value larger than this is taken as a damaged header.
constexpr uint64_t kMaxValueSize = uint64_t{1} << 32;
constexpr size_t kMaxDictionaryBytes = 16 * 1024;

}  // namespace

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

bool ReadVarint(Bytes* in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && !in->empty(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

Result<DictionaryPtr> ZstdDictionary::Make(uint64_t id, std::string bytes, int level) {
  std::shared_ptr<ZstdDictionary> dict(new ZstdDictionary());  // private constructor
  dict->id_ = id;
  dict->bytes_ = std::move(bytes);
  dict->cdict_ = ZSTD_createCDict(dict->bytes_.data(), dict->bytes_.size(), level);
  dict->ddict_ = ZSTD_createDDict(dict->bytes_.data(), dict->bytes_.size());
  if (dict->cdict_ == nullptr || dict->ddict_ == nullptr) {
    return Status::Corruption("zstd: dictionary " + std::to_string(id) + " is unusable");
  }
  return DictionaryPtr(std::move(dict));
}

ZstdDictionary::~ZstdDictionary() {
  ZSTD_freeCDict(cdict_);
  ZSTD_freeDDict(ddict_);
}

ZstdCodec::ZstdCodec(int level) : level_(level) {}

ZstdCodec::~ZstdCodec() {
  ZSTD_freeCCtx(cctx_);
  ZSTD_freeDCtx(dctx_);
}

Status ZstdCodec::Encode(Bytes value, const ZstdDictionary* dict, std::string* out) {
  out->clear();
  size_t min_size = dict != nullptr ? kMinDictionarySize : kMinPlainSize;
  if (value.size() >= min_size) {
    if (cctx_ == nullptr && (cctx_ = ZSTD_createCCtx()) == nullptr) throw std::bad_alloc();
    out->push_back(static_cast<char>(dict != nullptr ? kZstdWithDictionary : kZstdPlain));
    if (dict != nullptr) AppendVarint(out, dict->id());
    size_t header = out->size();
    // Only a result smaller than the raw form is kept, so the frame may use
    // at most value.size() - header bytes; zstd stops early if it cannot.
    size_t capacity = ZSTD_compressBound(value.size());
    out->resize(header + capacity);
    ZSTD_CCtx_reset(cctx_, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level_);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_dictIDFlag, 0);  // our header names it
    if (dict != nullptr) ZSTD_CCtx_refCDict(cctx_, dict->cdict());
    size_t n = ZSTD_compress2(cctx_, out->data() + header, capacity, value.data(), value.size());
    if (!ZSTD_isError(n) && header + n < value.size() + 1) {
      out->resize(header + n);
      return Status::OK();
    }
    out->clear();
  }
  out->reserve(value.size() + 1);
  out->push_back(static_cast<char>(kZstdRaw));
  out->append(value.data(), value.size());
  return Status::OK();
}

Status ZstdCodec::Decode(Bytes stored, const DictionaryLookup& lookup, std::string* out) {
  Result<ZstdStoredHeader> header = ReadZstdHeader(stored);
  if (!header.ok()) return header.status();
  if (header->kind != kZstdWithDictionary) return DecodeFrame(*header, nullptr, out);
  Result<DictionaryPtr> found = lookup(header->dictionary_id);
  if (!found.ok()) return found.status();
  return DecodeFrame(*header, found->get(), out);
}

Status ZstdCodec::DecodeFrame(const ZstdStoredHeader& header, const ZstdDictionary* dict,
                              std::string* out) {
  if ((header.kind == kZstdWithDictionary) != (dict != nullptr) ||
      (dict != nullptr && dict->id() != header.dictionary_id)) {
    return Status::Internal("zstd: a value decoded with a dictionary it does not name");
  }
  if (header.kind == kZstdRaw) {
    out->assign(header.payload.data(), header.payload.size());
    return Status::OK();
  }
  if (header.decoded_size > kMaxValueSize) return Status::Corruption("zstd: damaged frame header");
  if (dctx_ == nullptr && (dctx_ = ZSTD_createDCtx()) == nullptr) throw std::bad_alloc();
  out->resize(static_cast<size_t>(header.decoded_size));
  Bytes frame = header.payload;
  size_t n = dict != nullptr ? ZSTD_decompress_usingDDict(dctx_, out->data(), out->size(),
                                                          frame.data(), frame.size(), dict->ddict())
                             : ZSTD_decompressDCtx(dctx_, out->data(), out->size(), frame.data(),
                                                   frame.size());
  if (ZSTD_isError(n) || n != out->size()) {
    out->clear();
    return Status::Corruption(std::string("zstd: cannot decompress a value: ") +
                              (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
  }
  return Status::OK();
}

Result<ZstdStoredHeader> ReadZstdHeader(Bytes stored) {
  if (stored.empty()) return Status::Corruption("zstd: stored value has no header");
  ZstdStoredHeader header;
  uint8_t kind = static_cast<uint8_t>(stored.front());
  stored.remove_prefix(1);
  if (kind == kZstdRaw) {
    header.decoded_size = stored.size();
    header.payload = stored;
    return header;
  }
  if (kind == kZstdWithDictionary) {
    if (!ReadVarint(&stored, &header.dictionary_id)) {
      return Status::Corruption("zstd: bad dictionary id");
    }
  } else if (kind != kZstdPlain) {
    return Status::Corruption("zstd: unknown value header " + std::to_string(kind));
  }
  header.kind = static_cast<ZstdHeader>(kind);
  unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Corruption("zstd: damaged frame header");
  }
  header.decoded_size = size;
  header.payload = stored;
  return header;
}

Result<uint64_t> ZstdDecodedSize(Bytes stored) {
  Result<ZstdStoredHeader> header = ReadZstdHeader(stored);
  if (!header.ok()) return header.status();
  return header->decoded_size;
}

std::string TrainZstdDictionary(const std::vector<std::string>& samples) {
  std::string joined;
  std::vector<size_t> sizes;
  for (const std::string& sample : samples) {
    joined += sample;
    sizes.push_back(sample.size());
  }
  // zstd's guidance: about 100 times more samples than dictionary.
  size_t capacity = std::clamp<size_t>(joined.size() / 16, 256, kMaxDictionaryBytes);
  if (sizes.size() < 8) return std::string();
  std::string dict(capacity, '\0');
  size_t n = ZDICT_trainFromBuffer(dict.data(), dict.size(), joined.data(), sizes.data(),
                                   static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(n)) return std::string();
  dict.resize(n);
  return dict;
}

}  // namespace manifold
