// The memory engine's persistent B+tree against std::map: random puts and
// erases over a key space small enough that they hit existing keys, with
// snapshots (tree copies) taken along the way that must never change, and
// every kind of seek checked at random targets. Enough keys for branches of
// several levels, splits of leaves and branches, and merges after deletes.
#include "memory/persistent_tree.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_env.h"

namespace manifold {
namespace {

using Model = std::map<std::string, std::string>;

std::string Key(uint64_t n) {
  // Fixed width keeps byte order equal to numeric order; a varying tail
  // gives keys of several lengths.
  char buf[32];
  std::snprintf(buf, sizeof(buf), "k%08llu", static_cast<unsigned long long>(n));
  return std::string(buf) + std::string(n % 3, 'x');
}

// Every entry of `tree`, forwards and backwards, equals the model's.
void ExpectSame(const PersistentTree& tree, const Model& model, const std::string& when) {
  ASSERT_EQ(model.size(), tree.size()) << when;
  uint64_t payload = 0;
  for (const auto& [key, value] : model) payload += key.size() + value.size();
  EXPECT_EQ(payload, tree.payload_bytes()) << when;
  TreePath path;
  path.Reset(tree.root());
  path.SeekToFirst();
  for (const auto& [key, value] : model) {
    ASSERT_TRUE(path.Valid()) << when << ": forward scan ended before " << key;
    ASSERT_EQ(key, path.entry().key()) << when;
    ASSERT_EQ(value, path.entry().value()) << when;
    path.Next();
  }
  EXPECT_FALSE(path.Valid()) << when << ": forward scan went past the last key";
  path.SeekToLast();
  for (auto it = model.rbegin(); it != model.rend(); ++it) {
    ASSERT_TRUE(path.Valid()) << when << ": backward scan ended before " << it->first;
    ASSERT_EQ(it->first, path.entry().key()) << when;
    path.Prev();
  }
  EXPECT_FALSE(path.Valid()) << when << ": backward scan went past the first key";
}

// The four seeks at `target` land where the model says.
void ExpectSeeks(const PersistentTree& tree, const Model& model, const std::string& target) {
  TreePath path;
  path.Reset(tree.root());
  auto check = [&](Model::const_iterator want, bool exists, const char* what) {
    if (!exists) {
      EXPECT_FALSE(path.Valid()) << what << " " << target;
      return;
    }
    ASSERT_TRUE(path.Valid()) << what << " " << target << " found nothing";
    EXPECT_EQ(want->first, path.entry().key()) << what << " " << target;
  };
  auto ge = model.lower_bound(target);
  path.SeekAfter(target, /*inclusive=*/true);
  check(ge, ge != model.end(), "first >=");
  auto gt = model.upper_bound(target);
  path.SeekAfter(target, /*inclusive=*/false);
  check(gt, gt != model.end(), "first >");
  path.SeekBefore(target, /*inclusive=*/true);
  check(gt == model.begin() ? model.end() : std::prev(gt), gt != model.begin(), "last <=");
  path.SeekBefore(target, /*inclusive=*/false);
  check(ge == model.begin() ? model.end() : std::prev(ge), ge != model.begin(), "last <");
  // And a step from a seek crosses leaves as a scan does.
  path.SeekAfter(target, /*inclusive=*/true);
  if (path.Valid() && std::next(ge) != model.end()) {
    path.Next();
    ASSERT_TRUE(path.Valid());
    EXPECT_EQ(std::next(ge)->first, path.entry().key());
  }
}

TEST(PersistentTreeTest, RandomWritesMatchAMapAndSnapshotsNeverChange) {
  const uint64_t seed = testing::TestSeed(20261205);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  PersistentTree tree;
  Model model;
  std::vector<std::pair<PersistentTree, Model>> snapshots;
  const uint64_t key_space = 6000;
  const int ops = testing::Iterations(40000, 400000);
  for (int op = 0; op < ops; ++op) {
    const uint64_t n = rng() % key_space;
    const std::string key = Key(n);
    // Phases: mostly puts (the tree grows to thousands of keys), then
    // mostly erases (leaves empty out and merge), then mixed.
    const int erase_percent = op < ops * 3 / 8 ? 10 : (op < ops * 3 / 4 ? 80 : 40);
    if (static_cast<int>(rng() % 100) < erase_percent) {
      const bool present = model.erase(key) == 1;
      EXPECT_EQ(present, tree.Erase(key)) << key;
    } else {
      std::string value = "v" + std::to_string(op) + std::string(rng() % 40, 'v');
      tree.Put(key, value);
      model[key] = std::move(value);
    }
    if (op % 2500 == 0) snapshots.emplace_back(tree, model);
    if (op % 1000 == 999) {
      ASSERT_NO_FATAL_FAILURE(ExpectSame(tree, model, "after op " + std::to_string(op)));
      for (int s = 0; s < 20; ++s) ExpectSeeks(tree, model, Key(rng() % (key_space + 10)));
      ExpectSeeks(tree, model, "");
      ExpectSeeks(tree, model, "l");
    }
  }
  for (size_t i = 0; i < snapshots.size(); ++i) {
    ASSERT_NO_FATAL_FAILURE(
        ExpectSame(snapshots[i].first, snapshots[i].second, "snapshot " + std::to_string(i)));
  }
  // Erasing everything leaves an empty tree that still takes writes.
  for (const auto& [key, value] : Model(model)) ASSERT_TRUE(tree.Erase(key));
  model.clear();
  ExpectSame(tree, model, "after erasing all");
  EXPECT_EQ(nullptr, tree.root());
  tree.Put("a", "1");
  model["a"] = "1";
  ExpectSame(tree, model, "after one put into the emptied tree");
}

// Keys arriving in order fill each node before starting the next (the split
// of an append keeps the left node full), and a copy taken mid-load keeps
// its keys.
TEST(PersistentTreeTest, AscendingLoadPacksLeavesAndKeepsEarlierCopies) {
  PersistentTree tree;
  Model model;
  PersistentTree half;
  Model half_model;
  const int rows = 20 * kTreeFanout * kTreeFanout + 7;  // root, branches, leaves
  for (int i = 0; i < rows; ++i) {
    const std::string key = Key(static_cast<uint64_t>(i));
    tree.Put(key, "v");
    model[key] = "v";
    if (i == rows / 2) {
      half = tree;
      half_model = model;
    }
  }
  ExpectSame(tree, model, "loaded");
  ExpectSame(half, half_model, "copy taken halfway");
  EXPECT_LE(tree.root()->count, kTreeFanout);
  // Packed nodes: each of the root's subtrees but the last holds
  // kTreeFanout^2 entries (half-full nodes would need about four times as
  // many subtrees).
  ASSERT_FALSE(tree.root()->leaf);
  const auto* root = static_cast<const TreeBranch*>(tree.root().get());
  EXPECT_EQ((rows + kTreeFanout * kTreeFanout - 1) / (kTreeFanout * kTreeFanout), root->count);
}

}  // namespace
}  // namespace manifold
