#include "btree/tree.h"

#include <algorithm>

namespace manifold::btree {

Status BadPage(uint64_t pgno, std::string_view what) {
  return Status::Corruption("btree page " + std::to_string(pgno) + ": " + std::string(what));
}

Result<const uint8_t*> GetNode(const Pages& pages, uint64_t pgno) {
  if (const uint8_t* node = NodeOrNull(pages, pgno)) return node;
  const uint8_t* page = pages.Get(pgno);
  if (page == nullptr) {
    return BadPage(pgno, "page number out of range or checksum mismatch");
  }
  uint8_t type = PageTypeOf(page);
  if (type != kBranchPage && type != kLeafPage) return BadPage(pgno, "expected a tree node");
  uint32_t upper = CellAreaStart(page);
  if (kHeaderSize + 2ull * CellCount(page) > upper || upper > pages.page_size) {
    return BadPage(pgno, "slot array overlaps the cell area");
  }
  return page;
}

Status GetCell(const Pages& pages, const uint8_t* page, uint64_t pgno, size_t i, Cell* cell) {
  if (!DecodeCell(page, pages.page_size, PageTypeOf(page) == kLeafPage, i, cell)) {
    return BadPage(pgno, "malformed cell " + std::to_string(i));
  }
  return Status::OK();
}

Status ReadOverflow(const Pages& pages, uint64_t first, uint64_t len, std::string* out) {
  const uint64_t payload = pages.page_size - kHeaderSize;
  if (len > (pages.page_count * payload)) {
    return Status::Corruption("btree overflow length " + std::to_string(len) +
                              " exceeds the file");
  }
  size_t start = out->size();
  out->resize(start + len);
  uint8_t* dst = reinterpret_cast<uint8_t*>(out->data()) + start;
  uint64_t pgno = first;
  while (len > 0) {
    const uint8_t* page = pages.Get(pgno);
    if (page == nullptr || PageTypeOf(page) != kOverflowPage) {
      out->resize(start);
      return BadPage(pgno, "overflow chain is broken");
    }
    uint64_t n = std::min(len, payload);
    std::memcpy(dst, page + kHeaderSize, n);
    dst += n;
    len -= n;
    pgno = PageLink(page);
  }
  return Status::OK();
}

Status CellKey(const Pages& pages, const Cell& cell, std::string* scratch, Bytes* key) {
  if (!cell.key_overflows()) {
    *key = Bytes(reinterpret_cast<const char*>(cell.key), cell.key_len);
    return Status::OK();
  }
  scratch->clear();
  MANIFOLD_RETURN_IF_ERROR(ReadOverflow(pages, cell.key_overflow_page(), cell.key_len, scratch));
  *key = *scratch;
  return Status::OK();
}

Status CellValue(const Pages& pages, const Cell& cell, std::string* scratch, Bytes* value) {
  if (!cell.value_overflows()) {
    *value = Bytes(reinterpret_cast<const char*>(cell.value), cell.value_len);
    return Status::OK();
  }
  scratch->clear();
  MANIFOLD_RETURN_IF_ERROR(
      ReadOverflow(pages, cell.value_overflow_page(), cell.value_len, scratch));
  *value = *scratch;
  return Status::OK();
}

namespace {

// CompareBytes for a probe: the first eight bytes as one big-endian word
// (they differ in most probes), then memcmp.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Load64 reads little-endian words");
inline int CompareInline(const uint8_t* a, uint64_t a_len, Bytes b) {
  const size_t n = std::min<size_t>(a_len, b.size());
  if (n >= 8) {
    const uint64_t x = __builtin_bswap64(Load64(a));
    const uint64_t y = __builtin_bswap64(Load64(reinterpret_cast<const uint8_t*>(b.data())));
    if (x != y) return x < y ? -1 : 1;
  }
  const int c = n == 0 ? 0 : std::memcmp(a, b.data(), n);
  if (c != 0) return c;
  return a_len < b.size() ? -1 : (a_len > b.size() ? 1 : 0);
}

}  // namespace

Status SearchNode(const Pages& pages, const uint8_t* page, uint64_t pgno, Bytes key, size_t* index,
                  bool* exact, std::string* scratch) {
  const bool leaf = PageTypeOf(page) == kLeafPage;
  size_t lo = 0, hi = CellCount(page);
  *exact = false;
  // Leaf: first cell >= key. Branch: first separator > key, which is the child.
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    // Each probe decodes only the key, in line (as strictly as GetCell).
    const uint8_t* cell_key = nullptr;
    uint64_t key_len = 0;
    bool overflows = false;
    if (!CellKeyAt(page, pages.page_size, leaf, mid, &cell_key, &key_len, &overflows)) {
      return BadPage(pgno, "malformed cell " + std::to_string(mid));
    }
    int c;
    if (!overflows) {
      c = CompareInline(cell_key, key_len, key);
    } else {
      Cell cell;
      MANIFOLD_RETURN_IF_ERROR(GetCell(pages, page, pgno, mid, &cell));
      Bytes k;
      MANIFOLD_RETURN_IF_ERROR(CellKey(pages, cell, scratch, &k));
      c = CompareBytes(k, key);
    }
    if (c == 0 && leaf) {
      *exact = true;
      *index = mid;
      return Status::OK();
    }
    if (c < 0 || (c == 0 && !leaf)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *index = lo;
  return Status::OK();
}

Status ChildAt(const Pages& pages, const uint8_t* page, uint64_t pgno, size_t i, uint64_t* child) {
  if (i == 0) {
    *child = PageLink(page);
    return Status::OK();
  }
  // Decoded in line; GetCell says what is wrong with a malformed cell.
  Cell cell;
  if (!DecodeCellInline(page, pages.page_size, PageTypeOf(page) == kLeafPage, i - 1, &cell)) {
    return GetCell(pages, page, pgno, i - 1, &cell);
  }
  *child = cell.child;
  return Status::OK();
}

Status TreeGet(const Pages& pages, uint64_t root, Bytes key, std::string* value) {
  uint64_t pgno = root;
  std::string scratch;
  for (int depth = 0; pgno != 0; ++depth) {
    if (depth >= kMaxDepth) return BadPage(root, "tree is deeper than possible (a cycle?)");
    Result<const uint8_t*> page = GetNode(pages, pgno);
    if (!page.ok()) return page.status();
    size_t index = 0;
    bool exact = false;
    MANIFOLD_RETURN_IF_ERROR(SearchNode(pages, *page, pgno, key, &index, &exact, &scratch));
    if (PageTypeOf(*page) == kLeafPage) {
      if (!exact) return Status::KeyNotFound();
      Cell cell;
      MANIFOLD_RETURN_IF_ERROR(GetCell(pages, *page, pgno, index, &cell));
      if (cell.value_overflows()) {
        value->clear();
        return ReadOverflow(pages, cell.value_overflow_page(), cell.value_len, value);
      }
      value->assign(reinterpret_cast<const char*>(cell.value), cell.value_len);
      return Status::OK();
    }
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages, *page, pgno, index, &pgno));
  }
  return Status::KeyNotFound();
}

Status TreePath::DescendEdge(const Pages& pages, uint64_t pgno, bool leftmost) {
  for (;;) {
    if (levels_.size() >= static_cast<size_t>(kMaxDepth)) {
      return BadPage(pgno, "tree is deeper than possible (a cycle?)");
    }
    Result<const uint8_t*> page = GetNode(pages, pgno);
    if (!page.ok()) return page.status();
    size_t count = CellCount(*page);
    if (PageTypeOf(*page) == kLeafPage) {
      // An empty leaf only appears in a damaged file; Next/Prev step over it.
      levels_.push_back({pgno, leftmost ? 0 : (count == 0 ? 0 : count - 1)});
      valid_ = count > 0;
      return Status::OK();
    }
    size_t index = leftmost ? 0 : count;
    levels_.push_back({pgno, index});
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages, *page, pgno, index, &pgno));
  }
}

Status TreePath::First(const Pages& pages, uint64_t root) {
  levels_.clear();
  valid_ = false;
  if (root == 0) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(DescendEdge(pages, root, true));
  if (!valid_) return Next(pages);
  return Status::OK();
}

Status TreePath::Last(const Pages& pages, uint64_t root) {
  levels_.clear();
  valid_ = false;
  if (root == 0) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(DescendEdge(pages, root, false));
  if (!valid_) return Prev(pages);
  return Status::OK();
}

Status TreePath::Seek(const Pages& pages, uint64_t root, Bytes key, bool* exact) {
  levels_.clear();
  valid_ = false;
  *exact = false;
  uint64_t pgno = root;
  while (pgno != 0) {
    if (levels_.size() >= static_cast<size_t>(kMaxDepth)) {
      return BadPage(root, "tree is deeper than possible (a cycle?)");
    }
    Result<const uint8_t*> page = GetNode(pages, pgno);
    if (!page.ok()) return page.status();
    size_t index = 0;
    MANIFOLD_RETURN_IF_ERROR(SearchNode(pages, *page, pgno, key, &index, exact, &scratch_));
    levels_.push_back({pgno, index});
    if (PageTypeOf(*page) == kLeafPage) {
      if (index < CellCount(*page)) {
        valid_ = true;
        return Status::OK();
      }
      // Past the last cell of this leaf: the answer is the next leaf's first.
      valid_ = true;
      levels_.back().index = index == 0 ? 0 : index - 1;
      if (index == 0) {
        valid_ = false;
        levels_.back().index = 0;
      }
      return Next(pages);
    }
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages, *page, pgno, index, &pgno));
  }
  return Status::OK();
}

Status TreePath::Next(const Pages& pages) {
  if (levels_.empty()) {
    valid_ = false;
    return Status::OK();
  }
  {
    Level& leaf = levels_.back();
    const uint8_t* page = NodeOrNull(pages, leaf.pgno);
    if (page == nullptr) return GetNode(pages, leaf.pgno).status();
    if (valid_ && leaf.index + 1 < CellCount(page)) {
      ++leaf.index;
      return Status::OK();
    }
  }
  // Climb to the first branch with a child to the right, then go down its left edge.
  for (;;) {
    levels_.pop_back();
    valid_ = false;
    while (!levels_.empty()) {
      Level& up = levels_.back();
      Result<const uint8_t*> page = GetNode(pages, up.pgno);
      if (!page.ok()) return page.status();
      if (up.index < CellCount(*page)) {
        ++up.index;
        uint64_t child = 0;
        MANIFOLD_RETURN_IF_ERROR(ChildAt(pages, *page, up.pgno, up.index, &child));
        MANIFOLD_RETURN_IF_ERROR(DescendEdge(pages, child, true));
        break;
      }
      levels_.pop_back();
    }
    if (levels_.empty() || valid_) return Status::OK();
  }
}

Status TreePath::Prev(const Pages& pages) {
  if (levels_.empty()) {
    valid_ = false;
    return Status::OK();
  }
  {
    Level& leaf = levels_.back();
    if (valid_ && leaf.index > 0) {
      --leaf.index;
      return Status::OK();
    }
  }
  for (;;) {
    levels_.pop_back();
    valid_ = false;
    while (!levels_.empty()) {
      Level& up = levels_.back();
      Result<const uint8_t*> page = GetNode(pages, up.pgno);
      if (!page.ok()) return page.status();
      if (up.index > 0) {
        --up.index;
        uint64_t child = 0;
        MANIFOLD_RETURN_IF_ERROR(ChildAt(pages, *page, up.pgno, up.index, &child));
        MANIFOLD_RETURN_IF_ERROR(DescendEdge(pages, child, false));
        break;
      }
      levels_.pop_back();
    }
    if (levels_.empty() || valid_) return Status::OK();
  }
}

bool TreePath::NextInLeaf(const Pages& pages, Cell* cell) {
  if (!valid_ || levels_.empty()) return false;
  Level& leaf = levels_.back();
  const uint8_t* page = NodeOrNull(pages, leaf.pgno);
  if (page == nullptr || PageTypeOf(page) != kLeafPage || leaf.index + 1 >= CellCount(page)) {
    return false;
  }
  if (!DecodeCell(page, pages.page_size, /*leaf=*/true, leaf.index + 1, cell)) return false;
  ++leaf.index;
  return true;
}

Status TreePath::Current(const Pages& pages, Cell* cell) const {
  const Level& leaf = levels_.back();
  const uint8_t* page = NodeOrNull(pages, leaf.pgno);
  if (page == nullptr) return GetNode(pages, leaf.pgno).status();
  if (leaf.index >= CellCount(page)) return BadPage(leaf.pgno, "cursor index out of range");
  return GetCell(pages, page, leaf.pgno, leaf.index, cell);
}

}  // namespace manifold::btree
