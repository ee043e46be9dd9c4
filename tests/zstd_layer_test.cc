// The zstd value layer (WrapWithZstd) over every engine without compression
// of its own: values round-trip whatever they hold, incompressible values cost
// one byte, per-keyspace dictionaries shrink similar rows, retraining never
// strands an old value, and the dictionaries' keyspace stays hidden.
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conformance_util.h"
#include "forwarding_engine.h"
#include "manifold/engine.h"
#include "manifold/registry.h"
#include "zstd/zstd_engine.h"

// As EXPECT_CODE in conformance_util.h, whose parameter name `code` also
// replaces the `.code()` call inside it.
#define EXPECT_STATUS(want, expr)                                                         \
  do {                                                                                    \
    const auto& manifold_got_ = (expr);                                                   \
    EXPECT_EQ(::manifold::Status::Code::want, ::manifold::testing::StatusOf(manifold_got_).code()) \
        << #expr << " -> " << ::manifold::testing::StatusOf(manifold_got_).ToString();    \
  } while (0)

namespace manifold {
namespace {

using std::chrono::milliseconds;
using testing::GetOr;
using testing::KeyValues;
using testing::Scan;
using testing::TempDir;

// The engines the registry would wrap: available, without native compression.
std::vector<std::string> WrappedEngineNames() {
  std::vector<std::string> names;
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.available && !info.capabilities.native_compression) names.push_back(info.name);
  }
  return names;
}

std::string JsonRow(std::mt19937_64& rng, int i) {
  static const char* kCities[] = {"Lisbon", "Oslo", "Lima", "Osaka", "Quito", "Accra"};
  static const char* kPlans[] = {"free", "basic", "pro", "enterprise"};
  std::string row = "{\"id\":" + std::to_string(i) + ",\"name\":\"user" +
                    std::to_string(rng() % 100000) + "\",\"email\":\"user" +
                    std::to_string(rng() % 100000) + "@example.com\",\"city\":\"" +
                    kCities[rng() % 6] + "\",\"plan\":\"" + kPlans[rng() % 4] +
                    "\",\"created_at\":\"2024-0" + std::to_string(1 + rng() % 9) + "-1" +
                    std::to_string(rng() % 10) + "T12:" + std::to_string(10 + rng() % 50) +
                    ":00Z\",\"active\":" + (rng() % 2 ? "true" : "false") +
                    ",\"score\":" + std::to_string(rng() % 1000) +
                    ",\"tags\":[\"alpha\",\"beta\",\"gamma\"],\"notes\":\"";
  static const char* kWords[] = {"order", "shipped", "late", "customer", "asked", "refund",
                                 "called", "twice", "about", "the", "invoice", "and", "delivery",
                                 "address", "changed", "please", "check", "again", "soon", "thanks"};
  while (row.size() < 390) row += std::string(kWords[rng() % 20]) + " ";
  return row + "\"}";
}

// A web server's access log line, with nothing of JsonRow's vocabulary.
std::string LogLine(std::mt19937_64& rng) {
  static const char* kMethods[] = {"GET", "POST", "PUT", "DELETE"};
  static const char* kPaths[] = {"/api/v2/orders/", "/static/img/", "/cart/items/", "/search?q="};
  static const char* kAgents[] = {"curl/8.4.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
                                  "okhttp/4.12.0", "python-requests/2.31.0"};
  static const char* kWords[] = {"upstream", "timeout", "retry", "pool", "socket", "tls",
                                 "handshake", "backend", "cache", "miss", "hit", "gzip",
                                 "chunked", "keepalive", "worker", "queue"};
  std::string line = "10." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) +
                     "." + std::to_string(rng() % 256) + " - - [06/Dec/2026:0" +
                     std::to_string(rng() % 10) + ":" + std::to_string(10 + rng() % 50) + ":" +
                     std::to_string(10 + rng() % 50) + " +0000] \"" + kMethods[rng() % 4] + " " +
                     kPaths[rng() % 4] + std::to_string(rng() % 100000) + " HTTP/1.1\" " +
                     std::to_string(200 + rng() % 4 * 100) + " " + std::to_string(rng() % 90000) +
                     " \"-\" \"" + kAgents[rng() % 4] + "\" rt=0." + std::to_string(rng() % 1000) +
                     " |";
  while (line.size() < 390) line += std::string(" ") + kWords[rng() % 16];
  return line;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// A value of one of the shapes the layer must handle.
std::string RandomValue(std::mt19937_64& rng, int i) {
  switch (rng() % 5) {
    case 0: return "";
    case 1: return RandomBytes(rng, rng() % 40);                  // short: raw
    case 2: return RandomBytes(rng, 100 + rng() % 3000);          // incompressible
    case 3: return std::string(50 + rng() % 5000, "xyz"[rng() % 3]);  // very compressible
    default: return JsonRow(rng, i);
  }
}

// Forwards to another engine's write transactions, counting commits; the
// commit numbered *fail_at (from 1; 0: none) fails without committing.
class CountedTxn final : public testing::ForwardingWriteTxn {
 public:
  CountedTxn(std::unique_ptr<WriteTxn> inner, int* commits, const int* fail_at)
      : ForwardingWriteTxn(std::move(inner)), commits_(commits), fail_at_(fail_at) {}
  Status Commit() override {
    if (++*commits_ == *fail_at_) {
      inner_->Rollback();
      return Status::IOError("commit refused by the test");
    }
    return inner_->Commit();
  }

 private:
  int* commits_;
  const int* fail_at_;
};

class CountedEngine final : public testing::ForwardingEngine {
 public:
  CountedEngine(std::unique_ptr<Engine> inner, int* commits, const int* fail_at)
      : ForwardingEngine(std::move(inner)), commits_(commits), fail_at_(fail_at) {}

 private:
  std::unique_ptr<WriteTxn> Wrap(std::unique_ptr<WriteTxn> txn) override {
    return std::make_unique<CountedTxn>(std::move(txn), commits_, fail_at_);
  }
  int* commits_;
  const int* fail_at_;
};

class ZstdLayerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    options_.path = GetParam() == "memory" ? "zstd-layer-" + std::to_string(++counter_)
                                            : dir_.path() + "/store";
    options_.create_if_missing = true;
    options_.sync = SyncMode::kOff;
    ASSERT_OK_AND_ASSIGN(engine_, OpenWrapped());
  }

  // A new wrapper (with empty dictionary caches) on the same store.
  Result<std::unique_ptr<Engine>> OpenWrapped() {
    Result<std::unique_ptr<Engine>> inner = Engine::Open(GetParam(), options_);
    if (!inner.ok()) return inner;
    Options zstd = options_;
    zstd.compression = Compression::kZstd;
    return WrapWithZstd(std::move(*inner), zstd);
  }

  // Writes `rows` into keyspace `name` in one transaction.
  void PutAll(const std::string& name, const std::map<std::string, std::string>& rows) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace(name));
    for (const auto& [key, value] : rows) ASSERT_OK(txn->Put(ks, key, value));
    ASSERT_OK(txn->Commit());
  }

  KeyValues ScanAll(Engine& engine, const std::string& name) {
    Result<std::unique_ptr<ReadTxn>> txn = engine.BeginRead();
    if (!txn.ok()) return {{"<error>", txn.status().ToString()}};
    Result<Keyspace> ks = (*txn)->OpenKeyspace(name);
    if (!ks.ok()) return {{"<error>", ks.status().ToString()}};
    return Scan(**txn, *ks);
  }

  // After Compact(): keyspace `name` holds `rows`, JSON rows where
  // is_json(index, key) and log lines elsewhere; it must store them within
  // 1.2x of what they take at the ratios of keyspaces "json" and "logs",
  // each of one kind.
  void ExpectStoredAsInKeyspacesOfOneKind(
      const std::string& name, const std::map<std::string, std::string>& rows,
      const std::function<bool(size_t, const std::string&)>& is_json) {
    ASSERT_OK_AND_ASSIGN(ValueByteCounts m, CountValueBytes(*engine_, name));
    ASSERT_OK_AND_ASSIGN(ValueByteCounts j, CountValueBytes(*engine_, "json"));
    ASSERT_OK_AND_ASSIGN(ValueByteCounts l, CountValueBytes(*engine_, "logs"));
    uint64_t json_logical = 0, log_logical = 0;
    size_t i = 0;
    for (const auto& [k, v] : rows) (is_json(i++, k) ? json_logical : log_logical) += v.size();
    const double expected = static_cast<double>(json_logical) * j.stored / j.logical +
                            static_cast<double>(log_logical) * l.stored / l.logical;
    EXPECT_LT(static_cast<double>(m.stored), 1.2 * expected)
        << name << " stores " << m.stored << " bytes of " << m.logical
        << "; its rows in keyspaces of their own kind would take " << expected << " (json "
        << j.stored << "/" << j.logical << ", logs " << l.stored << "/" << l.logical << ")";
  }

  // Writes `count` JSON rows (keys k10000, k10001, ...) into keyspace
  // `name`; returns them in key order.
  KeyValues PutJsonRows(const std::string& name, int count, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::map<std::string, std::string> rows;
    for (int i = 0; i < count; ++i) rows["k" + std::to_string(10000 + i)] = JsonRow(rng, i);
    PutAll(name, rows);
    return AsKeyValues(rows);
  }

  static KeyValues AsKeyValues(const std::map<std::string, std::string>& model) {
    return KeyValues(model.begin(), model.end());
  }

  static inline int counter_ = 0;
  TempDir dir_;
  Options options_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(ZstdLayerTest, RandomOperationsMatchAModel) {
  uint64_t seed = testing::TestSeed(20240611);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED=<n> to vary)");
  std::mt19937_64 rng(seed);
  std::map<std::string, std::string> committed;
  bool created = false;  // whether a committed round created keyspace "t"
  // Until a round commits, every creation of "t" was rolled back with it.
  auto check_committed = [&](Engine& engine, const std::string& when) {
    KeyValues got = ScanAll(engine, "t");
    if (created) {
      EXPECT_EQ(AsKeyValues(committed), got) << when;
      return;
    }
    ASSERT_EQ(got.size(), 1u) << when;
    EXPECT_EQ(got[0].first, "<error>") << when;
    EXPECT_NE(got[0].second.find("NotFound"), std::string::npos) << when << ": " << got[0].second;
  };
  int rounds = testing::LongMode() ? 200 : 12;
  for (int round = 0; round < rounds; ++round) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("t"));
    std::map<std::string, std::string> model = committed;
    std::map<std::string, std::string> at_savepoint;
    bool has_savepoint = false;
    for (int op = 0; op < 120; ++op) {
      std::string key = "k" + std::to_string(rng() % 300);
      uint64_t what = rng() % 20;
      if (what < 12) {
        std::string value = RandomValue(rng, op);
        ASSERT_OK(txn->Put(ks, key, value));
        model[key] = value;
      } else if (what < 15) {
        ASSERT_OK(txn->Delete(ks, key));
        model.erase(key);
      } else if (what < 17) {
        auto it = model.find(key);
        EXPECT_EQ(it == model.end() ? "<not found>" : it->second, GetOr(*txn, ks, key));
      } else if (what == 17) {
        ASSERT_OK(txn->Savepoint(1));
        at_savepoint = model;
        has_savepoint = true;
      } else if (what == 18 && has_savepoint) {
        ASSERT_OK(txn->RollbackTo(1));
        model = at_savepoint;
      }
    }
    EXPECT_EQ(AsKeyValues(model), Scan(*txn, ks));
    if (rng() % 4 == 0) {
      txn->Rollback();
    } else {
      ASSERT_OK(txn->Commit());
      committed = model;
      created = true;
    }
    check_committed(*engine_, "round " + std::to_string(round));
    if (HasFailure()) return;
  }
  ASSERT_OK(engine_->Compact());
  check_committed(*engine_, "after Compact");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> fresh, OpenWrapped());
  check_committed(*fresh, "after reopening");
}

TEST_P(ZstdLayerTest, IncompressibleValuesCostOneByteEach) {
  std::mt19937_64 rng(1);
  std::map<std::string, std::string> rows;
  for (int i = 0; i < 300; ++i) rows["k" + std::to_string(i)] = RandomBytes(rng, 100 + rng() % 2000);
  PutAll("t", rows);
  ASSERT_OK_AND_ASSIGN(ValueByteCounts counts, CountValueBytes(*engine_, "t"));
  EXPECT_EQ(300u, counts.values);
  EXPECT_EQ(counts.logical + counts.values, counts.stored);
  EXPECT_LE(counts.stored, counts.logical + counts.logical / 50);  // <= 2%
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
}

TEST_P(ZstdLayerTest, DictionaryShrinksSimilarRowsFarMoreThanPlainZstd) {
  std::mt19937_64 rng(2);
  std::map<std::string, std::string> rows;
  // ~200 KiB: below the automatic training threshold, so plain zstd per value.
  for (int i = 0; i < 500; ++i) rows["row" + std::to_string(10000 + i)] = JsonRow(rng, i);
  PutAll("users", rows);
  ASSERT_OK_AND_ASSIGN(ValueByteCounts plain, CountValueBytes(*engine_, "users"));
  ASSERT_OK(engine_->Compact());  // trains the keyspace's dictionary, rewrites
  ASSERT_OK_AND_ASSIGN(ValueByteCounts with_dict, CountValueBytes(*engine_, "users"));
  EXPECT_EQ(plain.logical, with_dict.logical);
  EXPECT_LT(with_dict.stored * 2, plain.stored)
      << "logical " << plain.logical << ", plain zstd " << plain.stored << ", with dictionary "
      << with_dict.stored;
  EXPECT_LT(with_dict.stored * 4, with_dict.logical);
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "users"));
}

// Compact() trains on samples from the whole keyspace. In "mixed", 4.5 MiB
// of JSON rows (more than a retrain samples) come before 2 MiB of log lines
// in key order: a dictionary of the first values only would know nothing of
// the log lines, and they would take far more bytes than in "logs", a
// keyspace of such lines alone.
TEST_P(ZstdLayerTest, RetrainingSamplesTheWholeKeyspace) {
  std::mt19937_64 rng(4);
  auto key = [](char prefix, int i) {
    std::string digits = std::to_string(i);
    return std::string(1, prefix) + std::string(8 - digits.size(), '0') + digits;
  };
  auto fill = [&](std::map<std::string, std::string>* rows, char prefix, size_t bytes, bool json) {
    size_t total = 0;
    for (int i = 0; total < bytes; ++i) {
      std::string value = json ? JsonRow(rng, i) : LogLine(rng);
      total += value.size();
      (*rows)[key(prefix, i)] = std::move(value);
    }
  };
  std::map<std::string, std::string> mixed, json, logs;
  fill(&mixed, 'a', 4608 << 10, /*json=*/true);
  fill(&mixed, 'b', 2 << 20, /*json=*/false);
  fill(&json, 'a', 1 << 20, /*json=*/true);
  fill(&logs, 'a', 1 << 20, /*json=*/false);
  PutAll("mixed", mixed);
  PutAll("json", json);
  PutAll("logs", logs);
  ASSERT_OK(engine_->Compact());
  // What "mixed" takes if each half compresses as well as in its own keyspace.
  ExpectStoredAsInKeyspacesOfOneKind(
      "mixed", mixed, [](size_t, const std::string& key) { return key[0] == 'a'; });
  EXPECT_EQ(AsKeyValues(mixed), ScanAll(*engine_, "mixed"));
}

// Compact() draws its samples at random, not every k-th row. In "alternating"
// JSON rows and log lines take turns in key order, 6 MiB of them (more than
// a retrain samples, so it keeps only part): a sample of every second row
// would hold JSON rows only, and the log lines would take far more bytes
// than in "logs", a keyspace of such lines alone.
TEST_P(ZstdLayerTest, RetrainingSamplesRowsAtRandomNotEveryKthRow) {
  std::mt19937_64 rng(5);
  std::map<std::string, std::string> alternating, json, logs;
  size_t total = 0;
  for (int i = 0; total < (6u << 20); ++i) {
    std::string value = i % 2 == 0 ? JsonRow(rng, i) : LogLine(rng);
    total += value.size();
    alternating["r" + std::to_string(100000 + i)] = std::move(value);
  }
  for (int i = 0; i < 2500; ++i) json["r" + std::to_string(100000 + i)] = JsonRow(rng, i);
  for (int i = 0; i < 2500; ++i) logs["r" + std::to_string(100000 + i)] = LogLine(rng);
  PutAll("alternating", alternating);
  PutAll("json", json);
  PutAll("logs", logs);
  ASSERT_OK(engine_->Compact());
  ExpectStoredAsInKeyspacesOfOneKind("alternating", alternating,
                                     [](size_t i, const std::string&) { return i % 2 == 0; });
  EXPECT_EQ(AsKeyValues(alternating), ScanAll(*engine_, "alternating"));
}

// Retraining rewrites a large keyspace in several transactions, so that the
// memory it needs does not grow with the table. A commit that fails between
// them leaves every value readable (under the old dictionary or the new)
// and both dictionaries kept; the next retrain finishes and keeps only its
// own.
TEST_P(ZstdLayerTest, RetrainingRewritesInStepsAndSurvivesAFailedStep) {
  int commits = 0;
  int fail_at = 0;
  CountedEngine* counted = nullptr;
  {
    Result<std::unique_ptr<Engine>> inner = Engine::Open(GetParam(), options_);
    ASSERT_TRUE(inner.ok()) << inner.status().ToString();
    auto wrapper = std::make_unique<CountedEngine>(std::move(*inner), &commits, &fail_at);
    counted = wrapper.get();
    Options zstd = options_;
    zstd.compression = Compression::kZstd;
    engine_.reset();
    ASSERT_OK_AND_ASSIGN(engine_, WrapWithZstd(std::move(wrapper), zstd));
  }
  // The dictionaries stored in the hidden keyspace, read below the layer.
  auto dictionaries = [this, counted]() {
    size_t n = 0;
    for (const auto& [key, value] : ScanAll(*counted, std::string(kZstdKeyspace))) {
      n += key.rfind("dict:", 0) == 0 ? 1 : 0;
    }
    return n;
  };
  std::mt19937_64 rng(11);
  std::map<std::string, std::string> rows;
  // About 9.6 MB of rows: three of the retrain's 4 MiB steps.
  for (int i = 0; i < 24000; ++i) rows["r" + std::to_string(100000 + i)] = JsonRow(rng, i);
  PutAll("t", rows);
  ASSERT_EQ(dictionaries(), 1u);  // trained as the rows came in
  commits = 0;
  fail_at = 2;
  EXPECT_STATUS(kIOError, RetrainZstdDictionaries(*engine_));
  EXPECT_EQ(commits, 2);
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
  EXPECT_EQ(dictionaries(), 2u);  // the new one came with the first step
  commits = 0;
  fail_at = 0;
  ASSERT_OK(RetrainZstdDictionaries(*engine_));
  EXPECT_GE(commits, 3);
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
  EXPECT_EQ(dictionaries(), 1u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> reopened, OpenWrapped());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*reopened, "t"));
}

TEST_P(ZstdLayerTest, RetrainingKeepsEveryOlderValueReadable) {
  std::mt19937_64 rng(3);
  std::map<std::string, std::string> rows;
  // Over the threshold in one go: the first rows are stored before the
  // keyspace has a dictionary, the later ones with it.
  for (int i = 0; i < 1200; ++i) rows["a" + std::to_string(10000 + i)] = JsonRow(rng, i);
  PutAll("t", rows);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> before, engine_->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, before->OpenKeyspace("t"));
  // More rows with the first dictionary, then a retrain that replaces it.
  std::map<std::string, std::string> more;
  for (int i = 0; i < 300; ++i) more["b" + std::to_string(10000 + i)] = JsonRow(rng, i);
  PutAll("t", more);
  ASSERT_OK(RetrainZstdDictionaries(*engine_));
  for (int i = 0; i < 300; ++i) more["c" + std::to_string(10000 + i)] = JsonRow(rng, i);
  PutAll("t", more);

  // The snapshot from before the retrain still reads values made with the
  // dictionary the retrain dropped.
  EXPECT_EQ(AsKeyValues(rows), Scan(*before, ks));
  before.reset();
  rows.insert(more.begin(), more.end());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
  // A wrapper with empty caches finds every dictionary in the store.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> fresh, OpenWrapped());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*fresh, "t"));
}

// Insert through the layer, before the keyspace has a dictionary and with
// one: new keys are stored encoded, present ones are refused unchanged.
TEST_P(ZstdLayerTest, InsertRefusesPresentKeysBeforeAndAfterTheDictionary) {
  std::mt19937_64 rng(5);
  std::map<std::string, std::string> rows;
  auto insert_round = [&](const std::string& prefix) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("t"));
    for (int i = 0; i < 300; ++i) {
      const std::string key = prefix + std::to_string(10000 + i);
      rows[key] = JsonRow(rng, i);
      ASSERT_OK(txn->Insert(ks, key, rows[key]));
    }
    for (const auto& [key, value] : rows) {
      ASSERT_EQ(CodeName(Status::Code::kConstraint),
                CodeName(txn->Insert(ks, key, "other").code()));
    }
    ASSERT_OK(txn->Commit());
  };
  insert_round("a");
  ASSERT_OK(engine_->Compact());  // trains the keyspace's dictionary
  insert_round("b");
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> fresh, OpenWrapped());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*fresh, "t"));
  ASSERT_OK_AND_ASSIGN(ValueByteCounts counts, CountValueBytes(*engine_, "t"));
  EXPECT_LT(counts.stored * 2, counts.logical);  // stored compressed
}

// Transactions take their zstd contexts from a few the engine keeps; more
// readers at once than it keeps, on snapshots with different dictionaries,
// each read their own values, by cursor on one table and by Get on another
// with a dictionary of its own, interleaved.
TEST_P(ZstdLayerTest, ManyReadersAtOnceEachDecodeTheirSnapshot) {
  std::mt19937_64 rng(7);
  std::map<std::string, std::string> rows;
  std::map<std::string, std::string> other;  // same keys, other values
  for (int i = 0; i < 1200; ++i) {
    rows["a" + std::to_string(10000 + i)] = JsonRow(rng, i);
    other["a" + std::to_string(10000 + i)] = "{\"other\":" + JsonRow(rng, i + 7) + "}";
  }
  PutAll("t", rows);
  PutAll("u", other);
  std::vector<std::unique_ptr<ReadTxn>> readers;
  std::vector<std::map<std::string, std::string>> seen;  // what each reader must see
  for (int r = 0; r < 12; ++r) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine_->BeginRead());
    readers.push_back(std::move(txn));
    seen.push_back(rows);
    // Every third reader sees a retrained table: its values, old and new,
    // use another dictionary than the readers before it.
    std::map<std::string, std::string> more;
    for (int i = 0; i < 50; ++i) more["r" + std::to_string(r * 100 + i)] = JsonRow(rng, i);
    PutAll("t", more);
    if (r % 3 == 2) ASSERT_OK(RetrainZstdDictionaries(*engine_));
    rows.insert(more.begin(), more.end());
  }
  std::vector<std::unique_ptr<Cursor>> cursors;
  for (auto& txn : readers) {
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("t"));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> cursor, txn->NewCursor(ks));
    cursor->SeekToFirst();
    cursors.push_back(std::move(cursor));
  }
  // Round robin: one step of each reader's cursor, and one Get, in turn.
  for (bool any = true; any;) {
    any = false;
    for (size_t r = 0; r < readers.size(); ++r) {
      Cursor& cursor = *cursors[r];
      if (!cursor.Valid()) continue;
      any = true;
      std::string key(cursor.key());
      ASSERT_EQ(seen[r].at(key), std::string(cursor.value())) << "reader " << r << " key " << key;
      auto in_other = other.find(key);
      if (in_other != other.end()) {
        ASSERT_OK_AND_ASSIGN(Keyspace ks, readers[r]->OpenKeyspace("u"));
        std::string got;
        ASSERT_OK(readers[r]->Get(ks, key, &got));
        ASSERT_EQ(in_other->second, got) << "reader " << r << " key " << key;
      }
      cursor.Next();
    }
  }
  for (size_t r = 0; r < readers.size(); ++r) {
    EXPECT_OK(cursors[r]->status());
    ASSERT_OK_AND_ASSIGN(Keyspace ks, readers[r]->OpenKeyspace("t"));
    EXPECT_EQ(AsKeyValues(seen[r]), Scan(*readers[r], ks)) << "reader " << r;
  }
  cursors.clear();
  readers.clear();
  // The contexts they gave back serve the next transactions.
  for (int round = 0; round < 3; ++round) EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
}

// The threads this process runs, from /proc (0 where it cannot tell).
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

// Waits up to two seconds for ThreadCount() to come to `want` (a thread that
// was joined leaves the count a moment after); returns the last count.
int ThreadCountComesTo(int want) {
  int count = ThreadCount();
  for (int i = 0; i < 200 && count != want; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    count = ThreadCount();
  }
  return count;
}

// Entries [from, to) of `model` in key order, or entries from, from - 1, ...,
// to + 1 when from > to.
KeyValues Slice(const KeyValues& model, int from, int to) {
  if (from <= to) return KeyValues(model.begin() + from, model.begin() + to);
  const int last = static_cast<int>(model.size()) - 1;
  return KeyValues(model.rbegin() + (last - from), model.rbegin() + (last - to));
}

// Where `got` first differs from `want` ("" when it does not), as a test
// message that does not print whole tables.
std::string FirstDifference(const KeyValues& want, const KeyValues& got) {
  for (size_t i = 0; i < std::min(want.size(), got.size()); ++i) {
    if (want[i] != got[i]) {
      return "entry " + std::to_string(i) + ": want key " + want[i].first + " (" +
             std::to_string(want[i].second.size()) + " bytes), got key " + got[i].first + " (" +
             std::to_string(got[i].second.size()) + " bytes)";
    }
  }
  if (want.size() != got.size()) {
    return std::to_string(want.size()) + " entries wanted, " + std::to_string(got.size()) + " got";
  }
  return "";
}

// A long scan of a read snapshot decodes ahead on a thread of its own (see
// zstd_scan_ahead.h). Whatever way the cursor is driven, it must give what
// one step at a time gives.
TEST_P(ZstdLayerTest, ScansThatDecodeAheadGiveWhatOneStepAtATimeGives) {
  std::mt19937_64 rng(11);
  std::map<std::string, std::string> rows;
  for (int i = 0; i < 3000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%05d", i);
    rows[key] = RandomValue(rng, i);
  }
  // Values larger than a batch's bytes make batches of one.
  for (int i : {700, 701, 1500}) rows["k" + std::to_string(i) + "x"] = std::string(1300000, 'q');
  PutAll("t", rows);
  const KeyValues model = AsKeyValues(rows);
  const int n = static_cast<int>(model.size());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine_->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("t"));

  // Reads `count` entries with NextEntry (or PrevEntry), checking each
  // against the model from index `at` on; returns the index it ends at.
  auto read = [&](Cursor& c, int at, int count, bool reverse) {
    Bytes key;
    Bytes value;
    KeyValues got;
    for (int i = 0; i < count && (reverse ? c.PrevEntry(&key, &value) : c.NextEntry(&key, &value));
         ++i) {
      got.emplace_back(std::string(key), std::string(value));
    }
    int end = reverse ? at - static_cast<int>(got.size()) : at + static_cast<int>(got.size());
    EXPECT_EQ("", FirstDifference(
                      Slice(model, reverse ? at - 1 : at + 1, reverse ? end - 1 : end + 1), got))
        << "from " << at << (reverse ? " backward" : " forward");
    return end;
  };

  EXPECT_EQ("", FirstDifference(model, Scan(*txn, ks)));
  EXPECT_EQ("", FirstDifference(KeyValues(model.rbegin(), model.rend()),
                                Scan(*txn, ks, /*backward=*/true)));
  {  // NextEntry to the end, and a thread while it reads ahead
    const int threads = ThreadCount();
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
    c->SeekToFirst();
    int at = read(*c, 0, 100, false);
    EXPECT_EQ(threads, ThreadCount()) << "a short scan reads one entry at a time";
    at = read(*c, at, 400, false);
    if (threads > 0 && std::thread::hardware_concurrency() >= 2) {
      EXPECT_EQ(threads + 1, ThreadCount()) << "a long scan decodes ahead";
    }
    at = read(*c, at, n, false);
    EXPECT_EQ(n - 1, at);
    EXPECT_FALSE(c->Valid());
    EXPECT_OK(c->status());
    c->Seek(model[10].first);  // ends the scan, and its thread
    EXPECT_EQ(threads, ThreadCountComesTo(threads));
    ASSERT_TRUE(c->Valid());
    EXPECT_EQ(model[10].second, c->value());
  }
  {  // a turn back, a seek, and a turn forward, each in the middle of a batch
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
    c->SeekToFirst();
    int at = read(*c, 0, 1000, false);
    at = read(*c, at, 600, true);
    EXPECT_EQ(405, read(*c, at, 5, false));
    c->Seek(model[2000].first);
    ASSERT_TRUE(c->Valid());
    EXPECT_EQ(model[2000].first, c->key());
    at = read(*c, 2000, 700, false);
    for (int i = 0; i < 300; ++i) c->Prev();  // Prev/key/value, not PrevEntry
    ASSERT_TRUE(c->Valid());
    EXPECT_EQ(model[at - 300].first, c->key());
    EXPECT_EQ(model[at - 300].second, c->value());
    at = read(*c, at - 300, n, false);
    EXPECT_EQ(n - 1, at);
  }
  {  // Next/key/value, as a bounded SQL scan steps, then destroyed mid-scan
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
    c->SeekToFirst();
    for (int i = 0; i < 1800; ++i) {
      ASSERT_TRUE(c->Valid());
      ASSERT_EQ(model[i].first, c->key());
      ASSERT_EQ(model[i].second, c->value()) << model[i].first;
      c->Next();
    }
  }
  {  // a reverse scan of its own
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
    c->SeekToLast();
    EXPECT_EQ(0, read(*c, n - 1, n, true));
    EXPECT_FALSE(c->Valid());
    EXPECT_OK(c->status());
  }
}

// A child forked while a scan decodes ahead has no copy of the scan's thread.
// Its step must fail at once and its cursor must go without waiting for that
// thread (or the copied mutex and condition variable it may hold); the
// parent's scan goes on. (Not under ThreadSanitizer in CI: it forks a
// process with threads.)
TEST_P(ZstdLayerTest, AForkedChildNeitherWaitsForNorUsesTheParentsScanThread) {
  const KeyValues model = PutJsonRows("t", 1500, 13);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine_->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("t"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
  c->SeekToFirst();
  Bytes key;
  Bytes value;
  for (int i = 1; i <= 600; ++i) ASSERT_TRUE(c->NextEntry(&key, &value)) << i;
  const pid_t child = ::fork();
  ASSERT_NE(-1, child);
  if (child == 0) {
    ::alarm(20);  // a wait that never ends shows as SIGALRM
    int code = 0;
    if (c->NextEntry(&key, &value)) code = 2;                          // served the parent's rows
    if (code == 0 && c->status().code() != Status::Code::kNotSupported) code = 3;
    c.reset();
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(child, ::waitpid(child, &status, 0));
  EXPECT_TRUE(WIFEXITED(status)) << "the child was killed by signal "
                                 << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  if (WIFEXITED(status)) {
    EXPECT_EQ(0, WEXITSTATUS(status));
  }
  for (int i = 601; i < static_cast<int>(model.size()); ++i) {
    ASSERT_TRUE(c->NextEntry(&key, &value)) << i;
    ASSERT_EQ(model[i].first, key);
    ASSERT_EQ(model[i].second, value) << model[i].first;
  }
  EXPECT_FALSE(c->NextEntry(&key, &value));
  EXPECT_OK(c->status());
}

// A damaged stored value stops a scan with Corruption at that value, whether
// the scan decodes one step at a time or ahead, and loses none before it.
TEST_P(ZstdLayerTest, ADamagedValueStopsAScanAtThatValue) {
  const KeyValues model = PutJsonRows("t", 2000, 12);
  // Written below the layer: a dictionary that does not exist, a frame cut
  // short (its header holds, its body does not), a frame header zstd cannot
  // read, and a header of no known kind.
  std::string frame(ZSTD_compressBound(model[0].second.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), model[0].second.data(),
                             model[0].second.size(), 3));
  const std::vector<std::pair<int, std::string>> damage = {
      {40, std::string("\x02\x63", 2) + "garbage"},
      {600, "\x01" + frame.substr(0, frame.size() - 8)},
      {1100, std::string("\x01", 1) + "not a zstd frame at all"},
      {1600, std::string("\x09", 1) + "unknown"}};
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> inner, Engine::Open(GetParam(), options_));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, inner->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("t"));
    for (const auto& [at, stored] : damage) ASSERT_OK(txn->Put(ks, model[at].first, stored));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine_->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("t"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> c, txn->NewCursor(ks));
  for (const auto& [at, stored] : damage) {
    // From far enough before it that the scan reads ahead when it gets there.
    c->Seek(model[std::max(0, at - 400)].first);
    Bytes key;
    Bytes value;
    int i = std::max(0, at - 400);
    ASSERT_TRUE(c->Valid());
    EXPECT_EQ(model[i].second, c->value());
    while (c->NextEntry(&key, &value)) {
      ++i;
      ASSERT_EQ(model[i].first, key);
      ASSERT_EQ(model[i].second, value) << model[i].first;
    }
    EXPECT_EQ(at - 1, i);
    EXPECT_FALSE(c->Valid());
    EXPECT_EQ(Status::Code::kCorruption, c->status().code()) << c->status().ToString();
    EXPECT_NE(std::string::npos, c->status().ToString().find("value of a cursor"))
        << c->status().ToString();
  }
}

TEST_P(ZstdLayerTest, DictionaryKeyspaceIsHiddenAndReserved) {
  std::mt19937_64 rng(4);
  std::map<std::string, std::string> rows;
  for (int i = 0; i < 800; ++i) rows["k" + std::to_string(i)] = JsonRow(rng, i);
  PutAll("t", rows);  // trains a dictionary, so the reserved keyspace exists
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, txn->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>{"t"}, names);
  EXPECT_STATUS(kNotFound, txn->OpenKeyspace(kZstdKeyspace));
  EXPECT_STATUS(kInvalidArgument, txn->CreateKeyspace(kZstdKeyspace));
  EXPECT_STATUS(kInvalidArgument, txn->DropKeyspace(kZstdKeyspace));

  // The inner engine, unwrapped, shows where the dictionary lives.
  txn.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> inner, Engine::Open(GetParam(), options_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> raw, inner->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace dicts, raw->OpenKeyspace(kZstdKeyspace));
  KeyValues entries = Scan(*raw, dicts);
  ASSERT_EQ(3u, entries.size());  // dict:<id>, ks:t, next
  EXPECT_EQ(std::string("dict:\0\0\0\0\0\0\0\1", 13), entries[0].first);
  EXPECT_EQ("ks:t", entries[1].first);
  EXPECT_EQ("next", entries[2].first);
}

TEST_P(ZstdLayerTest, DroppingAKeyspaceDropsItsDictionaries) {
  std::mt19937_64 rng(5);
  std::map<std::string, std::string> rows;
  for (int i = 0; i < 800; ++i) rows["k" + std::to_string(i)] = JsonRow(rng, i);
  PutAll("gone", rows);
  PutAll("kept", rows);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
    ASSERT_OK(txn->DropKeyspace("gone"));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> inner, Engine::Open(GetParam(), options_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> raw, inner->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace dicts, raw->OpenKeyspace(kZstdKeyspace));
  std::vector<std::string> keys;
  for (const auto& [key, value] : Scan(*raw, dicts)) keys.push_back(key);
  ASSERT_EQ(3u, keys.size());  // only kept's dictionary (id 2), its list, next
  EXPECT_EQ(std::string("dict:\0\0\0\0\0\0\0\2", 13), keys[0]);
  EXPECT_EQ("ks:kept", keys[1]);
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "kept"));
}

TEST_P(ZstdLayerTest, DictionaryTrainedInsideARolledBackSavepointIsForgotten) {
  std::mt19937_64 rng(6);
  std::map<std::string, std::string> rows;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine_->BeginWrite(milliseconds(0)));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("t"));
  ASSERT_OK(txn->Savepoint(1));
  for (int i = 0; i < 800; ++i) ASSERT_OK(txn->Put(ks, "x" + std::to_string(i), JsonRow(rng, i)));
  ASSERT_OK(txn->RollbackTo(1));
  for (int i = 0; i < 800; ++i) {
    rows["y" + std::to_string(i)] = JsonRow(rng, i);
    ASSERT_OK(txn->Put(ks, "y" + std::to_string(i), rows["y" + std::to_string(i)]));
  }
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*engine_, "t"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> fresh, OpenWrapped());
  EXPECT_EQ(AsKeyValues(rows), ScanAll(*fresh, "t"));
}

TEST_P(ZstdLayerTest, RegistryWrapsTheEngineWhenAskedForZstd) {
  Options options = options_;
  options.compression = Compression::kZstd;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open(GetParam(), options));
  EXPECT_EQ(GetParam(), engine->name());
  std::string big(10000, 'a');
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("t"));
    ASSERT_OK(txn->Put(ks, "k", big));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(ValueByteCounts counts, CountValueBytes(*engine, "t"));
  EXPECT_EQ(10000u, counts.logical);
  EXPECT_LT(counts.stored, 100u);
  EXPECT_EQ((KeyValues{{"k", big}}), ScanAll(*engine, "t"));
}

TEST(ZstdLayer, CountValueBytesOfAPlainEngineCountsStoredBytes) {
  std::vector<std::string> names = RegisteredEngineNames();
  if (std::find(names.begin(), names.end(), "memory") == names.end()) GTEST_SKIP();
  Options options;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open("memory", options));
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(milliseconds(0)));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("t"));
    ASSERT_OK(txn->Put(ks, "a", "12345"));
    ASSERT_OK(txn->Put(ks, "b", ""));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(ValueByteCounts counts, CountValueBytes(*engine, "t"));
  EXPECT_EQ(2u, counts.values);
  EXPECT_EQ(5u, counts.logical);
  EXPECT_EQ(5u, counts.stored);
}

INSTANTIATE_TEST_SUITE_P(WrappedEngines, ZstdLayerTest, ::testing::ValuesIn(WrappedEngineNames()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ZstdLayerTest);

}  // namespace
}  // namespace manifold
