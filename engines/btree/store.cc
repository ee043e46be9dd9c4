#include "btree/store.h"

#include <algorithm>
#include <limits>
#include <new>

namespace manifold::btree {
namespace {

constexpr uint64_t kMinGrowth = 64 * 1024;
constexpr uint64_t kMaxGrowth = 16 * 1024 * 1024;

// Pages logged commits may write between checkpoints: the overlay holds
// them in memory (16 MiB of pages, at least 256). A commit that would pass
// it is a checkpoint instead.
uint64_t MaxOverlayPages(uint32_t page_size) {
  return std::max<uint64_t>(256, (uint64_t{16} << 20) / page_size);
}

// Bytes [0, 4) of the meta slot `meta` is written as.
uint32_t MetaChecksum(const Meta& meta) {
  uint8_t bytes[kMetaSize];
  EncodeMeta(meta, bytes);
  return Load32(bytes);
}

}  // namespace

Result<std::shared_ptr<Store>> Store::Open(const StoreOptions& options,
                                           std::unique_ptr<File> file,
                                           std::unique_ptr<File> log) {
  std::shared_ptr<Store> store(new Store(options, std::move(file)));
  MANIFOLD_RETURN_IF_ERROR(store->file_->Lock(!options.read_only));
  Result<uint64_t> size = store->file_->Size();
  if (!size.ok()) return size.status();
  if (*size == 0) {
    if (!options.create || options.read_only) {
      return Status::Corruption(options.path + ": btree file is empty (no meta page)");
    }
    MANIFOLD_RETURN_IF_ERROR(store->Initialize());
    size = store->file_->Size();
    if (!size.ok()) return size.status();
  }
  CommitLog::Header header;
  std::vector<std::string> records;
  bool has_header = false;
  if (log != nullptr) {
    store->log_ = std::make_unique<CommitLog>(std::move(log), options.path + "-log",
                                                options.log_size);
    Result<bool> read = store->log_->Read(&header, &records);
    if (!read.ok()) return read.status();
    has_header = *read;
  }
  MANIFOLD_RETURN_IF_ERROR(store->Load(*size, records.empty() ? nullptr : &header));
  if (!records.empty() && options.read_only) {
    return Status::ReadOnly(options.path + ": its commit log holds " +
                            std::to_string(records.size()) +
                            " commits not yet in the store file (the writer did not close "
                            "it); open the store once for writing to recover them");
  }
  store->log_current_ = has_header && records.empty() &&
                        header.base_txn == store->meta_.txn_id &&
                        header.base_meta_checksum == MetaChecksum(store->meta_);
  store->recovery_ = std::move(records);
  return store;
}

Store::~Store() {
  // A forked child never writes its parent's files (fork_guard.h).
  if (!logging() || !unsynced_ || !log_broken_.ok() || owner_.inherited()) return;
  try {
    (void)Checkpoint();
  } catch (const std::bad_alloc&) {
    // Out of memory at close: the log still holds every commit since the
    // checkpoint, and the next open replays them.
  }
}

Status Store::SettleLog() {
  if (log_ == nullptr || options_.read_only || !log_broken_.ok()) return log_broken_;
  if (logging() && log_current_) return Status::OK();
  // The newest commit becomes the checkpoint: make it durable, then say so.
  MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  uint8_t meta_bytes[kMetaSize];
  EncodeMeta(meta_, meta_bytes);
  Status s = log_->Reset(meta_.txn_id, Load32(meta_bytes));
  if (!s.ok()) {
    log_broken_ = s;
    return s;
  }
  // A store that no longer logs empties the file (a header with no record
  // is as good, should the truncation fail).
  if (!logging()) (void)log_->Clear();
  std::lock_guard<std::mutex> lock(mu_);
  base_slot_ = meta_slot_;
  overlay_.reset();
  held_.clear();
  unsynced_ = false;
  log_current_ = logging();
  if (logging()) MirrorBase(meta_bytes, meta_.page_size);
  return Status::OK();
}

void Store::AttachLog(std::unique_ptr<File> log) {
  log_ = std::make_unique<CommitLog>(std::move(log), options_.path + "-log", options_.log_size);
  log_current_ = false;
}

void Store::MirrorBase(const uint8_t* meta_bytes, uint32_t page_size) {
  // Unsynced: a torn copy fails its checksum and open uses the other slot.
  (void)file_->Write((1 - base_slot_) * page_size,
                     std::string_view(reinterpret_cast<const char*>(meta_bytes), kMetaSize));
}

Status Store::Checkpoint() {
  if (!logging() || !unsynced_) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(log_broken_);
  // An empty commit that is not logged: it writes the freelist and a meta
  // slot for the newest state, syncs, and starts the log over.
  std::vector<uint64_t> reusable;
  Snapshot snap = BeginWrite(&reusable);
  Mutator mutator(snap.pages(options_.verify_checksums), std::move(reusable));
  return Commit(mutator, snap.meta);
}

Status Store::Initialize() {
  const uint32_t p = options_.page_size;
  std::string pages(2 * p, '\0');
  Meta meta;
  meta.page_size = p;
  for (uint64_t slot = 0; slot < 2; ++slot) {
    meta.txn_id = slot;
    EncodeMeta(meta, reinterpret_cast<uint8_t*>(pages.data()) + slot * p);
  }
  MANIFOLD_RETURN_IF_ERROR(file_->Write(0, pages));
  return file_->Sync();
}

Status Store::LoadFreelist(const Snapshot& snap, std::vector<FreeEntry>* entries,
                           std::vector<uint64_t>* chain) {
  const Meta& meta = snap.meta;
  Pages pages = snap.pages(/*verify_checksums=*/true);
  const uint64_t per_page = FreelistEntriesPerPage(meta.page_size);
  for (uint64_t pgno = meta.freelist_head; pgno != 0;) {
    if (chain->size() >= meta.page_count) return BadPage(pgno, "freelist chain loops");
    const uint8_t* page = pages.Get(pgno);
    if (page == nullptr) return BadPage(pgno, "freelist page out of range or checksum mismatch");
    if (PageTypeOf(page) != kFreelistPage) return BadPage(pgno, "expected a freelist page");
    uint64_t n = CellCount(page);
    if (n > per_page) return BadPage(pgno, "freelist page holds too many entries");
    for (uint64_t i = 0; i < n; ++i) {
      FreeEntry e{Load64(page + kHeaderSize + 16 * i), Load64(page + kHeaderSize + 16 * i + 8)};
      if (e.pgno < 2 || e.pgno >= meta.page_count || e.freed_by > meta.txn_id) {
        return BadPage(pgno, "freelist entry out of range");
      }
      entries->push_back(e);
    }
    chain->push_back(pgno);
    pgno = PageLink(page);
  }
  if (entries->size() != meta.freelist_entries) {
    return Status::Corruption("btree freelist holds " + std::to_string(entries->size()) +
                              " entries, the meta page says " +
                              std::to_string(meta.freelist_entries));
  }
  return Status::OK();
}

Status Store::VerifyCommit(const Snapshot& snap, std::vector<uint64_t>* record_chain) {
  const Meta& meta = snap.meta;
  if (meta.commit_pages == 0) return Status::OK();  // version 1, or a commit that wrote no page
  Pages pages = snap.pages(/*verify_checksums=*/true);
  const uint64_t per_page = CommitEntriesPerPage(meta.page_size);
  uint32_t digest = CommitDigestStart(meta.commit_pages);
  uint64_t seen = 0;
  uint64_t last = 0;
  for (uint64_t pgno = meta.commit_record; seen < meta.commit_pages;) {
    if (pgno == 0) return BadPage(pgno, "commit record ends early");
    if (record_chain->size() >= meta.page_count) return BadPage(pgno, "commit record loops");
    const uint8_t* page = pages.Get(pgno);
    if (page == nullptr) return BadPage(pgno, "commit record page out of range or checksum mismatch");
    if (PageTypeOf(page) != kCommitRecordPage) return BadPage(pgno, "expected a commit record page");
    const uint64_t n = CellCount(page);
    if (n == 0 || n > per_page || n > meta.commit_pages - seen) {
      return BadPage(pgno, "commit record page holds a wrong number of entries");
    }
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* e = page + kHeaderSize + kCommitEntrySize * i;
      const uint64_t written = Load64(e);
      const uint32_t checksum = Load32(e + 8);
      if (written < 2 || written >= meta.page_count || written <= last) {
        return BadPage(pgno, "commit record entry out of range or order");
      }
      last = written;
      digest = CommitDigestAdd(digest, written, checksum);
      // A page whose write was lost still holds older bytes (with a valid
      // older checksum); one torn by a crash fails its checksum.
      const uint8_t* data = pages.Get(written);
      if (data == nullptr || Load32(data) != checksum) {
        return BadPage(written, "written by the commit of txn " + std::to_string(meta.txn_id) +
                                    " but does not hold what it wrote (lost or torn write)");
      }
    }
    seen += n;
    record_chain->push_back(pgno);
    pgno = PageLink(page);
  }
  if (digest != meta.commit_digest) {
    return Status::Corruption("the commit record of txn " + std::to_string(meta.txn_id) +
                              " does not match the digest in its meta slot");
  }
  return Status::OK();
}

Status Store::Load(uint64_t file_size, const CommitLog::Header* base) {
  Result<std::shared_ptr<const Mapping>> mapping = file_->Map(file_size);
  if (!mapping.ok()) return mapping.status();
  const uint8_t* base_bytes = (*mapping)->data();
  struct Slot {
    Meta meta;
    uint64_t index;
    uint32_t checksum;
  };
  std::vector<Slot> metas;
  std::string problems;
  bool unsupported = false;  // a slot of a format version this build does not read
  auto note = [&](const std::string& what) { problems += (problems.empty() ? "" : "; ") + what; };
  auto try_slot = [&](uint64_t offset, uint64_t index, const char* name) -> bool {
    Meta meta;
    Status s = offset + kMetaSize <= file_size ? DecodeMeta(base_bytes + offset, kMetaSize, &meta)
                                               : Status::Corruption("file is truncated");
    if (s.code() == Status::Code::kNotSupported) {
      unsupported = true;
      note(s.message());
      return false;
    }
    if (!s.ok()) {
      note(std::string(name) + ": " + s.message());
      return false;
    }
    metas.push_back({meta, index, Load32(base_bytes + offset)});
    return true;
  };
  bool slot0 = try_slot(0, 0, "meta slot 0");
  if (slot0) {
    try_slot(metas[0].meta.page_size, 1, "meta slot 1");
  } else {
    // Slot 0 is damaged, so its page size is unknown: look for slot 1 at each.
    for (uint32_t p = kMinPageSize; p <= kMaxPageSize; p *= 2) {
      if (p + kMetaSize > file_size) break;
      Meta meta;
      Status s = DecodeMeta(base_bytes + p, kMetaSize, &meta);
      if (s.ok() && meta.page_size == p) {
        metas.push_back({meta, 1, Load32(base_bytes + p)});
        break;
      }
      if (s.code() == Status::Code::kNotSupported && Load32(base_bytes + p + 20) == p) {
        unsupported = true;
        note("meta slot 1: " + s.message());
        break;
      }
    }
    if (metas.empty() && !unsupported) note("meta slot 1: no valid meta page found");
  }
  std::sort(metas.begin(), metas.end(),
            [](const Slot& a, const Slot& b) { return a.meta.txn_id > b.meta.txn_id; });
  for (const Slot& slot : metas) {
    const Meta& meta = slot.meta;
    // Commits after a checkpoint are replayed from the log onto it: a newer
    // slot is not durable (its pages may be lost) and is written over.
    if (base != nullptr &&
        (meta.txn_id != base->base_txn || slot.checksum != base->base_meta_checksum)) {
      continue;
    }
    if (meta.page_count > file_size / meta.page_size) {
      note("meta of txn " + std::to_string(meta.txn_id) + " needs " +
           std::to_string(meta.page_count) + " pages but the file is truncated to " +
           std::to_string(file_size) + " bytes");
      continue;
    }
    Snapshot snap{meta, *mapping, nullptr};
    std::vector<FreeEntry> entries;
    std::vector<uint64_t> chain;
    std::vector<uint64_t> record_chain;
    Status s = VerifyCommit(snap, &record_chain);
    if (s.ok()) s = LoadFreelist(snap, &entries, &chain);
    // Kept sorted by page number from here on (files before the commit log
    // wrote them in any order).
    std::sort(entries.begin(), entries.end(),
              [](const FreeEntry& a, const FreeEntry& b) { return a.pgno < b.pgno; });
    if (s.ok() && meta.catalog_root != 0) {
      Pages pages = snap.pages(/*verify_checksums=*/true);
      Result<const uint8_t*> root = GetNode(pages, meta.catalog_root);
      if (!root.ok()) s = root.status();
    }
    if (!s.ok()) {
      note("meta of txn " + std::to_string(meta.txn_id) + ": " + s.message());
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    meta_ = meta;
    mapping_ = *mapping;
    free_ = std::move(entries);
    freelist_chain_ = std::move(chain);
    record_chain_ = std::move(record_chain);
    file_size_ = file_size;
    meta_slot_ = base_slot_ = slot.index;
    return Status::OK();
  }
  if (base != nullptr) {
    return Status::Corruption(options_.path + ": its commit log " + log_->path() +
                              " holds commits after txn " + std::to_string(base->base_txn) +
                              ", which no usable meta slot holds (" +
                              (problems.empty() ? "the log belongs to another file" : problems) +
                              "); if the file was replaced, move the log away");
  }
  if (unsupported) return Status::NotSupported(options_.path + ": " + problems);
  return Status::Corruption(options_.path + ": damaged btree file: " + problems);
}

Result<Snapshot> Store::BeginRead() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!readers_.empty() && readers_.back().first == meta_.txn_id) {
    ++readers_.back().second;
  } else {
    readers_.push_back({meta_.txn_id, 1});  // txn ids only grow: stays sorted
  }
  return Snapshot{meta_, mapping_, overlay_};
}

Result<Snapshot> Store::BeginCheck(std::vector<uint64_t>* free, bool* logged) {
  free->clear();
  std::lock_guard<std::mutex> lock(mu_);
  *logged = unsynced_;
  if (*logged) {
    free->reserve(free_.size() + held_.size());
    for (const FreeEntry& e : free_) free->push_back(e.pgno);
    for (const FreeEntry& e : held_) free->push_back(e.pgno);
  }
  if (!readers_.empty() && readers_.back().first == meta_.txn_id) {
    ++readers_.back().second;
  } else {
    readers_.push_back({meta_.txn_id, 1});
  }
  return Snapshot{meta_, mapping_, overlay_};
}

void Store::EndRead(uint64_t txn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = readers_.begin(); it != readers_.end(); ++it) {
    if (it->first == txn_id) {
      if (--it->second == 0) readers_.erase(it);
      return;
    }
  }
}

size_t Store::ReaderCount() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [txn, count] : readers_) n += count;
  return n;
}

Snapshot Store::BeginWrite(std::vector<uint64_t>* reusable) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t oldest =
      readers_.empty() ? std::numeric_limits<uint64_t>::max() : readers_.front().first;
  pending_.clear();
  reusable->clear();
  // free_ is sorted by page number: reusable comes out descending, as the
  // Mutator keeps it, and pending_ ascending.
  for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
    // Freed by txn T: still in every snapshot older than T. (Pages the
    // checkpoint's snapshot still uses are in held_, not here.)
    if (it->freed_by == 0 || it->freed_by <= oldest) {
      reusable->push_back(it->pgno);
    } else {
      pending_.push_back(*it);
    }
  }
  std::reverse(pending_.begin(), pending_.end());
  return Snapshot{meta_, mapping_, overlay_};
}

Status Store::WritePages(const std::vector<std::pair<uint64_t, const uint8_t*>>& pages,
                         uint32_t page_size) {
  // Consecutive pages go out in one gathered write of up to 1 MiB. Pages are sealed.
  const size_t max_run = std::max<size_t>(1, (1u << 20) / page_size);
  std::vector<std::string_view> run;
  run.reserve(std::min(pages.size(), max_run));
  uint64_t run_start = 0;
  for (const auto& [pgno, page] : pages) {
    if (!run.empty() && (pgno != run_start + run.size() || run.size() >= max_run)) {
      MANIFOLD_RETURN_IF_ERROR(file_->WriteGather(run_start * page_size, run));
      run.clear();
    }
    if (run.empty()) run_start = pgno;
    run.emplace_back(reinterpret_cast<const char*>(page), page_size);
  }
  if (!run.empty()) MANIFOLD_RETURN_IF_ERROR(file_->WriteGather(run_start * page_size, run));
  return Status::OK();
}

// A commit that ends the file at `limit` (Compact) takes its freelist and
// commit record pages from the free pages below it. Pages at or above it
// still belong to the previous snapshot, the one a failed commit falls back
// to, so they must not be written; when the free pages below `limit` cannot
// hold the freelist and the record, the commit keeps the file's end instead.
bool Store::FreePagesBelowHoldTheCommit(Mutator& mutator, const std::vector<uint64_t>& freed,
                                        const std::vector<FreeEntry>& pending, uint64_t limit) {
  const uint32_t p = mutator.pages().page_size;
  uint64_t below = 0;
  for (uint64_t pgno : mutator.available()) below += pgno < limit ? 1 : 0;
  uint64_t entries = below;
  for (uint64_t pgno : freed) entries += pgno < limit ? 1 : 0;
  for (const FreeEntry& e : pending) entries += e.pgno < limit ? 1 : 0;
  const uint64_t per_chain = FreelistEntriesPerPage(p);
  const uint64_t per_record = CommitEntriesPerPage(p);
  const uint64_t chain = (entries + per_chain - 1) / per_chain;
  const uint64_t record = (mutator.dirty().size() + chain + per_record - 1) / per_record;
  return chain + record <= below;
}

Status Store::Commit(Mutator& mutator, Meta meta, uint64_t limit, const std::string* rows) {
  if (options_.read_only) return Status::ReadOnly(options_.path + ": store is read-only");
  // A commit goes to the log when the store logs, its changes fit in the
  // log, and the pages it holds back from reuse are few; otherwise it is a
  // checkpoint: the one-phase commit below, synced, and the log starts over.
  bool logged = false;
  if (logging()) {
    MANIFOLD_RETURN_IF_ERROR(log_broken_);
    // Pages of the checkpoint's snapshot that commits since have replaced
    // are held until the next checkpoint: the file grows by at most an
    // eighth before one comes.
    const uint64_t held_limit = std::max<uint64_t>(64, meta_.page_count / 8);
    logged = rows != nullptr && limit == 0 && rows->size() <= log_->max_record() &&
             log_->Fits(rows->size()) &&
             (overlay_ == nullptr || overlay_->size() <= MaxOverlayPages(meta_.page_size)) &&
             held_.size() <= held_limit;
  }
  mutator.FinishForCommit();
  if (logged && overlay_ != nullptr && mutator.page_count() > overlay_->capacity()) logged = false;
  Meta base;
  std::vector<uint64_t> old_chain;
  uint64_t file_size = 0;
  uint64_t slot = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    base = meta_;
    slot = 1 - base_slot_;  // never the checkpoint's slot
    old_chain = freelist_chain_;
    old_chain.insert(old_chain.end(), record_chain_.begin(), record_chain_.end());
    file_size = file_size_;
  }
  const uint32_t p = base.page_size;
  const uint64_t txn = base.txn_id + 1;
  std::vector<uint64_t>& avail = mutator.available();
  std::vector<uint64_t> freed = mutator.freed();
  // The previous commit's freelist and commit record pages stay in its
  // snapshot; this commit frees them (reusable from the next commit on).
  freed.insert(freed.end(), old_chain.begin(), old_chain.end());
  std::vector<FreeEntry> pending = pending_;
  // The pages held for the checkpoint go into the freelist a checkpoint
  // writes; a logged commit adds the checkpoint's pages it frees to them.
  std::vector<FreeEntry> held;
  if (logged) {
    // A page a logged commit wrote (in the overlay) is not in the checkpoint.
    auto recycled = [this](uint64_t pgno) {
      return overlay_ != nullptr && overlay_->Get(pgno) != nullptr;
    };
    auto split = std::stable_partition(freed.begin(), freed.end(), recycled);
    for (auto it = split; it != freed.end(); ++it) held.push_back({*it, txn});
    freed.erase(split, freed.end());
  } else {
    pending.insert(pending.end(), held_.begin(), held_.end());
  }
  if (limit != 0 && !FreePagesBelowHoldTheCommit(mutator, freed, pending, limit)) limit = 0;
  if (limit != 0) {
    auto high = [limit](uint64_t pgno) { return pgno >= limit; };
    avail.erase(std::remove_if(avail.begin(), avail.end(), high), avail.end());
    freed.erase(std::remove_if(freed.begin(), freed.end(), high), freed.end());
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [limit](const FreeEntry& e) { return e.pgno >= limit; }),
                  pending.end());
    // Every live page lies below limit (the caller checked), so the file ends there.
    mutator.set_page_count(limit);
  }

  // The freelist chain and the commit record live in pages taken from the
  // free pages themselves. The record lists every other page this commit
  // writes, so it needs one entry per dirty page that is not a record page.
  const uint64_t per_page = FreelistEntriesPerPage(p);
  const uint64_t per_record = CommitEntriesPerPage(p);
  DirtyMap& dirty = mutator.dirty();
  uint64_t count = pending.size() + freed.size() + avail.size();
  std::vector<std::pair<uint64_t, uint8_t*>> chain;
  std::vector<std::pair<uint64_t, uint8_t*>> record;
  // A logged commit keeps its freelist in memory and writes no record: no
  // one reads them from the file. Recovery replays the log onto the
  // checkpoint, and the next checkpoint writes both.
  for (; !logged;) {
    const bool need_chain = chain.size() * per_page < count;
    const bool need_record = record.size() * per_record < dirty.size() - record.size();
    if (!need_chain && !need_record) break;
    size_t before = avail.size();
    uint8_t* data;
    uint64_t pgno = mutator.AllocatePage(&data);
    if (avail.size() < before) --count;
    (need_chain ? chain : record).push_back({pgno, data});
  }
  // The new freelist, sorted by page number: three sorted runs merged.
  auto by_page = [](const FreeEntry& a, const FreeEntry& b) { return a.pgno < b.pgno; };
  if (!std::is_sorted(pending.begin(), pending.end(), by_page)) {
    std::sort(pending.begin(), pending.end(), by_page);  // held_ joined it
  }
  std::vector<FreeEntry> add;
  add.reserve(freed.size() + avail.size());
  for (uint64_t pgno : freed) add.push_back({pgno, txn});
  std::sort(add.begin(), add.end(), by_page);
  const size_t middle = add.size();
  for (auto it = avail.rbegin(); it != avail.rend(); ++it) add.push_back({*it, 0});
  if (!std::is_sorted(add.begin() + static_cast<std::ptrdiff_t>(middle), add.end(), by_page)) {
    std::sort(add.begin() + static_cast<std::ptrdiff_t>(middle), add.end(), by_page);
  }
  std::inplace_merge(add.begin(), add.begin() + static_cast<std::ptrdiff_t>(middle), add.end(),
                     by_page);
  std::vector<FreeEntry> entries(pending.size() + add.size());
  std::merge(pending.begin(), pending.end(), add.begin(), add.end(), entries.begin(), by_page);
  for (size_t c = 0; c < chain.size(); ++c) {
    const size_t begin = c * per_page;
    const size_t n = std::min<size_t>(per_page, entries.size() - std::min(entries.size(), begin));
    EncodeFreelistPage(chain[c].second, p, c + 1 < chain.size() ? chain[c + 1].first : 0, n,
                       [&](size_t i) {
                         const FreeEntry& e = entries[begin + i];
                         return std::pair<uint64_t, uint64_t>(e.pgno, e.freed_by);
                       });
  }

  // Seal every page but the record's, then list them (ascending) in the record.
  std::vector<uint64_t> written;
  written.reserve(dirty.size());
  {
    std::vector<uint64_t> record_pgnos;
    for (const auto& r : record) record_pgnos.push_back(r.first);
    std::sort(record_pgnos.begin(), record_pgnos.end());
    for (auto& [pgno, page] : dirty) {
      if (std::binary_search(record_pgnos.begin(), record_pgnos.end(), pgno)) continue;
      SealPage(page.data.get(), pgno, p);
      written.push_back(pgno);
    }
  }
  std::sort(written.begin(), written.end());
  uint32_t digest = CommitDigestStart(written.size());
  for (size_t r = 0; r < record.size(); ++r) {
    uint8_t* page = record[r].second;
    std::memset(page, 0, p);
    page[4] = kCommitRecordPage;
    size_t begin = r * per_record;
    size_t n = std::min<size_t>(per_record, written.size() - begin);
    Store16(page + 6, static_cast<uint16_t>(n));
    Store64(page + 16, r + 1 < record.size() ? record[r + 1].first : 0);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t pgno = written[begin + i];
      const uint32_t checksum = Load32(dirty.at(pgno).data.get());
      uint8_t* e = page + kHeaderSize + kCommitEntrySize * i;
      Store64(e, pgno);
      Store32(e + 8, checksum);
      digest = CommitDigestAdd(digest, pgno, checksum);
    }
    SealPage(page, record[r].first, p);
  }

  meta.page_size = p;
  meta.txn_id = txn;
  meta.page_count = mutator.page_count();
  meta.freelist_head = chain.empty() ? 0 : chain[0].first;
  meta.freelist_entries = entries.size();
  meta.commit_record = record.empty() ? 0 : record[0].first;
  meta.commit_pages = record.empty() ? 0 : written.size();
  meta.commit_digest = record.empty() ? 0 : digest;

  // Grow the file in chunks, so it is rarely resized or remapped. (A logged
  // commit writes nothing to it: its pages wait in the overlay.)
  std::shared_ptr<const Mapping> new_mapping;
  const uint64_t needed = meta.page_count * p;
  if (!logged && needed > file_size) {
    uint64_t growth = std::clamp<uint64_t>(file_size / 16, kMinGrowth, kMaxGrowth);
    uint64_t size = std::max(needed, file_size + growth);
    size = (size + p - 1) / p * p;
    MANIFOLD_RETURN_IF_ERROR(file_->Truncate(size));
    Result<std::shared_ptr<const Mapping>> mapping = file_->Map(size);
    if (!mapping.ok()) return mapping.status();
    new_mapping = *mapping;
    file_size = size;
  }
  // A logged commit syncs its record in the log and is durable then:
  // recovery replays the record onto the checkpoint.
  // (overlay_ changes under mu_ only: readers copy it.)
  std::shared_ptr<Overlay> overlay = overlay_;
  if (logged) {
    // What publishing needs is allocated first: once the record is durable
    // the commit must not fail.
    if (overlay == nullptr) {
      overlay = std::make_shared<Overlay>(meta.page_count + MaxOverlayPages(p) + Overlay::kChunk);
    }
    for (const auto& [pgno, page] : dirty) overlay->Reserve(pgno);
    held_.reserve(held_.size() + held.size());
    MANIFOLD_RETURN_IF_ERROR(LogRecord(txn, *rows));
  }
  // A logged commit writes nothing to the file: its pages join the overlay,
  // and both meta slots keep the checkpoint. Otherwise, a one-phase commit:
  // the pages (the overlay's too, all free in the checkpoint before), then
  // the meta slot, then (sync=full) one fdatasync. A crash that keeps the
  // meta but loses a page write is caught at open by the commit record,
  // which falls back to the other slot; every page written here is free in
  // that slot's snapshot.
  Status s;
  uint8_t meta_bytes[kMetaSize];
  EncodeMeta(meta, meta_bytes);
  if (!logged) {
    std::vector<std::pair<uint64_t, const uint8_t*>> pages;
    pages.reserve(dirty.size() + (overlay_ != nullptr ? overlay_->size() : 0));
    for (const auto& [pgno, page] : dirty) pages.push_back({pgno, page.data.get()});
    if (overlay_ != nullptr) {
      overlay_->ForEach([&](uint64_t pgno, const uint8_t* page) {
        if (pgno < meta.page_count && dirty.count(pgno) == 0) pages.push_back({pgno, page});
      });
    }
    std::sort(pages.begin(), pages.end());
    s = WritePages(pages, p);
    if (s.ok()) {
      s = file_->Write(slot * p,
                       std::string_view(reinterpret_cast<const char*>(meta_bytes), kMetaSize));
    }
  }
  if (s.ok() && !logged && options_.sync == SyncMode::kFull) s = file_->Sync();
  if (!s.ok()) return s;
  if (!logged && logging()) {
    // A checkpoint commit: durable in the store file, now the log's base.
    s = log_->Reset(txn, Load32(meta_bytes));
    if (!s.ok()) {
      log_broken_ = Status::IOError(log_->path() + ": the commit log could not start over (" +
                                    s.message() + "); reopen the store");
      return log_broken_;
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  meta_ = meta;
  meta_slot_ = slot;
  if (logged) {
    held_.insert(held_.end(), held.begin(), held.end());
    for (auto& [pgno, page] : dirty) overlay->Put(pgno, std::move(page.data));
    overlay_ = std::move(overlay);
    unsynced_ = true;
  } else {
    overlay_.reset();  // snapshots that have it keep it
    base_slot_ = slot;
    held_.clear();
    unsynced_ = false;
    if (logging()) MirrorBase(meta_bytes, p);
  }
  free_ = std::move(entries);
  freelist_chain_.clear();
  for (const auto& c : chain) freelist_chain_.push_back(c.first);
  record_chain_.clear();
  for (const auto& r : record) record_chain_.push_back(r.first);
  pending_.clear();
  file_size_ = file_size;
  if (new_mapping != nullptr) mapping_ = std::move(new_mapping);
  return Status::OK();
}

Status Store::LogRecord(uint64_t txn, const std::string& record) {
  Status s = log_->Append(txn, record);
  if (!s.ok() && log_->unsure()) {
    log_broken_ = Status::IOError(log_->path() + ": a commit's record may or may not be durable (" +
                                  s.message() + "); reopen the store");
  }
  return s;
}

uint64_t Store::EstimatedSize() {
  std::lock_guard<std::mutex> lock(mu_);
  return file_size_;
}

uint64_t Store::PageCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return meta_.page_count;
}

Status Store::TruncateFile() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!readers_.empty()) {
    return Status::Busy(options_.path + ": cannot shrink the file while read transactions are open");
  }
  const uint64_t size = meta_.page_count * meta_.page_size;
  if (size >= file_size_) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(file_->Truncate(size));
  if (options_.sync == SyncMode::kFull) MANIFOLD_RETURN_IF_ERROR(file_->Sync());
  Result<std::shared_ptr<const Mapping>> mapping = file_->Map(size);
  if (!mapping.ok()) return mapping.status();
  mapping_ = *mapping;
  file_size_ = size;
  return Status::OK();
}

}  // namespace manifold::btree
