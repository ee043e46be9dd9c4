// The engine benchmark: redb's workload (random 24-byte keys, 150-byte values)
// run through manifold's C++ interface on every available engine in one
// process, printed as ratios to LMDB (the baseline).
//
//   ./build/bench/engine_bench [--n=200000] [--engines=lmdb,btree,rocksdb,memory]
//                              [--dir=/tmp] [--threads=1,2,4]
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Check(const Status& status, const std::string& what) {
  if (!status.ok()) Fail(what + ": " + status.ToString());
}

template <typename T>
T Take(Result<T> result, const std::string& what) {
  if (!result.ok()) Fail(what + ": " + result.status().ToString());
  return std::move(result).value();
}

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

struct Workload {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  std::vector<size_t> read_order;  // a shuffled permutation of the keys
};

Workload MakeWorkload(size_t n) {
  std::mt19937_64 rng(20261125);
  Workload w;
  w.keys.reserve(n);
  w.values.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    w.keys.push_back(RandomBytes(rng, 24));
    w.values.push_back(RandomBytes(rng, 150));
  }
  w.read_order.resize(n);
  for (size_t i = 0; i < n; ++i) w.read_order[i] = i;
  std::shuffle(w.read_order.begin(), w.read_order.end(), rng);
  return w;
}

// Seconds per phase for one engine; negative where the phase does not apply.
// Phases are kept in the order they ran, so the table reads as the run went.
struct Figures {
  std::vector<std::pair<std::string, double>> phases;
  void Set(const std::string& phase, double value) { phases.emplace_back(phase, value); }
  double Get(const std::string& phase) const {
    for (const auto& [name, value] : phases) {
      if (name == phase) return value;
    }
    return -1;
  }
};

uint64_t FileBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
      if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
  }
  return total;
}

void RandomReads(Engine& engine, const Keyspace& ks, const Workload& w, size_t begin,
                 size_t count) {
  auto txn = Take(engine.BeginRead(), "begin read");
  std::string value;
  size_t found = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::string& key = w.keys[w.read_order[(begin + i) % w.keys.size()]];
    Check(txn->Get(ks, key, &value), "get");
    found += value.size() == 150;
  }
  if (found != count) Fail("random reads found " + std::to_string(found));
}

Figures Run(const std::string& name, const std::string& dir, const Workload& w,
            const std::vector<int>& thread_counts) {
  Figures f;
  Options options;
  options.path = dir + "/" + name;
  options.create_if_missing = true;
  options.sync = SyncMode::kFull;
  auto engine = Take(Engine::Open(name, options), "open " + name);
  const std::chrono::milliseconds wait(10000);
  Keyspace ks;
  {
    auto txn = Take(engine->BeginWrite(wait), "begin");
    ks = Take(txn->CreateKeyspace("bench"), "create keyspace");
    Check(txn->Commit(), "commit");
  }
  const size_t n = w.keys.size();

  auto start = Clock::now();
  {
    auto txn = Take(engine->BeginWrite(wait), "begin");
    for (size_t i = 0; i < n; ++i) Check(txn->Put(ks, w.keys[i], w.values[i]), "put");
    Check(txn->Commit(), "commit");
  }
  f.Set("bulk load", Since(start));

  const int single_commits = 200;
  std::mt19937_64 rng(7);
  start = Clock::now();
  for (int i = 0; i < single_commits; ++i) {
    auto txn = Take(engine->BeginWrite(wait), "begin");
    Check(txn->Put(ks, RandomBytes(rng, 24), RandomBytes(rng, 150)), "put");
    Check(txn->Commit(), "commit");
  }
  f.Set("single-row commit (durable, per commit)", Since(start) / single_commits);

  start = Clock::now();
  for (int t = 0; t < 20; ++t) {
    auto txn = Take(engine->BeginWrite(wait), "begin");
    for (int i = 0; i < 1000; ++i) {
      Check(txn->Put(ks, RandomBytes(rng, 24), RandomBytes(rng, 150)), "put");
    }
    Check(txn->Commit(), "commit");
  }
  f.Set("batch writes (20 x 1000 rows)", Since(start));

  f.Set("random reads", BestOf(3, [&] { RandomReads(*engine, ks, w, 0, n); }));

  const size_t ranges = n / 10;
  f.Set("range reads (10 rows)", BestOf(3, [&] {
    auto txn = Take(engine->BeginRead(), "begin read");
    auto cursor = Take(txn->NewCursor(ks), "cursor");
    size_t bytes = 0;
    for (size_t i = 0; i < ranges; ++i) {
      cursor->Seek(w.keys[w.read_order[i]]);
      for (int j = 0; j < 10 && cursor->Valid(); ++j) {
        bytes += cursor->key().size() + cursor->value().size();
        cursor->Next();
      }
    }
    Check(cursor->status(), "cursor");
    if (bytes == 0) Fail("range reads read nothing");
  }));

  for (int threads : thread_counts) {
    const size_t per_thread = n / 2;
    f.Set("random reads, " + std::to_string(threads) + " threads", BestOf(2, [&] {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] { RandomReads(*engine, ks, w, t * per_thread, per_thread); });
      }
      for (auto& thread : pool) thread.join();
    }));
  }

  const uint64_t disk_before = FileBytes(options.path);
  start = Clock::now();
  {
    auto txn = Take(engine->BeginWrite(wait), "begin");
    for (size_t i = 0; i < n; i += 2) Check(txn->Delete(ks, w.keys[i]), "delete");
    Check(txn->Commit(), "commit");
  }
  f.Set("removals (half the keys)", Since(start));
  Status compacted = engine->Compact();
  const uint64_t disk_after = FileBytes(options.path);
  // Sizes are reported in the same table, in MiB instead of seconds.
  // A store that lives in memory has no file to measure.
  const bool on_disk = engine->capabilities().persistent;
  f.Set("file size after load (MiB)", on_disk ? disk_before / 1048576.0 : -1);
  f.Set("file size after delete + compact (MiB)",
        on_disk && compacted.ok() ? disk_after / 1048576.0 : -1);
  return f;
}

// One 4 KiB pwrite + fdatasync on the same disk: the floor of a durable commit.
double FsyncFloor(const std::string& dir) {
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) Fail("open " + path);
  std::string page(4096, 'x');
  const int rounds = 200;
  auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) {
    if (::pwrite(fd, page.data(), page.size(), 0) != 4096 || ::fdatasync(fd) != 0) {
      Fail("pwrite/fdatasync");
    }
  }
  double per = Since(start) / rounds;
  ::close(fd);
  ::unlink(path.c_str());
  return per;
}

int Main(int argc, char** argv) {
  const size_t n = std::stoul(Flag(argc, argv, "n", "200000"));
  std::vector<std::string> engines = SplitList(Flag(argc, argv, "engines", ""));
  if (engines.empty()) {
    for (const std::string& name : RegisteredEngineNames()) {
      if (name != "lmdb") engines.push_back(name);
    }
  }
  std::vector<int> thread_counts;
  for (const std::string& t : SplitList(Flag(argc, argv, "threads", "1,2,4"))) {
    thread_counts.push_back(std::stoi(t));
  }
  std::string base = Flag(argc, argv, "dir", "/tmp");
  std::string dir = base + "/manifold-engine-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("mkdtemp in " + base);

  std::printf("engine benchmark: %zu random 24-byte keys, 150-byte values, sync=full\n", n);
  Workload w = MakeWorkload(n);
  std::vector<std::string> columns = {"lmdb"};
  std::vector<Figures> figures = {Run("lmdb", dir, w, thread_counts)};
  for (const std::string& name : engines) {
    if (name == "lmdb") continue;
    columns.push_back(name);
    figures.push_back(Run(name, dir, w, thread_counts));
  }
  ResultTable table(columns);
  for (const auto& [workload, unused] : figures[0].phases) {
    ResultRow row{workload, {}};
    for (const Figures& f : figures) row.seconds.push_back(f.Get(workload));
    table.Add(std::move(row));
  }
  table.Print("The lmdb column is milliseconds (MiB for file sizes); the others are ratios to lmdb.");
  std::printf("4 KiB pwrite + fdatasync on this disk: %.3f ms\n", FsyncFloor(dir) * 1e3);
  for (size_t i = 0; i < figures.size(); ++i) {
    std::printf("%s durable single-row commit: %.3f ms\n", columns[i].c_str(),
                figures[i].Get("single-row commit (durable, per commit)") * 1e3);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace manifold::bench

int main(int argc, char** argv) { return manifold::bench::Main(argc, argv); }
