// RecordCodec and RecordReader: exact round trips and bounds-checked parsing.
#include "record_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "value.h"

namespace manifold {
namespace {

uint64_t SeedFromEnv(uint64_t fallback) {
  const char* s = std::getenv("MANIFOLD_SEED");
  return s != nullptr && *s != '\0' ? std::strtoull(s, nullptr, 10) : fallback;
}

int Iterations(int normal, int long_mode) {
  const char* s = std::getenv("MANIFOLD_LONG");
  return s != nullptr && std::string(s) == "1" ? long_mode : normal;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// Same storage class and the same value bit for bit.
::testing::AssertionResult Identical(const ValueRef& want, const ValueRef& got) {
  if (want.type != got.type) {
    return ::testing::AssertionFailure()
           << "type " << TypeName(got.type) << ", want " << TypeName(want.type);
  }
  switch (want.type) {
    case ValueType::kNull:
      return ::testing::AssertionSuccess();
    case ValueType::kInteger:
      if (want.i == got.i) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << got.i << ", want " << want.i;
    case ValueType::kReal:
      if (SameBits(want.r, got.r)) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << got.r << ", want " << want.r;
    case ValueType::kText:
    case ValueType::kBlob:
      if (want.bytes == got.bytes) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << got.bytes.size() << " bytes differ";
  }
  return ::testing::AssertionFailure() << "bad type";
}

void ExpectRoundTrip(const std::vector<ValueRef>& row) {
  std::string record;
  RecordCodec::Encode(row, &record);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(record).ok());
  ASSERT_EQ(static_cast<int>(row.size()), reader.column_count());
  // Read columns in reverse to show each decodes on its own.
  for (int c = reader.column_count() - 1; c >= 0; --c) {
    ValueRef v;
    ASSERT_TRUE(reader.Column(c, &v).ok());
    EXPECT_TRUE(Identical(row[c], v)) << "column " << c;
  }
}

std::vector<ValueRef> EdgeValues() {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const double kInf = std::numeric_limits<double>::infinity();
  std::vector<ValueRef> v = {ValueRef::Null(), ValueRef::Text(""), ValueRef::Blob(""),
                             ValueRef::Text(std::string_view("a\0b", 3)),
                             ValueRef::Blob("\xff\x00")};
  for (int64_t i : {kMin,
                    kMin + 1,
                    int64_t{-(int64_t{1} << 47) - 1},
                    -(int64_t{1} << 47),
                    int64_t{INT32_MIN} - 1,
                    int64_t{INT32_MIN},
                    int64_t{-8388609},
                    int64_t{-8388608},
                    int64_t{-32769},
                    int64_t{-32768},
                    int64_t{-129},
                    int64_t{-128},
                    int64_t{-1},
                    int64_t{0},
                    int64_t{1},
                    int64_t{2},
                    int64_t{127},
                    int64_t{128},
                    int64_t{32767},
                    int64_t{32768},
                    int64_t{8388607},
                    int64_t{8388608},
                    int64_t{INT32_MAX},
                    int64_t{INT32_MAX} + 1,
                    (int64_t{1} << 47) - 1,
                    int64_t{1} << 47,
                    kMax - 1,
                    kMax}) {
    v.push_back(ValueRef::Integer(i));
  }
  for (double r :
       {-kInf, -1e300, -0.0, 0.0, 4.9e-324, 0.1, 1.0, 3.0, 9223372036854775808.0, kInf}) {
    v.push_back(ValueRef::Real(r));
  }
  return v;
}

TEST(RecordCodecTest, EdgeValuesRoundTripWithTheirStorageClass) {
  const std::vector<ValueRef> row = EdgeValues();
  ExpectRoundTrip(row);
  for (const ValueRef& v : row) ExpectRoundTrip({v});
}

TEST(RecordCodecTest, NegativeZeroKeepsItsSignBit) {
  std::string record;
  const ValueRef row[] = {ValueRef::Real(-0.0)};
  RecordCodec::Encode(row, &record);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(record).ok());
  ValueRef v;
  ASSERT_TRUE(reader.Column(0, &v).ok());
  EXPECT_EQ(ValueType::kReal, v.type);
  EXPECT_TRUE(std::signbit(v.r));
}

TEST(RecordCodecTest, LargeBlobAndTextRoundTrip) {
  std::string big(1 << 20, '\0');
  for (size_t k = 0; k < big.size(); ++k) big[k] = static_cast<char>(k * 131 + 7);
  ExpectRoundTrip({ValueRef::Blob(big), ValueRef::Integer(5), ValueRef::Text(big)});
}

TEST(RecordCodecTest, EmptyRowHasNoColumnsAndReadsNull) {
  std::string record;
  RecordCodec::Encode({}, &record);
  EXPECT_EQ(std::string(1, '\0'), record);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(record).ok());
  EXPECT_EQ(0, reader.column_count());
  ValueRef v = ValueRef::Integer(9);
  ASSERT_TRUE(reader.Column(0, &v).ok());
  EXPECT_EQ(ValueType::kNull, v.type);
}

TEST(RecordCodecTest, ColumnsPastTheCountReadAsNull) {
  std::string record;
  const ValueRef row[] = {ValueRef::Integer(1), ValueRef::Text("x")};
  RecordCodec::Encode(row, &record);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(record).ok());
  ValueRef v = ValueRef::Integer(9);
  ASSERT_TRUE(reader.Column(2, &v).ok());
  EXPECT_EQ(ValueType::kNull, v.type);
  ASSERT_TRUE(reader.Column(100, &v).ok());
  EXPECT_EQ(ValueType::kNull, v.type);
  EXPECT_FALSE(reader.Column(-1, &v).ok());
}

TEST(RecordCodecTest, IntegersUseTheSmallestWidth) {
  // Header length, one code, body: 0 and 1 have no body, 127 one byte, 128 two.
  auto size_of = [](int64_t i) {
    std::string record;
    const ValueRef row[] = {ValueRef::Integer(i)};
    RecordCodec::Encode(row, &record);
    return record.size();
  };
  EXPECT_EQ(2u, size_of(0));
  EXPECT_EQ(2u, size_of(1));
  EXPECT_EQ(3u, size_of(127));
  EXPECT_EQ(4u, size_of(128));
  EXPECT_EQ(8u, size_of(int64_t{1} << 40));
  EXPECT_EQ(10u, size_of(std::numeric_limits<int64_t>::min()));
}

TEST(RecordCodecTest, AppendsAfterExistingBytes) {
  std::string record = "prefix";
  const ValueRef row[] = {ValueRef::Text("abc")};
  RecordCodec::Encode(row, &record);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(std::string_view(record).substr(6)).ok());
  ValueRef v;
  ASSERT_TRUE(reader.Column(0, &v).ok());
  EXPECT_EQ("abc", v.bytes);
}

TEST(RecordCodecTest, MalformedHeadersAreCorruption) {
  RecordReader reader;
  auto code_of = [&](std::string_view bytes) { return reader.Open(bytes).code(); };
  const auto kCorruption = Status::Code::kCorruption;
  EXPECT_EQ(kCorruption, code_of(""));                               // no header length
  EXPECT_EQ(kCorruption, code_of("\x80"));                           // truncated varint
  EXPECT_EQ(kCorruption, code_of("\x05\x01"));                       // header past the end
  EXPECT_EQ(kCorruption, code_of(std::string_view("\x01\x06", 2)));  // 8-byte body missing
  EXPECT_EQ(kCorruption, code_of("\x01\x0a"));                       // reserved code 10
  EXPECT_EQ(kCorruption, code_of("\x01\x0b"));                       // reserved code 11
  EXPECT_EQ(kCorruption, code_of("\x01\x08x"));                      // trailing bytes
  EXPECT_EQ(kCorruption, code_of("\x02\x80\x80"));                   // code varint runs past header
  // An absurd text length.
  EXPECT_EQ(kCorruption, code_of("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
  // An 11-byte varint.
  EXPECT_EQ(kCorruption, code_of("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"));
  EXPECT_EQ(0, reader.column_count());
  EXPECT_EQ(Status::Code::kOk, code_of(std::string_view("\x01\x08", 2)));
  EXPECT_EQ(1, reader.column_count());
}

// A stored NaN cannot come from Encode; reading it is Corruption.
TEST(RecordCodecTest, StoredNanIsCorruption) {
  const std::string record("\x01\x07\x7f\xf8\x00\x00\x00\x00\x00\x00", 10);
  RecordReader reader;
  ASSERT_TRUE(reader.Open(record).ok());
  ValueRef v;
  EXPECT_EQ(Status::Code::kCorruption, reader.Column(0, &v).code());
  std::string encoded;
  const ValueRef row[] = {ValueRef::Real(std::nan(""))};
  RecordCodec::Encode(row, &encoded);
  ASSERT_TRUE(reader.Open(encoded).ok());
  ASSERT_TRUE(reader.Column(0, &v).ok());
  EXPECT_EQ(ValueType::kNull, v.type);
}

// `storage` is a deque so that earlier strings never move.
ValueRef RandomValue(std::mt19937_64& rng, std::deque<std::string>& storage) {
  switch (rng() % 6) {
    case 0:
      return ValueRef::Null();
    case 1: {
      // Integers of every width: shift a random word right by 0..63.
      return ValueRef::Integer(static_cast<int64_t>(rng()) >> (rng() % 64));
    }
    case 2: {
      uint64_t bits = rng();
      double r;
      std::memcpy(&r, &bits, sizeof(r));
      return ValueRef::Real(std::isnan(r) ? -0.0 : r);
    }
    case 3:
      return ValueRef::Integer(static_cast<int64_t>(rng() % 3));
    default: {
      std::string s(rng() % 300, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      storage.push_back(std::move(s));
      return rng() % 2 ? ValueRef::Text(storage.back()) : ValueRef::Blob(storage.back());
    }
  }
}

TEST(RecordCodecTest, RandomRowsRoundTrip) {
  const uint64_t seed = SeedFromEnv(20240611);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  RecordReader reader;  // reused, as a cursor does
  const int n = Iterations(5000, 200000);
  for (int k = 0; k < n; ++k) {
    std::deque<std::string> storage;
    std::vector<ValueRef> row(rng() % 70);
    for (ValueRef& v : row) v = RandomValue(rng, storage);
    std::string record;
    RecordCodec::Encode(row, &record);
    ASSERT_TRUE(reader.Open(record).ok());
    ASSERT_EQ(static_cast<int>(row.size()), reader.column_count());
    for (size_t c = 0; c < row.size(); ++c) {
      ValueRef v;
      ASSERT_TRUE(reader.Column(static_cast<int>(c), &v).ok());
      ASSERT_TRUE(Identical(row[c], v)) << "row " << k << " column " << c;
    }
  }
}

// Truncated and mutated records never crash or read out of bounds (ASan
// watches); whatever opens has every column readable inside the record.
TEST(RecordCodecTest, TruncatedAndGarbageRecordsNeverCrash) {
  const uint64_t seed = SeedFromEnv(20240612);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  RecordReader reader;
  const int n = Iterations(50000, 2000000);
  int opened = 0;
  int rejected = 0;
  for (int k = 0; k < n; ++k) {
    std::deque<std::string> storage;
    std::string bytes;
    if (rng() % 4 == 0) {
      bytes.resize(rng() % 24);
      for (char& c : bytes) c = static_cast<char>(rng());
    } else {
      std::vector<ValueRef> row(rng() % 6);
      for (ValueRef& v : row) v = RandomValue(rng, storage);
      RecordCodec::Encode(row, &bytes);
      if (rng() % 2 && !bytes.empty()) {
        bytes.resize(rng() % bytes.size());
      } else if (!bytes.empty()) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
    }
    std::vector<char> heap(bytes.begin(), bytes.end());  // exact size for ASan
    const std::string_view record(heap.data(), heap.size());
    Status s = reader.Open(record);
    if (!s.ok()) {
      ASSERT_EQ(Status::Code::kCorruption, s.code()) << s.ToString();
      ++rejected;
      continue;
    }
    ++opened;
    for (int c = 0; c <= reader.column_count(); ++c) {
      ValueRef v;
      s = reader.Column(c, &v);
      if (!s.ok()) {
        ASSERT_EQ(Status::Code::kCorruption, s.code());
        continue;
      }
      if (v.type == ValueType::kText || v.type == ValueType::kBlob) {
        ASSERT_GE(v.bytes.data(), record.data());
        ASSERT_LE(v.bytes.data() + v.bytes.size(), record.data() + record.size());
      }
    }
  }
  EXPECT_GT(opened, 0);
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace manifold
