#include "btree/format.h"

#include <array>

namespace manifold::btree {
namespace {

using Table = std::array<std::array<uint32_t, 256>, 8>;

Table MakeTable() {
  Table t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

const Table& CrcTable() {
  static const Table table = MakeTable();
  return table;
}

}  // namespace

#if defined(__x86_64__)
namespace {

// The crc32 instruction takes three cycles and can start one per cycle, so
// a long buffer is read as three lanes at once and their CRCs combined.
// Shifting a CRC register past n zero bytes is linear over GF(2); the
// combine applies it as four lookups, one per byte of the register.
constexpr size_t kLongLane = 1360;  // three lanes cover a 4 KiB page's checksummed bytes
constexpr size_t kShortLane = 128;
using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;

ShiftTable MakeShift(size_t zero_bytes) {
  const auto& t0 = CrcTable()[0];
  std::array<uint32_t, 32> column{};  // column[i]: register bit i after the zeros
  for (int i = 0; i < 32; ++i) {
    uint32_t reg = 1u << i;
    for (size_t k = 0; k < zero_bytes; ++k) reg = (reg >> 8) ^ t0[reg & 0xFF];
    column[i] = reg;
  }
  ShiftTable table{};
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t v = 0; v < 256; ++v) {
      uint32_t out = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if ((v >> bit) & 1) out ^= column[byte * 8 + bit];
      }
      table[byte][v] = out;
    }
  }
  return table;
}

uint32_t Shift(const ShiftTable& t, uint32_t reg) {
  return t[0][reg & 0xFF] ^ t[1][(reg >> 8) & 0xFF] ^ t[2][(reg >> 16) & 0xFF] ^ t[3][reg >> 24];
}

// Runs the register over rounds of three `lane`-byte lanes while they fit.
__attribute__((target("sse4.2"))) uint64_t CrcLanes(uint64_t c, const uint8_t*& p, size_t& n,
                                                     size_t lane, const ShiftTable& shift) {
  while (n >= 3 * lane) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < lane; i += 8) {
      c = __builtin_ia32_crc32di(c, Load64(p + i));
      c1 = __builtin_ia32_crc32di(c1, Load64(p + lane + i));
      c2 = __builtin_ia32_crc32di(c2, Load64(p + 2 * lane + i));
    }
    uint32_t r = Shift(shift, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1);
    c = Shift(shift, r) ^ static_cast<uint32_t>(c2);
    p += 3 * lane;
    n -= 3 * lane;
  }
  return c;
}

}  // namespace

// SSE4.2's crc32 instruction computes CRC32C; used when the CPU has it.
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const uint8_t* p,
                                                          size_t n) {
  static const ShiftTable long_shift = MakeShift(kLongLane);
  static const ShiftTable short_shift = MakeShift(kShortLane);
  uint64_t c = ~crc;
  c = CrcLanes(c, p, n, kLongLane, long_shift);
  c = CrcLanes(c, p, n, kShortLane, short_shift);
  while (n >= 8) {
    c = __builtin_ia32_crc32di(c, Load64(p));
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}

bool HasHardwareCrc() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

uint32_t Crc32c(uint32_t crc, const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (HasHardwareCrc()) return Crc32cHardware(crc, p, n);
#endif
  const Table& t = CrcTable();
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo = Load32(p) ^ crc;
    uint32_t hi = Load32(p + 4);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

uint32_t PageChecksum(const uint8_t* page, uint64_t pgno, uint32_t page_size) {
  uint8_t no[8];
  Store64(no, pgno);
  return Crc32c(Crc32c(0, no, 8), page + 4, page_size - 4);
}

size_t PutVarint(uint8_t* dst, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    dst[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  dst[n++] = static_cast<uint8_t>(v);
  return n;
}

size_t VarintLength(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

size_t GetVarintSlow(const uint8_t* p, const uint8_t* limit, uint64_t* v) {
  uint64_t result = 0;
  for (size_t i = 0; i < 10 && p + i < limit; ++i) {
    result |= static_cast<uint64_t>(p[i] & 0x7F) << (7 * i);
    if ((p[i] & 0x80) == 0) {
      *v = result;
      return i + 1;
    }
  }
  return 0;
}

bool DecodeCell(const uint8_t* page, uint32_t page_size, bool leaf, size_t i, Cell* cell) {
  return DecodeCellInline(page, page_size, leaf, i, cell);
}

bool DecodeCellAt(const uint8_t* p, const uint8_t* limit, bool leaf, Cell* cell) {
  return DecodeCellAtInline(p, limit, leaf, cell);
}

void EncodeMeta(const Meta& meta, uint8_t* page) {
  std::memset(page, 0, kMetaSize);
  page[4] = kMetaPage;
  std::memcpy(page + 8, kMagic, 8);
  Store32(page + 16, kFormatVersion);
  Store32(page + 20, meta.page_size);
  Store64(page + 24, meta.txn_id);
  Store64(page + 32, meta.page_count);
  Store64(page + 40, meta.catalog_root);
  Store64(page + 48, meta.next_keyspace_id);
  Store64(page + 56, meta.freelist_head);
  Store64(page + 64, meta.freelist_entries);
  Store64(page + 72, meta.commit_record);
  Store64(page + 80, meta.commit_pages);
  Store32(page + 88, meta.commit_digest);
  Store32(page, Crc32c(0, page + 4, kMetaSize - 4));
}

uint32_t CommitDigestStart(uint64_t n) {
  uint8_t b[8];
  Store64(b, n);
  return Crc32c(0, b, 8);
}

uint32_t CommitDigestAdd(uint32_t crc, uint64_t pgno, uint32_t checksum) {
  uint8_t b[12];
  Store64(b, pgno);
  Store32(b + 8, checksum);
  return Crc32c(crc, b, 12);
}

Status DecodeMeta(const uint8_t* p, size_t n, Meta* meta) {
  if (n < kMetaSize) return Status::Corruption("meta page is truncated");
  if (std::memcmp(p + 8, kMagic, 8) != 0) return Status::Corruption("not a manifold btree file (bad magic)");
  if (Load32(p) != Crc32c(0, p + 4, kMetaSize - 4)) {
    return Status::Corruption("meta page checksum mismatch");
  }
  if (p[4] != kMetaPage) return Status::Corruption("meta page has the wrong page type");
  uint32_t version = Load32(p + 16);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return Status::NotSupported("btree format version " + std::to_string(version) +
                                " is not supported (this build reads versions " +
                                std::to_string(kOldestFormatVersion) + " to " +
                                std::to_string(kFormatVersion) + ")");
  }
  meta->version = version;
  meta->page_size = Load32(p + 20);
  if (meta->page_size < kMinPageSize || meta->page_size > kMaxPageSize ||
      (meta->page_size & (meta->page_size - 1)) != 0) {
    return Status::Corruption("meta page has an invalid page size");
  }
  meta->txn_id = Load64(p + 24);
  meta->page_count = Load64(p + 32);
  meta->catalog_root = Load64(p + 40);
  meta->next_keyspace_id = Load64(p + 48);
  meta->freelist_head = Load64(p + 56);
  meta->freelist_entries = Load64(p + 64);
  meta->commit_record = version >= 2 ? Load64(p + 72) : 0;
  meta->commit_pages = version >= 2 ? Load64(p + 80) : 0;
  meta->commit_digest = version >= 2 ? Load32(p + 88) : 0;
  if (meta->commit_record == 1 || (meta->commit_record != 0 && meta->commit_record >= meta->page_count) ||
      (meta->commit_record == 0) != (meta->commit_pages == 0)) {
    return Status::Corruption("meta page has an invalid commit record");
  }
  if (meta->page_count < 2 || meta->catalog_root >= meta->page_count ||
      meta->freelist_head >= meta->page_count || meta->catalog_root == 1 ||
      meta->freelist_head == 1) {
    return Status::Corruption("meta page points outside the file");
  }
  return Status::OK();
}

}  // namespace manifold::btree
