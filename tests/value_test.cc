// CompareValues and TypeName, with real SQLite as the judge of order.
#include "value.h"

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

namespace manifold {
namespace {

using ::manifold::testing::Describe;
using ::manifold::testing::Iterations;
using ::manifold::testing::SignOf;
using ::manifold::testing::SqliteComparator;
using ::manifold::testing::TestSeed;

TEST(ValueTest, IntegersAndRealsCompareByExactValue) {
  const int64_t k53 = int64_t{1} << 53;
  // 2^53 + 1 is not a double: it lies strictly between 2^53 and 2^53 + 2.
  EXPECT_GT(CompareValues(ValueRef::Integer(k53 + 1), ValueRef::Real(9007199254740992.0)), 0);
  EXPECT_LT(CompareValues(ValueRef::Integer(k53 + 1), ValueRef::Real(9007199254740994.0)), 0);
  EXPECT_EQ(0, CompareValues(ValueRef::Integer(1), ValueRef::Real(1.0)));
  EXPECT_EQ(0, CompareValues(ValueRef::Integer(0), ValueRef::Real(-0.0)));
  EXPECT_LT(CompareValues(ValueRef::Integer(std::numeric_limits<int64_t>::max()),
                          ValueRef::Real(9223372036854775808.0)),
            0);
  EXPECT_EQ(0, CompareValues(ValueRef::Integer(std::numeric_limits<int64_t>::min()),
                             ValueRef::Real(-9223372036854775808.0)));
  EXPECT_GT(CompareValues(ValueRef::Integer(2), ValueRef::Real(1.5)), 0);
  EXPECT_LT(CompareValues(ValueRef::Integer(-2), ValueRef::Real(-1.5)), 0);
  EXPECT_GT(CompareValues(ValueRef::Real(-1.5), ValueRef::Integer(-2)), 0);
  EXPECT_LT(CompareValues(ValueRef::Integer(std::numeric_limits<int64_t>::max()),
                          ValueRef::Real(std::numeric_limits<double>::infinity())),
            0);
}

TEST(ValueTest, StorageClassesOrderNullNumbersTextBlob) {
  EXPECT_LT(CompareValues(ValueRef::Null(), ValueRef::Integer(std::numeric_limits<int64_t>::min())),
            0);
  EXPECT_LT(
      CompareValues(ValueRef::Real(std::numeric_limits<double>::infinity()), ValueRef::Text("")),
      0);
  EXPECT_LT(CompareValues(ValueRef::Text("\xff"), ValueRef::Blob("")), 0);
  EXPECT_EQ(0, CompareValues(ValueRef::Null(), ValueRef::Null()));
  EXPECT_LT(CompareValues(ValueRef::Text("ab"), ValueRef::Text(std::string_view("ab\0", 3))), 0);
  EXPECT_LT(CompareValues(ValueRef::Blob("\x7f"), ValueRef::Blob("\x80")), 0);  // unsigned bytes
}

TEST(ValueTest, TypeNamesAreSqlites) {
  EXPECT_EQ("NULL", TypeName(ValueType::kNull));
  EXPECT_EQ("INTEGER", TypeName(ValueType::kInteger));
  EXPECT_EQ("REAL", TypeName(ValueType::kReal));
  EXPECT_EQ("TEXT", TypeName(ValueType::kText));
  EXPECT_EQ("BLOB", TypeName(ValueType::kBlob));
}

TEST(ValueTest, RandomNumbersCompareAsSqliteCompares) {
  const uint64_t seed = TestSeed(20240631);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (set MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  auto number = [&]() -> ValueRef {
    static constexpr int64_t kBases[] = {0, int64_t{1} << 53, -(int64_t{1} << 53),
                                         std::numeric_limits<int64_t>::max() - 4096,
                                         std::numeric_limits<int64_t>::min() + 4096};
    const int64_t i = kBases[rng() % 5] + (static_cast<int64_t>(rng() % 8193) - 4096);
    switch (rng() % 5) {
      case 0:
        return ValueRef::Integer(i);
      case 1:
        return ValueRef::Integer(static_cast<int64_t>(rng()));
      case 2:
        return ValueRef::Real(static_cast<double>(i));
      case 3:
        return ValueRef::Real(
            std::nextafter(static_cast<double>(i), rng() % 2 ? HUGE_VAL : -HUGE_VAL));
      default: {
        uint64_t bits = rng();
        double r;
        std::memcpy(&r, &bits, sizeof(r));
        return ValueRef::Real(std::isnan(r) ? -0.0 : r);
      }
    }
  };
  SqliteComparator sqlite;
  const int n = Iterations(50000, 2000000);
  for (int k = 0; k < n; ++k) {
    const ValueRef a = number();
    const ValueRef b = number();
    ASSERT_EQ(sqlite.Compare(a, b), SignOf(CompareValues(a, b)))
        << Describe(a) << " vs " << Describe(b);
    ASSERT_EQ(-SignOf(CompareValues(a, b)), SignOf(CompareValues(b, a)));
  }
}

}  // namespace
}  // namespace manifold
