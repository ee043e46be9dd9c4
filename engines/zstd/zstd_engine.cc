// The zstd value layer: ZstdEngine and its transactions and cursor, each a
// thin wrapper that encodes values on the way in and decodes them on the way
// out (format and dictionary keyspace in zstd_engine.h).
#include "zstd/zstd_engine.h"

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/savepoint_stack.h"
#include "zstd/zstd_codec.h"
#include "zstd/zstd_scan_ahead.h"

namespace manifold {
namespace {

using std::chrono::milliseconds;

constexpr char kNextIdKey[] = "next";
constexpr size_t kMaxSampleBytes = 4096;        // a longer value is sampled by its prefix
constexpr size_t kCompactSampleBytes = 4 << 20;  // Compact() trains on at most this
constexpr size_t kRewriteChunk = 512;            // values rewritten per cursor pass
constexpr size_t kRetrainTxnBytes = 4 << 20;     // bytes rewritten per retrain transaction
constexpr milliseconds kCompactWait{5000};
constexpr size_t kMaxIdleCodecs = 8;             // kept for reuse per engine
constexpr size_t kScanAheadAfter = 256;          // steps before a scan decodes ahead

std::string KeyspaceKey(std::string_view name) { return "ks:" + std::string(name); }

std::string DictionaryKey(uint64_t id) {
  std::string key = "dict:";
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(id >> shift));
  return key;
}

std::string EncodeFixed64(uint64_t value) {
  std::string out;
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

uint64_t DecodeFixed64(Bytes bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return value;
}

Result<std::vector<uint64_t>> DecodeIdList(Bytes bytes) {
  std::vector<uint64_t> ids;
  while (!bytes.empty()) {
    uint64_t id = 0;
    if (!ReadVarint(&bytes, &id)) return Status::Corruption("zstd: bad dictionary list");
    ids.push_back(id);
  }
  return ids;
}

bool IsReserved(std::string_view name) { return name == kZstdKeyspace; }

Status Reserved(std::string_view name) {
  return Status::InvalidArgument("keyspace name '" + std::string(name) +
                                 "' is reserved by manifold's zstd layer");
}

// What every handle of one wrapped engine shares: the inner engine, the
// committed dictionaries by id, and the sample values of keyspaces that have
// no dictionary yet.
struct ZstdShared {
  std::unique_ptr<Engine> inner;
  int level = 3;

  std::mutex mu;
  std::map<uint64_t, DictionaryPtr> dictionaries;  // committed only
  std::map<std::string, std::vector<std::string>> samples;
  std::map<std::string, size_t> sample_bytes;
  // Ids handed out by this process, committed or not, are never handed out
  // again, even when their transaction rolls back.
  uint64_t next_id_floor = 1;
  // Codecs of finished transactions, for the next ones: zstd allocates and
  // sets up ~100 KiB for a decompression context, about 10 us, which a point
  // read in autocommit (one transaction) would otherwise pay every time.
  // A fixed array: giving a codec back allocates nothing, so it cannot fail.
  std::array<std::unique_ptr<ZstdCodec>, kMaxIdleCodecs> idle_codecs;
  size_t idle_count = 0;

  std::unique_ptr<ZstdCodec> TakeCodec() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (idle_count > 0) return std::move(idle_codecs[--idle_count]);
    }
    return std::make_unique<ZstdCodec>(level);
  }
  // Keeps `codec` for a later transaction; frees it when enough are kept.
  void ReturnCodec(std::unique_ptr<ZstdCodec> codec) noexcept {
    std::lock_guard<std::mutex> lock(mu);
    if (idle_count < kMaxIdleCodecs) idle_codecs[idle_count++] = std::move(codec);
  }

  DictionaryPtr Cached(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = dictionaries.find(id);
    return it == dictionaries.end() ? nullptr : it->second;
  }
  void Publish(const DictionaryPtr& dict) {
    std::lock_guard<std::mutex> lock(mu);
    dictionaries.emplace(dict->id(), dict);
  }
  // Adds `value` to the samples of `name`; returns the samples once there
  // are enough to train on (and forgets them).
  std::optional<std::vector<std::string>> AddSample(const std::string& name, Bytes value) {
    std::lock_guard<std::mutex> lock(mu);
    Bytes sample = value.substr(0, kMaxSampleBytes);
    samples[name].emplace_back(sample);
    size_t& bytes = sample_bytes[name];
    bytes += sample.size();
    if (bytes < kZstdTrainBytes) return std::nullopt;
    std::vector<std::string> out = std::move(samples[name]);
    samples.erase(name);
    sample_bytes.erase(name);
    return out;
  }
  void ForgetSamples(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu);
    samples.erase(name);
    sample_bytes.erase(name);
  }
};

// Reads dictionary `id` through `txn` (inner), using and filling the cache;
// `pending` holds dictionaries made by an uncommitted write transaction.
Result<DictionaryPtr> LoadDictionary(ZstdShared& shared, ReadTxn& txn,
                                     const std::map<uint64_t, DictionaryPtr>* pending,
                                     uint64_t id) {
  if (pending != nullptr) {
    auto it = pending->find(id);
    if (it != pending->end()) return it->second;
  }
  if (DictionaryPtr cached = shared.Cached(id)) return cached;
  Result<Keyspace> ks = txn.OpenKeyspace(kZstdKeyspace);
  std::string bytes;
  Status s = ks.ok() ? txn.Get(*ks, DictionaryKey(id), &bytes) : ks.status();
  if (s.IsNotFound()) {
    return Status::Corruption("zstd: dictionary " + std::to_string(id) + " is missing");
  }
  MANIFOLD_RETURN_IF_ERROR(s);
  Result<DictionaryPtr> dict = ZstdDictionary::Make(id, std::move(bytes), shared.level);
  // Not in `pending`, so committed: safe to share with every transaction.
  if (dict.ok()) shared.Publish(*dict);
  return dict;
}

// One transaction's codec, taken from the engine's idle codecs and given back
// when the transaction ends.
class PooledCodec {
 public:
  explicit PooledCodec(std::shared_ptr<ZstdShared> shared)
      : shared_(std::move(shared)), codec_(shared_->TakeCodec()) {}
  PooledCodec(const PooledCodec&) = delete;
  PooledCodec& operator=(const PooledCodec&) = delete;
  ~PooledCodec() { shared_->ReturnCodec(std::move(codec_)); }

  ZstdCodec* operator->() const { return codec_.get(); }
  ZstdCodec* get() const { return codec_.get(); }

 private:
  std::shared_ptr<ZstdShared> shared_;
  std::unique_ptr<ZstdCodec> codec_;
};

// A transaction's dictionary lookup. The dictionary found last is kept:
// the values of one table share it, so a scan finds it without taking the
// engine's mutex for every value. (Ids are never reused within a
// transaction's view of the store, so the id alone identifies it.)
class TxnDictionaries {
 public:
  TxnDictionaries(ZstdShared* shared, ReadTxn* inner,
                  const std::map<uint64_t, DictionaryPtr>* pending)
      : shared_(shared), inner_(inner), pending_(pending) {}

  DictionaryLookup Lookup() {
    return [this](uint64_t id) -> Result<DictionaryPtr> {
      if (last_ != nullptr && last_->id() == id) return last_;
      Result<DictionaryPtr> dict = LoadDictionary(*shared_, *inner_, pending_, id);
      if (dict.ok()) last_ = *dict;
      return dict;
    };
  }

 private:
  ZstdShared* shared_;
  ReadTxn* inner_;
  const std::map<uint64_t, DictionaryPtr>* pending_;
  DictionaryPtr last_;
};

// A cursor that decodes the current value at the first value() call. On a
// read snapshot (`ahead_shared` given), a scan that has gone on for
// kScanAheadAfter steps in one direction hands its decoding to a ScanAhead,
// until the cursor moves any other way.
class ZstdCursor final : public Cursor {
 public:
  ZstdCursor(std::unique_ptr<Cursor> inner, ZstdCodec* codec, DictionaryLookup lookup,
             std::shared_ptr<ZstdShared> ahead_shared)
      : inner_(std::move(inner)),
        codec_(codec),
        lookup_(std::move(lookup)),
        ahead_shared_(std::move(ahead_shared)) {}
  ZstdCursor(const ZstdCursor&) = delete;
  ZstdCursor& operator=(const ZstdCursor&) = delete;
  ~ZstdCursor() override { DropAhead(); }

  bool Valid() const override {
    return error_.ok() && (ahead_ != nullptr ? ahead_->Valid() : inner_->Valid());
  }
  void SeekToFirst() override { Jumped(), inner_->SeekToFirst(); }
  void SeekToLast() override { Jumped(), inner_->SeekToLast(); }
  void Seek(Bytes target) override { Jumped(), inner_->Seek(target); }
  void SeekForPrev(Bytes target) override { Jumped(), inner_->SeekForPrev(target); }
  void Next() override { Step(false); }
  void Prev() override { Step(true); }
  bool NextEntry(Bytes* key, Bytes* value) override { return Step(false) && Current(key, value); }
  bool PrevEntry(Bytes* key, Bytes* value) override { return Step(true) && Current(key, value); }
  Bytes key() const override { return ahead_ != nullptr ? ahead_->key() : inner_->key(); }
  Bytes value() override {
    if (ahead_ != nullptr) return ahead_->value();
    if (!decoded_) {
      Status s = codec_->Decode(inner_->value(), lookup_, &value_);
      if (!s.ok()) {
        error_ = s.WithContext("value of a cursor");
        return Bytes();
      }
      decoded_ = true;
    }
    return value_;
  }
  Status status() const override {
    if (!error_.ok()) return error_;
    return ahead_ != nullptr ? ahead_->status() : inner_->status();
  }

 private:
  // Ends the read-ahead. In a forked child its thread did not come along, and
  // its mutex and condition variable are copies of the parent's state: it is
  // left as it is, with the codec it decodes with (zstd_scan_ahead.h).
  void DropAhead() {
    if (ahead_ != nullptr && ahead_->inherited()) {
      (void)ahead_.release();
      (void)ahead_codec_.release();
    }
    ahead_.reset();
  }
  // A move to anywhere: the scan, if any, is over.
  void Jumped() {
    DropAhead();
    run_ = 0;
    Moved();
  }
  void Moved() {
    decoded_ = false;
    if (!error_.ok()) error_ = Status::OK();
  }
  // One step of a scan; true when it lands on an entry.
  bool Step(bool reverse) {
    Moved();
    if (ahead_ != nullptr) {
      if (ahead_->reverse() == reverse) return ahead_->Step();
      Settle();
    }
    if (reverse != run_reverse_) {
      run_reverse_ = reverse;
      run_ = 0;
    }
    if (ahead_shared_ != nullptr && ++run_ > kScanAheadAfter && inner_->Valid() &&
        StartAhead(reverse)) {
      return ahead_->Step();
    }
    reverse ? inner_->Prev() : inner_->Next();
    return inner_->Valid();
  }
  // Ends the read-ahead and puts the inner cursor back on the entry the
  // caller is on (the snapshot holds still, so one Seek finds it).
  void Settle() {
    if (!ahead_->Valid()) {  // past the end or on a failed value: the caller must seek
      DropAhead();
      return;
    }
    std::string key(ahead_->key());
    DropAhead();
    inner_->Seek(key);
  }
  bool StartAhead(bool reverse) {
    // On one core the thread would only take turns with the caller.
    static const bool kSpareCore = std::thread::hardware_concurrency() >= 2;
    if (!kSpareCore) {
      ahead_shared_ = nullptr;
      return false;
    }
    try {
      if (ahead_codec_ == nullptr) ahead_codec_ = std::make_unique<PooledCodec>(ahead_shared_);
      ahead_ = std::make_unique<ScanAhead>(inner_.get(), reverse, lookup_, ahead_codec_->get(),
                                           codec_);
      return true;
    } catch (const std::system_error&) {  // no thread to be had: decode here
      ahead_shared_ = nullptr;
      return false;
    }
  }

  std::unique_ptr<Cursor> inner_;
  ZstdCodec* codec_;
  DictionaryLookup lookup_;
  bool decoded_ = false;
  std::string value_;
  Status error_;
  std::shared_ptr<ZstdShared> ahead_shared_;  // null: never read ahead
  size_t run_ = 0;                            // steps in one direction since the last jump
  bool run_reverse_ = false;
  std::unique_ptr<PooledCodec> ahead_codec_;
  std::unique_ptr<ScanAhead> ahead_;  // destroyed first: its thread uses ahead_codec_
};

class ZstdReadTxn final : public ReadTxn {
 public:
  ZstdReadTxn(std::shared_ptr<ZstdShared> shared, std::unique_ptr<ReadTxn> inner)
      : shared_(std::move(shared)),
        inner_(std::move(inner)),
        codec_(shared_),
        dictionaries_(shared_.get(), inner_.get(), nullptr) {}

  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    if (IsReserved(name)) return Status::NotFound("keyspace '" + std::string(name) + "' is reserved");
    return inner_->OpenKeyspace(name);
  }
  Result<std::vector<std::string>> ListKeyspaces() override {
    Result<std::vector<std::string>> names = inner_->ListKeyspaces();
    if (names.ok()) std::erase_if(*names, IsReserved);
    return names;
  }
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    std::string stored;
    MANIFOLD_RETURN_IF_ERROR(inner_->Get(ks, key, &stored));
    return codec_->Decode(stored, dictionaries_.Lookup(), value);
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    Result<std::unique_ptr<Cursor>> inner = inner_->NewCursor(ks);
    if (!inner.ok()) return inner;
    return std::unique_ptr<Cursor>(std::make_unique<ZstdCursor>(
        std::move(*inner), codec_.get(), dictionaries_.Lookup(), shared_));
  }

 private:
  std::shared_ptr<ZstdShared> shared_;
  std::unique_ptr<ReadTxn> inner_;
  PooledCodec codec_;
  TxnDictionaries dictionaries_;
};

class ZstdWriteTxn final : public WriteTxn {
 public:
  ZstdWriteTxn(std::shared_ptr<ZstdShared> shared, std::unique_ptr<WriteTxn> inner)
      : shared_(std::move(shared)),
        inner_(std::move(inner)),
        codec_(shared_),
        dictionaries_(shared_.get(), inner_.get(), &state_.pending) {}

  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    if (IsReserved(name)) return Status::NotFound("keyspace '" + std::string(name) + "' is reserved");
    return inner_->OpenKeyspace(name);
  }
  Result<std::vector<std::string>> ListKeyspaces() override {
    Result<std::vector<std::string>> names = inner_->ListKeyspaces();
    if (names.ok()) std::erase_if(*names, IsReserved);
    return names;
  }
  Status Get(const Keyspace& ks, Bytes key, std::string* value) override {
    std::string stored;
    MANIFOLD_RETURN_IF_ERROR(inner_->Get(ks, key, &stored));
    return codec_->Decode(stored, dictionaries_.Lookup(), value);
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace& ks) override {
    Result<std::unique_ptr<Cursor>> inner = inner_->NewCursor(ks);
    if (!inner.ok()) return inner;
    // No read-ahead: writes through this transaction change what is ahead.
    return std::unique_ptr<Cursor>(std::make_unique<ZstdCursor>(
        std::move(*inner), codec_.get(), dictionaries_.Lookup(), nullptr));
  }

  Result<Keyspace> CreateKeyspace(std::string_view name) override {
    if (IsReserved(name)) return Reserved(name);
    return inner_->CreateKeyspace(name);
  }

  Status DropKeyspace(std::string_view name) override {
    if (IsReserved(name)) return Reserved(name);
    MANIFOLD_RETURN_IF_ERROR(inner_->DropKeyspace(name));
    state_.current.erase(std::string(name));
    shared_->ForgetSamples(std::string(name));
    return DropDictionaries(name, std::nullopt);
  }

  Status Put(const Keyspace& ks, Bytes key, Bytes value) override {
    Result<DictionaryPtr> dict = CurrentDictionary(ks.name);
    if (!dict.ok()) return dict.status();
    if (*dict == nullptr) {
      if (std::optional<std::vector<std::string>> samples = shared_->AddSample(ks.name, value)) {
        dict = Train(ks.name, *samples);
        if (!dict.ok()) return dict.status();
      }
    }
    MANIFOLD_RETURN_IF_ERROR(codec_->Encode(value, dict->get(), &stored_));
    return inner_->Put(ks, key, stored_);
  }

  Status Insert(const Keyspace& ks, Bytes key, Bytes value) override {
    Result<DictionaryPtr> dict = CurrentDictionary(ks.name);
    if (!dict.ok()) return dict.status();
    // While the keyspace has no dictionary, Put samples the values it stores:
    // a row refused here must not be sampled, so the check comes first.
    if (*dict == nullptr) return WriteTxn::Insert(ks, key, value);
    MANIFOLD_RETURN_IF_ERROR(codec_->Encode(value, dict->get(), &stored_));
    return inner_->Insert(ks, key, stored_);
  }

  Status Delete(const Keyspace& ks, Bytes key) override { return inner_->Delete(ks, key); }

  Status Savepoint(int level) override {
    MANIFOLD_RETURN_IF_ERROR(inner_->Savepoint(level));
    savepoints_.Mark(level, state_);
    return Status::OK();
  }
  Status RollbackTo(int level) override {
    MANIFOLD_RETURN_IF_ERROR(inner_->RollbackTo(level));
    if (std::optional<State> state = savepoints_.RollbackTo(level)) state_ = std::move(*state);
    return Status::OK();
  }
  Status Release(int level) override {
    MANIFOLD_RETURN_IF_ERROR(inner_->Release(level));
    savepoints_.Release(level);
    return Status::OK();
  }

  Status Commit() override {
    Status s = inner_->Commit();
    if (s.ok()) {
      for (const auto& [id, dict] : state_.pending) shared_->Publish(dict);
    }
    state_ = State();
    savepoints_.Clear();
    return s;
  }
  void Rollback() override {
    inner_->Rollback();
    state_ = State();
    savepoints_.Clear();
  }

  // Compact()'s part, first step: trains a new dictionary for `ks` from
  // samples of all its values (null: too little to train on). The
  // dictionary is stored and becomes the keyspace's current one when this
  // transaction commits.
  Result<DictionaryPtr> TrainFromKeyspace(const Keyspace& ks) {
    // The samples are spread over the whole keyspace, not taken from its
    // first keys (a table whose rows drift with their keys, such as a log
    // keyed by time, would get a dictionary of its oldest rows), and drawn
    // at random within it, not every k-th row (rows that cycle through a few
    // kinds, such as a round robin over four hosts, would alias with the
    // stride): the rows fall in strata of `block` consecutive rows, each
    // stratum gives one sample chosen uniformly (a reservoir of one), and
    // whenever the samples pass kCompactSampleBytes the strata double,
    // each pair keeping one of its two samples in proportion to the rows
    // behind them. The generator's seed is fixed, so a table retrains the
    // same way every time.
    std::vector<std::string> samples;  // one per stratum; the last is in progress
    size_t sampled = 0;
    {
      Result<std::unique_ptr<Cursor>> cursor = NewCursor(ks);
      if (!cursor.ok()) return cursor.status();
      std::mt19937_64 rng(0x5a5354444943540bULL);
      uint64_t block = 1;  // rows per stratum
      uint64_t seen = 0;   // rows seen of the stratum in progress
      for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
        if (seen == block) seen = 0;  // that stratum is whole: the next begins
        ++seen;
        if (seen > 1 && rng() % seen != 0) continue;
        Bytes value = (*cursor)->value().substr(0, kMaxSampleBytes);
        if (!(*cursor)->Valid()) break;
        if (seen == 1) {
          samples.emplace_back(value);
          sampled += value.size();
        } else {
          sampled = sampled - samples.back().size() + value.size();
          samples.back().assign(value);
        }
        while (sampled > kCompactSampleBytes && samples.size() > 1) {
          const size_t n = samples.size();
          size_t kept = 0;
          sampled = 0;
          for (size_t i = 0; i < n; i += 2) {
            size_t pick = i;
            if (i + 1 < n) {
              const uint64_t second = i + 1 == n - 1 ? seen : block;
              if (rng() % (block + second) >= block) pick = i + 1;
            }
            sampled += samples[pick].size();
            if (kept != pick) samples[kept] = std::move(samples[pick]);
            ++kept;
          }
          samples.resize(kept);
          if (n % 2 == 0) seen += block;  // the stratum in progress joined the one before
          block *= 2;
        }
      }
      MANIFOLD_RETURN_IF_ERROR((*cursor)->status());
    }
    return Train(ks.name, samples);
  }

  // Compact()'s part, next steps: rewrites the values of `ks` after *from
  // (from the first when *first) with `dict`, until keys and values of about
  // `budget` bytes are rewritten; *done when the keyspace's end was reached.
  // Each chunk is read with a fresh cursor, so the rewrite does not depend on
  // how a cursor behaves across writes.
  Status Rewrite(const Keyspace& ks, const ZstdDictionary* dict, size_t budget, std::string* from,
                 bool* first, bool* done) {
    *done = false;
    size_t written = 0;
    while (written < budget) {
      std::vector<std::pair<std::string, std::string>> chunk;
      {
        Result<std::unique_ptr<Cursor>> cursor = NewCursor(ks);
        if (!cursor.ok()) return cursor.status();
        Cursor& c = **cursor;
        *first ? c.SeekToFirst() : c.Seek(*from);
        if (!*first && c.Valid() && c.key() == Bytes(*from)) c.Next();
        for (; c.Valid() && chunk.size() < kRewriteChunk; c.Next()) {
          std::string key(c.key());
          std::string value(c.value());
          if (!c.Valid()) break;
          chunk.emplace_back(std::move(key), std::move(value));
        }
        MANIFOLD_RETURN_IF_ERROR(c.status());
      }
      if (chunk.empty()) {
        *done = true;
        return Status::OK();
      }
      for (const auto& [key, value] : chunk) {
        MANIFOLD_RETURN_IF_ERROR(codec_->Encode(value, dict, &stored_));
        MANIFOLD_RETURN_IF_ERROR(inner_->Put(ks, key, stored_));
        written += key.size() + value.size();
      }
      *from = chunk.back().first;
      *first = false;
    }
    return Status::OK();
  }

  // Whether `id` is still the current dictionary of keyspace `name`.
  Result<bool> IsCurrentDictionary(const std::string& name, uint64_t id) {
    Result<DictionaryPtr> current = CurrentDictionary(name);
    if (!current.ok()) return current.status();
    return *current != nullptr && (*current)->id() == id;
  }

  // Deletes the dictionaries of keyspace `name`, all or all but `keep`.
  Status DropDictionaries(std::string_view name, std::optional<uint64_t> keep) {
    Result<Keyspace> reserved = inner_->OpenKeyspace(kZstdKeyspace);
    if (!reserved.ok()) return reserved.status().IsNotFound() ? Status::OK() : reserved.status();
    std::string list;
    Status s = inner_->Get(*reserved, KeyspaceKey(name), &list);
    if (s.IsNotFound()) return Status::OK();
    MANIFOLD_RETURN_IF_ERROR(s);
    Result<std::vector<uint64_t>> ids = DecodeIdList(list);
    if (!ids.ok()) return ids.status();
    for (uint64_t id : *ids) {
      if (keep && id == *keep) continue;
      MANIFOLD_RETURN_IF_ERROR(inner_->Delete(*reserved, DictionaryKey(id)));
    }
    if (!keep) return inner_->Delete(*reserved, KeyspaceKey(name));
    std::string kept;
    AppendVarint(&kept, *keep);
    return inner_->Put(*reserved, KeyspaceKey(name), kept);
  }

 private:
  // What savepoints restore besides the inner transaction's data.
  struct State {
    std::map<std::string, DictionaryPtr> current;    // per keyspace; null: none
    std::map<uint64_t, DictionaryPtr> pending;        // made by this transaction
  };

  // Returns the dictionary new values of keyspace `name` use, or null.
  Result<DictionaryPtr> CurrentDictionary(const std::string& name) {
    auto it = state_.current.find(name);
    if (it != state_.current.end()) return it->second;
    DictionaryPtr dict;
    Result<Keyspace> reserved = inner_->OpenKeyspace(kZstdKeyspace);
    if (reserved.ok()) {
      std::string list;
      Status s = inner_->Get(*reserved, KeyspaceKey(name), &list);
      if (!s.ok() && !s.IsNotFound()) return s;
      if (s.ok()) {
        Result<std::vector<uint64_t>> ids = DecodeIdList(list);
        if (!ids.ok()) return ids.status();
        if (!ids->empty()) {
          Result<DictionaryPtr> found = LoadDictionary(*shared_, *inner_, &state_.pending, ids->back());
          if (!found.ok()) return found.status();
          dict = *found;
        }
      }
    } else if (!reserved.status().IsNotFound()) {
      return reserved.status();
    }
    state_.current[name] = dict;
    return dict;
  }

  // Trains a dictionary for keyspace `name` from `samples`, stores it and
  // makes it the keyspace's current one. Returns null when zstd cannot train
  // on these samples (the keyspace keeps compressing without a dictionary).
  Result<DictionaryPtr> Train(const std::string& name, const std::vector<std::string>& samples) {
    std::string bytes = TrainZstdDictionary(samples);
    if (bytes.empty()) return DictionaryPtr();
    Result<Keyspace> reserved = inner_->CreateKeyspace(kZstdKeyspace);
    if (!reserved.ok()) return reserved.status();
    std::string next;
    Status s = inner_->Get(*reserved, kNextIdKey, &next);
    if (!s.ok() && !s.IsNotFound()) return s;
    uint64_t id = s.ok() ? DecodeFixed64(next) : 1;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      id = std::max(id, shared_->next_id_floor);
      shared_->next_id_floor = id + 1;
    }
    MANIFOLD_RETURN_IF_ERROR(inner_->Put(*reserved, kNextIdKey, EncodeFixed64(id + 1)));
    MANIFOLD_RETURN_IF_ERROR(inner_->Put(*reserved, DictionaryKey(id), bytes));
    std::string list;
    s = inner_->Get(*reserved, KeyspaceKey(name), &list);
    if (!s.ok() && !s.IsNotFound()) return s;
    if (s.IsNotFound()) list.clear();
    AppendVarint(&list, id);
    MANIFOLD_RETURN_IF_ERROR(inner_->Put(*reserved, KeyspaceKey(name), list));
    Result<DictionaryPtr> dict = ZstdDictionary::Make(id, std::move(bytes), shared_->level);
    if (!dict.ok()) return dict;
    state_.pending[id] = *dict;
    state_.current[name] = *dict;
    return dict;
  }

  std::shared_ptr<ZstdShared> shared_;
  std::unique_ptr<WriteTxn> inner_;
  PooledCodec codec_;
  State state_;
  SavepointStack<State> savepoints_;
  TxnDictionaries dictionaries_;
  std::string stored_;  // scratch for the encoded value
};

class ZstdEngine final : public Engine {
 public:
  explicit ZstdEngine(std::shared_ptr<ZstdShared> shared) : shared_(std::move(shared)) {}

  std::string_view name() const override { return shared_->inner->name(); }
  Capabilities capabilities() const override { return shared_->inner->capabilities(); }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    Result<std::unique_ptr<ReadTxn>> inner = shared_->inner->BeginRead();
    if (!inner.ok()) return inner;
    return std::unique_ptr<ReadTxn>(std::make_unique<ZstdReadTxn>(shared_, std::move(*inner)));
  }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(milliseconds wait) override {
    Result<std::unique_ptr<WriteTxn>> inner = shared_->inner->BeginWrite(wait);
    if (!inner.ok()) return inner;
    return std::unique_ptr<WriteTxn>(std::make_unique<ZstdWriteTxn>(shared_, std::move(*inner)));
  }

  Result<uint64_t> EstimatedSize() override { return shared_->inner->EstimatedSize(); }

  Status Check() override { return shared_->inner->Check(); }
  // The values are copied as stored (compressed); the dictionaries live in
  // the store, so the copy reads back through this layer.
  Status Backup(const std::string& path) override { return shared_->inner->Backup(path); }

  // What the inner engine holds: keys as given, values as compressed (or the
  // inner engine's own measure, should it compress again).
  Result<uint64_t> StoredBytes(std::string_view keyspace) override {
    Result<uint64_t> inner = shared_->inner->StoredBytes(keyspace);
    if (inner.ok() || inner.status().code() != Status::Code::kNotSupported) return inner;
    Result<std::unique_ptr<ReadTxn>> txn = shared_->inner->BeginRead();
    if (!txn.ok()) return txn.status();
    Result<Keyspace> ks = (*txn)->OpenKeyspace(keyspace);
    if (!ks.ok()) return ks.status();
    Result<std::unique_ptr<Cursor>> cursor = (*txn)->NewCursor(*ks);
    if (!cursor.ok()) return cursor.status();
    uint64_t bytes = 0;
    Cursor& c = **cursor;
    for (c.SeekToFirst(); c.Valid(); c.Next()) {
      bytes += c.key().size();
      bytes += c.value().size();
    }
    MANIFOLD_RETURN_IF_ERROR(c.status());
    return bytes;
  }

  Status Compact() override {
    MANIFOLD_RETURN_IF_ERROR(Retrain());
    return shared_->inner->Compact();
  }

  // Retrains every keyspace's dictionary and rewrites its values with it, in
  // transactions of about kRetrainTxnBytes of rewritten values, so that the
  // memory a rewrite needs (a btree transaction keeps its pages until it
  // commits) does not grow with the table. The first commits the new
  // dictionary with the first values; the last drops the older ones. In
  // between, and after a failure, values under old and new dictionaries
  // both read back; the next retrain finishes the job.
  Status Retrain() {
    std::vector<std::string> names;
    {
      Result<std::unique_ptr<WriteTxn>> begun = BeginWrite(kCompactWait);
      if (!begun.ok()) return begun.status();
      Result<std::vector<std::string>> list = (*begun)->ListKeyspaces();
      if (!list.ok()) return list.status();
      names = std::move(*list);
    }
    for (const std::string& name : names) MANIFOLD_RETURN_IF_ERROR(RetrainKeyspace(name));
    return Status::OK();
  }

  Engine& inner() { return *shared_->inner; }

 private:
  Status RetrainKeyspace(const std::string& name) {
    DictionaryPtr dict;
    std::string from;
    bool first = true;
    for (;;) {
      Result<std::unique_ptr<WriteTxn>> begun = BeginWrite(kCompactWait);
      if (!begun.ok()) return begun.status();
      auto& txn = static_cast<ZstdWriteTxn&>(**begun);
      Result<Keyspace> ks = txn.OpenKeyspace(name);
      if (ks.status().IsNotFound()) return Status::OK();  // dropped meanwhile
      if (!ks.ok()) return ks.status();
      if (dict == nullptr) {
        Result<DictionaryPtr> trained = txn.TrainFromKeyspace(*ks);
        if (!trained.ok()) return trained.status();
        if (*trained == nullptr) return Status::OK();  // too little to train on: leave as is
        dict = std::move(*trained);
      } else {
        // Another retrain in between made a newer dictionary: its rewrite
        // covers this keyspace.
        Result<bool> current = txn.IsCurrentDictionary(name, dict->id());
        if (!current.ok()) return current.status();
        if (!*current) return Status::OK();
      }
      bool done = false;
      MANIFOLD_RETURN_IF_ERROR(
          txn.Rewrite(*ks, dict.get(), kRetrainTxnBytes, &from, &first, &done));
      if (done) MANIFOLD_RETURN_IF_ERROR(txn.DropDictionaries(name, dict->id()));
      MANIFOLD_RETURN_IF_ERROR(txn.Commit());
      if (done) return Status::OK();
    }
  }

  std::shared_ptr<ZstdShared> shared_;
};

}  // namespace

Result<std::unique_ptr<Engine>> WrapWithZstd(std::unique_ptr<Engine> inner, const Options& options) {
  if (inner == nullptr) return Status::InvalidArgument("zstd: no engine to wrap");
  if (options.compression_level < 1 || options.compression_level > 19) {
    return Status::InvalidArgument("compression_level " +
                                   std::to_string(options.compression_level) +
                                   " is out of range (1..19)");
  }
  auto shared = std::make_shared<ZstdShared>();
  shared->inner = std::move(inner);
  shared->level = options.compression_level;
  return std::unique_ptr<Engine>(std::make_unique<ZstdEngine>(std::move(shared)));
}

Status RetrainZstdDictionaries(Engine& engine) {
  auto* zstd = dynamic_cast<ZstdEngine*>(&engine);
  if (zstd == nullptr) {
    return Status::InvalidArgument("engine '" + std::string(engine.name()) +
                                   "' has no zstd value layer");
  }
  return zstd->Retrain();
}

Result<ValueByteCounts> CountValueBytes(Engine& engine, std::string_view name) {
  auto* zstd = dynamic_cast<ZstdEngine*>(&engine);
  Engine& target = zstd != nullptr ? zstd->inner() : engine;
  Result<std::unique_ptr<ReadTxn>> txn = target.BeginRead();
  if (!txn.ok()) return txn.status();
  Result<Keyspace> ks = (*txn)->OpenKeyspace(name);
  if (!ks.ok()) return ks.status();
  Result<std::unique_ptr<Cursor>> cursor = (*txn)->NewCursor(*ks);
  if (!cursor.ok()) return cursor.status();
  ValueByteCounts counts;
  Cursor& c = **cursor;
  for (c.SeekToFirst(); c.Valid(); c.Next()) {
    Bytes stored = c.value();
    if (!c.Valid()) break;
    ++counts.values;
    counts.stored += stored.size();
    if (zstd == nullptr) {
      counts.logical += stored.size();
    } else {
      Result<uint64_t> size = ZstdDecodedSize(stored);
      if (!size.ok()) return size.status();
      counts.logical += *size;
    }
  }
  MANIFOLD_RETURN_IF_ERROR(c.status());
  return counts;
}

}  // namespace manifold
