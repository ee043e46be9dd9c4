// The btree file format in code: page header, node cells, meta slots and the
// freelist. FORMAT.md is the byte-by-byte description; keep them in step.
// Everything here is a pure function of bytes: no I/O, no state.
#ifndef MANIFOLD_ENGINES_BTREE_FORMAT_H_
#define MANIFOLD_ENGINES_BTREE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "manifold/status.h"

namespace manifold::btree {

inline constexpr char kMagic[8] = {'M', 'N', 'F', 'B', 'T', 'R', 'E', 'E'};
// Version 2: one-phase commits (meta slot and pages synced together, checked
// at open against the commit record). Version 1 files still open; every new
// meta slot is written as version 2.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestFormatVersion = 1;
inline constexpr uint32_t kDefaultPageSize = 4096;
inline constexpr uint32_t kMinPageSize = 512;
inline constexpr uint32_t kMaxPageSize = 65536;
// Deeper than any tree of 2^64 keys with >= 2 children per branch: a longer
// descent means a cycle in a damaged file.
inline constexpr int kMaxDepth = 64;

enum PageType : uint8_t {
  kMetaPage = 1,
  kBranchPage = 2,
  kLeafPage = 3,
  kOverflowPage = 4,
  kFreelistPage = 5,
  kCommitRecordPage = 6,
};

// Page header (24 bytes, little-endian):
//   0 u32 checksum   CRC32C of (page number as u64 LE) + bytes [4, page_size)
//   4 u8  type       PageType
//   5 u8  reserved   0
//   6 u16 count      cells (branch/leaf), payload bytes used (overflow: unused)
//   8 u32 upper      offset where the cell area starts (branch/leaf)
//  12 u32 reserved   0
//  16 u64 link       branch: leftmost child; overflow/freelist: next page or 0
inline constexpr size_t kHeaderSize = 24;

inline uint16_t Load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void Store16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void Store64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }

inline uint8_t PageTypeOf(const uint8_t* page) { return page[4]; }
inline uint16_t CellCount(const uint8_t* page) { return Load16(page + 6); }
inline uint32_t CellAreaStart(const uint8_t* page) { return Load32(page + 8); }
inline uint64_t PageLink(const uint8_t* page) { return Load64(page + 16); }
inline uint16_t CellOffset(const uint8_t* page, size_t i) {
  return Load16(page + kHeaderSize + 2 * i);
}

// CRC32C (Castagnoli), software slicing-by-8.
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t n);
uint32_t PageChecksum(const uint8_t* page, uint64_t pgno, uint32_t page_size);
inline void SealPage(uint8_t* page, uint64_t pgno, uint32_t page_size) {
  Store32(page, PageChecksum(page, pgno, page_size));
}
inline bool PageChecksumHolds(const uint8_t* page, uint64_t pgno, uint32_t page_size) {
  return Load32(page) == PageChecksum(page, pgno, page_size);
}

// Cells. Both kinds start with a flags byte and a varint key length.
//   leaf:   u8 flags, varint klen, varint vlen, key | u64 key overflow page,
//           value | u64 value overflow page
//   branch: u8 flags, varint klen, u64 child, key | u64 key overflow page
// A key in a branch separates: child i holds keys < key i, child i+1 keys >= it.
inline constexpr uint8_t kKeyOverflow = 1;
inline constexpr uint8_t kValueOverflow = 2;

// A decoded cell; inline bytes point into the page.
struct Cell {
  uint8_t flags = 0;
  uint64_t key_len = 0;
  uint64_t value_len = 0;   // leaf only
  uint64_t child = 0;       // branch only
  const uint8_t* key = nullptr;    // inline key, or its u64 overflow page number
  const uint8_t* value = nullptr;  // inline value, or its u64 overflow page number
  size_t size = 0;                 // encoded bytes
  bool key_overflows() const { return flags & kKeyOverflow; }
  bool value_overflows() const { return flags & kValueOverflow; }
  uint64_t key_overflow_page() const { return Load64(key); }
  uint64_t value_overflow_page() const { return Load64(value); }
};

// Decodes cell i of a branch or leaf page, checking every length against the
// page bounds. False when the bytes are malformed.
bool DecodeCell(const uint8_t* page, uint32_t page_size, bool leaf, size_t i, Cell* cell);
// Decodes the cell that starts at p and must end by limit.
bool DecodeCellAt(const uint8_t* p, const uint8_t* limit, bool leaf, Cell* cell);

// Appends a varint; returns the bytes written. Reads one; 0 when malformed.
size_t PutVarint(uint8_t* dst, uint64_t v);
size_t VarintLength(uint64_t v);
size_t GetVarintSlow(const uint8_t* p, const uint8_t* limit, uint64_t* v);
inline size_t GetVarint(const uint8_t* p, const uint8_t* limit, uint64_t* v) {
  // Lengths below 2^14, one or two bytes: nearly every key and value length.
  if (__builtin_expect(p < limit && *p < 0x80, 1)) {
    *v = *p;
    return 1;
  }
  if (limit - p >= 2 && p[1] < 0x80) {
    *v = (p[0] & 0x7Fu) | (static_cast<uint64_t>(p[1]) << 7);
    return 2;
  }
  return GetVarintSlow(p, limit, v);
}

// The cell decoder itself, in line: DecodeCell and DecodeCellAt run it, and
// a search's probes call it directly (through CellKeyAt).
[[gnu::always_inline]] inline bool DecodeCellAtInline(const uint8_t* p, const uint8_t* limit,
                                                      bool leaf, Cell* cell) {
  const uint8_t* start = p;
  if (p >= limit) return false;
  cell->flags = *p++;
  size_t n = GetVarint(p, limit, &cell->key_len);
  if (n == 0) return false;
  p += n;
  if (leaf) {
    n = GetVarint(p, limit, &cell->value_len);
    if (n == 0) return false;
    p += n;
  } else {
    if (limit - p < 8) return false;
    cell->child = Load64(p);
    p += 8;
  }
  const uint64_t key_bytes = cell->key_overflows() ? 8 : cell->key_len;
  if (static_cast<uint64_t>(limit - p) < key_bytes) return false;
  cell->key = p;
  p += key_bytes;
  if (leaf) {
    const uint64_t value_bytes = cell->value_overflows() ? 8 : cell->value_len;
    if (static_cast<uint64_t>(limit - p) < value_bytes) return false;
    cell->value = p;
    p += value_bytes;
  }
  cell->size = static_cast<size_t>(p - start);
  return true;
}
[[gnu::always_inline]] inline bool DecodeCellInline(const uint8_t* page, uint32_t page_size,
                                                    bool leaf, size_t i, Cell* cell) {
  const uint32_t off = CellOffset(page, i);
  if (off < kHeaderSize || off >= page_size) return false;
  return DecodeCellAtInline(page + off, page + page_size, leaf, cell);
}

// The key of cell i of a branch or leaf page, for a search's probes: its
// inline bytes, or its u64 overflow page number when *overflows. False when
// the cell is malformed (exactly when DecodeCell is false).
[[gnu::always_inline]] inline bool CellKeyAt(const uint8_t* page, uint32_t page_size, bool leaf,
                                             size_t i, const uint8_t** key, uint64_t* key_len,
                                             bool* overflows) {
  Cell cell;
  if (!DecodeCellInline(page, page_size, leaf, i, &cell)) return false;
  *key = cell.key;
  *key_len = cell.key_len;
  *overflows = cell.key_overflows();
  return true;
}

// Meta slot (page 0 or 1). Bytes [0, 4) hold CRC32C of [4, kMetaSize).
//   4 u8 type=kMetaPage, 5..7 reserved, 8 magic[8], 16 u32 format version,
//  20 u32 page size, 24 u64 txn id, 32 u64 page count (file pages in use),
//  40 u64 catalog root (0: no keyspaces), 48 u64 next keyspace id,
//  56 u64 freelist head page (0: none), 64 u64 freelist entries,
//  72 u64 commit record head page (0: none), 80 u64 pages the commit wrote
//  (listed in the record), 88 u32 commit digest, 92..128 reserved (0).
// Version 1 slots have no commit record (bytes 72..128 are 0).
inline constexpr size_t kMetaSize = 128;
struct Meta {
  uint32_t page_size = kDefaultPageSize;
  uint64_t txn_id = 0;
  uint64_t page_count = 2;
  uint64_t catalog_root = 0;
  uint64_t next_keyspace_id = 1;
  uint64_t freelist_head = 0;
  uint64_t freelist_entries = 0;
  uint32_t version = kFormatVersion;  // as decoded; EncodeMeta writes kFormatVersion
  uint64_t commit_record = 0;         // first commit record page (0: none)
  uint64_t commit_pages = 0;          // entries in the commit record
  uint32_t commit_digest = 0;         // CommitDigest of those entries
};
void EncodeMeta(const Meta& meta, uint8_t* page);  // writes kMetaSize bytes
// Decodes a meta slot; Corruption naming what is wrong.
Status DecodeMeta(const uint8_t* bytes, size_t n, Meta* meta);

// Commit record page: header (count = entries on the page, link = next
// record page or 0), then `count` entries of 16 bytes: u64 page number,
// u32 that page's checksum as written by the commit, u32 reserved (0).
inline constexpr size_t kCommitEntrySize = 16;
inline uint64_t CommitEntriesPerPage(uint32_t page_size) {
  return (page_size - kHeaderSize) / kCommitEntrySize;
}
// The digest of a commit's written pages, in ascending page number order:
// CRC32C over (u64 number of pages), then per page (u64 page number, u32
// checksum), all little-endian. Feed pages with CommitDigestAdd, starting
// from CommitDigestStart(n).
uint32_t CommitDigestStart(uint64_t n);
uint32_t CommitDigestAdd(uint32_t crc, uint64_t pgno, uint32_t checksum);

// Catalog values: u64 keyspace id, u64 root page, u64 key count.
inline constexpr size_t kCatalogValueSize = 24;

// Overflow page: header, then page_size - kHeaderSize payload bytes.
// Freelist page: header (count = entries on the page, link = next freelist
// page or 0), then `count` entries of 16 bytes: u64 page number, u64 id of
// the txn that freed it (0: free for reuse by any writer).
inline uint64_t FreelistEntriesPerPage(uint32_t page_size) {
  return (page_size - kHeaderSize) / 16;
}
// Writes freelist page `page` (unsealed) holding n entries, entry(i)
// returning the i-th as a {page number, freed-by} pair, linked to `next`.
template <typename Entry>
void EncodeFreelistPage(uint8_t* page, uint32_t page_size, uint64_t next, size_t n,
                        Entry entry) {
  std::memset(page, 0, page_size);
  page[4] = kFreelistPage;
  Store16(page + 6, static_cast<uint16_t>(n));
  Store64(page + 16, next);
  for (size_t i = 0; i < n; ++i) {
    const auto [pgno, freed_by] = entry(i);
    Store64(page + kHeaderSize + 16 * i, pgno);
    Store64(page + kHeaderSize + 16 * i + 8, freed_by);
  }
}

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_FORMAT_H_
