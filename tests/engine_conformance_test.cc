// The engine conformance suite: every behaviour engine.h promises, checked on
// every engine this build can open (RegisteredEngineNames()), through the
// public interface only. A new engine runs it by being registered.
//
// Each test gets a fresh store at "<fresh temp dir>/store"; engines that store
// data in a file or directory create it there, memory uses it as a name.
// Failures name the engine in the test name (".../memory") and print statuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "conformance_util.h"
#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {
namespace {

using ::manifold::testing::At;
using ::manifold::testing::GetOr;
using ::manifold::testing::KeyValues;
using ::manifold::testing::Scan;
using ::manifold::testing::TempDir;

constexpr auto kNoWait = std::chrono::milliseconds(0);
constexpr auto kTinyWait = std::chrono::milliseconds(5);
constexpr auto kLongWait = std::chrono::milliseconds(60000);
constexpr char kNotFound[] = "<not found>";

class EngineConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
    options_.path = dir_.path() + "/store";
    options_.create_if_missing = true;
    // Commits need not reach the disk for these tests; the durable path is
    // checked by CommitWithFullSyncSurvivesReopen.
    options_.sync = SyncMode::kOff;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(GetParam(), options_));
    caps_ = engine_->capabilities();
  }

  void TearDown() override { engine_.reset(); }

  // Returns a live write transaction, or fails the test.
  std::unique_ptr<WriteTxn> Write() {
    Result<std::unique_ptr<WriteTxn>> txn = engine_->BeginWrite(kLongWait);
    EXPECT_OK(txn);
    return txn.ok() ? std::move(*txn) : nullptr;
  }
  std::unique_ptr<ReadTxn> Read() {
    Result<std::unique_ptr<ReadTxn>> txn = engine_->BeginRead();
    EXPECT_OK(txn);
    return txn.ok() ? std::move(*txn) : nullptr;
  }

  // Commits `entries` into keyspace "ks" (created if absent).
  void CommitEntries(const KeyValues& entries) {
    std::unique_ptr<WriteTxn> txn = Write();
    ASSERT_NE(txn, nullptr);
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
    for (const auto& [key, value] : entries) ASSERT_OK(txn->Put(ks, key, value));
    ASSERT_OK(txn->Commit());
  }

  // Returns keyspace "ks" as `txn` sees it (NotFound fails the test).
  Keyspace OpenKs(ReadTxn& txn, std::string_view name = "ks") {
    Result<Keyspace> ks = txn.OpenKeyspace(name);
    EXPECT_OK(ks);
    return ks.ok() ? *ks : Keyspace{};
  }

  // Returns the committed contents of "ks" as a new reader sees them.
  KeyValues CommittedContents() {
    std::unique_ptr<ReadTxn> txn = Read();
    if (txn == nullptr) return {{"<error>", "BeginRead failed"}};
    Result<Keyspace> ks = txn->OpenKeyspace("ks");
    if (!ks.ok()) return {{"<error>", ks.status().ToString()}};
    return Scan(*txn, *ks);
  }

  // Keys this engine can store: drops the empty key if it cannot.
  std::vector<std::string> Storable(std::vector<std::string> keys) const {
    std::erase_if(keys, [this](const std::string& key) {
      return (key.empty() && !caps_.empty_keys) ||
             (caps_.max_key_size != 0 && key.size() > caps_.max_key_size);
    });
    return keys;
  }

  TempDir dir_;
  Options options_;
  std::unique_ptr<Engine> engine_;
  Capabilities caps_;
};

// ---- Identity ----

TEST_P(EngineConformance, ReportsItsRegisteredNameAndCapabilities) {
  EXPECT_EQ(GetParam(), engine_->name());
  bool found = false;
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name != GetParam()) continue;
    found = true;
    EXPECT_TRUE(info.available);
    EXPECT_FALSE(info.library_version.empty());
    EXPECT_EQ(info.capabilities.persistent, caps_.persistent);
    EXPECT_EQ(info.capabilities.multi_process, caps_.multi_process);
    EXPECT_EQ(info.capabilities.empty_keys, caps_.empty_keys);
    EXPECT_EQ(info.capabilities.max_key_size, caps_.max_key_size);
  }
  EXPECT_TRUE(found);
}

// ---- CRUD ----

TEST_P(EngineConformance, PutGetOverwriteDelete) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "apple", "red"));
  ASSERT_OK(txn->Put(ks, "banana", "yellow"));
  EXPECT_EQ("red", GetOr(*txn, ks, "apple"));
  ASSERT_OK(txn->Put(ks, "apple", "green"));
  EXPECT_EQ("green", GetOr(*txn, ks, "apple"));
  ASSERT_OK(txn->Delete(ks, "banana"));
  EXPECT_EQ(kNotFound, GetOr(*txn, ks, "banana"));
  EXPECT_OK(txn->Delete(ks, "banana"));  // absent: still OK
  EXPECT_OK(txn->Delete(ks, "never-there"));
  ASSERT_OK(txn->Commit());

  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  EXPECT_EQ("green", GetOr(*reader, rks, "apple"));
  EXPECT_EQ(kNotFound, GetOr(*reader, rks, "banana"));
}

// Insert writes only an absent key; a present one is Constraint, changes
// nothing, and leaves the transaction usable (SQL's INSERT relies on it).
TEST_P(EngineConformance, InsertWritesOnlyAnAbsentKeyAndARefusalChangesNothing) {
  CommitEntries({{"apple", "red"}});
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
  EXPECT_CODE(kConstraint, txn->Insert(ks, "apple", "green"));  // committed before
  EXPECT_EQ("red", GetOr(*txn, ks, "apple"));
  ASSERT_OK(txn->Insert(ks, "banana", "yellow"));
  EXPECT_CODE(kConstraint, txn->Insert(ks, "banana", "brown"));  // written by this transaction
  EXPECT_EQ("yellow", GetOr(*txn, ks, "banana"));
  ASSERT_OK(txn->Delete(ks, "apple"));
  ASSERT_OK(txn->Insert(ks, "apple", "green"));  // deleted by this transaction
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Insert(ks, "cherry", "dark"));
  ASSERT_OK(txn->RollbackTo(1));
  ASSERT_OK(txn->Insert(ks, "cherry", "red"));  // its insert was rolled back
  ASSERT_OK(txn->Put(ks, "apple", "yellow"));   // the transaction still writes
  ASSERT_OK(txn->Commit());

  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  EXPECT_EQ("yellow", GetOr(*reader, rks, "apple"));
  EXPECT_EQ("yellow", GetOr(*reader, rks, "banana"));
  EXPECT_EQ("red", GetOr(*reader, rks, "cherry"));
  EXPECT_EQ(3u, Scan(*reader, rks).size());
}

TEST_P(EngineConformance, GetOfMissingKeyIsNotFoundAndLeavesValueUntouched) {
  CommitEntries({{"a", "1"}});
  auto reader = Read();
  Keyspace ks = OpenKs(*reader);
  std::string value = "untouched";
  EXPECT_CODE(kNotFound, reader->Get(ks, "b", &value));
  EXPECT_EQ("untouched", value);
}

TEST_P(EngineConformance, EmptyValuesAndEmptyKeyRoundTrip) {
  std::vector<std::string> keys = Storable({"", "k"});
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (const std::string& key : keys) ASSERT_OK(txn->Put(ks, key, ""));
  ASSERT_OK(txn->Commit());
  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  KeyValues expected;
  for (const std::string& key : keys) {
    std::string value = "x";
    EXPECT_OK(reader->Get(rks, key, &value));
    EXPECT_EQ("", value) << "key '" << key << "'";
    expected.emplace_back(key, "");
  }
  EXPECT_EQ(expected, Scan(*reader, rks));
}

TEST_P(EngineConformance, EmptyKeyFailsCleanlyWhenUnsupported) {
  if (caps_.empty_keys) GTEST_SKIP() << GetParam() << " stores the empty key";
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  EXPECT_CODE(kInvalidArgument, txn->Put(ks, "", "v"));
  // The transaction is still usable.
  ASSERT_OK(txn->Put(ks, "k", "v"));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"k", "v"}}), CommittedContents());
}

TEST_P(EngineConformance, KeysOrderAsUnsignedBytes) {
  // Prefixes of one another, 0x00 and 0xFF bytes, and bytes above 0x7F (which
  // a signed char comparison would put first).
  std::vector<std::string> keys = Storable({
      std::string(""), std::string("\x00", 1), std::string("\x00\x00", 2),
      std::string("\x00\xff", 2), "\x01", "a", std::string("a\x00", 2), "a\x01", "aa", "ab",
      "abc", "b", "\x7f", "\x80", std::string("\x80\x00", 2), "\xfe", "\xff", "\xff\xff", "\xff\xff\xff"});
  std::vector<std::string> shuffled = keys;
  std::mt19937_64 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (const std::string& key : shuffled) ASSERT_OK(txn->Put(ks, key, "v" + key));
  ASSERT_OK(txn->Commit());

  KeyValues expected;  // `keys` is written in unsigned byte order
  for (const std::string& key : keys) expected.emplace_back(key, "v" + key);
  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  EXPECT_EQ(expected, Scan(*reader, rks));
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(expected, Scan(*reader, rks, /*backward=*/true));
}

TEST_P(EngineConformance, LargeValuesRoundTrip) {
  std::mt19937_64 rng(11);
  std::vector<std::string> values;
  for (size_t size : {size_t{1} << 20, (size_t{1} << 20) + 3, size_t{3} << 20}) {
    std::string value(size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    values.push_back(std::move(value));
  }
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_OK(txn->Put(ks, "big" + std::to_string(i), values[i]));
  }
  ASSERT_OK(txn->Put(ks, "small", "s"));
  ASSERT_OK(txn->Commit());

  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  for (size_t i = 0; i < values.size(); ++i) {
    std::string got;
    ASSERT_OK(reader->Get(rks, "big" + std::to_string(i), &got));
    EXPECT_TRUE(got == values[i]) << "value " << i << " of " << values[i].size()
                                  << " bytes came back as " << got.size() << " bytes, different";
  }
  ASSERT_OK_AND_ASSIGN(auto cursor, reader->NewCursor(rks));
  size_t i = 0;
  for (cursor->Seek("big"); cursor->Valid() && cursor->key() != "small"; cursor->Next(), ++i) {
    ASSERT_LT(i, values.size());
    EXPECT_TRUE(cursor->value() == values[i]) << "cursor value " << i << " differs";
  }
  EXPECT_EQ(values.size(), i);
  EXPECT_EQ("small", At(*cursor));
}

TEST_P(EngineConformance, LongKeysRoundTripInOrder) {
  size_t longest = caps_.max_key_size != 0 ? caps_.max_key_size : 1000;
  std::vector<std::string> keys;
  for (size_t size : {size_t{100}, size_t{300}, longest - 1, longest}) {
    if (size > longest) continue;
    keys.push_back(std::string(size, 'k'));
    std::string variant(size, 'k');
    variant.back() = '\x00';
    keys.push_back(variant);
    variant.back() = '\xff';
    keys.push_back(variant);
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (const std::string& key : keys) ASSERT_OK(txn->Put(ks, key, std::to_string(key.size())));
  ASSERT_OK(txn->Commit());
  KeyValues expected;
  for (const std::string& key : keys) expected.emplace_back(key, std::to_string(key.size()));
  EXPECT_EQ(expected, CommittedContents());
}

TEST_P(EngineConformance, KeyLongerThanMaxFailsCleanly) {
  if (caps_.max_key_size == 0) GTEST_SKIP() << GetParam() << " has no key size limit";
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  EXPECT_CODE(kInvalidArgument, txn->Put(ks, std::string(caps_.max_key_size + 1, 'k'), "v"));
  ASSERT_OK(txn->Put(ks, "k", "v"));  // the transaction is still usable
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"k", "v"}}), CommittedContents());
}

TEST_P(EngineConformance, ManyRandomKeysScanInOrderBothWays) {
  std::mt19937_64 rng(3);
  std::map<std::string, std::string> model;
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (int i = 0; i < 5000; ++i) {
    std::string key(1 + rng() % 12, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    std::string value = std::to_string(i);
    ASSERT_OK(txn->Put(ks, key, value));
    model[key] = value;
    if (i % 7 == 0) {  // delete an existing key now and then
      auto victim = model.lower_bound(std::to_string(rng()));
      if (victim != model.end()) {
        ASSERT_OK(txn->Delete(ks, victim->first));
        model.erase(victim);
      }
    }
  }
  ASSERT_OK(txn->Commit());
  KeyValues expected(model.begin(), model.end());
  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  EXPECT_EQ(expected, Scan(*reader, rks));
  std::reverse(expected.begin(), expected.end());
  EXPECT_EQ(expected, Scan(*reader, rks, /*backward=*/true));
}

// ---- Cursors ----

TEST_P(EngineConformance, CursorOnEmptyKeyspaceIsNeverValid) {
  CommitEntries({});
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto cursor, reader->NewCursor(OpenKs(*reader)));
  EXPECT_FALSE(cursor->Valid());  // created unplaced
  cursor->SeekToFirst();
  EXPECT_EQ("<end>", At(*cursor));
  cursor->SeekToLast();
  EXPECT_EQ("<end>", At(*cursor));
  cursor->Seek("a");
  EXPECT_EQ("<end>", At(*cursor));
  cursor->SeekForPrev("a");
  EXPECT_EQ("<end>", At(*cursor));
}

TEST_P(EngineConformance, CursorSeeksLandOnKeysBetweenKeysAndPastBothEnds) {
  CommitEntries({{"b", "2"}, {"d", "4"}, {"f", "6"}});
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto c, reader->NewCursor(OpenKs(*reader)));
  c->Seek("");
  EXPECT_EQ("b", At(*c));
  c->Seek("b");
  EXPECT_EQ("b", At(*c));
  EXPECT_EQ("2", std::string(c->value()));
  c->Seek(std::string("b\x00", 2));
  EXPECT_EQ("d", At(*c));
  c->Seek("c");
  EXPECT_EQ("d", At(*c));
  c->Seek("f");
  EXPECT_EQ("f", At(*c));
  c->Seek("g");
  EXPECT_EQ("<end>", At(*c));
  c->SeekForPrev("a");
  EXPECT_EQ("<end>", At(*c));
  c->SeekForPrev("b");
  EXPECT_EQ("b", At(*c));
  c->SeekForPrev("c");
  EXPECT_EQ("b", At(*c));
  c->SeekForPrev(std::string("d\x00", 2));
  EXPECT_EQ("d", At(*c));
  c->SeekForPrev("\xff");
  EXPECT_EQ("f", At(*c));
  c->SeekToFirst();
  EXPECT_EQ("b", At(*c));
  c->Prev();
  EXPECT_EQ("<end>", At(*c));
  c->SeekToLast();
  EXPECT_EQ("f", At(*c));
  EXPECT_EQ("6", std::string(c->value()));
  c->Next();
  EXPECT_EQ("<end>", At(*c));
  c->Seek("c");  // a cursor past the end can be placed again
  EXPECT_EQ("d", At(*c));
}

TEST_P(EngineConformance, CursorNextAndPrevTurnAround) {
  CommitEntries({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}});
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto c, reader->NewCursor(OpenKs(*reader)));
  c->Seek("b");
  c->Next();
  EXPECT_EQ("c", At(*c));
  c->Prev();
  EXPECT_EQ("b", At(*c));
  c->Prev();
  EXPECT_EQ("a", At(*c));
  c->Next();
  c->Next();
  c->Next();
  EXPECT_EQ("d", At(*c));
  c->Prev();
  EXPECT_EQ("c", At(*c));
  EXPECT_EQ("3", std::string(c->value()));
}

TEST_P(EngineConformance, CursorSeesWritesOfItsTransactionFromItsNextMove) {
  CommitEntries({{"a", "1"}, {"c", "3"}, {"e", "5"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK_AND_ASSIGN(auto c, txn->NewCursor(ks));
  c->Seek("a");
  ASSERT_EQ("a", At(*c));
  ASSERT_OK(txn->Put(ks, "b", "2"));
  c->Next();  // the first key after "a" now
  EXPECT_EQ("b", At(*c));
  EXPECT_EQ("2", std::string(c->value()));
  ASSERT_OK(txn->Delete(ks, "c"));
  ASSERT_OK(txn->Put(ks, "d", "4"));
  c->Next();
  EXPECT_EQ("d", At(*c));
  ASSERT_OK(txn->Delete(ks, "d"));  // the cursor's own key
  c->Next();  // the first key after "d", which is gone
  EXPECT_EQ("e", At(*c));
  ASSERT_OK(txn->Put(ks, "e", "five"));
  c->Prev();
  EXPECT_EQ("b", At(*c));
  c->Next();
  EXPECT_EQ("e", At(*c));
  EXPECT_EQ("five", std::string(c->value()));
  ASSERT_OK(txn->Put(ks, "f", "6"));
  c->Next();
  EXPECT_EQ("f", At(*c));
  ASSERT_OK(txn->Delete(ks, "f"));
  ASSERT_OK(txn->Delete(ks, "e"));
  c->Prev();  // the last key before "f", which is gone
  EXPECT_EQ("b", At(*c));
  c->Seek("c");  // seeks see the current state too
  EXPECT_EQ("<end>", At(*c));
  c.reset();
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), CommittedContents());
}

// `n` random entries: keys of 1 to max_key letters from `first` on (`letters`
// of them), values of up to max_value - 1 copies of a digit (some empty).
std::map<std::string, std::string> RandomModel(std::mt19937_64& rng, int n, size_t max_key,
                                               char first, int letters, size_t max_value) {
  std::map<std::string, std::string> model;
  for (int i = 0; i < n; ++i) {
    std::string key(1 + rng() % max_key, '\0');
    for (char& c : key) c = static_cast<char>(first + rng() % letters);
    model[key] = std::string(rng() % max_value, static_cast<char>('0' + i % 10));
  }
  return model;
}
std::map<std::string, std::string> RandomModel(uint64_t seed, int n, size_t max_key, char first,
                                               int letters, size_t max_value) {
  std::mt19937_64 rng(seed);
  return RandomModel(rng, n, max_key, first, letters, max_value);
}

// NextEntry and PrevEntry walk the keyspace as Next()/Prev() with key() and
// value() do, and end with false and an OK status.
TEST_P(EngineConformance, StepCallsWalkLikeNextAndPrevWithTheirEntries) {
  const std::map<std::string, std::string> model = RandomModel(11, 700, 10, 'a', 26, 40);
  CommitEntries(KeyValues(model.begin(), model.end()));
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto c, reader->NewCursor(OpenKs(*reader)));
  for (bool forward : {true, false}) {
    KeyValues walked;
    if (forward) {
      c->SeekToFirst();
    } else {
      c->SeekToLast();
    }
    ASSERT_TRUE(c->Valid());
    walked.emplace_back(std::string(c->key()), std::string(c->value()));
    Bytes key;
    Bytes value;
    while (forward ? c->NextEntry(&key, &value) : c->PrevEntry(&key, &value)) {
      ASSERT_TRUE(c->Valid());
      ASSERT_EQ(key, c->key());
      ASSERT_EQ(value, c->value());
      walked.emplace_back(std::string(key), std::string(value));
    }
    EXPECT_FALSE(c->Valid());
    EXPECT_OK(c->status());
    KeyValues expected(model.begin(), model.end());
    if (!forward) std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(expected, walked) << (forward ? "forward" : "backward");
  }
  // A cursor past the end steps nowhere.
  Bytes key;
  Bytes value;
  EXPECT_FALSE(c->NextEntry(&key, &value));
  EXPECT_OK(c->status());
}

// The steps see the writes of their transaction, as Next() and Prev() do.
TEST_P(EngineConformance, StepCallsSeeWritesOfTheirTransaction) {
  CommitEntries({{"a", "1"}, {"c", "3"}, {"e", "5"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK_AND_ASSIGN(auto c, txn->NewCursor(ks));
  c->Seek("a");
  ASSERT_EQ("a", At(*c));
  Bytes key;
  Bytes value;
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_TRUE(c->NextEntry(&key, &value));
  EXPECT_EQ("b", key);
  EXPECT_EQ("2", value);
  ASSERT_OK(txn->Delete(ks, "c"));
  ASSERT_OK(txn->Put(ks, "d", "4"));
  ASSERT_TRUE(c->NextEntry(&key, &value));
  EXPECT_EQ("d", key);
  EXPECT_EQ("4", value);
  ASSERT_OK(txn->Delete(ks, "d"));  // the cursor's own key
  ASSERT_OK(txn->Put(ks, "e", "five"));
  ASSERT_TRUE(c->NextEntry(&key, &value));
  EXPECT_EQ("e", key);
  EXPECT_EQ("five", value);
  // Across a savepoint and its rollback (LMDB: another nested transaction).
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "f", "6"));
  ASSERT_TRUE(c->NextEntry(&key, &value));
  EXPECT_EQ("f", key);
  EXPECT_EQ("6", value);
  ASSERT_OK(txn->RollbackTo(1));  // "f" is gone again
  ASSERT_OK(txn->Delete(ks, "b"));
  ASSERT_TRUE(c->PrevEntry(&key, &value));  // the last key before "f"
  EXPECT_EQ("e", key);
  EXPECT_EQ("five", value);
  ASSERT_TRUE(c->PrevEntry(&key, &value));
  EXPECT_EQ("a", key);
  EXPECT_EQ("1", value);
  EXPECT_FALSE(c->PrevEntry(&key, &value));
  EXPECT_OK(c->status());
}

// ReadFrom visits what Seek and NextEntry would, stops at its limit or when
// the visitor says so, and leaves the cursor on the last entry visited.
TEST_P(EngineConformance, ReadFromVisitsWhatSeekAndStepsVisit) {
  std::mt19937_64 rng(12);
  const std::map<std::string, std::string> model = RandomModel(rng, 500, 8, 'b', 24, 30);
  CommitEntries(KeyValues(model.begin(), model.end()));
  std::vector<std::string> targets = {"", "a", "b", "zzz", model.begin()->first,
                                      model.rbegin()->first};
  // Past any key-size limit (LMDB: 511 bytes): orders after its stored prefix.
  targets.push_back(model.begin()->first + std::string(700, 'a'));
  for (int i = 0; i < 60; ++i) {
    auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
    targets.push_back(i % 2 == 0 ? it->first : it->first + "a");
  }
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto c, reader->NewCursor(OpenKs(*reader)));
  for (const std::string& target : targets) {
    for (size_t limit : {size_t{0}, size_t{1}, size_t{2}, size_t{10}, size_t{1000}}) {
      SCOPED_TRACE("target '" + target.substr(0, 20) + "' (" + std::to_string(target.size()) +
                   " bytes), limit " + std::to_string(limit));
      KeyValues expected;
      for (auto it = model.lower_bound(target); it != model.end() && expected.size() < limit; ++it) {
        expected.emplace_back(it->first, it->second);
      }
      KeyValues visited;
      size_t n = c->ReadFrom(target, limit, [&](Bytes key, Bytes value) {
        visited.emplace_back(std::string(key), std::string(value));
        return true;
      });
      EXPECT_EQ(expected, visited);
      EXPECT_EQ(expected.size(), n);
      EXPECT_OK(c->status());
      // Where the cursor stays: on the last entry visited (limit 0: on the
      // first key >= target), and a step goes on from there.
      auto stays = model.lower_bound(target);
      if (n > 0) stays = std::next(model.find(expected.back().first), n == limit ? 0 : 1);
      if (stays == model.end()) {
        EXPECT_FALSE(c->Valid());
        continue;
      }
      ASSERT_TRUE(c->Valid());
      EXPECT_EQ(stays->first, c->key());
      EXPECT_EQ(stays->second, c->value());
      Bytes key;
      Bytes value;
      auto next = std::next(stays);
      ASSERT_EQ(next != model.end(), c->NextEntry(&key, &value));
      if (next != model.end()) {
        EXPECT_EQ(next->first, key);
      }
    }
  }
  // The visitor stops the read: the cursor stays on the entry that said so.
  int calls = 0;
  size_t n = c->ReadFrom("", 100, [&](Bytes, Bytes) { return ++calls < 3; });
  EXPECT_EQ(3u, n);
  ASSERT_TRUE(c->Valid());
  EXPECT_EQ(std::next(model.begin(), 2)->first, c->key());
}

// ReadFrom in a write transaction sees the transaction's writes, also inside
// a savepoint and after its rollback.
TEST_P(EngineConformance, ReadFromSeesWritesOfItsTransaction) {
  CommitEntries({{"a", "1"}, {"c", "3"}, {"e", "5"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK_AND_ASSIGN(auto c, txn->NewCursor(ks));
  auto read = [&](Bytes target, size_t limit) {
    KeyValues visited;
    c->ReadFrom(target, limit, [&](Bytes key, Bytes value) {
      visited.emplace_back(std::string(key), std::string(value));
      return true;
    });
    EXPECT_OK(c->status());
    return visited;
  };
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Delete(ks, "c"));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}, {"e", "5"}}), read("", 10));
  EXPECT_EQ(KeyValues({{"b", "2"}}), read("aa", 1));
  ASSERT_OK(txn->Put(ks, "bb", "22"));  // after the cursor's key: the next step sees it
  Bytes key;
  Bytes value;
  ASSERT_TRUE(c->NextEntry(&key, &value));
  EXPECT_EQ("bb", key);
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "d", "4"));
  EXPECT_EQ(KeyValues({{"d", "4"}, {"e", "5"}}), read("c", 10));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ(KeyValues({{"e", "5"}}), read("c", 10));
  EXPECT_FALSE(c->Valid());
}

// ---- Transactions and isolation ----

TEST_P(EngineConformance, WriteTxnReadsItsOwnWrites) {
  CommitEntries({{"a", "1"}, {"b", "2"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->Put(ks, "a", "one"));
  ASSERT_OK(txn->Delete(ks, "b"));
  EXPECT_EQ("one", GetOr(*txn, ks, "a"));
  EXPECT_EQ(kNotFound, GetOr(*txn, ks, "b"));
  EXPECT_EQ("3", GetOr(*txn, ks, "c"));
  EXPECT_EQ(KeyValues({{"a", "one"}, {"c", "3"}}), Scan(*txn, ks));
  EXPECT_EQ(KeyValues({{"c", "3"}, {"a", "one"}}), Scan(*txn, ks, /*backward=*/true));
}

TEST_P(EngineConformance, ReaderDoesNotSeeUncommittedOrLaterCommittedWrites) {
  CommitEntries({{"a", "1"}, {"b", "2"}});
  auto reader = Read();
  Keyspace rks = OpenKs(*reader);
  ASSERT_OK_AND_ASSIGN(auto cursor, reader->NewCursor(rks));
  cursor->SeekToFirst();
  ASSERT_EQ("a", At(*cursor));

  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK(txn->Put(ks, "a", "changed"));
  ASSERT_OK(txn->Delete(ks, "b"));
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->CreateKeyspace("other"));
  EXPECT_EQ("1", GetOr(*reader, rks, "a"));  // uncommitted
  EXPECT_EQ(kNotFound, GetOr(*reader, rks, "c"));
  ASSERT_OK(txn->Commit());

  // Committed now, but after the reader began.
  EXPECT_EQ("1", GetOr(*reader, rks, "a"));
  EXPECT_EQ("2", GetOr(*reader, rks, "b"));
  EXPECT_EQ(kNotFound, GetOr(*reader, rks, "c"));
  cursor->Next();  // a cursor opened before the commit stays on its snapshot
  EXPECT_EQ("b", At(*cursor));
  EXPECT_EQ("2", std::string(cursor->value()));
  cursor->Next();
  EXPECT_EQ("<end>", At(*cursor));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Scan(*reader, rks));
  ASSERT_OK_AND_ASSIGN(auto names, reader->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>({"ks"}), names);
  EXPECT_CODE(kNotFound, reader->OpenKeyspace("other"));

  EXPECT_EQ(KeyValues({{"a", "changed"}, {"c", "3"}}), CommittedContents());
}

TEST_P(EngineConformance, DestroyingUncommittedWriteTxnRollsBack) {
  CommitEntries({{"a", "1"}});
  {
    auto txn = Write();
    Keyspace ks = OpenKs(*txn);
    ASSERT_OK(txn->Put(ks, "a", "changed"));
    ASSERT_OK(txn->Put(ks, "b", "2"));
    ASSERT_OK(txn->CreateKeyspace("other"));
  }
  EXPECT_EQ(KeyValues({{"a", "1"}}), CommittedContents());
  auto reader = Read();
  EXPECT_CODE(kNotFound, reader->OpenKeyspace("other"));
}

TEST_P(EngineConformance, RollbackDiscardsChangesAndEndsTransaction) {
  CommitEntries({{"a", "1"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK(txn->Put(ks, "b", "2"));
  txn->Rollback();
  EXPECT_CODE(kAborted, txn->Put(ks, "c", "3"));
  EXPECT_CODE(kAborted, txn->Commit());
  txn.reset();
  EXPECT_EQ(KeyValues({{"a", "1"}}), CommittedContents());
}

TEST_P(EngineConformance, CommitThenUseIsAborted) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->Commit());
  std::string value;
  EXPECT_CODE(kAborted, txn->Put(ks, "b", "2"));
  EXPECT_CODE(kAborted, txn->Delete(ks, "a"));
  EXPECT_CODE(kAborted, txn->Get(ks, "a", &value));
  EXPECT_CODE(kAborted, txn->CreateKeyspace("x"));
  EXPECT_CODE(kAborted, txn->DropKeyspace("ks"));
  EXPECT_CODE(kAborted, txn->Savepoint(1));
  EXPECT_CODE(kAborted, txn->Commit());
  txn->Rollback();  // harmless; the commit stands
  txn.reset();
  EXPECT_EQ(KeyValues({{"a", "1"}}), CommittedContents());
}

TEST_P(EngineConformance, CommitWithFullSyncSurvivesReopen) {
  engine_.reset();
  Options options = options_;
  options.sync = SyncMode::kFull;
  ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(GetParam(), options));
  CommitEntries({{"a", "1"}});
  if (caps_.persistent) {
    engine_.reset();
    options.create_if_missing = false;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(GetParam(), options));
  }
  EXPECT_EQ(KeyValues({{"a", "1"}}), CommittedContents());
}

// ---- Savepoints (SQLite's xSavepoint/xRelease/xRollbackTo numbering) ----

TEST_P(EngineConformance, RollbackToSavepointDiscardsLaterWrites) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Put(ks, "a", "changed"));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ("1", GetOr(*txn, ks, "a"));
  EXPECT_EQ(kNotFound, GetOr(*txn, ks, "b"));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Scan(*txn, ks));
}

TEST_P(EngineConformance, NestedSavepointsRollBackLevelByLevel) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "k", "0"));
  ASSERT_OK(txn->Savepoint(0));
  ASSERT_OK(txn->Put(ks, "k", "1"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "k", "2"));
  ASSERT_OK(txn->Savepoint(2));
  ASSERT_OK(txn->Put(ks, "k", "3"));
  ASSERT_OK(txn->RollbackTo(2));
  EXPECT_EQ("2", GetOr(*txn, ks, "k"));
  ASSERT_OK(txn->Put(ks, "k", "3b"));
  ASSERT_OK(txn->RollbackTo(2));  // savepoint 2 stayed open
  EXPECT_EQ("2", GetOr(*txn, ks, "k"));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ("1", GetOr(*txn, ks, "k"));
  ASSERT_OK(txn->RollbackTo(2));  // discarded by RollbackTo(1): nothing changes
  EXPECT_EQ("1", GetOr(*txn, ks, "k"));
  ASSERT_OK(txn->RollbackTo(0));
  EXPECT_EQ("0", GetOr(*txn, ks, "k"));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"k", "0"}}), CommittedContents());
}

TEST_P(EngineConformance, RollbackToSkippedLevelRestoresOldestSavepointAboveIt) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "a", "before"));
  ASSERT_OK(txn->Savepoint(3));  // levels 0..2 skipped (a transaction joined late)
  ASSERT_OK(txn->Put(ks, "b", "after 3"));
  ASSERT_OK(txn->Savepoint(5));
  ASSERT_OK(txn->Put(ks, "c", "after 5"));
  ASSERT_OK(txn->RollbackTo(1));  // back to savepoint 3, which stays open as level 1
  EXPECT_EQ(KeyValues({{"a", "before"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "d", "again"));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ(KeyValues({{"a", "before"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"a", "before"}}), CommittedContents());
}

// Writes and savepoints made before the transaction first reads, then read
// back: an engine that indexes its writes only once they are read (RocksDB)
// must carry every open savepoint across.
TEST_P(EngineConformance, SavepointsSetBeforeTheFirstReadStillRollBack) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->Savepoint(0));
  ASSERT_OK(txn->Savepoint(1));  // two savepoints at one position
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Delete(ks, "a"));
  ASSERT_OK(txn->Savepoint(2));
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->Savepoint(3));  // a savepoint after the last write
  EXPECT_EQ(KeyValues({{"b", "2"}, {"c", "3"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "d", "4"));
  ASSERT_OK(txn->RollbackTo(3));
  EXPECT_EQ(KeyValues({{"b", "2"}, {"c", "3"}}), Scan(*txn, ks));
  ASSERT_OK(txn->RollbackTo(2));
  EXPECT_EQ(KeyValues({{"b", "2"}}), Scan(*txn, ks));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "e", "5"));
  ASSERT_OK(txn->RollbackTo(0));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "f", "6"));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"a", "1"}, {"f", "6"}}), CommittedContents());
}

TEST_P(EngineConformance, WritesAfterRollbackToAreKept) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->RollbackTo(1));
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Savepoint(2));
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->Release(1));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"b", "2"}, {"c", "3"}}), CommittedContents());
}

TEST_P(EngineConformance, ReleaseKeepsChangesButOuterRollbackDiscardsThem) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "base", "0"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->Savepoint(2));
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Release(2));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}, {"base", "0"}}), Scan(*txn, ks));
  ASSERT_OK(txn->RollbackTo(2));  // released: no savepoint at or above 2, nothing changes
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}, {"base", "0"}}), Scan(*txn, ks));
  ASSERT_OK(txn->RollbackTo(1));  // the outer level takes the released changes too
  EXPECT_EQ(KeyValues({{"base", "0"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->Release(1));
  ASSERT_OK(txn->RollbackTo(1));  // nothing open any more
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"base", "0"}, {"c", "3"}}), CommittedContents());
}

TEST_P(EngineConformance, SavepointAtAnOpenLevelReplacesIt) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->Savepoint(2));
  ASSERT_OK(txn->Put(ks, "b", "2"));
  ASSERT_OK(txn->Savepoint(1));  // discards 1 and 2, marks now as 1
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Scan(*txn, ks));
}

TEST_P(EngineConformance, RollbackToWithNoSavepointChangesNothing) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "a", "1"));
  ASSERT_OK(txn->RollbackTo(0));
  ASSERT_OK(txn->Release(0));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Scan(*txn, ks));
}

// ---- Keyspaces ----

TEST_P(EngineConformance, KeyspacesCreateOpenListDrop) {
  auto txn = Write();
  ASSERT_OK(txn->CreateKeyspace("users"));
  ASSERT_OK(txn->CreateKeyspace("events"));
  ASSERT_OK_AND_ASSIGN(Keyspace ab, txn->CreateKeyspace("ab"));
  ASSERT_OK(txn->CreateKeyspace("a"));
  ASSERT_OK(txn->Put(ab, "k", "v"));
  ASSERT_OK_AND_ASSIGN(Keyspace again, txn->CreateKeyspace("ab"));  // existing: same keyspace
  EXPECT_EQ("v", GetOr(*txn, again, "k"));
  ASSERT_OK_AND_ASSIGN(auto names, txn->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>({"a", "ab", "events", "users"}), names);
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("nope"));
  EXPECT_CODE(kNotFound, txn->DropKeyspace("nope"));
  ASSERT_OK(txn->DropKeyspace("events"));
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("events"));
  EXPECT_CODE(kNotFound, txn->DropKeyspace("events"));
  ASSERT_OK(txn->Commit());

  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(names, reader->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>({"a", "ab", "users"}), names);
  ASSERT_OK_AND_ASSIGN(Keyspace rab, reader->OpenKeyspace("ab"));
  EXPECT_EQ("ab", rab.name);
  EXPECT_EQ("v", GetOr(*reader, rab, "k"));
  EXPECT_CODE(kNotFound, reader->OpenKeyspace("events"));
}

TEST_P(EngineConformance, KeyspacesAreIsolatedFromOneAnother) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace a, txn->CreateKeyspace("a"));
  ASSERT_OK_AND_ASSIGN(Keyspace ab, txn->CreateKeyspace("ab"));
  ASSERT_OK_AND_ASSIGN(Keyspace b, txn->CreateKeyspace("b"));
  ASSERT_OK(txn->Put(a, "k", "in a"));
  ASSERT_OK(txn->Put(ab, "k", "in ab"));
  ASSERT_OK(txn->Put(ab, "x", "only ab"));
  ASSERT_OK(txn->Put(b, "k", "in b"));
  ASSERT_OK(txn->Delete(b, "k"));
  ASSERT_OK(txn->Commit());

  auto reader = Read();
  Keyspace ra = OpenKs(*reader, "a");
  Keyspace rab = OpenKs(*reader, "ab");
  Keyspace rb = OpenKs(*reader, "b");
  EXPECT_EQ(KeyValues({{"k", "in a"}}), Scan(*reader, ra));
  EXPECT_EQ(KeyValues({{"k", "in ab"}, {"x", "only ab"}}), Scan(*reader, rab));
  EXPECT_EQ(KeyValues({}), Scan(*reader, rb));
  EXPECT_EQ(KeyValues({{"k", "in a"}}), Scan(*reader, ra, /*backward=*/true));
  ASSERT_OK_AND_ASSIGN(auto c, reader->NewCursor(ra));
  c->Seek("l");  // nothing of "ab" or "b" shows through
  EXPECT_EQ("<end>", At(*c));
  c->SeekForPrev("j");
  EXPECT_EQ("<end>", At(*c));
}

TEST_P(EngineConformance, DropKeyspaceRemovesItsKeysOnly) {
  auto txn = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace a, txn->CreateKeyspace("a"));
  ASSERT_OK_AND_ASSIGN(Keyspace b, txn->CreateKeyspace("b"));
  ASSERT_OK(txn->Put(a, "k", "1"));
  ASSERT_OK(txn->Put(b, "k", "2"));
  ASSERT_OK(txn->Commit());
  txn = Write();
  ASSERT_OK(txn->DropKeyspace("a"));
  ASSERT_OK_AND_ASSIGN(Keyspace fresh, txn->CreateKeyspace("a"));  // same name, new and empty
  EXPECT_EQ(KeyValues({}), Scan(*txn, fresh));
  ASSERT_OK(txn->Commit());
  auto reader = Read();
  EXPECT_EQ(KeyValues({}), Scan(*reader, OpenKs(*reader, "a")));
  EXPECT_EQ(KeyValues({{"k", "2"}}), Scan(*reader, OpenKs(*reader, "b")));
}

TEST_P(EngineConformance, DropKeyspaceInRolledBackTxnKeepsIt) {
  CommitEntries({{"a", "1"}, {"b", "2"}});
  {
    auto txn = Write();
    ASSERT_OK(txn->DropKeyspace("ks"));
    txn->Rollback();
  }
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), CommittedContents());
  {
    auto txn = Write();
    ASSERT_OK(txn->DropKeyspace("ks"));
  }  // destroyed uncommitted
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), CommittedContents());

  auto txn = Write();
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK(txn->DropKeyspace("ks"));
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("ks"));
  ASSERT_OK(txn->RollbackTo(1));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Scan(*txn, ks));
  ASSERT_OK(txn->Put(ks, "c", "3"));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}, {"c", "3"}}), CommittedContents());
}

TEST_P(EngineConformance, CreateKeyspaceInRolledBackSavepointIsGone) {
  auto txn = Write();
  ASSERT_OK(txn->CreateKeyspace("kept"));
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK_AND_ASSIGN(Keyspace gone, txn->CreateKeyspace("gone"));
  ASSERT_OK(txn->Put(gone, "k", "v"));
  ASSERT_OK(txn->RollbackTo(1));
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("gone"));
  ASSERT_OK(txn->Commit());
  auto reader = Read();
  ASSERT_OK_AND_ASSIGN(auto names, reader->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>({"kept"}), names);
}

TEST_P(EngineConformance, DroppedKeyspaceHandleFailsCleanly) {
  CommitEntries({{"a", "1"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK(txn->DropKeyspace("ks"));
  std::string value = "untouched";
  Status get = txn->Get(ks, "a", &value);
  EXPECT_FALSE(get.ok()) << "Get through a dropped keyspace returned OK";
  EXPECT_EQ("untouched", value);
  EXPECT_FALSE(txn->Put(ks, "b", "2").ok()) << "Put through a dropped keyspace returned OK";
  EXPECT_FALSE(txn->Delete(ks, "a").ok()) << "Delete through a dropped keyspace returned OK";
  {
    Result<std::unique_ptr<Cursor>> cursor = txn->NewCursor(ks);
    if (cursor.ok()) {  // an engine may fail at the first move instead
      (*cursor)->SeekToFirst();
      EXPECT_FALSE((*cursor)->Valid());
      EXPECT_FALSE((*cursor)->status().ok()) << "a cursor over a dropped keyspace ended cleanly";
    }
  }
  ASSERT_OK(txn->Commit());

  // And in a later transaction.
  txn = Write();
  EXPECT_FALSE(txn->Put(ks, "b", "2").ok());
  EXPECT_FALSE(txn->Get(ks, "a", &value).ok());
}

TEST_P(EngineConformance, CursorOfDroppedKeyspaceFailsAtItsNextMove) {
  CommitEntries({{"a", "1"}, {"b", "2"}});
  auto txn = Write();
  Keyspace ks = OpenKs(*txn);
  ASSERT_OK_AND_ASSIGN(auto c, txn->NewCursor(ks));
  c->SeekToFirst();
  ASSERT_EQ("a", At(*c));
  ASSERT_OK(txn->DropKeyspace("ks"));
  c->Next();
  EXPECT_FALSE(c->Valid());
  // Either an error, or an empty keyspace; never a key of the dropped one.
  if (c->status().ok()) {
    c->SeekToFirst();
    EXPECT_FALSE(c->Valid());
  }
}

// ---- One writer at a time ----

TEST_P(EngineConformance, SecondWriterIsBusyUntilTheFirstEnds) {
  auto first = Write();
  ASSERT_OK_AND_ASSIGN(Keyspace ks, first->CreateKeyspace("ks"));
  ASSERT_OK(first->Put(ks, "a", "1"));
  // The same thread asks again: Busy after the wait, never a deadlock.
  EXPECT_CODE(kBusy, engine_->BeginWrite(kTinyWait));
  EXPECT_CODE(kBusy, engine_->BeginWrite(kNoWait));
  ASSERT_OK(first->Commit());
  {
    ASSERT_OK_AND_ASSIGN(auto second, engine_->BeginWrite(kTinyWait));
    EXPECT_CODE(kBusy, engine_->BeginWrite(kTinyWait));
  }  // rolled back by its destructor, which also ends it
  ASSERT_OK_AND_ASSIGN(auto third, engine_->BeginWrite(kTinyWait));
  third->Rollback();
  ASSERT_OK_AND_ASSIGN(auto fourth, engine_->BeginWrite(kTinyWait));
  EXPECT_EQ("1", GetOr(*fourth, OpenKs(*fourth), "a"));
}

TEST_P(EngineConformance, SecondHandleOfTheSameStoreSharesDataAndWriteLock) {
  ASSERT_OK_AND_ASSIGN(auto other, Engine::Open(GetParam(), options_));
  CommitEntries({{"a", "1"}});
  {
    ASSERT_OK_AND_ASSIGN(auto reader, other->BeginRead());
    ASSERT_OK_AND_ASSIGN(Keyspace ks, reader->OpenKeyspace("ks"));
    EXPECT_EQ("1", GetOr(*reader, ks, "a"));
  }
  auto first = Write();
  EXPECT_CODE(kBusy, other->BeginWrite(kTinyWait));
  first.reset();
  ASSERT_OK_AND_ASSIGN(auto second, other->BeginWrite(kTinyWait));
  ASSERT_OK(second->Put(OpenKs(*second), "b", "2"));
  ASSERT_OK(second->Commit());
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), CommittedContents());
}

TEST_P(EngineConformance, WaitingWriterProceedsWhenTheFirstEnds) {
  CommitEntries({{"n", "0"}});
  auto first = Write();
  ASSERT_OK(first->Put(OpenKs(*first), "n", "1"));
  Status waiter_status;
  std::string waiter_saw;
  std::thread waiter([&] {
    // Whether this starts before or after the commit below, it must succeed
    // and see the commit.
    Result<std::unique_ptr<WriteTxn>> txn = engine_->BeginWrite(kLongWait);
    waiter_status = txn.status();
    if (!txn.ok()) return;
    Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
    waiter_status = ks.status();
    if (ks.ok()) waiter_saw = GetOr(**txn, *ks, "n");
  });
  ASSERT_OK(first->Commit());
  waiter.join();
  EXPECT_OK(waiter_status);
  EXPECT_EQ("1", waiter_saw);
}

// ---- Opening ----

TEST_P(EngineConformance, OpeningMissingStoreWithoutCreateIsNotFoundAndCreatesNothing) {
  Options options = options_;
  options.path = dir_.path() + "/missing";
  options.create_if_missing = false;
  EXPECT_CODE(kNotFound, Engine::Open(GetParam(), options));
  EXPECT_FALSE(std::filesystem::exists(options.path)) << options.path << " was created";
  EXPECT_CODE(kNotFound, Engine::Open(GetParam(), options));  // and still missing
  options.read_only = true;
  EXPECT_CODE(kNotFound, Engine::Open(GetParam(), options));
  EXPECT_FALSE(std::filesystem::exists(options.path)) << options.path << " was created";
}

TEST_P(EngineConformance, UnknownEngineOptionIsInvalidArgumentNamingIt) {
  Options options = options_;
  options.path = dir_.path() + "/other";
  options.engine_options["no_such_knob"] = "1";
  Result<std::unique_ptr<Engine>> engine = Engine::Open(GetParam(), options);
  EXPECT_CODE(kInvalidArgument, engine);
  EXPECT_NE(std::string::npos, engine.status().message().find("no_such_knob"))
      << engine.status().ToString();
}

TEST_P(EngineConformance, PersistsAcrossCloseAndReopen) {
  if (!caps_.persistent) GTEST_SKIP() << GetParam() << " is not persistent";
  CommitEntries({{"a", "1"}, {"b", "2"}});
  {
    auto txn = Write();  // never committed
    ASSERT_OK(txn->Put(OpenKs(*txn), "c", "3"));
  }
  engine_.reset();
  Options options = options_;
  options.create_if_missing = false;
  ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(GetParam(), options));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), CommittedContents());
}

TEST_P(EngineConformance, NonPersistentStoreLivesWhileAHandleIsOpen) {
  if (caps_.persistent) GTEST_SKIP() << GetParam() << " is persistent";
  CommitEntries({{"a", "1"}});
  Options options = options_;
  options.create_if_missing = false;
  {
    ASSERT_OK_AND_ASSIGN(auto other, Engine::Open(GetParam(), options));  // joins the store
    engine_.reset();
    engine_ = std::move(other);
  }
  EXPECT_EQ(KeyValues({{"a", "1"}}), CommittedContents());
  engine_.reset();  // the last handle: the store is gone
  EXPECT_CODE(kNotFound, Engine::Open(GetParam(), options));
}

TEST_P(EngineConformance, ReadOnlyStoreRejectsWrites) {
  CommitEntries({{"a", "1"}});
  // A persistent store is reopened read-only; a store in memory only exists
  // while a handle is open, so the read-only handle joins the open one.
  if (caps_.persistent) engine_.reset();
  Options options = options_;
  options.read_only = true;
  options.create_if_missing = false;
  ASSERT_OK_AND_ASSIGN(auto read_only, Engine::Open(GetParam(), options));
  {
    Result<std::unique_ptr<WriteTxn>> txn = read_only->BeginWrite(kTinyWait);
    if (txn.ok()) {  // an engine may refuse at the first write instead
      Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
      ASSERT_OK(ks);
      EXPECT_CODE(kReadOnly, (*txn)->Put(*ks, "b", "2"));
    } else {
      EXPECT_CODE(kReadOnly, txn);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto reader, read_only->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, reader->OpenKeyspace("ks"));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Scan(*reader, ks));
}

// ---- Size and compaction ----

TEST_P(EngineConformance, EstimatedSizeCountsCommittedBytesAndCompactKeepsContents) {
  ASSERT_OK_AND_ASSIGN(uint64_t empty_size, engine_->EstimatedSize());
  std::mt19937_64 rng(5);
  std::string value(1 << 20, '\0');
  for (char& c : value) c = static_cast<char>(rng());  // incompressible
  CommitEntries({{"big", value}, {"small", "s"}});
  ASSERT_OK_AND_ASSIGN(uint64_t size, engine_->EstimatedSize());
  EXPECT_GE(size, value.size() / 2) << "empty store: " << empty_size << " bytes";
  ASSERT_OK(engine_->Compact());
  EXPECT_EQ(KeyValues({{"big", value}, {"small", "s"}}), CommittedContents());
}

// ---- Threads ----

TEST_P(EngineConformance, ReadersSeeConsistentSnapshotsBesideAWriter) {
  // The writer moves amounts between accounts, so every committed state has
  // the same total; a reader that saw a torn state would see another total.
  constexpr int kAccounts = 20;
  constexpr int kStart = 1000;
  const int transfers = ::manifold::testing::LongMode() ? 5000 : 300;
  KeyValues accounts;
  for (int i = 0; i < kAccounts; ++i) accounts.emplace_back("acct" + std::to_string(100 + i),
                                                            std::to_string(kStart));
  CommitEntries(accounts);

  std::atomic<bool> writer_done{false};
  Status writer_status;
  std::thread writer([&] {
    std::mt19937_64 rng(17);
    for (int t = 0; t < transfers && writer_status.ok(); ++t) {
      Result<std::unique_ptr<WriteTxn>> txn = engine_->BeginWrite(kLongWait);
      if (!txn.ok()) {
        writer_status = txn.status();
        break;
      }
      Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
      if (!ks.ok()) {
        writer_status = ks.status();
        break;
      }
      std::string from = accounts[rng() % kAccounts].first;
      std::string to = accounts[rng() % kAccounts].first;
      std::string a, b;
      writer_status = (*txn)->Get(*ks, from, &a);
      if (!writer_status.ok()) break;
      int amount = static_cast<int>(rng() % 50);
      writer_status = (*txn)->Put(*ks, from, std::to_string(std::stoi(a) - amount));
      if (!writer_status.ok()) break;
      writer_status = (*txn)->Get(*ks, to, &b);  // after the first Put: from == to works
      if (!writer_status.ok()) break;
      writer_status = (*txn)->Put(*ks, to, std::to_string(std::stoi(b) + amount));
      if (!writer_status.ok()) break;
      if (t % 10 == 9) {
        (*txn)->Rollback();  // readers must not see this one either
      } else {
        writer_status = (*txn)->Commit();
      }
    }
    writer_done = true;
  });

  constexpr int kReaders = 3;
  std::vector<std::string> reader_errors(kReaders);
  std::vector<int> reader_rounds(kReaders, 0);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      // At least a few rounds, and on until the writer is done.
      for (int round = 0; round < 20 || !writer_done; ++round) {
        Result<std::unique_ptr<ReadTxn>> txn = engine_->BeginRead();
        if (!txn.ok()) {
          reader_errors[r] = txn.status().ToString();
          return;
        }
        Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
        if (!ks.ok()) {
          reader_errors[r] = ks.status().ToString();
          return;
        }
        long total = 0;
        int count = 0;
        KeyValues seen = Scan(**txn, *ks, /*backward=*/round % 2 == 1);
        for (const auto& [key, value] : seen) {
          if (key == "<error>") {
            reader_errors[r] = value;
            return;
          }
          total += std::stol(value);
          ++count;
        }
        if (count != kAccounts || total != long{kAccounts} * kStart) {
          reader_errors[r] = "torn snapshot in round " + std::to_string(round) + ": " +
                             std::to_string(count) + " accounts totalling " +
                             std::to_string(total);
          return;
        }
        // A point read of the same snapshot agrees with its scan.
        const auto& [probe_key, probe_value] = seen[round % kAccounts];
        std::string value;
        Status s = (*txn)->Get(*ks, probe_key, &value);
        if (!s.ok() || value != probe_value) {
          reader_errors[r] = "Get of " + probe_key + " disagrees with the scan of the same snapshot: " +
                             s.ToString();
          return;
        }
        reader_rounds[r] = round + 1;
      }
    });
  }
  writer.join();
  for (std::thread& reader : readers) reader.join();
  EXPECT_OK(writer_status);
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ("", reader_errors[r]) << "reader " << r;
    EXPECT_GE(reader_rounds[r], 20) << "reader " << r;
  }
  long total = 0;
  for (const auto& [key, value] : CommittedContents()) total += std::stol(value);
  EXPECT_EQ(long{kAccounts} * kStart, total);
}

// ---- Randomized model test ----

// Random operations on one keyspace, checked against std::map: puts, deletes,
// gets, cursor walks (with writes between moves), savepoints, rollbacks and
// commits, and snapshots held across commits.
TEST_P(EngineConformance, RandomOperationsMatchAnOrderedMapModel) {
  const uint64_t seed = ::manifold::testing::TestSeed(20240601);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with MANIFOLD_SEED=" +
               std::to_string(seed) + ")");
  const int steps = ::manifold::testing::LongMode() ? 200000 : 4000;
  std::mt19937_64 rng(seed);
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };

  // Short keys over a tiny alphabet, so that keys collide, are prefixes of one
  // another and hold the extreme bytes.
  const std::string alphabet("\x00" "ab\xff", 4);
  auto random_key = [&] {
    size_t min_length = caps_.empty_keys ? 0 : 1;
    size_t length = min_length + rng() % (4 - min_length);
    std::string key;
    for (size_t i = 0; i < length; ++i) key += alphabet[rng() % alphabet.size()];
    return key;
  };
  auto random_value = [&] {
    std::string value(chance(2) ? 3000 + rng() % 3000 : rng() % 9, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    return value;
  };

  using Map = std::map<std::string, std::string>;
  Map committed;
  Map working;
  std::vector<std::pair<int, Map>> savepoints;  // the model of SQLite's levels

  CommitEntries({});
  std::unique_ptr<WriteTxn> txn = Write();
  ASSERT_NE(txn, nullptr);
  Keyspace ks = OpenKs(*txn);
  std::unique_ptr<Cursor> cursor;  // a cursor of txn, kept across writes
  std::unique_ptr<ReadTxn> held;   // a snapshot kept across commits
  Map held_model;
  Keyspace held_ks;

  auto expect_at = [&](const char* what, std::optional<std::string> key) {
    std::string want = key.has_value() ? *key : "<end>";
    ASSERT_EQ(want, At(*cursor)) << what;
    if (key.has_value()) {
      ASSERT_EQ(working.at(*key), std::string(cursor->value())) << what;
    }
  };

  for (int step = 0; step < steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    int op = static_cast<int>(rng() % 100);
    if (op < 30) {
      std::string key = random_key(), value = random_value();
      ASSERT_OK(txn->Put(ks, key, value));
      working[key] = value;
    } else if (op < 45) {
      std::string key = random_key();
      ASSERT_OK(txn->Delete(ks, key));
      working.erase(key);
    } else if (op < 55) {
      std::string key = random_key();
      auto it = working.find(key);
      ASSERT_EQ(it == working.end() ? kNotFound : it->second, GetOr(*txn, ks, key));
    } else if (op < 75) {
      // A cursor move, with whatever writes happened since the last one.
      if (cursor == nullptr || !cursor->Valid() || chance(20)) {
        if (cursor == nullptr) {
          ASSERT_OK_AND_ASSIGN(cursor, txn->NewCursor(ks));
        }
        std::string target = random_key();
        switch (rng() % 4) {
          case 0: {
            cursor->Seek(target);
            auto it = working.lower_bound(target);
            expect_at("Seek", it == working.end() ? std::nullopt : std::optional(it->first));
            break;
          }
          case 1: {
            cursor->SeekForPrev(target);
            auto it = working.upper_bound(target);
            expect_at("SeekForPrev",
                      it == working.begin() ? std::nullopt : std::optional(std::prev(it)->first));
            break;
          }
          case 2:
            cursor->SeekToFirst();
            expect_at("SeekToFirst",
                      working.empty() ? std::nullopt : std::optional(working.begin()->first));
            break;
          default:
            cursor->SeekToLast();
            expect_at("SeekToLast",
                      working.empty() ? std::nullopt : std::optional(working.rbegin()->first));
        }
      } else {
        std::string current(cursor->key());
        if (chance(50)) {
          cursor->Next();
          auto it = working.upper_bound(current);
          expect_at("Next", it == working.end() ? std::nullopt : std::optional(it->first));
        } else {
          cursor->Prev();
          auto it = working.lower_bound(current);
          expect_at("Prev",
                    it == working.begin() ? std::nullopt : std::optional(std::prev(it)->first));
        }
      }
    } else if (op < 80) {
      int level = static_cast<int>(rng() % 5);
      cursor.reset();
      ASSERT_OK(txn->Savepoint(level));
      while (!savepoints.empty() && savepoints.back().first >= level) savepoints.pop_back();
      savepoints.emplace_back(level, working);
    } else if (op < 85) {
      int level = static_cast<int>(rng() % 5);
      cursor.reset();
      ASSERT_OK(txn->RollbackTo(level));
      for (size_t i = 0; i < savepoints.size(); ++i) {
        if (savepoints[i].first >= level) {
          savepoints.resize(i + 1);
          savepoints[i].first = level;
          working = savepoints[i].second;
          break;
        }
      }
    } else if (op < 88) {
      int level = static_cast<int>(rng() % 5);
      cursor.reset();
      ASSERT_OK(txn->Release(level));
      while (!savepoints.empty() && savepoints.back().first >= level) savepoints.pop_back();
    } else if (op < 95) {
      // End the transaction: commit mostly, else roll back or drop it.
      cursor.reset();
      int how = static_cast<int>(rng() % 10);
      if (how < 7) {
        ASSERT_OK(txn->Commit());
        committed = working;
      } else if (how < 9) {
        txn->Rollback();
        working = committed;
      } else {
        working = committed;
      }
      txn.reset();
      savepoints.clear();
      ASSERT_EQ(KeyValues(committed.begin(), committed.end()), CommittedContents());
      txn = Write();
      ASSERT_NE(txn, nullptr);
      ks = OpenKs(*txn);
    } else if (op < 98) {
      // A snapshot taken now keeps showing this commit, whatever comes after.
      if (held == nullptr || chance(30)) {
        ASSERT_OK_AND_ASSIGN(held, engine_->BeginRead());
        held_ks = OpenKs(*held);
        held_model = committed;
      }
      ASSERT_EQ(KeyValues(held_model.begin(), held_model.end()), Scan(*held, held_ks));
      std::string key = random_key();
      auto it = held_model.find(key);
      ASSERT_EQ(it == held_model.end() ? kNotFound : it->second, GetOr(*held, held_ks, key));
    } else {
      ASSERT_EQ(KeyValues(working.begin(), working.end()), Scan(*txn, ks));
      KeyValues backward(working.rbegin(), working.rend());
      ASSERT_EQ(backward, Scan(*txn, ks, /*backward=*/true));
    }
  }
  cursor.reset();
  ASSERT_OK(txn->Commit());
  EXPECT_EQ(KeyValues(working.begin(), working.end()), CommittedContents());
}

std::string EngineTestName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

INSTANTIATE_TEST_SUITE_P(AllEngines, EngineConformance, ::testing::ValuesIn(RegisteredEngineNames()),
                         EngineTestName);
// A build with no engine available still compiles and runs this file.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EngineConformance);

}  // namespace
}  // namespace manifold
