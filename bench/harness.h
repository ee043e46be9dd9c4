// A small benchmark harness: every workload is timed on a baseline and on
// each candidate in the same process, and reported as candidate/baseline
// ratios, so figures from different machines stay comparable.
#ifndef MANIFOLD_BENCH_HARNESS_H_
#define MANIFOLD_BENCH_HARNESS_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace manifold::bench {

// CPU seconds this process has used, every thread included.
inline double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `body` `repeats` times and returns the best wall time in seconds. The
// minimum is the figure least disturbed by other work on the machine.
inline double BestOf(int repeats, const std::function<void()>& body) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    body();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count());
  }
  return best;
}

// One row of a result table: a workload, the baseline's time and every
// candidate's time, in the column order of ResultTable::columns.
struct ResultRow {
  std::string workload;
  std::vector<double> seconds;  // [0] is the baseline
};

// Prints rows as a Markdown table: the baseline in milliseconds, then each
// candidate as a ratio to the baseline (lower is better).
class ResultTable {
 public:
  explicit ResultTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  void Add(ResultRow row) { rows_.push_back(std::move(row)); }

  void Print(const char* unit_note) const {
    std::printf("\n| workload | %s (ms) |", columns_[0].c_str());
    for (size_t i = 1; i < columns_.size(); ++i) std::printf(" %s |", columns_[i].c_str());
    std::printf("\n|---|---:|");
    for (size_t i = 1; i < columns_.size(); ++i) std::printf("---:|");
    std::printf("\n");
    for (const ResultRow& row : rows_) {
      // Rows measured in MiB (file sizes) are printed as they are.
      const bool is_size = row.workload.find("MiB") != std::string::npos;
      std::printf("| %s | %.*f |", row.workload.c_str(), is_size ? 1 : 3,
                  is_size ? row.seconds[0] : row.seconds[0] * 1e3);
      for (size_t i = 1; i < row.seconds.size(); ++i) {
        if (row.seconds[i] < 0) {
          std::printf(" n/a |");
        } else {
          std::printf(" %.2fx |", row.seconds[i] / row.seconds[0]);
        }
      }
      std::printf("\n");
    }
    std::printf("\n%s\n", unit_note);
  }

 private:
  std::vector<std::string> columns_;
  std::vector<ResultRow> rows_;
};

// Reads `--name=value` from argv; returns `fallback` when absent.
inline std::string Flag(int argc, char** argv, const std::string& name,
                        const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
  }
  return fallback;
}

// Splits "a,b,c" into its non-empty parts.
inline std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

// Dies with a message: a benchmark that hits an error has no figures to give.
[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "benchmark failed: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace manifold::bench

#endif  // MANIFOLD_BENCH_HARNESS_H_
