// Tests of the btree engine's own promises beyond the shared conformance
// suite: its file format limits (multi-MiB values, 64 KiB keys, many
// keyspaces), free-page reuse and reader pinning, compaction, savepoints under
// random edits, and damaged files (truncated, zeroed, bit-flipped) that must
// give Corruption or a clean fallback, never a crash.
#include <gtest/gtest.h>
#include <signal.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "btree/btree_engine.h"
#include "btree/file.h"
#include "btree/format.h"
#include "btree/log.h"
#include "conformance_util.h"
#include "manifold/engine.h"

namespace manifold {
namespace {

using ::manifold::testing::KeyValues;
using ::manifold::testing::LongMode;
using ::manifold::testing::Scan;
using ::manifold::testing::TempDir;
using ::manifold::testing::TestSeed;
using Model = std::map<std::string, std::map<std::string, std::string>>;

constexpr std::chrono::milliseconds kWait{1000};

class BtreeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.path() + "/store.btree";
  }

  Options MakeOptions(uint32_t page_size = 4096) const {
    Options options;
    options.path = path_;
    options.create_if_missing = true;
    options.sync = SyncMode::kOff;
    options.engine_options["page_size"] = std::to_string(page_size);
    return options;
  }

  std::unique_ptr<Engine> Open(const Options& options) {
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  uint64_t FileSize() const { return std::filesystem::file_size(path_); }

  TempDir dir_;
  std::string path_;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Reads every keyspace of the store into a model; an error becomes the
// keyspace "<error>" holding its message.
// A keyspace read with Cursor::ReadFrom, seven entries a call, each call
// from just past the last key read; an error ends it as "<error>". In a
// damaged tree whose keys are out of order a seek can land before the last
// key read: that ends it too, so the read always ends.
std::vector<std::pair<std::string, std::string>> RangeScan(ReadTxn& txn, const Keyspace& ks) {
  std::vector<std::pair<std::string, std::string>> entries;
  Result<std::unique_ptr<Cursor>> cursor = txn.NewCursor(ks);
  if (!cursor.ok()) return {{"<error>", cursor.status().ToString()}};
  std::string from;
  for (;;) {
    size_t n = (*cursor)->ReadFrom(from, 7, [&](Bytes key, Bytes value) {
      entries.emplace_back(std::string(key), std::string(value));
      return true;
    });
    if (!(*cursor)->status().ok()) {
      entries.emplace_back("<error>", (*cursor)->status().ToString());
      return entries;
    }
    if (n < 7) return entries;
    if (!from.empty() && entries.back().first < from) {
      entries.emplace_back("<error>", "keys out of order: a range read went backwards");
      return entries;
    }
    from = entries.back().first + std::string(1, '\0');  // the next key up
  }
}

// Every keyspace of a snapshot, by steps or (range_reads) by RangeScan.
Model ReadAll(Engine& engine, bool* failed = nullptr, bool range_reads = false) {
  Model model;
  if (failed != nullptr) *failed = false;
  Result<std::unique_ptr<ReadTxn>> txn = engine.BeginRead();
  if (!txn.ok()) return {{"<error>", {{"", txn.status().ToString()}}}};
  Result<std::vector<std::string>> names = (*txn)->ListKeyspaces();
  if (!names.ok()) return {{"<error>", {{"", names.status().ToString()}}}};
  for (const std::string& name : *names) {
    Result<Keyspace> ks = (*txn)->OpenKeyspace(name);
    if (!ks.ok()) return {{"<error>", {{"", ks.status().ToString()}}}};
    auto& entries = model[name];
    for (auto& [k, v] : range_reads ? RangeScan(**txn, *ks) : Scan(**txn, *ks)) {
      if (k == "<error>" && failed != nullptr) *failed = true;
      entries[k] = v;
    }
  }
  return model;
}

// CRC32C one bit at a time: the definition the fast paths must agree with.
uint32_t BitwiseCrc32c(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

// Pages are checksummed three lanes at a time (1360- and 128-byte lanes):
// every length around the lane boundaries, at every alignment, and in
// pieces, must give the bitwise CRC.
TEST(BtreeFormatTest, Crc32cAgreesWithTheBitwiseDefinition) {
  const std::string check = "123456789";
  EXPECT_EQ(btree::Crc32c(0, reinterpret_cast<const uint8_t*>(check.data()), check.size()),
            0xE3069283u);
  std::mt19937_64 rng(TestSeed(22));
  std::vector<uint8_t> buf(3 * 1360 * 3 + 64);
  for (uint8_t& b : buf) b = static_cast<uint8_t>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n <= 400; ++n) lengths.push_back(n);
  for (size_t base : {4080u, 4092u, 8160u, 8188u, 3 * 1360u * 3}) {
    for (size_t d = 0; d <= 20; ++d) {
      if (base >= d) lengths.push_back(base - d);
      if (base + d + 8 <= buf.size()) lengths.push_back(base + d);
    }
  }
  for (size_t n : lengths) {
    for (size_t offset = 0; offset < 8 && offset + n <= buf.size(); ++offset) {
      const uint8_t* p = buf.data() + offset;
      const uint32_t seed = static_cast<uint32_t>(rng());
      const uint32_t want = BitwiseCrc32c(seed, p, n);
      ASSERT_EQ(btree::Crc32c(seed, p, n), want) << "length " << n << " offset " << offset;
      const size_t split = n == 0 ? 0 : static_cast<size_t>(rng() % n);
      ASSERT_EQ(btree::Crc32c(btree::Crc32c(seed, p, split), p + split, n - split), want)
          << "length " << n << " split at " << split;
    }
  }
}

// A search probes cells with CellKeyAt, which decodes only the key: it must
// accept exactly the cells DecodeCell accepts, and find the same key.
// Commits write runs of pages with WriteGather (pwritev): more parts than
// one pwritev takes (IOV_MAX), empty parts and odd sizes must land back to
// back, exactly as one Write of their concatenation.
TEST(BtreeFileTest, WriteGatherWritesThePartsBackToBack) {
  TempDir dir;
  const std::string path = dir.path() + "/gather";
  Result<std::unique_ptr<btree::File>> file = btree::OpenPosixFile(path, false, true);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::mt19937_64 rng(TestSeed(23));
  std::vector<std::string> storage;
  std::string expected(100, 'x');  // bytes before the offset stay as written
  ASSERT_TRUE((*file)->Write(0, expected).ok());
  for (int i = 0; i < 2500; ++i) {
    std::string part(i % 7 == 0 ? 0 : 1 + rng() % 700, '\0');
    for (char& c : part) c = static_cast<char>(rng());
    expected += part;
    storage.push_back(std::move(part));
  }
  std::vector<std::string_view> parts(storage.begin(), storage.end());
  ASSERT_GT(parts.size(), static_cast<size_t>(IOV_MAX));
  ASSERT_TRUE((*file)->WriteGather(100, parts).ok());
  Result<uint64_t> size = (*file)->Size();
  ASSERT_TRUE(size.ok());
  ASSERT_EQ(*size, expected.size());
  std::string got(expected.size(), '\0');
  ASSERT_TRUE((*file)->Read(0, got.size(), reinterpret_cast<uint8_t*>(got.data())).ok());
  EXPECT_TRUE(got == expected) << "the file differs from the parts written back to back";
}

TEST(BtreeFormatTest, CellKeyAtAgreesWithDecodeCell) {
  std::mt19937_64 rng(TestSeed(21));
  constexpr uint32_t kSize = 512;
  auto put_length = [&](uint8_t* p) {
    // Around the page's bounds, and now and then a long varint.
    static constexpr uint64_t kLengths[] = {0, 1, 7, 8, 100, 400, 470, 480, 490, 500, 511, 512,
                                            1000, 1ull << 40, ~0ull};
    return btree::PutVarint(p, kLengths[rng() % std::size(kLengths)] + rng() % 3);
  };
  int valid = 0;
  for (int round = 0; round < 20000; ++round) {
    uint8_t page[kSize];
    for (uint8_t& b : page) b = static_cast<uint8_t>(rng());
    const bool leaf = round % 2 == 0;
    const uint16_t offset = static_cast<uint16_t>(rng() % (kSize + 40));
    btree::Store16(page + btree::kHeaderSize, offset);
    if (offset >= btree::kHeaderSize + 2 && offset + 40u < kSize) {
      uint8_t* p = page + offset;
      *p++ = static_cast<uint8_t>(rng() % 4);  // flags
      p += put_length(p);
      if (leaf) put_length(p);
    }
    btree::Cell cell;
    const bool decoded = btree::DecodeCell(page, kSize, leaf, 0, &cell);
    const uint8_t* key = nullptr;
    uint64_t key_len = 0;
    bool overflows = false;
    const bool probed = btree::CellKeyAt(page, kSize, leaf, 0, &key, &key_len, &overflows);
    ASSERT_EQ(decoded, probed) << "round " << round;
    if (!decoded) continue;
    ++valid;
    EXPECT_EQ(cell.key, key);
    EXPECT_EQ(cell.key_len, key_len);
    EXPECT_EQ(cell.key_overflows(), overflows);
  }
  EXPECT_GT(valid, 1000);  // both kinds of cell were tried
}

// A cell is malformed when any part of it runs past the page: its value
// too, by a single byte.
TEST(BtreeFormatTest, ACellWhoseValueRunsPastThePageIsMalformed) {
  constexpr uint32_t kSize = 512;
  for (uint64_t spill : {0, 1}) {
    uint8_t page[kSize] = {};
    const uint16_t offset = kSize - 40;
    btree::Store16(page + btree::kHeaderSize, offset);
    uint8_t* p = page + offset;
    *p++ = 0;                                                       // flags
    p += btree::PutVarint(p, 4);                                    // key length
    const uint64_t room = kSize - (offset + 1 + 1 + 1 + 4);         // after both lengths
    btree::PutVarint(p, room + spill);                              // value length
    btree::Cell cell;
    EXPECT_EQ(spill == 0, btree::DecodeCell(page, kSize, /*leaf=*/true, 0, &cell))
        << "value " << spill << " byte(s) past the page";
    const uint8_t* key = nullptr;
    uint64_t key_len = 0;
    bool overflows = false;
    EXPECT_EQ(spill == 0, btree::CellKeyAt(page, kSize, /*leaf=*/true, 0, &key, &key_len, &overflows));
  }
}

TEST_F(BtreeEngineTest, ValuesOfSeveralMiBSurviveReopen) {
  std::mt19937_64 rng(TestSeed(1));
  std::string big = RandomBytes(rng, (5u << 20) + 123);
  std::string medium = RandomBytes(rng, 70000);
  {
    auto engine = Open(MakeOptions());
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("blobs");
    ASSERT_OK(txn->Put(ks, "big", big));
    ASSERT_OK(txn->Put(ks, "medium", medium));
    ASSERT_OK(txn->Put(ks, "small", "x"));
    ASSERT_OK(txn->Commit());
  }
  auto engine = Open(MakeOptions());
  auto txn = std::move(*engine->BeginRead());
  Keyspace ks = *txn->OpenKeyspace("blobs");
  std::string value;
  ASSERT_OK(txn->Get(ks, "big", &value));
  EXPECT_TRUE(value == big) << "5 MiB value differs after reopen";
  ASSERT_OK(txn->Get(ks, "medium", &value));
  EXPECT_TRUE(value == medium);
  KeyValues scanned = Scan(*txn, ks);
  ASSERT_EQ(scanned.size(), 3u);
  EXPECT_TRUE(scanned[0].second == big);
  txn.reset();
  engine.reset();
  EXPECT_OK(CheckBtreeFile(path_));
}

// Insert stores a new key's overflow chains, and a refused Insert of a
// present key (with a value or key that would need overflow pages) writes
// no page at all: the file checks clean and every page is accounted for.
TEST_F(BtreeEngineTest, RefusedInsertOfLargeKeysAndValuesWritesNothing) {
  std::mt19937_64 rng(TestSeed(11));
  const std::string big_value = RandomBytes(rng, 300000);
  const std::string big_key = RandomBytes(rng, 20000);
  {
    auto engine = Open(MakeOptions());
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    ASSERT_OK(txn->Insert(ks, "small", big_value));
    ASSERT_OK(txn->Insert(ks, big_key, "v"));
    ASSERT_OK(txn->Commit());
  }
  {
    auto engine = Open(MakeOptions());
    uint64_t size = 0;
    // 20 empty commits settle the file's size, then 20 commits of refused
    // inserts must leave it as it is.
    for (int round = 0; round < 40; ++round) {
      if (round == 20) size = FileSize();
      auto txn = std::move(*engine->BeginWrite(kWait));
      Keyspace ks = *txn->OpenKeyspace("ks");
      if (round >= 20) {
        EXPECT_CODE(kConstraint, txn->Insert(ks, "small", RandomBytes(rng, 300000)));
        EXPECT_CODE(kConstraint, txn->Insert(ks, big_key, RandomBytes(rng, 300000)));
      }
      ASSERT_OK(txn->Commit());
    }
    EXPECT_EQ(size, FileSize()) << "refused inserts wrote overflow pages";
    auto txn = std::move(*engine->BeginRead());
    Keyspace ks = *txn->OpenKeyspace("ks");
    std::string value;
    ASSERT_OK(txn->Get(ks, "small", &value));
    EXPECT_TRUE(value == big_value);
    ASSERT_OK(txn->Get(ks, big_key, &value));
    EXPECT_EQ("v", value);
  }
  EXPECT_OK(CheckBtreeFile(path_));
}

TEST_F(BtreeEngineTest, KeysOf64KiBStoreOrderAndReplace) {
  std::mt19937_64 rng(TestSeed(2));
  std::map<std::string, std::string> model;
  auto engine = Open(MakeOptions());
  auto txn = std::move(*engine->BeginWrite(kWait));
  Keyspace ks = *txn->CreateKeyspace("long");
  std::string prefix(65536 - 8, 'k');
  for (int i = 0; i < 40; ++i) {
    // Long keys sharing a 64 KiB prefix force long separators in branches.
    std::string key = prefix + RandomBytes(rng, 8);
    if (i % 3 == 0) key = RandomBytes(rng, 65536);
    std::string value = RandomBytes(rng, rng() % 3000);
    ASSERT_OK(txn->Put(ks, key, value));
    model[key] = value;
  }
  for (int i = 0; i < 300; ++i) {
    std::string key = RandomBytes(rng, 1 + rng() % 20);
    ASSERT_OK(txn->Put(ks, key, "short"));
    model[key] = "short";
  }
  // Replace and delete some long keys.
  int n = 0;
  for (auto it = model.begin(); it != model.end(); ++n) {
    if (it->first.size() < 1000) {
      ++it;
    } else if (n % 2 == 0) {
      ASSERT_OK(txn->Put(ks, it->first, "replaced"));
      it->second = "replaced";
      ++it;
    } else {
      ASSERT_OK(txn->Delete(ks, it->first));
      it = model.erase(it);
    }
  }
  ASSERT_OK(txn->Commit());
  txn.reset();
  engine.reset();
  ASSERT_OK(CheckBtreeFile(path_));
  engine = Open(MakeOptions());
  auto reader = std::move(*engine->BeginRead());
  Keyspace rks = *reader->OpenKeyspace("long");
  KeyValues expected(model.begin(), model.end());
  EXPECT_TRUE(Scan(*reader, rks) == expected);
  std::reverse(expected.begin(), expected.end());
  EXPECT_TRUE(Scan(*reader, rks, /*backward=*/true) == expected);
}

TEST_F(BtreeEngineTest, ManyKeyspacesPersistAndDropFreesThem) {
  Model model;
  auto engine = Open(MakeOptions(512));
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    for (int i = 0; i < 400; ++i) {
      std::string name = "keyspace-" + std::to_string(i);
      Keyspace ks = *txn->CreateKeyspace(name);
      for (int k = 0; k < i % 7; ++k) {
        ASSERT_OK(txn->Put(ks, "key" + std::to_string(k), name));
        model[name]["key" + std::to_string(k)] = name;
      }
      if (i % 7 == 0) model[name];
    }
    ASSERT_OK(txn->Commit());
  }
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    for (int i = 0; i < 400; i += 3) {
      std::string name = "keyspace-" + std::to_string(i);
      ASSERT_OK(txn->DropKeyspace(name));
      model.erase(name);
    }
    ASSERT_OK(txn->Commit());
  }
  engine.reset();
  ASSERT_OK(CheckBtreeFile(path_));
  engine = Open(MakeOptions(512));
  EXPECT_TRUE(ReadAll(*engine) == model);
}

TEST_F(BtreeEngineTest, RepeatedUpdatesWithoutReadersReuseFreedPages) {
  auto engine = Open(MakeOptions());
  std::mt19937_64 rng(TestSeed(3));
  auto update = [&](int round) {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    for (int i = 0; i < 2000; ++i) {
      ASSERT_OK(txn->Put(ks, "key" + std::to_string(i), std::to_string(round) + RandomBytes(rng, 40)));
    }
    ASSERT_OK(txn->Commit());
  };
  for (int round = 0; round < 5; ++round) update(round);
  const uint64_t settled = FileSize();
  for (int round = 5; round < 60; ++round) update(round);
  EXPECT_LE(FileSize(), settled + settled / 4)
      << "the file keeps growing although every round frees what the last one wrote";
  engine.reset();
  EXPECT_OK(CheckBtreeFile(path_));
}

TEST_F(BtreeEngineTest, LiveReaderPinsItsSnapshotWhileWritersReusePages) {
  auto engine = Open(MakeOptions(512));
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    for (int i = 0; i < 500; ++i) ASSERT_OK(txn->Put(ks, "k" + std::to_string(i), "old"));
    ASSERT_OK(txn->Commit());
  }
  auto reader = std::move(*engine->BeginRead());
  Keyspace rks = *reader->OpenKeyspace("ks");
  KeyValues before = Scan(*reader, rks);
  ASSERT_EQ(before.size(), 500u);
  const uint64_t size_with_reader_start = FileSize();
  for (int round = 0; round < 20; ++round) {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->OpenKeyspace("ks");
    for (int i = 0; i < 500; ++i) {
      ASSERT_OK(txn->Put(ks, "k" + std::to_string(i), "new" + std::to_string(round)));
    }
    ASSERT_OK(txn->Commit());
    ASSERT_TRUE(Scan(*reader, rks) == before) << "round " << round;
  }
  // The pinned pages cannot be reused, so the file had to grow meanwhile.
  EXPECT_GT(FileSize(), size_with_reader_start);
  reader.reset();
  engine.reset();
  EXPECT_OK(CheckBtreeFile(path_));
}

TEST_F(BtreeEngineTest, CompactShrinksTheFileAfterDeletingMostRows) {
  auto engine = Open(MakeOptions());
  std::mt19937_64 rng(TestSeed(4));
  std::map<std::string, std::string> kept;
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    for (int i = 0; i < 20000; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "%08d", i);
      std::string value = RandomBytes(rng, 100 + (i % 50 == 5 ? 9000 : 0));
      ASSERT_OK(txn->Put(ks, key, value));
      if (i % 10 == 0) kept[key] = value;
    }
    ASSERT_OK(txn->Commit());
  }
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->OpenKeyspace("ks");
    for (int i = 0; i < 20000; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "%08d", i);
      if (i % 10 != 0) ASSERT_OK(txn->Delete(ks, key));
    }
    ASSERT_OK(txn->Commit());
  }
  const uint64_t before = FileSize();
  ASSERT_OK(engine->Compact());
  const uint64_t after = FileSize();
  EXPECT_LT(after, before / 3) << "before " << before << " after " << after;
  EXPECT_EQ(*engine->EstimatedSize(), after);
  auto reader = std::move(*engine->BeginRead());
  Keyspace ks = *reader->OpenKeyspace("ks");
  EXPECT_TRUE(Scan(*reader, ks) == KeyValues(kept.begin(), kept.end()));
  reader.reset();
  engine.reset();
  EXPECT_OK(CheckBtreeFile(path_));
  engine = Open(MakeOptions());
  EXPECT_EQ(ReadAll(*engine)["ks"].size(), kept.size());
}

// Loads `rows` into keyspace "ks" of a new store at `path`, in the order
// given, a thousand rows a transaction.
void LoadRows(const Options& options,
              const std::vector<std::pair<std::string, std::string>>& rows) {
  Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  for (size_t i = 0; i < rows.size(); i += 1000) {
    auto txn = std::move(*(*engine)->BeginWrite(kWait));
    Result<Keyspace> ks = i == 0 ? txn->CreateKeyspace("ks") : txn->OpenKeyspace("ks");
    ASSERT_TRUE(ks.ok()) << ks.status().ToString();
    for (size_t j = i; j < std::min(rows.size(), i + 1000); ++j) {
      ASSERT_OK(txn->Put(*ks, rows[j].first, rows[j].second));
    }
    ASSERT_OK(txn->Commit());
  }
}

// A tree grown by inserts in random order splits its leaves in the middle
// and holds them about two-thirds full; Compact() packs them, so that the
// file comes out about the size of the same rows loaded in key order.
// Page size 512 with a few long keys and values: overflow chains move with
// their cells.
TEST_F(BtreeEngineTest, CompactPacksTheLeavesOfATreeGrownInRandomOrder) {
  for (uint32_t page_size : {4096u, 512u}) {
    SCOPED_TRACE("page_size " + std::to_string(page_size));
    std::mt19937_64 rng(TestSeed(41));
    std::map<std::string, std::string> rows;
    while (rows.size() < 30000) {
      const size_t key_len = rows.size() % 997 == 3 ? 700 + rng() % 3000 : 12 + rng() % 8;
      const size_t value_len = rows.size() % 1009 == 7 ? 5000 : 20 + rng() % 60;
      rows[RandomBytes(rng, key_len)] = RandomBytes(rng, value_len);
    }
    std::vector<std::pair<std::string, std::string>> in_order(rows.begin(), rows.end());
    std::vector<std::pair<std::string, std::string>> shuffled = in_order;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);

    const std::string ordered_path = path_ + ".ordered";
    Options ordered_options = MakeOptions(page_size);
    ordered_options.path = ordered_path;
    LoadRows(ordered_options, in_order);
    const uint64_t ordered_size = std::filesystem::file_size(ordered_path);

    std::filesystem::remove(path_);
    LoadRows(MakeOptions(page_size), shuffled);
    const uint64_t before = FileSize();
    EXPECT_GT(before, ordered_size * 5 / 4) << "random inserts should leave leaves part-full";
    auto engine = Open(MakeOptions(page_size));
    ASSERT_OK(engine->Compact());
    const uint64_t after = FileSize();
    EXPECT_LT(after, ordered_size * 21 / 20)
        << "in order " << ordered_size << ", random order " << before << ", compacted " << after;
    EXPECT_EQ(ReadAll(*engine)["ks"], rows);
    // Packed already: a second compaction changes nothing.
    ASSERT_OK(engine->Compact());
    EXPECT_EQ(FileSize(), after);
    engine.reset();
    EXPECT_OK(CheckBtreeFile(path_));
    engine = Open(MakeOptions(page_size));
    EXPECT_EQ(ReadAll(*engine)["ks"], rows);
    engine.reset();
    std::filesystem::remove(ordered_path);
  }
}

TEST_F(BtreeEngineTest, CompactWithAnOpenReaderIsBusyAndChangesNothing) {
  auto engine = Open(MakeOptions());
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    ASSERT_OK(txn->Put(ks, "a", "1"));
    ASSERT_OK(txn->Commit());
  }
  auto reader = std::move(*engine->BeginRead());
  EXPECT_CODE(kBusy, engine->Compact());
  Keyspace ks = *reader->OpenKeyspace("ks");
  EXPECT_EQ(testing::GetOr(*reader, ks, "a"), "1");
}

// Random puts, deletes and savepoint rollbacks against a model, on small
// pages so splits, merges and overflow chains happen often.
TEST_F(BtreeEngineTest, RandomEditsWithSavepointsMatchAModel) {
  const uint64_t seed = TestSeed(5);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  auto engine = Open(MakeOptions(512));
  std::map<std::string, std::string> committed;
  const int rounds = LongMode() ? 200 : 25;
  for (int round = 0; round < rounds; ++round) {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    std::map<std::string, std::string> model = committed;
    std::vector<std::pair<int, std::map<std::string, std::string>>> saved;
    for (int op = 0; op < 300; ++op) {
      int what = static_cast<int>(rng() % 100);
      std::string key = "key" + std::to_string(rng() % 400);
      if (what < 50) {
        size_t len = rng() % 8 == 0 ? 100 + rng() % 2000 : rng() % 60;
        std::string value = RandomBytes(rng, len);
        ASSERT_OK(txn->Put(ks, key, value));
        model[key] = value;
      } else if (what < 85) {
        ASSERT_OK(txn->Delete(ks, key));
        model.erase(key);
      } else if (what < 92) {
        int level = static_cast<int>(rng() % 4);
        ASSERT_OK(txn->Savepoint(level));
        while (!saved.empty() && saved.back().first >= level) saved.pop_back();
        saved.push_back({level, model});
      } else if (what < 97) {
        int level = static_cast<int>(rng() % 4);
        ASSERT_OK(txn->RollbackTo(level));
        size_t i = 0;
        while (i < saved.size() && saved[i].first < level) ++i;
        if (i < saved.size()) {
          saved.resize(i + 1);
          saved.back().first = level;
          model = saved.back().second;
        }
      } else {
        int level = static_cast<int>(rng() % 4);
        ASSERT_OK(txn->Release(level));
        while (!saved.empty() && saved.back().first >= level) saved.pop_back();
      }
    }
    ASSERT_TRUE(Scan(*txn, ks) == KeyValues(model.begin(), model.end())) << "round " << round;
    if (rng() % 4 == 0) {
      txn->Rollback();
    } else {
      ASSERT_OK(txn->Commit());
      committed = model;
    }
  }
  engine.reset();
  ASSERT_OK(CheckBtreeFile(path_));
  engine = Open(MakeOptions(512));
  EXPECT_TRUE(ReadAll(*engine)["ks"] == committed);
}

// Random writes to two keyspaces (long keys and values in overflow pages
// among them) with compactions between the rounds: every compaction keeps
// what the model holds, the tree passes Check(), and packed or not, the
// next writes go on from there.
TEST_F(BtreeEngineTest, RandomEditsAndCompactionsMatchAModel) {
  const uint64_t seed = TestSeed(6);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  auto engine = Open(MakeOptions(512));
  Model model;
  const int rounds = LongMode() ? 150 : 30;
  int compactions = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    {
      auto txn = std::move(*engine->BeginWrite(kWait));
      for (int op = 0; op < 600; ++op) {
        const std::string name = rng() % 3 == 0 ? "b" : "a";
        Keyspace ks = *txn->CreateKeyspace(name);
        std::string key = RandomBytes(rng, 1 + rng() % 3);
        if (rng() % 40 == 0) key += std::string(200 + rng() % 1500, 'k');
        if (rng() % 100 < 70) {
          const size_t len = rng() % 30 == 0 ? 300 + rng() % 3000 : rng() % 90;
          std::string value = RandomBytes(rng, len);
          ASSERT_OK(txn->Put(ks, key, value));
          model[name][key] = value;
        } else {
          ASSERT_OK(txn->Delete(ks, key));
          model[name].erase(key);
        }
      }
      ASSERT_OK(txn->Commit());
    }
    if (rng() % 3 == 0 || round == rounds - 1) {
      ASSERT_OK(engine->Compact());
      ++compactions;
      ASSERT_OK(engine->Check());
      Model read = ReadAll(*engine);
      ASSERT_TRUE(read == model);
    }
  }
  EXPECT_GE(compactions, 3);
  engine.reset();
  ASSERT_OK(CheckBtreeFile(path_));
  engine = Open(MakeOptions(512));
  EXPECT_TRUE(ReadAll(*engine) == model);
}

TEST_F(BtreeEngineTest, CursorFollowsWritesOfItsOwnTransaction) {
  auto engine = Open(MakeOptions(512));
  auto txn = std::move(*engine->BeginWrite(kWait));
  Keyspace ks = *txn->CreateKeyspace("ks");
  for (int i = 0; i < 300; i += 2) {
    char key[24];
    std::snprintf(key, sizeof(key), "%04d", i);
    ASSERT_OK(txn->Put(ks, key, std::string(50, 'v')));
  }
  auto cursor = std::move(*txn->NewCursor(ks));
  std::vector<std::string> seen;
  int i = 1;
  // Deleting behind and inserting ahead of the cursor on every step splits and
  // merges the pages under it.
  for (cursor->SeekToFirst(); cursor->Valid(); cursor->Next(), i += 2) {
    std::string current(cursor->key());
    seen.push_back(current);
    ASSERT_OK(txn->Delete(ks, current));
    char key[24];
    std::snprintf(key, sizeof(key), "%04d", i);
    if (i < 300) ASSERT_OK(txn->Put(ks, key, std::string(50, 'w')));
  }
  ASSERT_OK(cursor->status());
  // Every original key and every key inserted ahead is visited once, in order.
  ASSERT_EQ(seen.size(), 300u);
  for (size_t k = 0; k < seen.size(); ++k) {
    char key[24];
    std::snprintf(key, sizeof(key), "%04zu", k);
    EXPECT_EQ(seen[k], key);
  }
}

TEST_F(BtreeEngineTest, ReadOnlyOpenChangesNoByte) {
  {
    auto engine = Open(MakeOptions());
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    ASSERT_OK(txn->Put(ks, "a", "1"));
    ASSERT_OK(txn->Commit());
  }
  std::ifstream in(path_, std::ios::binary);
  std::string before((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Options options = MakeOptions();
  options.read_only = true;
  options.create_if_missing = false;
  {
    auto engine = Open(options);
    EXPECT_CODE(kReadOnly, engine->BeginWrite(kWait));
    EXPECT_CODE(kReadOnly, engine->Compact());
    EXPECT_EQ(ReadAll(*engine)["ks"]["a"], "1");
  }
  std::ifstream again(path_, std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(before == after);
}

TEST_F(BtreeEngineTest, SecondProcessCannotOpenAStoreAnotherProcessHasOpen) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(MakeOptions());
    char ok = engine.ok() ? 1 : 0;
    if (::write(ready[1], &ok, 1) != 1) ::_exit(1);
    ::pause();  // holds the store until killed
    ::_exit(0);
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(ok, 1) << "the child could not open the store";
  EXPECT_CODE(kBusy, OpenBtreeEngine(MakeOptions()));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  // The lock dies with its process.
  EXPECT_OK(OpenBtreeEngine(MakeOptions()));
}

// The commit log (sync=full): small commits sync a record in `<store>-log`
// and keep their pages in memory until a checkpoint writes them.
class BtreeLogTest : public BtreeEngineTest {
 protected:
  Options LogOptions() const {
    Options options = MakeOptions();
    options.sync = SyncMode::kFull;
    return options;
  }
  std::string LogPath() const { return path_ + "-log"; }

  // A child process commits a scripted mix through the log and exits
  // without closing the store, so the log holds commits the store file
  // does not. Returns what the store must hold.
  Model CommitAndDieWithoutClosing() {
    Model model;
    model["rows"];
    std::mt19937_64 rng(TestSeed(17));
    std::vector<std::pair<std::string, std::string>> puts;
    for (int i = 0; i < 40; ++i) {
      puts.push_back({"k" + std::to_string(rng() % 30), RandomBytes(rng, 1 + rng() % 300)});
    }
    pid_t child = ::fork();
    EXPECT_GE(child, 0);
    if (child == 0) {
      Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(LogOptions());
      if (!engine.ok()) ::_exit(2);
      for (size_t i = 0; i < puts.size(); ++i) {
        auto txn = std::move(*(*engine)->BeginWrite(kWait));
        Keyspace ks = *txn->CreateKeyspace("rows");
        if (!txn->Put(ks, puts[i].first, puts[i].second).ok()) ::_exit(3);
        // Every fifth commit also writes what a rolled-back savepoint undoes,
        // and a keyspace it creates and drops again.
        if (i % 5 == 0) {
          if (!txn->Savepoint(1).ok() || !txn->Put(ks, "undone", "x").ok() ||
              !txn->Delete(ks, puts[0].first).ok() || !txn->RollbackTo(1).ok()) {
            ::_exit(4);
          }
          Keyspace gone = *txn->CreateKeyspace("gone");
          if (!txn->Put(gone, "a", "b").ok() || !txn->DropKeyspace("gone").ok()) ::_exit(5);
        }
        if (i == 20 && !txn->Delete(ks, puts[3].first).ok()) ::_exit(6);
        if (!txn->Commit().ok()) ::_exit(7);
      }
      ::_exit(0);  // no destructor runs: no checkpoint at close
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    for (size_t i = 0; i < puts.size(); ++i) {
      model["rows"][puts[i].first] = puts[i].second;
      if (i == 20) model["rows"].erase(puts[3].first);
    }
    return model;
  }
};

TEST_F(BtreeLogTest, CommitsLeftInTheLogAreReplayedByTheNextWriter) {
  const Model expected = CommitAndDieWithoutClosing();
  ASSERT_GT(std::filesystem::file_size(LogPath()), btree::CommitLog::kBlockSize);
  // The file alone is not the store: a read-only open and the file check
  // say so, and change nothing.
  Options read_only = LogOptions();
  read_only.read_only = true;
  Result<std::unique_ptr<Engine>> refused = OpenBtreeEngine(read_only);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kReadOnly) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("open the store once for writing"),
            std::string::npos)
      << refused.status().ToString();
  EXPECT_CODE(kReadOnly, CheckBtreeFile(path_));
  {
    auto engine = Open(LogOptions());
    ASSERT_NE(engine, nullptr);
    EXPECT_TRUE(ReadAll(*engine) == expected);
    EXPECT_OK(engine->Check());
    // The recovered store takes new commits (logged again).
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->OpenKeyspace("rows");
    ASSERT_OK(txn->Put(ks, "after", "recovery"));
    ASSERT_OK(txn->Commit());
  }
  Model after = expected;
  after["rows"]["after"] = "recovery";
  EXPECT_OK(CheckBtreeFile(path_));
  auto engine = Open(read_only);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(ReadAll(*engine) == after);
}

// The commits the log holds are replayed whole even when the next open asks
// for a smaller log than the one that wrote them.
TEST_F(BtreeLogTest, ALogLargerThanThisOpensLogSizeIsReplayedWhole) {
  const Model expected = CommitAndDieWithoutClosing();  // 40 records, 4 KiB each
  Options options = LogOptions();
  options.engine_options["log_size"] = "16384";
  auto engine = Open(options);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(ReadAll(*engine) == expected);
}

// A forked child that drops its copy of a store with logged commits must
// not checkpoint it: that would write the parent's files behind its back
// (a new log header would orphan the parent's later records).
TEST_F(BtreeLogTest, AForkedChildDroppingItsCopyWritesNothing) {
  // Outside the registry (which keeps a child from closing what it
  // inherited), so that the child's drop reaches the store itself.
  Result<std::unique_ptr<btree::File>> file = btree::OpenPosixFile(path_, false, true);
  Result<std::unique_ptr<btree::File>> log = btree::OpenPosixFile(LogPath(), false, true);
  ASSERT_TRUE(file.ok() && log.ok());
  Result<std::unique_ptr<Engine>> opened =
      OpenBtreeEngineOnFile(LogOptions(), std::move(*file), std::move(*log));
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Engine> engine = std::move(*opened);
  for (int i = 0; i < 3; ++i) {
    auto txn = std::move(*engine->BeginWrite(kWait));
    ASSERT_OK(txn->Put(*txn->CreateKeyspace("ks"), "k" + std::to_string(i), "v"));
    ASSERT_OK(txn->Commit());
  }
  auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string store_before = read(path_), log_before = read(LogPath());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    engine.reset();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_TRUE(read(path_) == store_before) << "the child wrote the store file";
  EXPECT_TRUE(read(LogPath()) == log_before) << "the child wrote the log";
  {
    auto txn = std::move(*engine->BeginWrite(kWait));
    ASSERT_OK(txn->Put(*txn->OpenKeyspace("ks"), "after", "fork"));
    ASSERT_OK(txn->Commit());
  }
  engine.reset();
  EXPECT_EQ(ReadAll(*Open(LogOptions()))["ks"].size(), 4u);
}

TEST_F(BtreeLogTest, ALogThatIsNotTheStoresIsRefused) {
  CommitAndDieWithoutClosing();
  // Another store, and the first one's log beside it.
  const std::string other = dir_.path() + "/other.btree";
  {
    Options options = LogOptions();
    options.path = other;
    auto engine = Open(options);
    auto txn = std::move(*engine->BeginWrite(kWait));
    ASSERT_OK(txn->Put(*txn->CreateKeyspace("mine"), "a", "1"));
    ASSERT_OK(txn->Commit());
  }
  std::filesystem::copy_file(LogPath(), other + "-log",
                             std::filesystem::copy_options::overwrite_existing);
  Options options = LogOptions();
  options.path = other;
  Result<std::unique_ptr<Engine>> refused = OpenBtreeEngine(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kCorruption) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("move the log away"), std::string::npos)
      << refused.status().ToString();
  // Moved away, the other store opens as it was.
  std::filesystem::remove(other + "-log");
  auto engine = Open(options);
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(ReadAll(*engine)["mine"]["a"], "1");
}

TEST_F(BtreeLogTest, AStoreOpenedWithoutSyncFullReplaysAndEmptiesItsLog) {
  const Model expected = CommitAndDieWithoutClosing();
  Options normal = LogOptions();
  normal.sync = SyncMode::kNormal;
  {
    auto engine = Open(normal);
    ASSERT_NE(engine, nullptr);
    EXPECT_TRUE(ReadAll(*engine) == expected);
    EXPECT_EQ(std::filesystem::file_size(LogPath()), 0u);
    auto txn = std::move(*engine->BeginWrite(kWait));
    ASSERT_OK(txn->Put(*txn->OpenKeyspace("rows"), "normal", "1"));
    ASSERT_OK(txn->Commit());
  }
  EXPECT_OK(CheckBtreeFile(path_));
  auto engine = Open(LogOptions());
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(ReadAll(*engine)["rows"]["normal"], "1");
}

// Readers of logged commits read their pages from memory; a reader keeps
// its snapshot while the log fills, checkpoints and starts over many times,
// and the file grows by little for it.
TEST_F(BtreeLogTest, ReadersKeepTheirSnapshotAcrossCheckpoints) {
  Options options = LogOptions();
  options.engine_options["log_size"] = "16384";
  auto engine = Open(options);
  ASSERT_NE(engine, nullptr);
  Model model;
  auto commit = [&](int round) {
    auto txn = std::move(*engine->BeginWrite(kWait));
    Keyspace ks = *txn->CreateKeyspace("ks");
    for (int i = 0; i < 3; ++i) {
      const std::string key = "k" + std::to_string((round * 7 + i * 13) % 400);
      const std::string value = std::to_string(round) + std::string(60, 'v');
      ASSERT_OK(txn->Put(ks, key, value));
      model["ks"][key] = value;
    }
    ASSERT_OK(txn->Commit());
  };
  for (int round = 0; round < 200; ++round) commit(round);
  const Model pinned = model;
  auto reader = std::move(*engine->BeginRead());
  for (int round = 200; round < 800; ++round) {
    commit(round);
    if (round % 97 == 0) {
      EXPECT_TRUE(ReadAll(*engine) == model) << "round " << round;
      const Status check = engine->Check();
      EXPECT_TRUE(check.ok()) << "round " << round << ": " << check.ToString();
    }
  }
  Keyspace rks = *reader->OpenKeyspace("ks");
  std::map<std::string, std::string> seen;
  for (auto& [k, v] : Scan(*reader, rks)) seen[k] = v;
  EXPECT_TRUE(seen == pinned.at("ks")) << "the reader's snapshot changed";
  reader.reset();
  EXPECT_TRUE(ReadAll(*engine) == model);
  engine.reset();
  EXPECT_OK(CheckBtreeFile(path_));
  EXPECT_TRUE(ReadAll(*Open(options)) == model);
}

TEST_F(BtreeEngineTest, BadPageSizeOptionIsInvalidArgument) {
  Options options = MakeOptions();
  options.engine_options["page_size"] = "1000";
  EXPECT_CODE(kInvalidArgument, OpenBtreeEngine(options));
  options.engine_options["page_size"] = "4096";
  options.engine_options["verify_checksums"] = "maybe";
  EXPECT_CODE(kInvalidArgument, OpenBtreeEngine(options));
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(BtreeEngineTest, NotABtreeFileIsCorruption) {
  std::ofstream(path_) << std::string(8192, 'x');
  Options options = MakeOptions();
  options.create_if_missing = false;
  EXPECT_CODE(kCorruption, OpenBtreeEngine(options));
  EXPECT_CODE(kCorruption, CheckBtreeFile(path_));
}

// --- Damaged files ----------------------------------------------------------

class BtreeDamageTest : public BtreeEngineTest {
 protected:
  static constexpr uint32_t kPage = 512;

  // Two commits: `previous_` is the state after the first, `latest_` after
  // the second. Leaves the pristine bytes in `pristine_`.
  void SetUp() override {
    BtreeEngineTest::SetUp();
    std::mt19937_64 rng(TestSeed(6));
    auto engine = Open(MakeOptions(kPage));
    for (int commit = 0; commit < 2; ++commit) {
      auto txn = std::move(*engine->BeginWrite(kWait));
      Keyspace a = *txn->CreateKeyspace("a");
      Keyspace b = *txn->CreateKeyspace("b" + std::to_string(commit));
      for (int i = 0; i < 30; ++i) {
        std::string key = "key" + std::to_string(rng() % 100);
        std::string value = RandomBytes(rng, rng() % 5 == 0 ? 1500 : 20);
        ASSERT_OK(txn->Put(a, key, value));
        ASSERT_OK(txn->Put(b, key, value));
      }
      ASSERT_OK(txn->Put(a, std::string(3000, 'L'), "long key"));
      ASSERT_OK(txn->Commit());
      (commit == 0 ? previous_ : latest_) = ReadAll(*engine);
    }
    engine.reset();
    std::ifstream in(path_, std::ios::binary);
    pristine_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    // The file grows in chunks; damage only the pages before its zero tail.
    size_t end = pristine_.find_last_not_of('\0');
    pages_ = end == std::string::npos ? 0 : end / kPage + 1;
    ASSERT_OK(CheckBtreeFile(path_));
  }

  // Writes `bytes` at `offset` of the file in place (no truncation).
  void Patch(size_t offset, std::string_view bytes) {
    std::fstream out(path_, std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(offset));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  void WriteFile(const std::string& bytes) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  // Opens the damaged file. Whatever happens must be OK or Corruption; when
  // the integrity check passes, the contents must be a committed state.
  void ExpectCorruptionOrCommittedState(const std::string& what) {
    SCOPED_TRACE(what);
    const Status check = CheckBtreeFile(path_);
    for (bool verify : {false, true}) {
      Options options = MakeOptions(kPage);
      options.create_if_missing = false;
      options.engine_options["verify_checksums"] = verify ? "true" : "false";
      Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options);
      if (!engine.ok()) {
        EXPECT_EQ(engine.status().code(), Status::Code::kCorruption) << engine.status().ToString();
        EXPECT_CODE(kCorruption, check);
        return;
      }
      // Read by steps and by range reads (Cursor::ReadFrom): the same rules.
      for (bool range_reads : {false, true}) {
        SCOPED_TRACE(range_reads ? "range reads" : "steps");
        bool failed = false;
        Model model = ReadAll(**engine, &failed, range_reads);
        if (check.ok()) {
          EXPECT_FALSE(failed);
          EXPECT_TRUE(model == latest_ || model == previous_)
              << "the check passed but the contents are not a committed state";
        } else {
          EXPECT_EQ(check.code(), Status::Code::kCorruption) << check.ToString();
          if (verify && !failed && model.count("<error>") == 0) {
            // With checksums verified, what was read intact must be true data.
            EXPECT_TRUE(model == latest_ || model == previous_) << check.ToString();
          }
        }
      }
      engine->reset();
    }
    ExpectCompactionToKeepOrRefuse(check);
  }

  // Compacts the damaged file (packing its leaves, moving its pages): OK or
  // Corruption, never a crash or a hang; when the integrity check passed, the
  // contents after it are still a committed state. Puts the damaged bytes
  // back afterwards, for the caller's next step.
  void ExpectCompactionToKeepOrRefuse(const Status& check) {
    std::string damaged;
    {
      std::ifstream in(path_, std::ios::binary);
      damaged.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    Options options = MakeOptions(kPage);
    options.create_if_missing = false;
    if (Result<std::unique_ptr<Engine>> engine = OpenBtreeEngine(options); engine.ok()) {
      const Status compacted = (*engine)->Compact();
      if (check.ok()) {
        EXPECT_OK(compacted);
        Model model = ReadAll(**engine);
        EXPECT_TRUE(model == latest_ || model == previous_) << "compaction changed the contents";
      } else if (!compacted.ok()) {
        EXPECT_EQ(compacted.code(), Status::Code::kCorruption) << compacted.ToString();
      }
    }
    WriteFile(damaged);
  }

  std::string pristine_;
  size_t pages_ = 0;
  Model previous_, latest_;
};

TEST_F(BtreeDamageTest, TruncationAtManyOffsetsNeverCrashes) {
  std::vector<size_t> offsets;
  for (size_t page = 0; page <= pages_; ++page) {
    offsets.push_back(page * kPage);
    if (page % 4 == 0) offsets.push_back(page * kPage + 7 + page % kPage);
  }
  for (size_t offset : offsets) {
    if (offset >= pristine_.size()) continue;
    WriteFile(pristine_.substr(0, offset));
    ExpectCorruptionOrCommittedState("truncated to " + std::to_string(offset) + " bytes");
  }
}

TEST_F(BtreeDamageTest, ZeroedPagesNeverCrash) {
  for (size_t page = 0; page < pages_; ++page) {
    Patch(page * kPage, std::string(kPage, '\0'));
    ExpectCorruptionOrCommittedState("page " + std::to_string(page) + " zeroed");
    Patch(page * kPage, std::string_view(pristine_).substr(page * kPage, kPage));
  }
}

TEST_F(BtreeDamageTest, FlippedBitsInEveryPageAreDetectedOrHarmless) {
  std::mt19937_64 rng(TestSeed(7));
  const int flips = LongMode() ? 20 : 2;
  for (size_t page = 0; page < pages_; ++page) {
    for (int flip = 0; flip < flips; ++flip) {
      // Bits in the header and the first cells matter most; also hit anywhere.
      size_t offset = flip == 0 ? rng() % 64 : rng() % kPage;
      const size_t at = page * kPage + offset;
      Patch(at, std::string(1, static_cast<char>(pristine_[at] ^ (1 << (rng() % 8)))));
      ExpectCorruptionOrCommittedState("page " + std::to_string(page) + " byte " +
                                       std::to_string(offset) + " flipped");
      Patch(at, std::string_view(pristine_).substr(at, 1));
    }
  }
}

TEST_F(BtreeDamageTest, DamagedNewestMetaFallsBackToThePreviousCommit) {
  // The second commit (txn 3) wrote meta slot 1.
  std::string bytes = pristine_;
  bytes[kPage + 30] ^= 0x10;
  WriteFile(bytes);
  Options options = MakeOptions(kPage);
  options.create_if_missing = false;
  auto engine = Open(options);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(ReadAll(*engine) == previous_);
}

}  // namespace
}  // namespace manifold
