#include "zstd/zstd_scan_ahead.h"

#include <algorithm>
#include <utility>

namespace manifold {
namespace {

// As the cursor names a value that failed.
constexpr char kContext[] = "value of a cursor";

}  // namespace

ScanAhead::ScanAhead(Cursor* inner, bool reverse, DictionaryLookup lookup, ZstdCodec* codec,
                     ZstdCodec* caller_codec)
    : inner_(inner),
      reverse_(reverse),
      lookup_(std::move(lookup)),
      codec_(codec),
      caller_codec_(caller_codec) {
  thread_ = std::thread(&ScanAhead::Run, this);
}

ScanAhead::~ScanAhead() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool ScanAhead::Step() {
  if (!failed_ && owner_.inherited()) {
    on_entry_ = false;
    end_ = owner_.Check("a scan reading ahead");
    failed_ = true;
  }
  if (failed_ || (on_entry_ && !entry().status.ok())) return false;
  if (started_ && index_ + 1 < serving().entries.size()) {
    ++index_;
    return Land();
  }
  if (started_) {
    if (serving().ended) {
      on_entry_ = false;
      end_ = serving().end;
      return false;
    }
    ++served_;  // the caller's bytes of the batch before died with this step
  }
  started_ = true;
  try {
    // Refill the free slots while the thread decodes the batch to be served.
    while (!ended_ && filled_.load() < served_ + kDepth) FillNext();
    WaitFor(served_);
  } catch (...) {
    // Out of memory part way through a batch: the inner cursor has moved past
    // rows no batch holds, so the scan cannot go on from here.
    on_entry_ = false;
    end_ = Status::Internal("a scan reading ahead ran out of memory; seek to go on");
    failed_ = true;
    throw;
  }
  index_ = 0;
  if (serving().entries.empty()) {
    on_entry_ = false;
    end_ = serving().end;
    return false;
  }
  return Land();
}

bool ScanAhead::Land() {
  on_entry_ = true;
  Entry& e = batches_[served_ % kDepth].entries[index_];
  if (e.thrown) {
    std::exception_ptr thrown = std::exchange(e.thrown, nullptr);
    e.status = Status::Internal("decoding a value read ahead failed");
    std::rethrow_exception(thrown);
  }
  return e.status.ok();
}

Bytes ScanAhead::key() const {
  const Entry& e = entry();
  return Bytes(serving().keys).substr(e.key_offset, e.key_size);
}

Bytes ScanAhead::value() const { return serving().values[index_]; }

void ScanAhead::FillNext() {
  Batch* batch = &batches_[filled_.load() % kDepth];
  batch->keys.clear();
  batch->payloads.clear();
  batch->entries.clear();
  batch->held.clear();
  batch->ended = false;
  batch->end = Status::OK();
  size_t decoded = 0;
  const ZstdDictionary* last = nullptr;
  while (batch->entries.size() < kBatchEntries && decoded < kBatchBytes) {
    Bytes key;
    Bytes stored;
    if (!(reverse_ ? inner_->PrevEntry(&key, &stored) : inner_->NextEntry(&key, &stored))) {
      batch->ended = ended_ = true;
      batch->end = inner_->status();
      break;
    }
    Entry& e = batch->entries.emplace_back();
    e.key_offset = batch->keys.size();
    e.key_size = key.size();
    batch->keys.append(key);
    Result<ZstdStoredHeader> header = ReadZstdHeader(stored);
    if (!header.ok()) {
      e.status = header.status().WithContext(kContext);
      continue;
    }
    e.header = *header;
    e.header.payload = Bytes();  // a view of the engine's bytes, gone at the next step
    e.payload_offset = batch->payloads.size();
    e.payload_size = header->payload.size();
    batch->payloads.append(header->payload);
    decoded += header->decoded_size;
    if (header->kind != kZstdWithDictionary) continue;
    if (last == nullptr || last->id() != header->dictionary_id) {
      Result<DictionaryPtr> dict = lookup_(header->dictionary_id);
      if (!dict.ok()) {
        e.status = dict.status().WithContext(kContext);
        continue;
      }
      last = dict->get();
      batch->held.push_back(std::move(*dict));
    }
    e.dict = last;
  }
  batch->values.resize(batch->entries.size());
  batch->next.store(0);
  {
    std::lock_guard<std::mutex> lock(mu_);
    filled_.store(filled_.load() + 1);
  }
  cv_.notify_all();
}

template <typename Ready>
void ScanAhead::Await(Ready ready) {
  // The other side is often a few microseconds from done, less than waking
  // a sleeping thread costs: spin that long first (kSpins pauses, about
  // 10 us), no longer, since a spin burns the core the other side may need.
  for (int spin = 0; spin < kSpins; ++spin) {
    if (ready()) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, ready);
}

void ScanAhead::WaitFor(size_t n) {
  // What the thread has not claimed yet is quicker done here than waited for.
  // The thread may still be decoding a run it claimed: wait for it to leave
  // the batch, after which it never touches it again (so the slot can be
  // refilled).
  Decode(&batches_[n % kDepth], caller_codec_, /*on_thread=*/false);
  Await([this, n] { return decoded_.load() > n; });
}

void ScanAhead::Run() {
  for (size_t next = 0;; ++next) {
    Await([this, next] { return quit_.load() || filled_.load() > next; });
    if (quit_.load()) return;
    Decode(&batches_[next % kDepth], codec_, /*on_thread=*/true);
    {
      std::lock_guard<std::mutex> lock(mu_);
      decoded_.store(next + 1);
    }
    cv_.notify_all();
  }
}

void ScanAhead::Decode(Batch* batch, ZstdCodec* codec, bool on_thread) {
  const size_t size = batch->entries.size();
  Bytes payloads(batch->payloads);
  for (;;) {
    const size_t first = batch->next.fetch_add(kClaim);
    if (first >= size) return;
    for (size_t i = first; i < std::min(first + kClaim, size); ++i) {
      if (on_thread && quit_.load(std::memory_order_relaxed)) return;
      Entry& e = batch->entries[i];
      if (!e.status.ok()) continue;
      try {
        e.header.payload = payloads.substr(e.payload_offset, e.payload_size);
        Status s = codec->DecodeFrame(e.header, e.dict, &batch->values[i]);
        if (!s.ok()) e.status = s.WithContext(kContext);
      } catch (...) {  // std::bad_alloc: thrown on the caller's thread, at this value
        e.thrown = std::current_exception();
      }
    }
  }
}

}  // namespace manifold
