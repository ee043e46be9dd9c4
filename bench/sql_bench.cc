// The SQL benchmark: one workload on a native SQLite rowid table and on a
// manifold table of each available engine, in one process, printed as
// manifold/native time ratios.
//
//   ./build/bench/sql_bench [--rows=100000] [--engines=memory,lmdb,btree,rocksdb] [--runs=3]
//       [--dir=/tmp]
//
// Each run loads every column afresh, then times each workload on every
// column in turn (the first column changes from run to run), so that what
// is compared was timed close together; each figure is the median of its
// runs, the figure least bent by other work on a shared machine.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "harness.h"
#include "sql_db.h"
#include "manifold/registry.h"

extern "C" int sqlite3_manifold_init(sqlite3* db, char** error, const sqlite3_api_routines* api);

namespace manifold::bench {
namespace {

// One column of one run: its database, table and statements.
class Subject {
 public:
  Subject(const std::string& dir, const std::string& engine, int64_t rows, int run)
      : label_(engine.empty() ? "native" : engine), rows_(rows), rng_(42) {
    const std::string db_dir = dir + "/" + label_ + "-" + std::to_string(run);
    std::filesystem::create_directories(db_dir);
    db_ = std::make_unique<Db>(db_dir + "/" + label_ + ".db");
    const std::string columns = "id INTEGER PRIMARY KEY, name TEXT, score REAL, payload BLOB";
    if (engine.empty()) {
      db_->Exec("CREATE TABLE t(" + columns + ")");
    } else {
      db_->Exec("CREATE VIRTUAL TABLE t USING manifold(engine=" + engine + ", " + columns + ")");
    }
    insert_ = db_->Prepare("INSERT INTO t VALUES(?, ?, ?, ?)");
    point_ = db_->Prepare("SELECT name, score, payload FROM t WHERE id = ?");
    range_ = db_->Prepare("SELECT id, name, score FROM t WHERE id >= ? AND id < ? + 100");
    scan_ = db_->Prepare("SELECT count(*), sum(score), sum(length(name)) FROM t");
    update_ = db_->Prepare("UPDATE t SET score = score + 1 WHERE id = ?");
  }
  ~Subject() {
    for (sqlite3_stmt* stmt : {insert_, point_, range_, scan_, update_}) sqlite3_finalize(stmt);
  }
  Subject(const Subject&) = delete;
  Subject& operator=(const Subject&) = delete;

  // The workloads, in the order they must run (each reads what the first
  // loaded); each returns seconds.
  double Run(size_t workload) {
    switch (workload) {
      case 0: return BulkInsert();
      case 1: return PointSelects();
      case 2: return RangeSelects();
      case 3: return Scan();
      default: return PointUpdates();
    }
  }

 private:
  double BulkInsert() {
    std::string payload(100, 'p');
    return BestOf(1, [&] {
      db_->Exec("BEGIN");
      for (int64_t i = 1; i <= rows_; ++i) {
        std::string name = "user-" + std::to_string(i * 7919 % 100003);
        sqlite3_bind_int64(insert_, 1, i);
        sqlite3_bind_text(insert_, 2, name.data(), static_cast<int>(name.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_double(insert_, 3, static_cast<double>(i % 1000) / 7.0);
        sqlite3_bind_blob(insert_, 4, payload.data(), static_cast<int>(payload.size()),
                          SQLITE_STATIC);
        db_->Drain(insert_);
      }
      db_->Exec("COMMIT");
    });
  }

  double PointSelects() {
    const int64_t lookups = rows_ / 2;
    return BestOf(3, [&] {
      int64_t found = 0;
      for (int64_t i = 0; i < lookups; ++i) {
        sqlite3_bind_int64(point_, 1, static_cast<int64_t>(rng_() % rows_) + 1);
        found += db_->Drain(point_);
      }
      if (found != lookups) Fail(label_ + ": point select found " + std::to_string(found));
    });
  }

  // The shortest phases (a range select, a scan: tens of milliseconds) are
  // the ones a burst of other work on the machine moves most, so they take
  // the best of more tries.
  double RangeSelects() {
    const int ranges = 2000;
    return BestOf(5, [&] {
      int64_t found = 0;
      for (int i = 0; i < ranges; ++i) {
        int64_t start = static_cast<int64_t>(rng_() % (rows_ - 100)) + 1;
        sqlite3_bind_int64(range_, 1, start);
        sqlite3_bind_int64(range_, 2, start);
        found += db_->Drain(range_);
      }
      if (found != ranges * 100) Fail(label_ + ": range select found " + std::to_string(found));
    });
  }

  double Scan() {
    return BestOf(15, [&] {
      if (db_->Drain(scan_) != 1) Fail(label_ + ": scan");
    });
  }

  double PointUpdates() {
    const int updates = 10000;
    return BestOf(3, [&] {
      db_->Exec("BEGIN");
      for (int i = 0; i < updates; ++i) {
        sqlite3_bind_int64(update_, 1, static_cast<int64_t>(rng_() % rows_) + 1);
        db_->Drain(update_);
      }
      db_->Exec("COMMIT");
    });
  }

  std::string label_;
  int64_t rows_;
  std::mt19937_64 rng_;
  std::unique_ptr<Db> db_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* point_ = nullptr;
  sqlite3_stmt* range_ = nullptr;
  sqlite3_stmt* scan_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
};

// The median of each workload's figures over runs[0..].
std::vector<double> Medians(const std::vector<std::vector<double>>& runs) {
  std::vector<double> out;
  for (size_t w = 0; w < runs.front().size(); ++w) {
    std::vector<double> values;
    values.reserve(runs.size());
    for (const std::vector<double>& run : runs) values.push_back(run[w]);
    std::sort(values.begin(), values.end());
    out.push_back(values[values.size() / 2]);
  }
  return out;
}

int Main(int argc, char** argv) {
  const int64_t rows = std::stoll(Flag(argc, argv, "rows", "100000"));
  const int runs = std::max(1, std::stoi(Flag(argc, argv, "runs", "3")));
  std::vector<std::string> engines = SplitList(Flag(argc, argv, "engines", ""));
  if (engines.empty()) engines = RegisteredEngineNames();
  std::string base = Flag(argc, argv, "dir", "/tmp");
  std::string dir = base + "/manifold-sql-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("mkdtemp in " + base);
  sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));

  std::printf("SQL benchmark: %lld rows (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
              "payload BLOB of 100 bytes), SQLite %s, medians of %d runs\n",
              static_cast<long long>(rows), sqlite3_libversion(), runs);
  const std::vector<std::string> workloads = {
      "bulk insert, one transaction", "point select by key (rows/2 lookups)",
      "range select, 100 rows (x2000)", "full-scan aggregate",
      "point update (x10000, one transaction)"};
  std::vector<std::string> columns = {"native"};
  columns.insert(columns.end(), engines.begin(), engines.end());
  // [column][run][workload]. Each workload runs for every column back to
  // back, so a column and the native table it is compared with are timed
  // seconds apart, not minutes; each run starts with a different column.
  std::vector<std::vector<std::vector<double>>> by_column(
      columns.size(), std::vector<std::vector<double>>(runs, std::vector<double>(workloads.size())));
  for (int run = 0; run < runs; ++run) {
    std::vector<std::unique_ptr<Subject>> subjects;
    for (size_t c = 0; c < columns.size(); ++c) {
      subjects.push_back(std::make_unique<Subject>(dir, c == 0 ? "" : columns[c], rows, run));
    }
    for (size_t w = 0; w < workloads.size(); ++w) {
      for (size_t k = 0; k < columns.size(); ++k) {
        const size_t c = (k + static_cast<size_t>(run)) % columns.size();
        by_column[c][run][w] = subjects[c]->Run(w);
      }
    }
  }
  std::vector<std::vector<double>> results;
  results.reserve(by_column.size());
  for (const auto& column_runs : by_column) results.push_back(Medians(column_runs));
  ResultTable table(columns);
  for (size_t w = 0; w < workloads.size(); ++w) {
    ResultRow row{workloads[w], {}};
    for (const auto& r : results) row.seconds.push_back(r[w]);
    table.Add(std::move(row));
  }
  table.Print("The native column is milliseconds; the others are manifold/native ratios.");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace manifold::bench

int main(int argc, char** argv) { return manifold::bench::Main(argc, argv); }
