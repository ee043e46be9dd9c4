// kill -9 loop on every persistent engine. A child process (this binary run
// again, see child_process.h) commits numbered transactions through SQL on a
// manifold table with sync=full and acknowledges each COMMIT that returned
// SQLITE_OK on a pipe. The parent kills it with SIGKILL at a random moment,
// reopens the database and the store, and checks that every acknowledged
// transaction is there, nothing past the one in flight, no transaction in
// part (the running-sum row equals the sum of the rows present, each
// transaction has all its rows or none), and that manifold_check('t') is ok.
// The next child goes on from that state. The transactions are those of commit_workload.h.
//
// CI: 100 kills per engine, 50 on RocksDB, half as many under
// AddressSanitizer (seed MANIFOLD_SEED, default 7); MANIFOLD_LONG=1: 10^4
// kills per engine.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "commit_workload.h"
#include "manifold/registry.h"
#include "sql_oracle.h"
#include "test_env.h"

namespace manifold::sqltest {
namespace {

using ::manifold::testing::Child;
using ::manifold::testing::DescribeStatus;
using ::manifold::testing::SpawnChild;

// The table keeps the last 100 transactions (see commit_workload.h), so the
// check of a long run does not grow with it.
constexpr int64_t kWindow = 100;

// The child: commits transactions first, first+1, ... until killed, writing
// "n\n" to `fd` after each COMMIT that succeeded. arg: "dir\nfirst".
int WriterMain(const std::string& arg, int fd) {
  std::istringstream in(arg);
  std::string dir;
  int64_t first = 0;
  std::getline(in, dir);
  in >> first;
  RegisterManifold();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((dir + "/main.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    std::fprintf(stderr, "kill9 writer: cannot open %s/main.db\n", dir.c_str());
    return 2;
  }
  sqlite3_busy_timeout(db, 5000);
  for (int64_t n = first;; ++n) {
    char* error = nullptr;
    if (sqlite3_exec(db, TxnSql(n, 0, kWindow).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      std::fprintf(stderr, "kill9 writer: transaction %lld: %s\n", static_cast<long long>(n),
                   error != nullptr ? error : "?");
      return 3;
    }
    std::string ack = std::to_string(n) + "\n";
    if (::write(fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) return 4;
  }
}

MANIFOLD_TEST_CHILD_MAIN(WriterMain);

class Kill9 : public ::testing::TestWithParam<std::string> {
 protected:
  Kill9() { RegisterManifold(); }
  TempDir dir_;
};

TEST_P(Kill9, KilledWriterLosesNoAcknowledgedCommit) {
  // 100 kills take 5-15 s per engine on two shared cores. RocksDB opens the
  // store twice a round (the child and the check), which makes a round
  // 0.2-0.3 s, so CI runs 50 kills on it to stay under 20 s; the long mode
  // runs 10^4 kills on each engine.
  int kills = manifold::testing::Iterations(GetParam() == "rocksdb" ? 50 : 100, 10000);
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer a round takes 3-5 times longer (each child starts
  // a sanitized binary): half the kills keep the sanitizer run of the suite
  // within its time.
  if (!manifold::testing::LongMode()) kills /= 2;
#endif
  const uint64_t seed = manifold::testing::TestSeed(7);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (MANIFOLD_SEED to repeat)");
  std::mt19937_64 rng(seed);
  const std::string& dir = dir_.path();
  ASSERT_NO_FATAL_FAILURE(CreateWorkloadTable(dir, GetParam()));
  std::set<int64_t> acknowledged;
  std::set<int64_t> durable;  // acknowledged, or found after a kill: must stay
  int64_t next = 1;
  int64_t landed_in_flight = 0;
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kills; ++round) {
    Child child = SpawnChild(dir + "\n" + std::to_string(next));
    ASSERT_GT(child.pid, 0);
    std::string acks;
    // A quarter of the kills land anywhere, also while the child opens the
    // store (and recovers it); the others after its first commit.
    auto spawned = std::chrono::steady_clock::now();
    bool open = true;
    if (rng() % 4 != 0) {
      while (open && acks.find('\n') == std::string::npos &&
             std::chrono::steady_clock::now() - spawned < std::chrono::seconds(30)) {
        open = manifold::testing::ReadUntil(child.fd, acks, std::chrono::steady_clock::now() +
                                                                std::chrono::milliseconds(5));
      }
    }
    auto delay = std::chrono::microseconds(1000 + rng() % 40000);
    if (open) manifold::testing::ReadUntil(child.fd, acks, std::chrono::steady_clock::now() + delay);
    ::kill(child.pid, SIGKILL);
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    manifold::testing::ReadAll(child.fd, acks);
    ::close(child.fd);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the writer " << DescribeStatus(status);
    std::istringstream lines(acks);
    int64_t n, last = next - 1;
    while (lines >> n) {
      ASSERT_EQ(last + 1, n) << "acknowledgements out of order";
      acknowledged.insert(n);
      durable.insert(n);
      last = n;
    }
    const int64_t in_flight = last + 1;
    int64_t highest = CheckState(dir, durable, in_flight, kWindow, round);
    if (::testing::Test::HasFailure()) {
      FAIL() << "round " << round << " of " << kills << ", last acknowledged " << last;
    }
    if (highest == in_flight) {
      ++landed_in_flight;
      durable.insert(in_flight);
    }
    next = std::max(highest, last) + 1;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ figures  ] %s: %d kills, %zu acknowledged commits, %lld unacknowledged "
              "commits found after the kill, %.1f s\n",
              GetParam().c_str(), kills, acknowledged.size(),
              static_cast<long long>(landed_in_flight), seconds);
  // The test must have exercised commits, not only opens: three kills in
  // four come after at least one acknowledged commit.
  EXPECT_GE(acknowledged.size(), static_cast<size_t>(kills / 2));
}

INSTANTIATE_TEST_SUITE_P(Engines, Kill9, ::testing::ValuesIn(PersistentEngines()), EngineName());

}  // namespace
}  // namespace manifold::sqltest
