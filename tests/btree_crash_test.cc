// Crash safety of the btree engine. A fault-injecting File (the engine's own
// I/O seam) fails every operation from the Nth on; the file a crash leaves
// behind keeps every synced byte, a random subset of the unsynced writes and
// a torn prefix of the write in flight. For every N in a commit sequence the
// reopened store must equal one committed state, at least the last one
// acknowledged. A second test kills a committing child process with SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "btree/btree_engine.h"
#include "btree/file.h"
#include "btree/format.h"
#include "conformance_util.h"
#include "manifold/engine.h"

namespace manifold {
namespace {

using ::manifold::testing::LongMode;
using ::manifold::testing::Scan;
using ::manifold::testing::TempDir;
using ::manifold::testing::TestSeed;
using State = std::map<std::string, std::string>;  // the keyspace "ks"; absent: no keyspace

constexpr std::chrono::milliseconds kWait{1000};

// The simulated disk behind FaultFile: what the OS shows now (`mem`), what an
// fsync has made durable, and the writes in between.
struct Disk {
  static constexpr size_t kCapacity = 8 << 20;
  std::unique_ptr<uint8_t[]> mem{new uint8_t[kCapacity]()};
  uint64_t size = 0;
  std::string durable;
  struct Write {
    uint64_t offset;
    std::string data;
  };
  std::vector<Write> unsynced;
  std::optional<Write> torn;  // the part of the crashing write that landed
  int64_t ops = 0;
  std::vector<int64_t> sync_ops;  // the operation number of every Sync
  int64_t crash_at = -1;  // fail from this operation on; -1: never
  bool crashed = false;
  // The disk whose operation count and crash this one shares: the store's,
  // for its commit log (two files of one machine).
  Disk* clock = nullptr;

  Disk& Clock() { return clock != nullptr ? *clock : *this; }
  // Counts an operation; true when it must fail.
  bool Fails() {
    Disk& c = Clock();
    if (c.crashed) return true;
    if (++c.ops == c.crash_at) c.crashed = true;
    return c.crashed;
  }
  // Whether the operation just counted is the one that crashed.
  bool CrashedJustNow() { return Clock().ops == Clock().crash_at; }

  // The file after a power loss: durable bytes, some unsynced writes, the torn one.
  std::string PowerLossImage(std::mt19937_64& rng) const {
    std::string image = durable;
    auto apply = [&image](const Write& w) {
      if (image.size() < w.offset + w.data.size()) image.resize(w.offset + w.data.size(), '\0');
      std::memcpy(image.data() + w.offset, w.data.data(), w.data.size());
    };
    for (const Write& w : unsynced) {
      if (rng() % 2 == 0) apply(w);
    }
    if (torn) apply(*torn);
    return image;
  }

  // The file after the process dies: every completed write is in the page cache.
  std::string ProcessCrashImage() const {
    return std::string(reinterpret_cast<const char*>(mem.get()), size);
  }
};

class DiskMapping final : public btree::Mapping {
 public:
  DiskMapping(std::shared_ptr<Disk> disk, uint64_t size) : disk_(std::move(disk)), size_(size) {}
  const uint8_t* data() const override { return disk_->mem.get(); }
  uint64_t size() const override { return size_; }

 private:
  std::shared_ptr<Disk> disk_;
  uint64_t size_;
};

class FaultFile final : public btree::File {
 public:
  explicit FaultFile(std::shared_ptr<Disk> disk) : disk_(std::move(disk)) {}

  Status Read(uint64_t offset, size_t n, uint8_t* dst) override {
    if (offset + n > disk_->size) return Status::Corruption("read past the end");
    std::memcpy(dst, disk_->mem.get() + offset, n);
    return Status::OK();
  }
  Status Write(uint64_t offset, std::string_view data) override {
    if (offset + data.size() > Disk::kCapacity) return Status::Full("test disk is full");
    if (disk_->Fails()) {
      if (disk_->CrashedJustNow() && !data.empty()) {
        disk_->torn = Disk::Write{offset, std::string(data.substr(0, data.size() / 2 + 1))};
      }
      return Status::IOError("simulated crash");
    }
    std::memcpy(disk_->mem.get() + offset, data.data(), data.size());
    disk_->size = std::max<uint64_t>(disk_->size, offset + data.size());
    disk_->unsynced.push_back({offset, std::string(data)});
    return Status::OK();
  }
  Status Sync() override {
    if (disk_->Fails()) return Status::IOError("simulated crash");
    disk_->sync_ops.push_back(disk_->Clock().ops);
    disk_->durable = disk_->ProcessCrashImage();
    disk_->unsynced.clear();
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    if (size > Disk::kCapacity) return Status::Full("test disk is full");
    if (disk_->Fails()) return Status::IOError("simulated crash");
    if (size < disk_->size) std::memset(disk_->mem.get() + size, 0, disk_->size - size);
    disk_->size = size;
    return Status::OK();
  }
  Result<uint64_t> Size() override { return disk_->size; }
  Result<std::shared_ptr<const btree::Mapping>> Map(uint64_t size) override {
    return std::shared_ptr<const btree::Mapping>(std::make_shared<DiskMapping>(disk_, size));
  }
  Status Lock(bool) override { return Status::OK(); }

 private:
  std::shared_ptr<Disk> disk_;
};

// One transaction of the scripted workload.
struct Step {
  std::vector<std::pair<std::string, std::optional<std::string>>> edits;  // nullopt: delete
};

std::vector<Step> MakeScript(uint64_t seed, int commits) {
  std::mt19937_64 rng(seed);
  std::vector<Step> script(commits);
  for (int c = 0; c < commits; ++c) {
    for (int e = 0; e < 25; ++e) {
      std::string key = "key" + std::to_string(rng() % 80);
      if (rng() % 4 == 0) {
        script[c].edits.push_back({key, std::nullopt});
      } else {
        size_t len = rng() % 10 == 0 ? 1500 + rng() % 2000 : rng() % 120;
        std::string value(len, static_cast<char>('a' + c % 26));
        if (!value.empty()) value[0] = static_cast<char>(e);
        script[c].edits.push_back({key, value});
      }
    }
  }
  return script;
}

std::vector<std::optional<State>> StatesOf(const std::vector<Step>& script) {
  std::vector<std::optional<State>> states{std::nullopt};
  State state;
  for (const Step& step : script) {
    for (const auto& [key, value] : step.edits) {
      if (value) {
        state[key] = *value;
      } else {
        state.erase(key);
      }
    }
    states.push_back(state);
  }
  return states;
}

// The commit log's size in these tests: the header and three blocks, so
// that the log fills (a checkpoint) every commit or few, and the larger
// commits do not fit in it at all (they sync the store file instead).
constexpr char kSmallLog[] = "16384";

// Runs the script until a commit fails; returns how many were acknowledged,
// or -1 if the store could not even be created. With `log`, the store keeps
// its commit log there (sharing `disk`'s operation count).
int RunScript(const std::vector<Step>& script, std::shared_ptr<Disk> disk, SyncMode sync,
              std::shared_ptr<Disk> log = nullptr) {
  Options options;
  options.path = "fault-file";
  options.create_if_missing = true;
  options.sync = sync;
  options.engine_options["page_size"] = "512";
  if (log != nullptr) {
    log->clock = disk.get();
    options.engine_options["log_size"] = kSmallLog;
  }
  Result<std::unique_ptr<Engine>> engine = OpenBtreeEngineOnFile(
      options, std::make_unique<FaultFile>(disk),
      log != nullptr ? std::make_unique<FaultFile>(log) : nullptr);
  if (!engine.ok()) return -1;
  int acknowledged = 0;
  for (const Step& step : script) {
    Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kWait);
    if (!txn.ok()) break;
    Result<Keyspace> ks = (*txn)->CreateKeyspace("ks");
    if (!ks.ok()) break;
    bool failed = false;
    for (const auto& [key, value] : step.edits) {
      Status s = value ? (*txn)->Put(*ks, key, *value) : (*txn)->Delete(*ks, key);
      if (!s.ok()) failed = true;
    }
    if (failed || !(*txn)->Commit().ok()) break;
    ++acknowledged;
  }
  return acknowledged;
}

// Reads the store at path: nullopt when it has no keyspace "ks". Read-only,
// unless `recover`: a store whose log holds commits not yet in its file
// must be opened for writing once (which replays them).
Result<std::optional<State>> ReadState(const std::string& path, bool recover = false) {
  Options options;
  options.path = path;
  options.read_only = !recover;
  Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
  if (!engine.ok()) return engine.status();
  Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
  if (!txn.ok()) return txn.status();
  Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
  if (ks.status().IsNotFound()) return std::optional<State>();
  if (!ks.ok()) return ks.status();
  State state;
  for (auto& [k, v] : Scan(**txn, *ks)) {
    if (k == "<error>") return Status::Corruption(v);
    state[k] = v;
  }
  return std::optional<State>(state);
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Puts a store image at path, with its log image or with no log at all.
void WriteImages(const std::string& path, const std::string& store,
                 const std::optional<std::string>& log) {
  WriteFile(path, store);
  if (log) {
    WriteFile(path + "-log", *log);
  } else {
    std::remove((path + "-log").c_str());
  }
}

class BtreeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.path() + "/crashed.btree";
  }

  // Crashes the script at every operation (of the store file and, with
  // `logged`, of its commit log) and checks the store each crash leaves.
  void CrashEverywhere(SyncMode sync, bool power_loss, bool logged = false) {
    const uint64_t seed = TestSeed(42);
    SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
    const std::vector<Step> script = MakeScript(seed, LongMode() ? 40 : 10);
    const auto states = StatesOf(script);
    auto dry = std::make_shared<Disk>();
    auto dry_log = logged ? std::make_shared<Disk>() : nullptr;
    ASSERT_EQ(RunScript(script, dry, sync, dry_log), static_cast<int>(script.size()));
    const int64_t total_ops = dry->ops;
    ASSERT_GT(total_ops, static_cast<int64_t>(script.size()));
    RecordProperty("operations", std::to_string(total_ops));
    RecordProperty("store_syncs", std::to_string(dry->sync_ops.size()));
    if (logged) {
      RecordProperty("log_syncs", std::to_string(dry_log->sync_ops.size()));
      // The script must take every path: logged commits, commits too large
      // for the log, and checkpoints when it fills.
      ASSERT_GT(dry_log->sync_ops.size(), script.size() / 2);
      ASSERT_GT(dry->sync_ops.size(), 3u);
      ASSERT_LT(dry->sync_ops.size(), script.size());
    }
    std::mt19937_64 rng(seed);
    for (int64_t n = 1; n <= total_ops; ++n) {
      SCOPED_TRACE("crash at operation " + std::to_string(n) + " of " + std::to_string(total_ops));
      auto disk = std::make_shared<Disk>();
      auto log = logged ? std::make_shared<Disk>() : nullptr;
      disk->crash_at = n;
      const int acknowledged = RunScript(script, disk, sync, log);
      std::optional<std::string> log_image;
      if (log != nullptr) {
        log_image = power_loss ? log->PowerLossImage(rng) : log->ProcessCrashImage();
      }
      WriteImages(path_, power_loss ? disk->PowerLossImage(rng) : disk->ProcessCrashImage(),
                  log_image);
      Result<std::optional<State>> state = ReadState(path_, /*recover=*/logged);
      if (acknowledged < 0) {
        // Crashed while creating the store: nothing was promised.
        if (state.ok()) {
          EXPECT_FALSE(state->has_value());
        } else {
          EXPECT_EQ(state.status().code(), Status::Code::kCorruption) << state.status().ToString();
        }
        continue;
      }
      ASSERT_TRUE(state.ok()) << state.status().ToString();
      // The state is the last acknowledged commit, or the one in flight.
      const bool is_acked = *state == states[acknowledged];
      const bool is_next = acknowledged + 1 < static_cast<int>(states.size()) &&
                           *state == states[acknowledged + 1];
      EXPECT_TRUE(is_acked || is_next) << "acknowledged " << acknowledged;
      EXPECT_OK(CheckBtreeFile(path_));
    }
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(BtreeCrashTest, PowerLossAtAnyOperationKeepsTheLastAcknowledgedCommitUnderSyncFull) {
  CrashEverywhere(SyncMode::kFull, /*power_loss=*/true);
}

TEST_F(BtreeCrashTest, ProcessCrashAtAnyOperationKeepsTheLastAcknowledgedCommitUnderSyncNormal) {
  CrashEverywhere(SyncMode::kNormal, /*power_loss=*/false);
}

// With the commit log (sync=full's default): a small commit syncs only its
// record in the log, and its pages reach the store file at a checkpoint.
// A power loss at any operation of either file, keeping any subset of the
// unsynced writes of both, reopens (replaying the log) to the last
// acknowledged commit or the one in flight.
TEST_F(BtreeCrashTest, PowerLossAtAnyOperationKeepsTheLastAcknowledgedCommitWithTheLog) {
  CrashEverywhere(SyncMode::kFull, /*power_loss=*/true, /*logged=*/true);
}

TEST_F(BtreeCrashTest, ProcessCrashAtAnyOperationKeepsTheLastAcknowledgedCommitWithTheLog) {
  CrashEverywhere(SyncMode::kFull, /*power_loss=*/false, /*logged=*/true);
}

// A commit writes its pages and its meta slot, then syncs once. A power loss
// in that window may keep the meta slot but lose a page written before it
// (the disk reorders unsynced writes). For every commit and every page it
// wrote, the image with the meta and all other writes but that one page must
// reopen to the previous commit: never a mix of both, never Corruption.
TEST_F(BtreeCrashTest, MetaPersistedButAPageWriteLostReopensToThePreviousCommit) {
  const uint64_t seed = TestSeed(7);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  const std::vector<Step> script = MakeScript(seed, LongMode() ? 40 : 10);
  const auto states = StatesOf(script);
  auto dry = std::make_shared<Disk>();
  ASSERT_EQ(RunScript(script, dry, SyncMode::kFull), static_cast<int>(script.size()));
  // The first sync creates the store; every later one ends a commit.
  ASSERT_EQ(dry->sync_ops.size(), script.size() + 1);
  constexpr uint64_t kPage = 512;  // RunScript's page size
  int dropped_cases = 0;
  for (size_t c = 1; c < dry->sync_ops.size(); ++c) {
    SCOPED_TRACE("commit " + std::to_string(c));
    auto disk = std::make_shared<Disk>();
    disk->crash_at = dry->sync_ops[c];
    const int acknowledged = RunScript(script, disk, SyncMode::kFull);
    ASSERT_EQ(acknowledged, static_cast<int>(c) - 1);
    // The commit's writes since the last sync: page runs, then its meta slot.
    ASSERT_FALSE(disk->unsynced.empty());
    const Disk::Write& meta_write = disk->unsynced.back();
    ASSERT_LT(meta_write.offset, 2 * kPage) << "the meta slot is not the commit's last write";
    std::string all = disk->durable;
    for (const Disk::Write& w : disk->unsynced) {
      if (all.size() < w.offset + w.data.size()) all.resize(w.offset + w.data.size(), '\0');
      std::memcpy(all.data() + w.offset, w.data.data(), w.data.size());
    }
    // Sanity: with every write kept, the commit is whole.
    WriteImages(path_, all, std::nullopt);
    Result<std::optional<State>> whole = ReadState(path_);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_TRUE(*whole == states[c]);
    for (size_t i = 0; i + 1 < disk->unsynced.size(); ++i) {
      const Disk::Write& w = disk->unsynced[i];
      ASSERT_GE(w.offset, 2 * kPage);
      for (uint64_t off = w.offset; off < w.offset + w.data.size(); off += kPage) {
        SCOPED_TRACE("page " + std::to_string(off / kPage) + " lost");
        std::string image = all;
        std::string old(kPage, '\0');
        if (off < disk->durable.size()) {
          old = disk->durable.substr(off, std::min<uint64_t>(kPage, disk->durable.size() - off));
          old.resize(kPage, '\0');
        }
        if (old == image.substr(off, kPage)) continue;  // the write changed nothing
        std::memcpy(image.data() + off, old.data(), kPage);
        WriteImages(path_, image, std::nullopt);
        Result<std::optional<State>> state = ReadState(path_);
        ASSERT_TRUE(state.ok()) << state.status().ToString();
        EXPECT_TRUE(*state == states[acknowledged]) << "acknowledged " << acknowledged;
        EXPECT_OK(CheckBtreeFile(path_));
        if (dropped_cases++ % 7 == 0) {
          // The fallback takes new commits: its freelist lists nothing it uses,
          // and its first commit replaces the failed meta slot.
          State expected = states[acknowledged].value_or(State());
          {
            Options options;
            options.path = path_;
            Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
            ASSERT_TRUE(engine.ok()) << engine.status().ToString();
            for (int round = 0; round < 2; ++round) {
              Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kWait);
              ASSERT_TRUE(txn.ok());
              Result<Keyspace> ks = (*txn)->CreateKeyspace("ks");
              ASSERT_TRUE(ks.ok()) << ks.status().ToString();
              const std::string key = "key" + std::to_string(round * 37 % 80);
              const std::string value(round == 0 ? 2000 : 10, 'z');
              ASSERT_OK((*txn)->Put(*ks, key, value));
              ASSERT_OK((*txn)->Commit());
              expected[key] = value;
            }
          }
          Result<std::optional<State>> after = ReadState(path_);
          ASSERT_TRUE(after.ok()) << after.status().ToString();
          EXPECT_TRUE(*after == expected);
          EXPECT_OK(CheckBtreeFile(path_));
        }
      }
    }
  }
  EXPECT_GT(dropped_cases, static_cast<int>(script.size()));
}

// Compaction packs leaves and moves pages over several commits and then
// truncates the file, without changing a row. A power loss or a process crash
// at any of its operations leaves every row as it was, in a file that passes
// the integrity check. (CI crashes it at 100 operations spread over the whole
// compaction and around every sync; long mode at every operation.)
TEST_F(BtreeCrashTest, CrashDuringCompactionKeepsEveryRow) {
  const uint64_t seed = TestSeed(43);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  // Rows in random order leave leaves part-full: at 512-byte pages these
  // take three of compaction's packing transactions, relocation rounds and
  // a truncation.
  State rows;
  while (rows.size() < 4000) {
    std::string key(8 + rng() % 9, '\0');
    for (char& c : key) c = static_cast<char>('a' + rng() % 26);
    const size_t len = rows.size() % 211 == 5 ? 1500 : 30 + rng() % 90;
    rows[key] = std::string(len, static_cast<char>('A' + rng() % 26));
  }
  std::vector<std::pair<std::string, std::string>> order(rows.begin(), rows.end());
  std::shuffle(order.begin(), order.end(), rng);
  auto open = [](std::shared_ptr<Disk> disk) {
    Options options;
    options.path = "fault-file";
    options.create_if_missing = true;
    options.sync = SyncMode::kFull;
    options.engine_options["page_size"] = "512";
    return OpenBtreeEngineOnFile(options, std::make_unique<FaultFile>(std::move(disk)));
  };
  auto base = std::make_shared<Disk>();
  {
    Result<std::unique_ptr<Engine>> engine = open(base);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    for (size_t i = 0; i < order.size(); i += 500) {
      Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kWait);
      ASSERT_TRUE(txn.ok());
      Result<Keyspace> ks = (*txn)->CreateKeyspace("ks");
      ASSERT_TRUE(ks.ok()) << ks.status().ToString();
      for (size_t j = i; j < std::min(order.size(), i + 500); ++j) {
        ASSERT_OK((*txn)->Put(*ks, order[j].first, order[j].second));
      }
      ASSERT_OK((*txn)->Commit());
    }
  }
  ASSERT_TRUE(base->unsynced.empty());
  auto clone = [&base] {
    auto disk = std::make_shared<Disk>();
    std::memcpy(disk->mem.get(), base->mem.get(), base->size);
    disk->size = base->size;
    disk->durable = base->durable;
    return disk;
  };
  auto compact = [&open](std::shared_ptr<Disk> disk) -> Status {
    Result<std::unique_ptr<Engine>> engine = open(std::move(disk));
    if (!engine.ok()) return engine.status();
    return (*engine)->Compact();
  };
  auto dry = clone();
  ASSERT_OK(compact(dry));
  ASSERT_LT(dry->size, base->size * 4 / 5) << "compaction should have packed the leaves";
  ASSERT_GT(dry->sync_ops.size(), 4u);
  const int64_t total = dry->ops;
  std::vector<int64_t> points;
  if (LongMode() || total <= 100) {
    for (int64_t n = 1; n <= total; ++n) points.push_back(n);
  } else {
    for (int64_t i = 0; i < 100; ++i) points.push_back(1 + i * (total - 1) / 99);
    for (int64_t op : dry->sync_ops) points.insert(points.end(), {op - 1, op, op + 1});
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());
  }
  for (int64_t n : points) {
    if (n < 1 || n > total) continue;
    SCOPED_TRACE("crash at operation " + std::to_string(n) + " of " + std::to_string(total));
    auto disk = clone();
    disk->crash_at = n;
    EXPECT_FALSE(compact(disk).ok());
    for (bool power_loss : {true, false}) {
      SCOPED_TRACE(power_loss ? "power loss" : "process crash");
      WriteImages(path_, power_loss ? disk->PowerLossImage(rng) : disk->ProcessCrashImage(),
                  std::nullopt);
      Result<std::optional<State>> state = ReadState(path_);
      if (!state.ok() || !state->has_value()) {
        ADD_FAILURE() << (state.ok() ? "no keyspace" : state.status().ToString());
        continue;
      }
      EXPECT_TRUE(**state == rows);
      EXPECT_OK(CheckBtreeFile(path_));
    }
  }
}

// Files written before one-phase commits (format version 1: no commit
// record) still open and take new commits; an unknown version is NotSupported.
TEST_F(BtreeCrashTest, VersionOneFilesStillOpen) {
  const std::vector<Step> script = MakeScript(TestSeed(11), 3);
  const auto states = StatesOf(script);
  auto disk = std::make_shared<Disk>();
  ASSERT_EQ(RunScript(script, disk, SyncMode::kFull), 3);
  std::string image = disk->ProcessCrashImage();
  constexpr uint64_t kPage = 512;
  auto set_version = [&image](uint32_t version) {
    for (uint64_t slot = 0; slot < 2; ++slot) {
      uint8_t* m = reinterpret_cast<uint8_t*>(image.data()) + slot * kPage;
      btree::Store32(m + 16, version);
      if (version == 1) std::memset(m + 72, 0, btree::kMetaSize - 72);  // no commit record
      btree::Store32(m, btree::Crc32c(0, m + 4, btree::kMetaSize - 4));
    }
  };
  set_version(3);
  WriteImages(path_, image, std::nullopt);
  Result<std::optional<State>> state = ReadState(path_);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), Status::Code::kNotSupported) << state.status().ToString();

  set_version(1);
  WriteImages(path_, image, std::nullopt);
  state = ReadState(path_);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(*state == states[3]);
  {
    Options options;
    options.path = path_;
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    for (int round = 0; round < 3; ++round) {
      Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kWait);
      ASSERT_TRUE(txn.ok());
      Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
      ASSERT_TRUE(ks.ok());
      ASSERT_OK((*txn)->Put(*ks, "after-v1-" + std::to_string(round), "x"));
      ASSERT_OK((*txn)->Commit());
    }
  }
  State expected = *states[3];
  for (int round = 0; round < 3; ++round) expected["after-v1-" + std::to_string(round)] = "x";
  state = ReadState(path_);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(*state == expected);
}

TEST_F(BtreeCrashTest, KilledWriterLosesNoAcknowledgedCommit) {
  const uint64_t seed = TestSeed(99);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  const std::string path = dir_.path() + "/killed.btree";
  std::set<uint32_t> acknowledged;
  uint32_t next = 1;
  const int kills = LongMode() ? 200 : 30;
  for (int round = 0; round < kills; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const uint32_t first = next;
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      Options options;
      options.path = path;
      options.create_if_missing = true;
      options.sync = SyncMode::kNormal;
      Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
      if (!engine.ok()) ::_exit(2);
      for (uint32_t n = first;; ++n) {
        Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kWait);
        if (!txn.ok()) ::_exit(3);
        Result<Keyspace> ks = (*txn)->CreateKeyspace("numbers");
        if (!ks.ok()) ::_exit(4);
        char key[16];
        std::snprintf(key, sizeof(key), "%010u", n);
        // Some values overflow, so commits touch overflow pages too.
        std::string value(n % 7 == 0 ? 5000 : 16, static_cast<char>('0' + n % 10));
        if (!(*txn)->Put(*ks, key, value).ok() || !(*txn)->Commit().ok()) ::_exit(5);
        if (::write(fds[1], &n, sizeof(n)) != static_cast<ssize_t>(sizeof(n))) ::_exit(6);
      }
    }
    ::close(fds[1]);
    // Let the child acknowledge a random number of commits, then kill it
    // wherever it is.
    const uint32_t wait_for = 1 + static_cast<uint32_t>(rng() % 40);
    uint32_t n;
    uint32_t got = 0;
    while (got < wait_for && ::read(fds[0], &n, sizeof(n)) == static_cast<ssize_t>(sizeof(n))) {
      acknowledged.insert(n);
      ++got;
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    while (::read(fds[0], &n, sizeof(n)) == static_cast<ssize_t>(sizeof(n))) acknowledged.insert(n);
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself with status "
                                     << WEXITSTATUS(status);
    ASSERT_FALSE(acknowledged.empty());
    next = *acknowledged.rbegin() + 1;

    Options options;
    options.path = path;
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    ASSERT_TRUE(engine.ok()) << "round " << round << ": " << engine.status().ToString();
    {
      Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
      ASSERT_TRUE(txn.ok());
      Result<Keyspace> ks = (*txn)->OpenKeyspace("numbers");
      ASSERT_TRUE(ks.ok()) << ks.status().ToString();
      std::set<uint32_t> present;
      for (auto& [k, v] : Scan(**txn, *ks)) {
        ASSERT_NE(k, "<error>") << v;
        present.insert(static_cast<uint32_t>(std::stoul(k)));
      }
      for (uint32_t a : acknowledged) {
        ASSERT_TRUE(present.count(a)) << "round " << round << ": acknowledged commit " << a
                                      << " is missing";
      }
      // The commit in flight may have landed; nothing beyond it.
      ASSERT_LE(*present.rbegin(), next);
      next = *present.rbegin() + 1;
    }
    engine->reset();
    ASSERT_OK(CheckBtreeFile(path));
  }
}

}  // namespace
}  // namespace manifold
