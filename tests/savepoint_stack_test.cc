// Tests of SavepointStack (engines/common/savepoint_stack.h): SQLite's
// xSavepoint/xRelease/xRollbackTo level numbering over snapshots of a state.
#include "common/savepoint_stack.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "conformance_util.h"

namespace manifold {
namespace {

TEST(SavepointStack, StartsEmptyAndRollbackToFindsNothing) {
  SavepointStack<std::string> stack;
  EXPECT_TRUE(stack.empty());
  EXPECT_EQ(std::nullopt, stack.RollbackTo(0));
  stack.Release(0);
  EXPECT_TRUE(stack.empty());
}

TEST(SavepointStack, RollbackToReturnsTheStateMarkedAtThatLevel) {
  SavepointStack<std::string> stack;
  stack.Mark(0, "zero");
  stack.Mark(1, "one");
  stack.Mark(2, "two");
  EXPECT_EQ("two", stack.RollbackTo(2));
  EXPECT_EQ("one", stack.RollbackTo(1));
  EXPECT_EQ("zero", stack.RollbackTo(0));
}

TEST(SavepointStack, RollbackToKeepsThatLevelOpenAndDiscardsLaterOnes) {
  SavepointStack<std::string> stack;
  stack.Mark(1, "one");
  stack.Mark(2, "two");
  EXPECT_EQ("one", stack.RollbackTo(1));
  EXPECT_EQ("one", stack.RollbackTo(1));  // still open: can be rolled back to again
  EXPECT_EQ(std::nullopt, stack.RollbackTo(2));  // discarded
  EXPECT_FALSE(stack.empty());
}

TEST(SavepointStack, RollbackToSkippedLevelUsesOldestSavepointAboveIt) {
  SavepointStack<std::string> stack;
  stack.Mark(3, "three");
  stack.Mark(5, "five");
  EXPECT_EQ("three", stack.RollbackTo(1));
  // Savepoint 3 is now open as level 1: a release of level 2 leaves it.
  stack.Release(2);
  EXPECT_EQ("three", stack.RollbackTo(1));
  stack.Release(1);
  EXPECT_TRUE(stack.empty());
}

TEST(SavepointStack, RollbackToAboveEveryLevelFindsNothingAndChangesNothing) {
  SavepointStack<std::string> stack;
  stack.Mark(0, "zero");
  stack.Mark(1, "one");
  EXPECT_EQ(std::nullopt, stack.RollbackTo(2));
  EXPECT_EQ("one", stack.RollbackTo(1));
  EXPECT_EQ("zero", stack.RollbackTo(0));
}

TEST(SavepointStack, MarkAtAnOpenLevelReplacesItAndEveryLevelAbove) {
  SavepointStack<std::string> stack;
  stack.Mark(0, "zero");
  stack.Mark(1, "one");
  stack.Mark(2, "two");
  stack.Mark(1, "one again");
  EXPECT_EQ(std::nullopt, stack.RollbackTo(2));
  EXPECT_EQ("one again", stack.RollbackTo(1));
  EXPECT_EQ("zero", stack.RollbackTo(0));
}

TEST(SavepointStack, MarkAtALowerLevelDiscardsHigherOnes) {
  SavepointStack<std::string> stack;
  stack.Mark(2, "two");
  stack.Mark(4, "four");
  stack.Mark(1, "one");
  EXPECT_EQ("one", stack.RollbackTo(1));
  EXPECT_EQ(std::nullopt, stack.RollbackTo(2));
}

TEST(SavepointStack, ReleaseForgetsThatLevelAndAboveOnly) {
  SavepointStack<std::string> stack;
  stack.Mark(0, "zero");
  stack.Mark(1, "one");
  stack.Mark(2, "two");
  stack.Release(1);
  EXPECT_EQ(std::nullopt, stack.RollbackTo(1));
  EXPECT_EQ("zero", stack.RollbackTo(0));
}

TEST(SavepointStack, ReleaseOfASkippedLevelForgetsTheLevelsAboveIt) {
  SavepointStack<std::string> stack;
  stack.Mark(1, "one");
  stack.Mark(4, "four");
  stack.Release(3);
  EXPECT_EQ(std::nullopt, stack.RollbackTo(2));  // 4 is gone; 1 is below 2
  EXPECT_EQ("one", stack.RollbackTo(1));
}

TEST(SavepointStack, ClearForgetsEverything) {
  SavepointStack<std::string> stack;
  stack.Mark(0, "zero");
  stack.Mark(1, "one");
  stack.Clear();
  EXPECT_TRUE(stack.empty());
  EXPECT_EQ(std::nullopt, stack.RollbackTo(0));
}

TEST(SavepointStack, RollbackToReturnsACopyAndKeepsTheSavedState) {
  SavepointStack<std::vector<int>> stack;
  stack.Mark(0, {1, 2, 3});
  std::optional<std::vector<int>> state = stack.RollbackTo(0);
  ASSERT_TRUE(state.has_value());
  state->push_back(4);
  EXPECT_EQ(std::vector<int>({1, 2, 3}), stack.RollbackTo(0));
}

// The stack against a transcription of SQLite's own rules: a list of
// (level, state) pairs, where a savepoint made at level N discards N and
// above, release of N discards N and above, and rollback to N restores the
// first savepoint at N or above, which stays open renumbered as N.
TEST(SavepointStack, RandomOperationsMatchSqliteRules) {
  const uint64_t seed = ::manifold::testing::TestSeed(42);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with MANIFOLD_SEED=" +
               std::to_string(seed) + ")");
  const int steps = ::manifold::testing::LongMode() ? 1000000 : 20000;
  std::mt19937_64 rng(seed);
  SavepointStack<int> stack;
  std::vector<std::pair<int, int>> model;
  int state = 0;
  for (int step = 0; step < steps; ++step) {
    int level = static_cast<int>(rng() % 6);
    switch (rng() % 4) {
      case 0: {
        state = step;  // a new state, then mark it
        stack.Mark(level, state);
        std::erase_if(model, [level](const auto& entry) { return entry.first >= level; });
        model.emplace_back(level, state);
        break;
      }
      case 1: {
        std::optional<int> got = stack.RollbackTo(level);
        std::optional<int> want;
        for (size_t i = 0; i < model.size(); ++i) {
          if (model[i].first >= level) {
            want = model[i].second;
            model[i].first = level;
            model.resize(i + 1);
            break;
          }
        }
        ASSERT_EQ(want, got) << "RollbackTo(" << level << ") at step " << step;
        if (got.has_value()) state = *got;
        break;
      }
      case 2:
        stack.Release(level);
        std::erase_if(model, [level](const auto& entry) { return entry.first >= level; });
        break;
      default:
        if (rng() % 50 == 0) {
          stack.Clear();
          model.clear();
        }
    }
    ASSERT_EQ(model.empty(), stack.empty()) << "at step " << step;
  }
}

}  // namespace
}  // namespace manifold
