// Disk full on every persistent engine. A child process (this binary run
// again, see child_process.h) runs under RLIMIT_FSIZE with SIGXFSZ ignored,
// so a write past the limit fails with EFBIG as on a full disk, and commits
// the transactions of commit_workload.h (sync=full) until one fails. It must
// get a clean SQLite error (SQLITE_FULL on every engine, the message naming
// the table and the engine) and go on running: the transaction is rolled
// back in the process, its reads still see exactly the committed state, a
// retry fails cleanly or succeeds, and it exits by itself. Then the store
// reopened by a process without the limit holds every acknowledged commit
// and no part of the failed one, manifold_check('t') is ok, and a new
// process without the limit commits again. As root, the same runs on a real
// full file system (a small tmpfs: ENOSPC) too.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "child_process.h"
#include "commit_workload.h"
#include "sql_oracle.h"

namespace manifold::sqltest {
namespace {

using ::manifold::testing::Child;
using ::manifold::testing::DescribeStatus;
using ::manifold::testing::OneLine;
using ::manifold::testing::Say;
using ::manifold::testing::SpawnChild;

constexpr rlim_t kFileSizeLimit = 3 << 20;  // bytes per file in the filling child
constexpr int kFillPad = 2000;              // bytes of padding at least per row while filling

// The child: commits transactions first, first+1, ... until one fails or
// `count` have committed. Writes "ack n" after each commit; after a failure
// "error <extended code> <message>", "after <rows> <sum row> <sum of v>" (or
// "after-error ...") read in the same process, and "retry <code> <message>"
// for the same transaction tried again. arg: "dir\nfirst\ncount\nmin_pad".
int FillMain(const std::string& arg, int fd) {
  std::istringstream in(arg);
  std::string dir;
  int64_t first = 0, count = 0;
  int min_pad = 0;
  std::getline(in, dir);
  in >> first >> count >> min_pad;
  RegisterManifold();
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((dir + "/main.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) !=
      SQLITE_OK) {
    Say(fd, "open-error " + OneLine(db != nullptr ? sqlite3_errmsg(db) : "?"));
    return 2;
  }
  sqlite3_extended_result_codes(db, 1);
  for (int64_t n = first; n < first + count; ++n) {
    const std::string sql = TxnSql(n, min_pad, /*window=*/0);  // keeps every row: fills
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) {
      Say(fd, "ack " + std::to_string(n));
      continue;
    }
    Say(fd, "error " + std::to_string(sqlite3_extended_errcode(db)) + " " +
                OneLine(sqlite3_errmsg(db)));
    if (!sqlite3_get_autocommit(db)) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*), (SELECT v FROM t WHERE id = 0),"
                           " coalesce((SELECT sum(v) FROM t WHERE id > 0), 0) FROM t",
                           -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      Say(fd, "after " + std::to_string(sqlite3_column_int64(stmt, 0)) + " " +
                  std::to_string(sqlite3_column_int64(stmt, 1)) + " " +
                  std::to_string(sqlite3_column_int64(stmt, 2)));
    } else {
      Say(fd, "after-error " + std::to_string(sqlite3_extended_errcode(db)) + " " +
                  OneLine(sqlite3_errmsg(db)));
    }
    sqlite3_finalize(stmt);
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    Say(fd, "retry " + std::to_string(rc == SQLITE_OK ? 0 : sqlite3_extended_errcode(db)) + " " +
                (rc == SQLITE_OK ? std::string() : OneLine(sqlite3_errmsg(db))));
    if (rc == SQLITE_OK) {
      Say(fd, "ack " + std::to_string(n));
    } else if (!sqlite3_get_autocommit(db)) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    break;
  }
  return sqlite3_close(db) == SQLITE_OK ? 0 : 3;
}

MANIFOLD_TEST_CHILD_MAIN(FillMain);

// What a child said and how it ended.
struct ChildReport {
  int status = 0;
  std::set<int64_t> acks;
  std::string error, after, retry, other;
};

// Runs a child to its end (killing it after two minutes: a hang).
ChildReport RunChild(const std::string& arg, std::optional<rlim_t> limit) {
  ChildReport report;
  Child child = SpawnChild(arg, limit);
  if (child.pid <= 0) return report;
  manifold::testing::Finished finished =
      manifold::testing::WaitForChild(child, std::chrono::minutes(2));
  if (finished.hung) ADD_FAILURE() << "the child did not finish within two minutes";
  report.status = finished.status;
  std::istringstream lines(finished.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("ack ", 0) == 0) {
      report.acks.insert(std::stoll(line.substr(4)));
    } else if (line.rfind("error ", 0) == 0) {
      report.error = line.substr(6);
    } else if (line.rfind("after", 0) == 0) {
      report.after = line;
    } else if (line.rfind("retry ", 0) == 0) {
      report.retry = line.substr(6);
    } else {
      report.other += line + "\n";
    }
  }
  return report;
}

class DiskFull : public ::testing::TestWithParam<std::string> {
 protected:
  DiskFull() { RegisterManifold(); }
  ~DiskFull() override {
    if (!mount_point_.empty()) ::umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Fills the store at `dir` in a child under `limit` (if any) until a write
  // fails, checks the failure and what survived, calls `lift` to give room
  // again, then commits more in a child without the limit.
  void FillThenRecover(const std::string& dir, std::optional<rlim_t> limit,
                       const std::function<void()>& lift) {
    const std::string& engine = GetParam();
    ASSERT_NO_FATAL_FAILURE(CreateWorkloadTable(dir, engine));

    ChildReport fill = RunChild(dir + "\n1\n1000000\n" + std::to_string(kFillPad), limit);
    ASSERT_TRUE(WIFEXITED(fill.status) && WEXITSTATUS(fill.status) == 0)
        << "the process that filled the store " << DescribeStatus(fill.status)
        << " instead of exiting by itself; it said:\n"
        << fill.other << "error " << fill.error;
    ASSERT_FALSE(fill.error.empty()) << "no write failed";
    ASSERT_FALSE(fill.acks.empty()) << "the first write failed: " << fill.error;
    std::istringstream error(fill.error);
    int code = 0;
    error >> code;
    std::string message;
    std::getline(error >> std::ws, message);
    // ENOSPC, and EFBIG past RLIMIT_FSIZE, are SQLITE_FULL on every engine:
    // nothing is lost, and the store is not poisoned as by an I/O error.
    EXPECT_EQ(SQLITE_FULL, code & 0xff)
        << "code " << code << " (" << sqlite3_errstr(code) << "): " << message;
    EXPECT_NE(std::string::npos, message.find(engine + " table \"t\"")) << message;
    fill_message_ = message;
    std::printf("[ figures  ] %s: %zu commits, then: %s (%s); retried: %s\n", engine.c_str(),
                fill.acks.size(), message.c_str(), sqlite3_errstr(code), fill.retry.c_str());

    // The failed transaction left nothing behind in the process.
    std::istringstream after(fill.after);
    std::string word;
    long long rows = -1, sum_row = -2, sum = -3;
    after >> word >> rows >> sum_row >> sum;
    EXPECT_EQ("after", word) << fill.after;
    EXPECT_EQ(sum, sum_row) << fill.after;
    int64_t last = *fill.acks.rbegin();
    int retry_code = std::atoi(fill.retry.c_str());
    EXPECT_TRUE(retry_code == 0 || (retry_code & 0xff) == SQLITE_FULL ||
                (retry_code & 0xff) == SQLITE_IOERR)
        << "retry: " << fill.retry;

    ASSERT_NO_FATAL_FAILURE(lift());

    // A process without the limit finds every acknowledged commit and no
    // part of the failed one...
    int64_t highest = CheckState(dir, fill.acks, last, /*window=*/0, 0);
    EXPECT_EQ(last, highest);
    ASSERT_FALSE(::testing::Test::HasFailure());

    // ... and writes again.
    ChildReport more = RunChild(dir + "\n" + std::to_string(last + 1) + "\n20\n0", std::nullopt);
    ASSERT_TRUE(WIFEXITED(more.status) && WEXITSTATUS(more.status) == 0)
        << "the process without the limit " << DescribeStatus(more.status) << "; it said:\n"
        << more.other << "error " << more.error;
    EXPECT_TRUE(more.error.empty()) << more.error;
    EXPECT_EQ(20u, more.acks.size());
    std::set<int64_t> all = fill.acks;
    all.insert(more.acks.begin(), more.acks.end());
    EXPECT_EQ(last + 20, CheckState(dir, all, last + 20, /*window=*/0, 1));
  }

  TempDir dir_;
  std::string mount_point_;  // a tmpfs to unmount, if any
  std::string fill_message_;  // the error that ended the last fill
};

// Writes past RLIMIT_FSIZE fail with EFBIG; works without root.
TEST_P(DiskFull, FileSizeLimitIsACleanErrorAndLosesNothing) {
  FillThenRecover(dir_.path(), kFileSizeLimit, [] {});
}

// A real full file system (ENOSPC): a tmpfs of 4 MiB, remounted with 64 MiB
// to give room again. Mounting needs root (CI runs as root).
TEST_P(DiskFull, FullFileSystemIsACleanErrorAndLosesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root; FileSizeLimit covers EFBIG";
  const std::string fs = dir_.path() + "/fs";
  ASSERT_EQ(0, ::mkdir(fs.c_str(), 0700));
  if (::mount("tmpfs", fs.c_str(), "tmpfs", 0, "size=4m,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  mount_point_ = fs;
  FillThenRecover(fs, std::nullopt, [&fs] {
    ASSERT_EQ(0, ::mount("tmpfs", fs.c_str(), "tmpfs", MS_REMOUNT, "size=64m,mode=0700"))
        << "remount: " << std::strerror(errno);
  });
  if (GetParam() == "rocksdb") {
    // RocksDB 7.8 can abort the process when a log write fails for want of
    // space: manifold refuses the commit first, while a reserve is left.
    EXPECT_NE(std::string::npos, fill_message_.find("refused")) << fill_message_;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DiskFull, ::testing::ValuesIn(PersistentEngines()),
                         EngineName());

}  // namespace
}  // namespace manifold::sqltest
