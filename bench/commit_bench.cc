// The durable single-row commit against its floor, one 4 KiB pwrite +
// fdatasync on the same disk, measured interleaved: rounds of `--batch`
// floor writes and `--batch` commits alternate, so that the disk's mood,
// which moves the floor by 2x within minutes on a shared machine, weighs
// on both alike. Each engine's store first gets `--n` rows (random 24-byte
// keys, 150-byte values, the engine benchmark's workload), then takes
// `--rounds` x `--batch` commits of one random row each, under sync=full.
//
//   ./build/bench/commit_bench [--n=200000] [--rounds=30] [--batch=100] [--warmup=0]
//       [--engines=btree,lmdb,rocksdb,sqlitekv] [--dir=/tmp]
//
// --warmup commits that many rows, untimed, before the rounds.
//
// Prints, per engine, the median and the mean commit and floor and their
// ratios. The mean includes what comes back now and then (the btree's
// checkpoints, RocksDB's flushes), the median does not.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kWait{10000};

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "commit_bench: %s\n", what.c_str());
  std::exit(1);
}
void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Fail(what + ": " + s.ToString());
}
template <typename T>
T Take(Result<T> r, const std::string& what) {
  Check(r.status(), what);
  return std::move(*r);
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
  }
  return fallback;
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// The value below which `q` of v lies (0.5: the median).
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}
double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct Figures {
  std::vector<double> commits, floors;  // seconds per operation
};

Figures Run(const std::string& engine, const std::string& dir, size_t n, int warmup, int rounds,
            int batch) {
  const std::string path = dir + "/" + engine;
  Options options;
  options.path = path;
  options.create_if_missing = true;
  options.sync = SyncMode::kFull;
  std::unique_ptr<Engine> store = Take(Engine::Open(engine, options), "open " + engine);
  std::mt19937_64 rng(20261206);
  Keyspace ks;
  {
    std::unique_ptr<WriteTxn> txn = Take(store->BeginWrite(kWait), "begin");
    ks = Take(txn->CreateKeyspace("bench"), "create keyspace");
    for (size_t i = 0; i < n; ++i) {
      Check(txn->Put(ks, RandomBytes(rng, 24), RandomBytes(rng, 150)), "load");
    }
    Check(txn->Commit(), "commit the load");
  }
  // Untimed commits first: a new btree store writes its log's first 8 MiB
  // as zeros, a step at a time, before it writes records only.
  for (int i = 0; i < warmup; ++i) {
    std::unique_ptr<WriteTxn> txn = Take(store->BeginWrite(kWait), "begin");
    Check(txn->Put(ks, RandomBytes(rng, 24), RandomBytes(rng, 150)), "put");
    Check(txn->Commit(), "commit");
  }
  const std::string probe = dir + "/fsync-probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) Fail("open " + probe);
  const std::string page(4096, 'x');
  Figures f;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < batch; ++i) {
      const Clock::time_point start = Clock::now();
      if (::pwrite(fd, page.data(), page.size(), 0) != 4096 || ::fdatasync(fd) != 0) {
        Fail("pwrite/fdatasync");
      }
      f.floors.push_back(Seconds(start));
    }
    for (int i = 0; i < batch; ++i) {
      const std::string key = RandomBytes(rng, 24), value = RandomBytes(rng, 150);
      const Clock::time_point start = Clock::now();
      std::unique_ptr<WriteTxn> txn = Take(store->BeginWrite(kWait), "begin");
      Check(txn->Put(ks, key, value), "put");
      Check(txn->Commit(), "commit");
      f.commits.push_back(Seconds(start));
    }
  }
  ::close(fd);
  ::unlink(probe.c_str());
  store.reset();
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  std::filesystem::remove(path + "-log", ec);
  return f;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? comma : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace
}  // namespace manifold::bench

int main(int argc, char** argv) {
  using namespace manifold::bench;
  const size_t n = std::stoul(Flag(argc, argv, "n", "200000"));
  const int rounds = std::max(1, std::stoi(Flag(argc, argv, "rounds", "30")));
  const int batch = std::max(1, std::stoi(Flag(argc, argv, "batch", "100")));
  const int warmup = std::max(0, std::stoi(Flag(argc, argv, "warmup", "0")));
  std::string dir = Flag(argc, argv, "dir", "/tmp") + "/manifold-commit-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("mkdtemp " + dir);
  std::printf("durable single-row commits against one 4 KiB pwrite + fdatasync, interleaved "
              "(%d rounds of %d each, %zu rows loaded, %d commits before)\n\n",
              rounds, batch, n, warmup);
  std::printf("| engine | commit median (ms) | floor median (ms) | ratio | commit mean (ms) | "
              "floor mean (ms) | ratio | commit p99 (ms) | floor p99 (ms) |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::string& engine :
       SplitList(Flag(argc, argv, "engines", "btree,lmdb,rocksdb,sqlitekv"))) {
    const Figures f = Run(engine, dir, n, warmup, rounds, batch);
    const double cm = Quantile(f.commits, 0.5) * 1e3, fm = Quantile(f.floors, 0.5) * 1e3;
    const double ca = Mean(f.commits) * 1e3, fa = Mean(f.floors) * 1e3;
    const double c99 = Quantile(f.commits, 0.99) * 1e3, f99 = Quantile(f.floors, 0.99) * 1e3;
    std::printf("| %s | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.3f | %.3f |\n",
                engine.c_str(), cm, fm, cm / fm, ca, fa, ca / fa, c99, f99);
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
