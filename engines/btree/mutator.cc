// The copy-on-write path: page allocation and freeing, node edits, splits,
// merges and overflow chains. See mutator.h for the rules on which pages may
// be changed in place.
#include "btree/mutator.h"

#include <algorithm>
#include <functional>

namespace manifold::btree {
namespace {

void InitNode(uint8_t* page, uint32_t page_size, uint8_t type, uint64_t link) {
  std::memset(page, 0, kHeaderSize);
  page[4] = type;
  Store32(page + 8, page_size);
  Store64(page + 16, link);
}

size_t FreeSpace(const uint8_t* page) {
  return CellAreaStart(page) - kHeaderSize - 2 * CellCount(page);
}

// Inserts at slot `index`; REQUIRES FreeSpace(page) >= cell.size() + 2.
void InsertRaw(uint8_t* page, size_t index, std::string_view cell) {
  uint16_t count = CellCount(page);
  uint32_t upper = CellAreaStart(page) - static_cast<uint32_t>(cell.size());
  std::memcpy(page + upper, cell.data(), cell.size());
  uint8_t* slots = page + kHeaderSize;
  std::memmove(slots + 2 * (index + 1), slots + 2 * index, 2 * (count - index));
  Store16(slots + 2 * index, static_cast<uint16_t>(upper));
  Store32(page + 8, upper);
  Store16(page + 6, count + 1);
}

// Removes slot `index`; its bytes stay as a hole until the page is rebuilt.
void RemoveRaw(uint8_t* page, size_t index) {
  uint16_t count = CellCount(page);
  uint8_t* slots = page + kHeaderSize;
  std::memmove(slots + 2 * index, slots + 2 * (index + 1), 2 * (count - index - 1));
  Store16(page + 6, count - 1);
}

void Rebuild(uint8_t* page, uint32_t page_size, uint8_t type, uint64_t link,
             const std::vector<std::string>& cells, size_t begin, size_t end) {
  InitNode(page, page_size, type, link);
  for (size_t i = begin; i < end; ++i) InsertRaw(page, i - begin, cells[i]);
}

size_t CellsBytes(const std::vector<std::string>& cells, size_t begin, size_t end) {
  size_t n = 0;
  for (size_t i = begin; i < end; ++i) n += cells[i].size() + 2;
  return n;
}

}  // namespace

Mutator::Mutator(const Pages& base, std::vector<uint64_t> reusable)
    : pages_(base), avail_(std::move(reusable)) {
  pages_.dirty = &dirty_;
  if (!std::is_sorted(avail_.begin(), avail_.end(), std::greater<>())) {
    std::sort(avail_.begin(), avail_.end(), std::greater<>());
  }
  // At least four cells per page, so a split always leaves both halves valid.
  max_cell_ = (pages_.page_size - kHeaderSize) / 4 - 2;
  max_inline_key_ = max_cell_ - 32;
}

namespace {

// Makes room for one more element without losing the vector's geometric
// growth, so that the push_back after it cannot throw.
template <typename T>
void Reserve(std::vector<T>& v, size_t n) {
  if (n > v.capacity()) v.reserve(std::max(n, v.capacity() * 2 + 8));
}
template <typename T>
void ReserveOneMore(std::vector<T>& v) {
  Reserve(v, v.size() + 1);
}

}  // namespace

// Allocate, FreePage and Released do everything that may throw (allocating
// the page, growing a log or a map) before they change any state: when
// memory runs out, a page is never lost from the free pages, and the undo
// log always matches avail_, so a rollback to a savepoint restores it.
uint8_t* Mutator::Allocate(uint64_t* pgno, bool zeroed) {
  const size_t size = pages_.page_size;
  std::unique_ptr<uint8_t[]> data = zeroed ? std::make_unique<uint8_t[]>(size)
                                           : std::make_unique_for_overwrite<uint8_t[]>(size);
  if (marks_open_) {
    ReserveOneMore(undo_);
    ReserveOneMore(alloc_log_);
  }
  const uint64_t n = avail_.empty() ? pages_.page_count : avail_.back();
  DirtyPage& page = dirty_[n];  // may throw (rehash): nothing changed yet
  if (!avail_.empty()) {
    avail_.pop_back();
    if (marks_open_) undo_.push_back({false, n});
  } else {
    ++pages_.page_count;
  }
  if (marks_open_) alloc_log_.push_back(n);
  page.gen = epoch_;
  page.data = std::move(data);
  *pgno = n;
  return page.data.get();
}

uint64_t Mutator::AllocatePage(uint8_t** data) {
  uint64_t pgno = 0;
  *data = Allocate(&pgno);
  return pgno;
}

void Mutator::FreePage(uint64_t pgno) {
  auto it = dirty_.find(pgno);
  if (it == dirty_.end()) {
    freed_.push_back(pgno);
  } else if (it->second.gen > frozen_) {
    ReserveOneMore(avail_);
    if (marks_open_) ReserveOneMore(undo_);
    dirty_.erase(it);
    avail_.push_back(pgno);
    if (marks_open_) undo_.push_back({true, pgno});
  } else {
    retired_.push_back({pgno, it->second.gen});
  }
}

Result<uint8_t*> Mutator::Writable(uint64_t pgno, uint64_t* out_pgno) {
  auto it = dirty_.find(pgno);
  if (it != dirty_.end() && it->second.gen > frozen_) {
    *out_pgno = pgno;
    return it->second.data.get();
  }
  const uint8_t* source = pages_.Get(pgno);
  if (source == nullptr) return BadPage(pgno, "page number out of range or checksum mismatch");
  // FreePage below records the old page in freed_ or retired_: room first,
  // so that nothing throws once the copy is allocated.
  ReserveOneMore(freed_);
  ReserveOneMore(retired_);
  uint8_t* copy = Allocate(out_pgno, /*zeroed=*/false);
  std::memcpy(copy, source, pages_.page_size);
  FreePage(pgno);
  return copy;
}

Status Mutator::WriteOverflow(Bytes data, uint64_t* first) {
  const size_t payload = pages_.page_size - kHeaderSize;
  uint8_t* prev = nullptr;
  for (size_t pos = 0; pos < data.size(); pos += payload) {
    uint64_t pgno = 0;
    uint8_t* page = Allocate(&pgno);
    std::memset(page, 0, kHeaderSize);
    page[4] = kOverflowPage;
    size_t n = std::min(payload, data.size() - pos);
    std::memcpy(page + kHeaderSize, data.data() + pos, n);
    if (n < payload) std::memset(page + kHeaderSize + n, 0, payload - n);
    if (prev == nullptr) {
      *first = pgno;
    } else {
      Store64(prev + 16, pgno);
    }
    prev = page;
  }
  return Status::OK();
}

Status Mutator::FreeOverflow(uint64_t first, uint64_t len) {
  const uint64_t payload = pages_.page_size - kHeaderSize;
  uint64_t pgno = first;
  for (uint64_t left = len; left > 0; left -= std::min(left, payload)) {
    const uint8_t* page = pages_.Get(pgno);
    if (page == nullptr || PageTypeOf(page) != kOverflowPage) {
      return BadPage(pgno, "overflow chain is broken");
    }
    uint64_t next = PageLink(page);
    FreePage(pgno);
    pgno = next;
  }
  return Status::OK();
}

Status Mutator::FreeCellChains(const Cell& cell, bool leaf) {
  if (cell.key_overflows()) {
    MANIFOLD_RETURN_IF_ERROR(FreeOverflow(cell.key_overflow_page(), cell.key_len));
  }
  if (leaf && cell.value_overflows()) {
    MANIFOLD_RETURN_IF_ERROR(FreeOverflow(cell.value_overflow_page(), cell.value_len));
  }
  return Status::OK();
}

Status Mutator::Descend(uint64_t root, Bytes key, std::vector<PathLevel>* path, bool* exact) {
  path->clear();
  uint64_t pgno = root;
  for (;;) {
    if (path->size() >= static_cast<size_t>(kMaxDepth)) {
      return BadPage(root, "tree is deeper than possible (a cycle?)");
    }
    Result<const uint8_t*> page = GetNode(pages_, pgno);
    if (!page.ok()) return page.status();
    size_t index = 0;
    MANIFOLD_RETURN_IF_ERROR(SearchNode(pages_, *page, pgno, key, &index, exact, &scratch_));
    path->push_back({pgno, index});
    if (PageTypeOf(*page) == kLeafPage) return Status::OK();
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages_, *page, pgno, index, &pgno));
  }
}

Status Mutator::SetChild(uint8_t* page, uint64_t pgno, size_t i, uint64_t child) {
  if (i == 0) {
    Store64(page + 16, child);
    return Status::OK();
  }
  Cell cell;
  MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, pgno, i - 1, &cell));
  Store64(page + (cell.key - page) - 8, child);
  return Status::OK();
}

Status Mutator::TouchPath(uint64_t* root, std::vector<PathLevel>* path) {
  for (size_t d = 0; d < path->size(); ++d) {
    uint64_t old = (*path)[d].pgno, now = 0;
    Result<uint8_t*> page = Writable(old, &now);
    if (!page.ok()) return page.status();
    if (d == 0) {
      *root = now;
    } else if (now != old) {
      const PathLevel& up = (*path)[d - 1];
      MANIFOLD_RETURN_IF_ERROR(SetChild(DirtyData(up.pgno), up.pgno, up.index, now));
    }
    (*path)[d].pgno = now;
  }
  return Status::OK();
}

Status Mutator::FullCellKey(const uint8_t* page, uint64_t pgno, size_t i, std::string* key) {
  Cell cell;
  MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, pgno, i, &cell));
  Bytes k;
  MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, cell, key, &k));
  if (k.data() != key->data()) key->assign(k);
  return Status::OK();
}

Status Mutator::BranchCell(Bytes key, uint64_t child, std::string* cell) {
  const bool inline_key = key.size() <= max_inline_key_;
  uint64_t first = 0;
  if (!inline_key) MANIFOLD_RETURN_IF_ERROR(WriteOverflow(key, &first));
  uint8_t buf[32];
  size_t n = 0;
  buf[n++] = inline_key ? 0 : kKeyOverflow;
  n += PutVarint(buf + n, key.size());
  Store64(buf + n, child);
  n += 8;
  cell->assign(reinterpret_cast<char*>(buf), n);
  if (inline_key) {
    cell->append(key);
  } else {
    Store64(buf, first);
    cell->append(reinterpret_cast<char*>(buf), 8);
  }
  return Status::OK();
}

namespace {

// Collects every cell of a node as owned bytes.
Status CollectCells(const Pages& pages, const uint8_t* page, uint64_t pgno,
                    std::vector<std::string>* cells) {
  size_t count = CellCount(page);
  cells->clear();
  cells->reserve(count + 1);
  for (size_t i = 0; i < count; ++i) {
    Cell cell;
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages, page, pgno, i, &cell));
    cells->emplace_back(reinterpret_cast<const char*>(page + CellOffset(page, i)), cell.size);
  }
  return Status::OK();
}

Status DecodeOwnedCell(const std::string& bytes, bool leaf, Cell* cell) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (!DecodeCellAt(p, p + bytes.size(), leaf, cell)) {
    return Status::Corruption("btree: malformed cell while rebuilding a page");
  }
  return Status::OK();
}

}  // namespace

Status Mutator::InsertAt(uint64_t* root, std::vector<PathLevel>& path, size_t d, size_t index,
                         std::string_view cell) {
  uint64_t pgno = path[d].pgno;
  uint8_t* page = DirtyData(pgno);
  if (FreeSpace(page) >= cell.size() + 2) {
    InsertRaw(page, index, cell);
    return Status::OK();
  }
  std::vector<std::string> cells;
  MANIFOLD_RETURN_IF_ERROR(CollectCells(pages_, page, pgno, &cells));
  if (CellsBytes(cells, 0, cells.size()) + cell.size() + 2 <= pages_.page_size - kHeaderSize) {
    // Holes left by removals make room: rebuild the page compactly.
    Rebuild(page, pages_.page_size, PageTypeOf(page), PageLink(page), cells, 0, cells.size());
    InsertRaw(page, index, cell);
    return Status::OK();
  }
  cells.insert(cells.begin() + static_cast<ptrdiff_t>(index), std::string(cell));
  const bool leaf = PageTypeOf(page) == kLeafPage;
  const size_t n = cells.size();
  const size_t capacity = pages_.page_size - kHeaderSize;
  const size_t total = CellsBytes(cells, 0, n);
  // Appends (sequential loads) split off only the new cell, leaving full pages.
  size_t split = 0;
  if (index == n - 1) {
    split = n - 1;
  } else if (index == 0 && leaf) {
    split = 1;
  } else {
    size_t acc = 0;
    split = 0;
    while (split < n && acc + cells[split].size() + 2 <= total / 2) acc += cells[split++].size() + 2;
    split = std::clamp<size_t>(split, 1, leaf ? n - 1 : n - 2);
  }
  std::string parent_cell;
  uint64_t right_pgno = 0;
  uint8_t* right = Allocate(&right_pgno);
  if (leaf) {
    if (CellsBytes(cells, 0, split) > capacity || CellsBytes(cells, split, n) > capacity) {
      return Status::Internal("btree: leaf split does not fit");
    }
    // The separator: the shortest prefix of the right's first key that is
    // greater than the left's last key.
    std::string left_key, right_key;
    Cell lc, rc;
    MANIFOLD_RETURN_IF_ERROR(DecodeOwnedCell(cells[split - 1], true, &lc));
    MANIFOLD_RETURN_IF_ERROR(DecodeOwnedCell(cells[split], true, &rc));
    Bytes lk, rk;
    MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, lc, &left_key, &lk));
    MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, rc, &right_key, &rk));
    size_t common = 0;
    while (common < lk.size() && common < rk.size() && lk[common] == rk[common]) ++common;
    Bytes sep = rk.substr(0, std::min(rk.size(), common + 1));
    MANIFOLD_RETURN_IF_ERROR(BranchCell(sep, right_pgno, &parent_cell));
    Rebuild(page, pages_.page_size, kLeafPage, 0, cells, 0, split);
    Rebuild(right, pages_.page_size, kLeafPage, 0, cells, split, n);
  } else {
    // Branch: cell `split` moves up; its child becomes the right's leftmost.
    Cell mid;
    MANIFOLD_RETURN_IF_ERROR(DecodeOwnedCell(cells[split], false, &mid));
    uint64_t leftmost = PageLink(page);
    parent_cell = cells[split];
    size_t child_at = static_cast<size_t>(mid.key - reinterpret_cast<const uint8_t*>(cells[split].data())) - 8;
    Store64(reinterpret_cast<uint8_t*>(parent_cell.data()) + child_at, right_pgno);
    if (CellsBytes(cells, 0, split) > capacity || CellsBytes(cells, split + 1, n) > capacity) {
      return Status::Internal("btree: branch split does not fit");
    }
    Rebuild(right, pages_.page_size, kBranchPage, mid.child, cells, split + 1, n);
    Rebuild(page, pages_.page_size, kBranchPage, leftmost, cells, 0, split);
  }
  if (d == 0) {
    uint64_t new_root = 0;
    uint8_t* top = Allocate(&new_root);
    InitNode(top, pages_.page_size, kBranchPage, pgno);
    InsertRaw(top, 0, parent_cell);
    *root = new_root;
    return Status::OK();
  }
  return InsertAt(root, path, d - 1, path[d - 1].index, parent_cell);
}

Status Mutator::Store(uint64_t* root, Bytes key, Bytes value, bool overwrite, bool* inserted) {
  // Descend first: an Insert of a present key then writes nothing at all.
  // (Overflow pages allocated below never change a page on the path.)
  std::vector<PathLevel>& path = path_;
  bool exact = false;
  if (*root != 0) MANIFOLD_RETURN_IF_ERROR(Descend(*root, key, &path, &exact));
  *inserted = !exact;
  if (exact && !overwrite) return Status::OK();

  const bool key_inline = key.size() <= max_inline_key_;
  const size_t head = 1 + VarintLength(key.size()) + VarintLength(value.size());
  const size_t key_bytes = key_inline ? key.size() : 8;
  const bool value_inline = head + key_bytes + value.size() <= max_cell_;
  uint64_t key_first = 0, value_first = 0;
  if (!key_inline) MANIFOLD_RETURN_IF_ERROR(WriteOverflow(key, &key_first));
  if (!value_inline) MANIFOLD_RETURN_IF_ERROR(WriteOverflow(value, &value_first));
  std::string& cell = cell_;
  cell.resize(head + key_bytes + (value_inline ? value.size() : 8));
  uint8_t* p = reinterpret_cast<uint8_t*>(cell.data());
  *p++ = (key_inline ? 0 : kKeyOverflow) | (value_inline ? 0 : kValueOverflow);
  p += PutVarint(p, key.size());
  p += PutVarint(p, value.size());
  if (key_inline) {
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    p += key.size();
  } else {
    Store64(p, key_first);
    p += 8;
  }
  if (value_inline) {
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
  } else {
    Store64(p, value_first);
  }

  if (*root == 0) {
    uint8_t* page = Allocate(root);
    InitNode(page, pages_.page_size, kLeafPage, 0);
    InsertRaw(page, 0, cell);
    return Status::OK();
  }
  MANIFOLD_RETURN_IF_ERROR(TouchPath(root, &path));
  PathLevel& leaf = path.back();
  if (exact) {
    uint8_t* page = DirtyData(leaf.pgno);
    Cell old;
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, leaf.pgno, leaf.index, &old));
    MANIFOLD_RETURN_IF_ERROR(FreeCellChains(old, true));
    RemoveRaw(page, leaf.index);
  }
  return InsertAt(root, path, path.size() - 1, leaf.index, cell);
}

Status Mutator::Delete(uint64_t* root, Bytes key, bool* deleted) {
  *deleted = false;
  if (*root == 0) return Status::OK();
  std::vector<PathLevel>& path = path_;
  bool exact = false;
  MANIFOLD_RETURN_IF_ERROR(Descend(*root, key, &path, &exact));
  if (!exact) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(TouchPath(root, &path));
  PathLevel& leaf = path.back();
  uint8_t* page = DirtyData(leaf.pgno);
  Cell old;
  MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, leaf.pgno, leaf.index, &old));
  MANIFOLD_RETURN_IF_ERROR(FreeCellChains(old, true));
  RemoveRaw(page, leaf.index);
  *deleted = true;
  return Rebalance(root, path, path.size() - 1);
}

Status Mutator::RemoveChild(uint64_t* root, std::vector<PathLevel>& path, size_t d,
                            size_t child) {
  uint64_t pgno = path[d].pgno;
  uint8_t* page = DirtyData(pgno);
  if (CellCount(page) == 0) {
    // The branch loses its only child; the caller removes the branch.
    Store64(page + 16, 0);
    return Status::OK();
  }
  size_t cell_index = child == 0 ? 0 : child - 1;
  Cell cell;
  MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, pgno, cell_index, &cell));
  MANIFOLD_RETURN_IF_ERROR(FreeCellChains(cell, false));
  if (child == 0) Store64(page + 16, cell.child);
  RemoveRaw(page, cell_index);
  return Status::OK();
}

Status Mutator::Rebalance(uint64_t* root, std::vector<PathLevel>& path, size_t d) {
  const size_t capacity = pages_.page_size - kHeaderSize;
  for (;;) {
    uint64_t pgno = path[d].pgno;
    uint8_t* page = DirtyData(pgno);
    const bool leaf = PageTypeOf(page) == kLeafPage;
    const size_t count = CellCount(page);
    const bool empty = leaf ? count == 0 : (count == 0 && PageLink(page) == 0);
    if (d == 0) {
      if (empty) {
        FreePage(pgno);
        *root = 0;
        return Status::OK();
      }
      // A root branch with a single child gives way to that child.
      for (int depth = 0; depth < kMaxDepth; ++depth) {
        Result<const uint8_t*> top = GetNode(pages_, *root);
        if (!top.ok()) return top.status();
        if (PageTypeOf(*top) != kBranchPage || CellCount(*top) != 0) return Status::OK();
        uint64_t child = PageLink(*top);
        FreePage(*root);
        *root = child;
      }
      return BadPage(*root, "tree is deeper than possible (a cycle?)");
    }
    if (empty) {
      MANIFOLD_RETURN_IF_ERROR(RemoveChild(root, path, d - 1, path[d - 1].index));
      FreePage(pgno);
      --d;
      continue;
    }
    size_t used = 0;
    for (size_t i = 0; i < count; ++i) {
      Cell cell;
      MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, page, pgno, i, &cell));
      used += cell.size + 2;
    }
    if (used >= capacity / 4) return Status::OK();
    uint64_t parent_pgno = path[d - 1].pgno;
    uint8_t* parent = DirtyData(parent_pgno);
    const size_t at = path[d - 1].index;
    const size_t parent_count = CellCount(parent);
    if (parent_count == 0) {
      --d;  // an only child: the parent itself may merge with its sibling
      continue;
    }
    const size_t left_i = at < parent_count ? at : at - 1;
    uint64_t left_pgno = 0, right_pgno = 0;
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages_, parent, parent_pgno, left_i, &left_pgno));
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages_, parent, parent_pgno, left_i + 1, &right_pgno));
    Result<const uint8_t*> left_ro = GetNode(pages_, left_pgno);
    if (!left_ro.ok()) return left_ro.status();
    Result<const uint8_t*> right_ro = GetNode(pages_, right_pgno);
    if (!right_ro.ok()) return right_ro.status();
    if (PageTypeOf(*left_ro) != PageTypeOf(*right_ro)) {
      return BadPage(parent_pgno, "children of one branch differ in kind");
    }
    std::vector<std::string> merged, right_cells;
    MANIFOLD_RETURN_IF_ERROR(CollectCells(pages_, *left_ro, left_pgno, &merged));
    MANIFOLD_RETURN_IF_ERROR(CollectCells(pages_, *right_ro, right_pgno, &right_cells));
    Cell sep;
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, parent, parent_pgno, left_i, &sep));
    if (!leaf) {
      // The separator comes down between the halves, taking its key with it.
      std::string down(reinterpret_cast<const char*>(parent + CellOffset(parent, left_i)),
                       sep.size);
      Store64(reinterpret_cast<uint8_t*>(down.data()) + (sep.key - (parent + CellOffset(parent, left_i))) - 8,
              PageLink(*right_ro));
      merged.push_back(std::move(down));
    }
    for (std::string& c : right_cells) merged.push_back(std::move(c));
    if (CellsBytes(merged, 0, merged.size()) > capacity) return Status::OK();
    uint64_t left_now = 0;
    const uint64_t left_link = PageLink(*left_ro);
    Result<uint8_t*> left = Writable(left_pgno, &left_now);
    if (!left.ok()) return left.status();
    Rebuild(*left, pages_.page_size, leaf ? kLeafPage : kBranchPage, leaf ? 0 : left_link, merged, 0,
            merged.size());
    if (leaf) MANIFOLD_RETURN_IF_ERROR(FreeCellChains(sep, false));
    parent = DirtyData(parent_pgno);
    RemoveRaw(parent, left_i);
    MANIFOLD_RETURN_IF_ERROR(SetChild(parent, parent_pgno, left_i, left_now));
    FreePage(right_pgno);
    --d;
  }
}

Status Mutator::FreeNode(uint64_t pgno, int depth) {
  if (depth >= kMaxDepth) return BadPage(pgno, "tree is deeper than possible (a cycle?)");
  Result<const uint8_t*> page = GetNode(pages_, pgno);
  if (!page.ok()) return page.status();
  const bool leaf = PageTypeOf(*page) == kLeafPage;
  const size_t count = CellCount(*page);
  std::vector<Cell> cells(count);
  for (size_t i = 0; i < count; ++i) {
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, *page, pgno, i, &cells[i]));
  }
  const uint64_t leftmost = PageLink(*page);
  // Gather what the page points to before freeing it (freeing may drop its bytes).
  std::vector<uint64_t> children;
  if (!leaf) {
    children.push_back(leftmost);
    for (const Cell& c : cells) children.push_back(c.child);
  }
  for (const Cell& c : cells) MANIFOLD_RETURN_IF_ERROR(FreeCellChains(c, leaf));
  for (uint64_t child : children) MANIFOLD_RETURN_IF_ERROR(FreeNode(child, depth + 1));
  FreePage(pgno);
  return Status::OK();
}

Status Mutator::FreeTree(uint64_t root) {
  if (root == 0) return Status::OK();
  return FreeNode(root, 0);
}

Status Mutator::CountChain(uint64_t first, uint64_t len, uint64_t* count, uint64_t* max_pgno) {
  const uint64_t payload = pages_.page_size - kHeaderSize;
  uint64_t pgno = first;
  for (uint64_t left = len; left > 0; left -= std::min(left, payload)) {
    const uint8_t* page = pages_.Get(pgno);
    if (page == nullptr || PageTypeOf(page) != kOverflowPage) {
      return BadPage(pgno, "overflow chain is broken");
    }
    ++*count;
    *max_pgno = std::max(*max_pgno, pgno);
    pgno = PageLink(page);
  }
  return Status::OK();
}

Status Mutator::CountNode(uint64_t pgno, int depth, uint64_t* count, uint64_t* max_pgno) {
  if (depth >= kMaxDepth) return BadPage(pgno, "tree is deeper than possible (a cycle?)");
  Result<const uint8_t*> page = GetNode(pages_, pgno);
  if (!page.ok()) return page.status();
  const bool leaf = PageTypeOf(*page) == kLeafPage;
  ++*count;
  *max_pgno = std::max(*max_pgno, pgno);
  for (size_t i = 0; i < CellCount(*page); ++i) {
    Cell c;
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, *page, pgno, i, &c));
    if (c.key_overflows()) {
      MANIFOLD_RETURN_IF_ERROR(CountChain(c.key_overflow_page(), c.key_len, count, max_pgno));
    }
    if (leaf && c.value_overflows()) {
      MANIFOLD_RETURN_IF_ERROR(CountChain(c.value_overflow_page(), c.value_len, count, max_pgno));
    }
    if (!leaf) MANIFOLD_RETURN_IF_ERROR(CountNode(c.child, depth + 1, count, max_pgno));
  }
  if (!leaf) MANIFOLD_RETURN_IF_ERROR(CountNode(PageLink(*page), depth + 1, count, max_pgno));
  return Status::OK();
}

Status Mutator::CountPages(uint64_t root, uint64_t* count, uint64_t* max_pgno) {
  if (root == 0) return Status::OK();
  return CountNode(root, 0, count, max_pgno);
}

Status Mutator::RelocateChain(uint64_t* first, uint64_t len, uint64_t limit, bool* moved) {
  *moved = false;
  const uint64_t payload = pages_.page_size - kHeaderSize;
  uint64_t pgno = *first;
  bool high = false;
  for (uint64_t left = len; left > 0; left -= std::min(left, payload)) {
    const uint8_t* page = pages_.Get(pgno);
    if (page == nullptr || PageTypeOf(page) != kOverflowPage) {
      return BadPage(pgno, "overflow chain is broken");
    }
    if (pgno >= limit) high = true;
    pgno = PageLink(page);
  }
  if (!high) return Status::OK();
  std::string data;
  MANIFOLD_RETURN_IF_ERROR(ReadOverflow(pages_, *first, len, &data));
  MANIFOLD_RETURN_IF_ERROR(FreeOverflow(*first, len));
  MANIFOLD_RETURN_IF_ERROR(WriteOverflow(data, first));
  *moved = true;
  return Status::OK();
}

Status Mutator::RelocateNode(uint64_t* pgno, uint64_t limit, int depth) {
  if (depth >= kMaxDepth) return BadPage(*pgno, "tree is deeper than possible (a cycle?)");
  Result<const uint8_t*> ro = GetNode(pages_, *pgno);
  if (!ro.ok()) return ro.status();
  const bool leaf = PageTypeOf(*ro) == kLeafPage;
  const size_t count = CellCount(*ro);
  uint8_t* page = nullptr;  // writable copy, made on the first change
  auto writable = [&]() -> Result<uint8_t*> {
    if (page != nullptr) return page;
    Result<uint8_t*> w = Writable(*pgno, pgno);
    if (!w.ok()) return w.status();
    page = *w;
    return page;
  };
  // Stores `link` at `offset` of the writable copy.
  auto store_link = [&](size_t offset, uint64_t link) -> Status {
    Result<uint8_t*> w = writable();
    if (!w.ok()) return w.status();
    Store64(*w + offset, link);
    return Status::OK();
  };
  if (*pgno >= limit) {
    Result<uint8_t*> w = writable();
    if (!w.ok()) return w.status();
  }
  if (!leaf) {
    uint64_t child = PageLink(page != nullptr ? page : *ro);
    uint64_t before = child;
    MANIFOLD_RETURN_IF_ERROR(RelocateNode(&child, limit, depth + 1));
    if (child != before) {
      MANIFOLD_RETURN_IF_ERROR(store_link(16, child));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* cur = page != nullptr ? page : GetNode(pages_, *pgno).value();
    Cell c;
    MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, cur, *pgno, i, &c));
    const size_t key_at = static_cast<size_t>(c.key - cur);
    const size_t value_at = leaf ? static_cast<size_t>(c.value - cur) : 0;
    if (c.key_overflows()) {
      uint64_t first = c.key_overflow_page();
      bool moved = false;
      MANIFOLD_RETURN_IF_ERROR(RelocateChain(&first, c.key_len, limit, &moved));
      if (moved) {
        MANIFOLD_RETURN_IF_ERROR(store_link(key_at, first));
      }
    }
    if (leaf && c.value_overflows()) {
      uint64_t first = c.value_overflow_page();
      bool moved = false;
      MANIFOLD_RETURN_IF_ERROR(RelocateChain(&first, c.value_len, limit, &moved));
      if (moved) {
        MANIFOLD_RETURN_IF_ERROR(store_link(value_at, first));
      }
    }
    if (!leaf) {
      uint64_t child = c.child;
      MANIFOLD_RETURN_IF_ERROR(RelocateNode(&child, limit, depth + 1));
      if (child != c.child) {
        MANIFOLD_RETURN_IF_ERROR(store_link(key_at - 8, child));
      }
    }
  }
  return Status::OK();
}

Status Mutator::Relocate(uint64_t* root, uint64_t limit) {
  if (*root == 0) return Status::OK();
  return RelocateNode(root, limit, 0);
}

Status Mutator::Repack(uint64_t* root, Bytes from, size_t budget, std::string* next, bool* done) {
  *done = true;
  next->clear();
  if (*root == 0) return Status::OK();
  struct Moved {
    std::string key;
    std::string cell;
  };
  std::vector<Moved> moved;
  size_t bytes = 0;
  TreePath at;
  bool exact = false;
  MANIFOLD_RETURN_IF_ERROR(at.Seek(pages_, *root, from, &exact));
  Cell cell;
  if (at.valid()) MANIFOLD_RETURN_IF_ERROR(at.Current(pages_, &cell));
  while (at.valid()) {
    const uint8_t* page = pages_.Get(at.leaf_pgno());  // Current() checked it
    Moved& m = moved.emplace_back();
    m.cell.assign(reinterpret_cast<const char*>(page + CellOffset(page, at.leaf_index())),
                  cell.size);
    Bytes key;
    MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, cell, &m.key, &key));
    if (key.data() != m.key.data()) m.key.assign(key);
    // A damaged tree whose keys go backwards would send Compact() round forever.
    if (moved.size() > 1 && Bytes(m.key) <= Bytes(moved[moved.size() - 2].key)) {
      return BadPage(at.leaf_pgno(), "keys out of order");
    }
    bytes += m.cell.size() + 2;
    if (at.NextInLeaf(pages_, &cell)) continue;
    MANIFOLD_RETURN_IF_ERROR(at.Next(pages_));
    if (!at.valid()) break;
    MANIFOLD_RETURN_IF_ERROR(at.Current(pages_, &cell));
    if (bytes >= budget) {
      MANIFOLD_RETURN_IF_ERROR(CellKey(pages_, cell, next, &key));
      if (key.data() != next->data()) next->assign(key);
      if (Bytes(*next) <= Bytes(moved.back().key)) {
        return BadPage(at.leaf_pgno(), "keys out of order");
      }
      *done = false;
      break;
    }
  }
  std::vector<PathLevel>& path = path_;
  for (const Moved& m : moved) {
    MANIFOLD_RETURN_IF_ERROR(Descend(*root, m.key, &path, &exact));
    if (!exact) return BadPage(*root, "a key being repacked is not where the tree says");
    MANIFOLD_RETURN_IF_ERROR(TouchPath(root, &path));
    RemoveRaw(DirtyData(path.back().pgno), path.back().index);
    MANIFOLD_RETURN_IF_ERROR(Rebalance(root, path, path.size() - 1));
  }
  // The keys now fall in one gap of the tree. A branch's separator splits it:
  // the keys below it go to the end of the leaf before the gap, in ascending
  // order, each an append (a full leaf splits off only the new cell); the
  // keys above it go to the front of the leaf after the gap, in descending
  // order, each at slot 0 (a full leaf splits off only the new cell again).
  // Either way every leaf fills before the next begins.
  std::vector<const Moved*> front;
  for (const Moved& m : moved) {
    if (*root == 0) {
      uint8_t* page = Allocate(root);
      InitNode(page, pages_.page_size, kLeafPage, 0);
      InsertRaw(page, 0, m.cell);
      continue;
    }
    MANIFOLD_RETURN_IF_ERROR(Descend(*root, m.key, &path, &exact));
    if (exact) return BadPage(*root, "a key being repacked is still in the tree");
    Result<const uint8_t*> leaf = GetNode(pages_, path.back().pgno);
    if (!leaf.ok()) return leaf.status();
    if (path.back().index < CellCount(*leaf)) {
      front.push_back(&m);
      continue;
    }
    MANIFOLD_RETURN_IF_ERROR(TouchPath(root, &path));
    MANIFOLD_RETURN_IF_ERROR(InsertAt(root, path, path.size() - 1, path.back().index, m.cell));
  }
  for (auto it = front.rbegin(); it != front.rend(); ++it) {
    MANIFOLD_RETURN_IF_ERROR(Descend(*root, (*it)->key, &path, &exact));
    if (exact) return BadPage(*root, "a key being repacked is still in the tree");
    MANIFOLD_RETURN_IF_ERROR(TouchPath(root, &path));
    MANIFOLD_RETURN_IF_ERROR(
        InsertAt(root, path, path.size() - 1, path.back().index, (*it)->cell));
  }
  return Status::OK();
}

Status Mutator::MeasureNode(uint64_t pgno, int depth, LeafUse* use) {
  if (depth >= kMaxDepth) return BadPage(pgno, "tree is deeper than possible (a cycle?)");
  Result<const uint8_t*> page = GetNode(pages_, pgno);
  if (!page.ok()) return page.status();
  const size_t count = CellCount(*page);
  if (PageTypeOf(*page) == kLeafPage) {
    ++use->leaves;
    use->cells += count;
    for (size_t i = 0; i < count; ++i) {
      Cell c;
      MANIFOLD_RETURN_IF_ERROR(GetCell(pages_, *page, pgno, i, &c));
      use->bytes += c.size + 2;
    }
    return Status::OK();
  }
  for (size_t i = 0; i <= count; ++i) {
    uint64_t child = 0;
    MANIFOLD_RETURN_IF_ERROR(ChildAt(pages_, *page, pgno, i, &child));
    MANIFOLD_RETURN_IF_ERROR(MeasureNode(child, depth + 1, use));
  }
  return Status::OK();
}

Status Mutator::MeasureLeaves(uint64_t root, LeafUse* use) {
  if (root == 0) return Status::OK();
  return MeasureNode(root, 0, use);
}

Mutator::Mark Mutator::Savepoint() {
  Mark mark{epoch_, pages_.page_count, alloc_log_.size(), freed_.size(), retired_.size(),
            undo_.size()};
  frozen_ = epoch_++;
  marks_open_ = true;
  return mark;
}

void Mutator::RollbackTo(const Mark& mark) {
  for (size_t i = alloc_log_.size(); i > mark.alloc_log; --i) dirty_.erase(alloc_log_[i - 1]);
  alloc_log_.resize(mark.alloc_log);
  for (size_t i = undo_.size(); i > mark.undo; --i) {
    const Undo& u = undo_[i - 1];
    if (u.was_push) {
      avail_.pop_back();
    } else {
      avail_.push_back(u.pgno);
    }
  }
  undo_.resize(mark.undo);
  freed_.resize(mark.freed);
  retired_.resize(mark.retired);
  pages_.page_count = mark.page_count;
  frozen_ = mark.epoch;
}

void Mutator::Released(const Mark* top) {
  // Room first (see Allocate): retired pages may go to avail_ and undo_.
  std::vector<std::pair<uint64_t, uint64_t>> keep;
  keep.reserve(retired_.size());
  Reserve(avail_, avail_.size() + retired_.size());
  if (top != nullptr) Reserve(undo_, undo_.size() + retired_.size());
  frozen_ = top == nullptr ? 0 : top->epoch;
  if (top == nullptr) {
    marks_open_ = false;
    alloc_log_.clear();
    undo_.clear();
  }
  for (const auto& [pgno, gen] : retired_) {
    if (gen > frozen_) {
      dirty_.erase(pgno);
      avail_.push_back(pgno);
      if (marks_open_) undo_.push_back({true, pgno});
    } else {
      keep.push_back({pgno, gen});
    }
  }
  retired_ = std::move(keep);
}

void Mutator::FinishForCommit() { Released(nullptr); }

}  // namespace manifold::btree
