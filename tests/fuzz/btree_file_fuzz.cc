// libFuzzer target: arbitrary bytes opened as a btree file (FORMAT.md).
//
// The input becomes the whole file. With the low bit of its last byte set, the
// checksum of every page is recomputed first, so that mutations get past the
// checks at open and reach the readers. The file is opened read-only through
// the engine (with and without verify_checksums, by the next bit) and walked:
// every keyspace forwards and backwards with cursors, a Get of each key, and
// seeks, and range reads (Cursor::ReadFrom); then CheckBtreeFile walks it.
// With the third bit set, the file is then compacted. With the fourth, a
// commit log is written beside it before the read-only open: a valid header
// naming meta slot 0's commit, and records (valid checksums, salt and
// transaction ids) whose changes are the input's second half cut in three;
// the read-only open must refuse the store, and a writer's open replays the
// records (or refuses them as Corruption), before the rest goes on.
// Nothing may crash, and when CheckBtreeFile finds nothing wrong the walk
// must agree with it: keys in strictly increasing order, Get finds each key
// with the cursor's value, the range reads see the keys the steps saw.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "btree/btree_engine.h"
#include "btree/format.h"
#include "manifold/engine.h"

namespace manifold {
namespace {

// Walks of a damaged file are bounded: a cycle must not hang the fuzzer.
constexpr int kMaxSteps = 100000;

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "btree_file_fuzz: %s\n", what.c_str());
  abort();
}

// Recomputes the checksum of the meta slots and of every page.
void SealEveryPage(std::string* file) {
  auto* data = reinterpret_cast<uint8_t*>(file->data());
  uint32_t page_size = file->size() >= 24 ? btree::Load32(data + 20) : 0;
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) return;
  for (uint64_t pgno = 0; (pgno + 1) * page_size <= file->size(); ++pgno) {
    uint8_t* page = data + pgno * page_size;
    if (pgno < 2) {
      btree::Store32(page, btree::Crc32c(0, page + 4, 124));
    } else {
      btree::SealPage(page, pgno, page_size);
    }
  }
}

// Walks keyspace `name`; returns false if it saw keys out of order or a Get
// that disagrees with the cursor.
bool WalkKeyspace(ReadTxn& txn, const std::string& name, const std::string& probe) {
  Result<Keyspace> ks = txn.OpenKeyspace(name);
  if (!ks.ok()) return true;
  Result<std::unique_ptr<Cursor>> cursor = txn.NewCursor(*ks);
  if (!cursor.ok()) return true;
  Cursor& c = **cursor;
  bool consistent = true;
  std::string previous;
  bool first = true;
  int steps = 0;
  std::vector<std::string> walked;  // the forward walk's keys
  for (c.SeekToFirst(); c.Valid() && steps < kMaxSteps; c.Next(), ++steps) {
    std::string key(c.key());
    walked.push_back(key);
    if (!first && CompareBytes(previous, key) >= 0) consistent = false;
    first = false;
    std::string value(c.value());
    if (!c.Valid()) break;
    std::string got;
    Status s = txn.Get(*ks, key, &got);
    if (s.ok() && got != value) consistent = false;
    if (s.code() == Status::Code::kNotFound) consistent = false;
    previous = std::move(key);
  }
  const bool walk_complete = c.status().ok() && steps < kMaxSteps;
  steps = 0;
  for (c.SeekToLast(); c.Valid() && steps < kMaxSteps; c.Prev(), ++steps) (void)c.value();
  c.Seek(probe);
  if (c.Valid()) (void)c.value();
  c.SeekForPrev(probe);
  if (c.Valid()) c.Next();
  std::string unused;
  (void)txn.Get(*ks, probe, &unused);
  // Range reads (Cursor::ReadFrom): from the start, in chunks of five, each
  // from just past the last key read; the keys must be the forward walk's.
  std::vector<std::string> ranged;
  std::string from;
  bool range_complete = false;
  for (int calls = 0; calls < kMaxSteps / 5; ++calls) {
    const size_t before = ranged.size();
    const size_t n = c.ReadFrom(from, 5, [&](Bytes key, Bytes value) {
      ranged.emplace_back(key);
      (void)value.size();
      return true;
    });
    if (ranged.size() != before + n) consistent = false;
    if (!c.status().ok()) break;
    if (n < 5) {
      range_complete = true;
      break;
    }
    if (ranged.back() < from) break;  // out of order: a damaged tree
    from = ranged.back() + std::string(1, '\0');
  }
  if (walk_complete && range_complete && walked != ranged) consistent = false;
  (void)c.ReadFrom(probe, 3, [](Bytes, Bytes) { return true; });
  return consistent;
}

// A commit log (FORMAT.md, "The commit log") after meta slot 0's commit,
// with `changes` as the payloads of three records.
std::string MakeLog(const std::string& file, const std::string& changes) {
  constexpr size_t kBlock = 4096;
  std::string log(kBlock, '\0');
  auto* h = reinterpret_cast<uint8_t*>(log.data());
  const auto* meta = reinterpret_cast<const uint8_t*>(file.data());
  const uint64_t base = file.size() >= 32 ? btree::Load64(meta + 24) : 0;
  std::memcpy(h + 8, "MNFBLOG1", 8);
  btree::Store32(h + 16, 1);
  btree::Store32(h + 20, kBlock);
  btree::Store64(h + 24, base);
  btree::Store32(h + 32, file.size() >= 4 ? btree::Load32(meta) : 0);
  btree::Store32(h + 36, 0x5a17);
  btree::Store32(h, btree::Crc32c(0, h + 4, 60));
  for (size_t r = 0; r < 3; ++r) {
    const std::string payload = changes.substr(r * changes.size() / 3, changes.size() / 3);
    std::string record(32 + payload.size(), '\0');
    auto* b = reinterpret_cast<uint8_t*>(record.data());
    btree::Store32(b + 4, 0x5a17);
    btree::Store64(b + 8, base + 1 + r);
    btree::Store64(b + 16, payload.size());
    std::memcpy(b + 32, payload.data(), payload.size());
    btree::Store32(b, btree::Crc32c(0, b + 4, record.size() - 4));
    record.resize((record.size() + kBlock - 1) / kBlock * kBlock, '\0');
    log += record;
  }
  return log;
}

}  // namespace
}  // namespace manifold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  static const std::string path = [] {
    char pattern[] = "/tmp/manifold-btree-fuzz-XXXXXX";
    int fd = mkstemp(pattern);
    if (fd < 0) Fail("cannot create a temporary file");
    close(fd);
    return std::string(pattern);
  }();
  std::string file(reinterpret_cast<const char*>(data), size);
  const uint8_t flags = size > 0 ? data[size - 1] : 0;
  if (flags & 1) SealEveryPage(&file);
  FILE* out = fopen(path.c_str(), "wb");
  if (out == nullptr) Fail("cannot write " + path);
  if (!file.empty() && fwrite(file.data(), 1, file.size(), out) != file.size()) Fail("short write");
  fclose(out);

  const std::string log_path = path + "-log";
  unlink(log_path.c_str());
  if (flags & 8) {
    const std::string log = MakeLog(file, file.substr(file.size() / 2));
    FILE* log_out = fopen(log_path.c_str(), "wb");
    if (log_out == nullptr) Fail("cannot write " + log_path);
    if (fwrite(log.data(), 1, log.size(), log_out) != log.size()) Fail("short write");
    fclose(log_out);
    Options options;
    options.path = path;
    options.read_only = true;
    if (OpenBtreeEngine(options).ok()) Fail("a read-only open took a store its log is ahead of");
    options.read_only = false;
    options.sync = SyncMode::kOff;
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    if (engine.ok()) {
      Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
      if (txn.ok()) (void)(*txn)->ListKeyspaces();
    }
  }

  const std::string probe = file.substr(file.size() / 2, 16);
  bool consistent = true;
  {
    Options options;
    options.path = path;
    options.read_only = true;
    options.engine_options["verify_checksums"] = (flags & 2) ? "true" : "false";
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    if (engine.ok()) {
      Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
      if (txn.ok()) {
        Result<std::vector<std::string>> names = (*txn)->ListKeyspaces();
        if (names.ok()) {
          for (const std::string& name : *names) {
            consistent = WalkKeyspace(**txn, name, probe) && consistent;
          }
        }
      }
      (void)(*engine)->Check();
    }
  }
  Status checked = CheckBtreeFile(path);
  if (checked.ok() && !consistent) {
    Fail("CheckBtreeFile found nothing wrong, but a cursor walk saw keys out of order or a "
         "Get that disagrees with the cursor");
  }
  if (flags & 4) {
    // Compaction of the file (packing leaves, moving pages, truncating):
    // never a crash or a hang; on a file the check passed, it succeeds and
    // leaves a file the check passes.
    Options options;
    options.path = path;
    options.sync = SyncMode::kOff;
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    if (engine.ok()) {
      Status compacted = (*engine)->Compact();
      engine->reset();
      if (checked.ok() && !compacted.ok()) {
        Fail("Compact failed on a sound file: " + compacted.ToString());
      }
      if (checked.ok() && !CheckBtreeFile(path).ok()) Fail("Compact left a file the check refuses");
    } else if (checked.ok()) {
      Fail("a sound file did not open for writing: " + engine.status().ToString());
    }
  }
  return 0;
}
