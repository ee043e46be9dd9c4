// KeyCodec: round trips, byte order against real SQLite's comparison, and
// decoding of arbitrary bytes.
#include "key_codec.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sqlite_value_oracle.h"
#include "test_env.h"
#include "value.h"

namespace manifold {
namespace {

using ::manifold::testing::Describe;
using ::manifold::testing::Hex;
using ::manifold::testing::Iterations;
using ::manifold::testing::SignOf;
using ::manifold::testing::SqliteComparator;
using ::manifold::testing::TestSeed;

int CompareBytes(const std::string& a, const std::string& b) {
  return SignOf(a.compare(b));  // std::string compares as unsigned char
}

std::vector<Value> EdgeValues() {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t k53 = int64_t{1} << 53;
  const double kInf = std::numeric_limits<double>::infinity();
  std::vector<Value> v;
  v.push_back(Value{});
  for (int64_t i :
       {kMin,       kMin + 1,   kMin + 511, kMin + 512,  kMin + 513, kMin + 1024, kMin + 1025,
        -k53 - 1,   -k53,       -k53 + 1,   int64_t{-1}, int64_t{0}, int64_t{1},  int64_t{2},
        k53 - 1,    k53,        k53 + 1,    k53 + 2,     k53 + 3,    kMax - 1025, kMax - 1024,
        kMax - 513, kMax - 512, kMax - 511, kMax - 1,    kMax}) {
    v.push_back(Value::From(ValueRef::Integer(i)));
  }
  for (double r : {-kInf,
                   -DBL_MAX,
                   -1e300,
                   -9223372036854775808.0 * 2,
                   -9223372036854775808.0,
                   -9223372036854774784.0,
                   -9007199254740994.0,
                   -9007199254740992.0,
                   -1.5,
                   -1.0,
                   -0.5,
                   -DBL_MIN,
                   -4.9e-324,
                   -0.0,
                   0.0,
                   4.9e-324,
                   DBL_MIN,
                   0.1,
                   0.5,
                   1.0,
                   1.5,
                   3.0,
                   9007199254740992.0,
                   9007199254740994.0,
                   9223372036854774784.0,
                   9223372036854775808.0,
                   9223372036854775808.0 * 2,
                   1e300,
                   DBL_MAX,
                   kInf}) {
    v.push_back(Value::From(ValueRef::Real(r)));
  }
  for (std::string s :
       {std::string(""), std::string("\0", 1), std::string("\0\0", 2), std::string("\x01"),
        std::string("a"), std::string("a\0", 2), std::string("a\0b", 3), std::string("a\x01"),
        std::string("ab"), std::string("a\xff"), std::string("\xff"), std::string("\xff\xff"),
        std::string("b")}) {
    v.push_back(Value::From(ValueRef::Text(s)));
    v.push_back(Value::From(ValueRef::Blob(s)));
  }
  return v;
}

std::string Encode(const ValueRef& v, SortOrder order) {
  std::string out;
  KeyCodec::Append(v, order, &out);
  return out;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

TEST(KeyCodecTest, EdgeValuesRoundTripInBothOrders) {
  for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
    for (const Value& v : EdgeValues()) {
      SCOPED_TRACE(Describe(v.ref()) + (order == SortOrder::kAsc ? " ASC" : " DESC"));
      const std::string key = Encode(v.ref(), order) + "tail";
      std::string_view in = key;
      Value out;
      ASSERT_TRUE(KeyCodec::Decode(&in, order, &out).ok());
      EXPECT_EQ("tail", in);
      EXPECT_EQ(0, CompareValues(v.ref(), out.ref())) << Describe(out.ref());
      if (KeyCodec::DecodesExactly(v.ref())) {
        EXPECT_EQ(v.type, out.type);
        EXPECT_EQ(v.i, out.i);
        EXPECT_TRUE(SameBits(v.r, out.r)) << Describe(out.ref());
        EXPECT_EQ(v.bytes, out.bytes);
      } else {
        // An integral REAL comes back as the INTEGER of the same value.
        EXPECT_EQ(ValueType::kReal, v.type);
        EXPECT_EQ(ValueType::kInteger, out.type);
        EXPECT_EQ(static_cast<double>(out.i), v.r);
      }
      std::string_view skip = key;
      ASSERT_TRUE(KeyCodec::Skip(&skip, order).ok());
      EXPECT_EQ("tail", skip);
    }
  }
}

TEST(KeyCodecTest, DecodesExactlyIsFalseOnlyForIntegralReals) {
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Integer(3)));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Real(0.5)));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Real(1e300)));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Real(9223372036854775808.0)));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Real(std::numeric_limits<double>::infinity())));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Text("")));
  EXPECT_TRUE(KeyCodec::DecodesExactly(ValueRef::Null()));
  EXPECT_FALSE(KeyCodec::DecodesExactly(ValueRef::Real(3.0)));
  EXPECT_FALSE(KeyCodec::DecodesExactly(ValueRef::Real(-0.0)));
  EXPECT_FALSE(KeyCodec::DecodesExactly(ValueRef::Real(-9223372036854775808.0)));
}

TEST(KeyCodecTest, EqualNumbersEncodeEqual) {
  for (SortOrder order : {SortOrder::kAsc, SortOrder::kDesc}) {
    EXPECT_EQ(Encode(ValueRef::Integer(1), order), Encode(ValueRef::Real(1.0), order));
    EXPECT_EQ(Encode(ValueRef::Integer(0), order), Encode(ValueRef::Real(-0.0), order));
    EXPECT_EQ(Encode(ValueRef::Real(0.0), order), Encode(ValueRef::Real(-0.0), order));
    EXPECT_EQ(Encode(ValueRef::Integer(int64_t{1} << 62), order),
              Encode(ValueRef::Real(4611686018427387904.0), order));
    EXPECT_NE(Encode(ValueRef::Integer((int64_t{1} << 53) + 1), order),
              Encode(ValueRef::Real(9007199254740992.0), order));
  }
}

TEST(KeyCodecTest, EmptyTextEmptyBlobAndNullAreDistinctAndOrdered) {
  const std::string null = Encode(ValueRef::Null(), SortOrder::kAsc);
  const std::string text = Encode(ValueRef::Text(""), SortOrder::kAsc);
  const std::string blob = Encode(ValueRef::Blob(""), SortOrder::kAsc);
  EXPECT_LT(null, Encode(ValueRef::Integer(std::numeric_limits<int64_t>::min()), SortOrder::kAsc));
  EXPECT_LT(Encode(ValueRef::Real(std::numeric_limits<double>::infinity()), SortOrder::kAsc), text);
  EXPECT_LT(text, Encode(ValueRef::Text(std::string("\0", 1)), SortOrder::kAsc));
  EXPECT_LT(Encode(ValueRef::Text("\xff\xff"), SortOrder::kAsc), blob);
}

TEST(KeyCodecTest, DescIsTheComplementOfAsc) {
  for (const Value& v : EdgeValues()) {
    const std::string asc = Encode(v.ref(), SortOrder::kAsc);
    std::string desc = Encode(v.ref(), SortOrder::kDesc);
    ASSERT_EQ(asc.size(), desc.size());
    for (char& c : desc) c = static_cast<char>(~c);
    EXPECT_EQ(asc, desc) << Describe(v.ref());
  }
}

TEST(KeyCodecTest, EdgeValuesSortAsSqliteCompares) {
  SqliteComparator sqlite;
  const std::vector<Value> values = EdgeValues();
  for (const Value& a : values) {
    for (const Value& b : values) {
      const int expected = sqlite.Compare(a.ref(), b.ref());
      EXPECT_EQ(expected, SignOf(CompareValues(a.ref(), b.ref())))
          << Describe(a.ref()) << " vs " << Describe(b.ref());
      EXPECT_EQ(expected,
                CompareBytes(Encode(a.ref(), SortOrder::kAsc), Encode(b.ref(), SortOrder::kAsc)))
          << Describe(a.ref()) << " vs " << Describe(b.ref());
      EXPECT_EQ(-expected,
                CompareBytes(Encode(a.ref(), SortOrder::kDesc), Encode(b.ref(), SortOrder::kDesc)))
          << Describe(a.ref()) << " vs " << Describe(b.ref());
    }
  }
}

// Random values concentrated where encodings are delicate: near 2^53 and
// 2^63, integral reals, reals equal to integers, short strings over bytes
// that stress escaping and prefixes.
class ValueGenerator {
 public:
  explicit ValueGenerator(uint64_t seed) : rng_(seed) {}

  Value Next() {
    switch (Pick(8)) {
      case 0:
        return Value{};
      case 1:
        return Value::From(ValueRef::Integer(static_cast<int64_t>(rng_())));
      case 2:
        return Value::From(ValueRef::Integer(NearEdge()));
      case 3: {
        // A real at or next to an integer near an edge.
        const double d = static_cast<double>(NearEdge());
        const int step = Pick(3);
        return Value::From(ValueRef::Real(step == 0   ? d
                                          : step == 1 ? std::nextafter(d, HUGE_VAL)
                                                      : std::nextafter(d, -HUGE_VAL)));
      }
      case 4: {
        uint64_t bits = rng_();
        double r;
        std::memcpy(&r, &bits, sizeof(r));
        if (std::isnan(r)) r = 0.25;
        return Value::From(ValueRef::Real(r));
      }
      case 5:
        return Value::From(ValueRef::Integer(static_cast<int64_t>(Pick(7)) - 3));
      case 6:
        return Value::From(ValueRef::Text(ShortString()));
      default:
        return Value::From(ValueRef::Blob(ShortString()));
    }
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }

  int64_t NearEdge() {
    static constexpr int64_t kBases[] = {0,
                                         int64_t{1} << 53,
                                         -(int64_t{1} << 53),
                                         int64_t{1} << 62,
                                         std::numeric_limits<int64_t>::max(),
                                         std::numeric_limits<int64_t>::min()};
    const int64_t base = kBases[Pick(6)];
    const int64_t offset = static_cast<int64_t>(Pick(4097)) - 2048;
    if (offset > 0 && base > std::numeric_limits<int64_t>::max() - offset) return base;
    if (offset < 0 && base < std::numeric_limits<int64_t>::min() - offset) return base;
    return base + offset;
  }

  std::string ShortString() {
    static constexpr char kBytes[] = {'\0', '\x01', 'a', 'b', '\xfe', '\xff'};
    std::string s(Pick(4), '\0');
    for (char& c : s) c = kBytes[Pick(6)];
    return s;
  }

  std::mt19937_64 rng_;
};

TEST(KeyCodecTest, RandomPairsSortAsSqliteCompares) {
  const uint64_t seed = TestSeed(20240601);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  ValueGenerator gen(seed);
  SqliteComparator sqlite;
  const int n = Iterations(100000, 5000000);
  for (int k = 0; k < n; ++k) {
    const Value a = gen.Next();
    const Value b = gen.Next();
    const int expected = sqlite.Compare(a.ref(), b.ref());
    ASSERT_EQ(expected, SignOf(CompareValues(a.ref(), b.ref())))
        << Describe(a.ref()) << " vs " << Describe(b.ref());
    ASSERT_EQ(expected,
              CompareBytes(Encode(a.ref(), SortOrder::kAsc), Encode(b.ref(), SortOrder::kAsc)))
        << Describe(a.ref()) << " vs " << Describe(b.ref());
    ASSERT_EQ(-expected,
              CompareBytes(Encode(a.ref(), SortOrder::kDesc), Encode(b.ref(), SortOrder::kDesc)))
        << Describe(a.ref()) << " vs " << Describe(b.ref());
  }
}

TEST(KeyCodecTest, RandomCompositeKeysSortAsSqliteComparesColumnByColumn) {
  const uint64_t seed = TestSeed(20240602);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  ValueGenerator gen(seed + 1);
  SqliteComparator sqlite;
  const int n = Iterations(20000, 1000000);
  for (int k = 0; k < n; ++k) {
    const int columns = 1 + static_cast<int>(rng() % 3);
    std::vector<SortOrder> orders;
    std::vector<Value> a, b;
    for (int c = 0; c < columns; ++c) {
      orders.push_back(rng() % 2 ? SortOrder::kAsc : SortOrder::kDesc);
      a.push_back(gen.Next());
      // Often share a column so that later columns decide.
      b.push_back(rng() % 2 ? a.back() : gen.Next());
    }
    int expected = 0;
    std::string ka, kb, trace;
    for (int c = 0; c < columns; ++c) {
      KeyCodec::Append(a[c].ref(), orders[c], &ka);
      KeyCodec::Append(b[c].ref(), orders[c], &kb);
      trace += Describe(a[c].ref()) + " vs " + Describe(b[c].ref()) +
               (orders[c] == SortOrder::kAsc ? " ASC; " : " DESC; ");
      if (expected == 0) {
        expected = sqlite.Compare(a[c].ref(), b[c].ref());
        if (orders[c] == SortOrder::kDesc) expected = -expected;
      }
    }
    ASSERT_EQ(expected, CompareBytes(ka, kb)) << trace;
    // The components of a composite key decode one after another.
    std::string_view in = ka;
    for (int c = 0; c < columns; ++c) {
      Value out;
      ASSERT_TRUE(KeyCodec::Decode(&in, orders[c], &out).ok()) << trace;
      ASSERT_EQ(0, CompareValues(a[c].ref(), out.ref())) << trace;
    }
    EXPECT_TRUE(in.empty());
  }
}

// Decoding never reads out of bounds (ASan watches) and accepts only bytes
// that Append produces: whatever decodes re-encodes to exactly the bytes
// consumed, so one value never has two keys.
TEST(KeyCodecTest, GarbageDecodesToCorruptionOrToItsOwnEncoding) {
  const uint64_t seed = TestSeed(20240603);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  ValueGenerator gen(seed + 1);
  const int n = Iterations(200000, 10000000);
  int decoded = 0;
  for (int k = 0; k < n; ++k) {
    const SortOrder order = rng() % 2 ? SortOrder::kAsc : SortOrder::kDesc;
    std::string bytes;
    if (rng() % 2) {
      // A valid key, mutated.
      KeyCodec::Append(gen.Next().ref(), order, &bytes);
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !bytes.empty(); ++e) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 3) {
          case 0:
            bytes[at] = static_cast<char>(rng());
            break;
          case 1:
            bytes.resize(at);
            break;
          default:
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8)));
        }
      }
    } else {
      bytes.resize(rng() % 16);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (!bytes.empty() && rng() % 2) bytes[0] = "\x05\x15\x25\x35"[rng() % 4];
    }
    // A heap copy of exactly the right size so ASan sees any overread.
    std::vector<char> heap(bytes.begin(), bytes.end());
    std::string_view in(heap.data(), heap.size());
    Value out;
    Status s = KeyCodec::Decode(&in, order, &out);
    if (!s.ok()) {
      ASSERT_EQ(Status::Code::kCorruption, s.code()) << s.ToString();
      EXPECT_EQ(heap.size(), in.size()) << "a failed Decode must not advance";
      continue;
    }
    ++decoded;
    const size_t used = heap.size() - in.size();
    ASSERT_EQ(Hex(std::string_view(heap.data(), used)), Hex(Encode(out.ref(), order)))
        << Describe(out.ref());
    std::string_view skip(heap.data(), heap.size());
    ASSERT_TRUE(KeyCodec::Skip(&skip, order).ok());
    EXPECT_EQ(in.size(), skip.size());
  }
  EXPECT_GT(decoded, 0);
}

TEST(KeyCodecTest, RowidKeysSortAsSignedIntegers) {
  const int64_t values[] = {std::numeric_limits<int64_t>::min(), -256, -1, 0, 1, 255, 256,
                            std::numeric_limits<int64_t>::max()};
  for (size_t k = 0; k < std::size(values); ++k) {
    const std::string key = KeyCodec::EncodeRowid(values[k]);
    ASSERT_EQ(8u, key.size());
    int64_t back = 0;
    ASSERT_TRUE(KeyCodec::DecodeRowid(key, &back).ok());
    EXPECT_EQ(values[k], back);
    if (k > 0) {
      EXPECT_LT(KeyCodec::EncodeRowid(values[k - 1]), key);
    }
    std::string appended = "p";
    KeyCodec::AppendRowid(values[k], &appended);
    EXPECT_EQ("p" + key, appended);
  }
  EXPECT_EQ("8000000000000001", Hex(KeyCodec::EncodeRowid(1)));
  EXPECT_EQ("7fffffffffffffff", Hex(KeyCodec::EncodeRowid(-1)));
}

TEST(KeyCodecTest, DecodeRowidRejectsWrongLengths) {
  int64_t rowid = 7;
  EXPECT_EQ(Status::Code::kCorruption, KeyCodec::DecodeRowid("", &rowid).code());
  EXPECT_EQ(Status::Code::kCorruption, KeyCodec::DecodeRowid("1234567", &rowid).code());
  EXPECT_EQ(Status::Code::kCorruption, KeyCodec::DecodeRowid("123456789", &rowid).code());
  EXPECT_EQ(7, rowid);
}

TEST(KeyCodecTest, PrefixSuccessorIsTheFirstStringPastThePrefix) {
  EXPECT_EQ("b", KeyCodec::PrefixSuccessor("a"));
  EXPECT_EQ("ab", KeyCodec::PrefixSuccessor("aa\xff\xff"));
  EXPECT_EQ(std::string("\x01"), KeyCodec::PrefixSuccessor(std::string("\x00", 1)));
  EXPECT_EQ("", KeyCodec::PrefixSuccessor("\xff\xff"));
  EXPECT_EQ("", KeyCodec::PrefixSuccessor(""));
  // Every key that starts with an encoded component sorts below the successor.
  const std::string prefix = Encode(ValueRef::Text("abc"), SortOrder::kAsc);
  const std::string next = KeyCodec::PrefixSuccessor(prefix);
  EXPECT_LT(prefix + "\xff\xff\xff", next);
  EXPECT_GT(next, prefix);
  EXPECT_LT(next, Encode(ValueRef::Text("abd"), SortOrder::kAsc));
}

}  // namespace
}  // namespace manifold
