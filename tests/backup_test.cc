// manifold_backup('dir') on every persistent engine: rows written before the
// backup come back from a restored copy exactly as from a native table that
// held them at backup time (the oracle, backed up in the same database file);
// rows written afterwards do not. A backup taken while another connection
// commits to two stores at once holds both stores as of one moment. Refusals:
// a non-empty directory, a transaction that has written, an in-memory main
// database; the memory engine is reported as skipped.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "manifold/engine.h"
#include "manifold/registry.h"
#include "sql_oracle.h"

namespace manifold {
namespace {

namespace fs = std::filesystem;
using sqltest::Outcome;
using sqltest::RunSql;

// Returns `sql` with every "%T" replaced by `table`.
std::string ForTable(std::string_view sql, std::string_view table) {
  std::string out;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '%' && i + 1 < sql.size() && sql[i + 1] == 'T') {
      out += table;
      ++i;
    } else {
      out += sql[i];
    }
  }
  return out;
}

// A table shape: its columns, the native oracle's suffix, writes before and
// after the backup, and how its rows are listed in a total order.
struct Shape {
  const char* name;
  const char* columns;
  const char* native_suffix;
  const char* before;
  const char* after;
  const char* select;
};

const Shape kShapes[] = {
    {"rowid", "a INTEGER, b TEXT, c REAL, d BLOB, e", "",
     R"(INSERT INTO %T VALUES (1, 'one', 1.5, x'01', NULL);
        INSERT INTO %T VALUES ('2', 2, '3', 'text', 2.0);
        INSERT INTO %T VALUES (9223372036854775807, NULL, -0.0, x'', '');
        INSERT INTO %T(rowid, a) VALUES (1000, 1000);
        DELETE FROM %T WHERE a = 1;)",
     R"(INSERT INTO %T VALUES (7, 'after', NULL, NULL, NULL);
        UPDATE %T SET b = 'changed' WHERE a = 2;
        DELETE FROM %T WHERE rowid = 1000;)",
     "SELECT rowid, * FROM %T ORDER BY rowid"},
    {"composite", "k TEXT, n INTEGER, v, PRIMARY KEY (k, n DESC)", " WITHOUT ROWID",
     R"(INSERT INTO %T VALUES ('a', 1, 'a1'), ('a', 2, x'a2'), ('b', -1, 3.25), ('', 0, NULL);)",
     R"(INSERT INTO %T VALUES ('c', 9, 'late');
        DELETE FROM %T WHERE k = 'a' AND n = 2;
        UPDATE %T SET v = 'new' WHERE k = 'b';)",
     "SELECT * FROM %T ORDER BY k, n DESC"},
};

// The persistent engines of this build.
std::vector<std::string> PersistentEngines() {
  std::vector<std::string> out;
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.available && info.capabilities.persistent) out.push_back(info.name);
  }
  return out;
}

class BackupTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    sqltest::RegisterManifold();
    ASSERT_TRUE(db_.Open(Path("app.db")));
    Run("PRAGMA busy_timeout = 10000");
  }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  Outcome Run(sqlite3* db, const std::string& sql) {
    Outcome outcome = RunSql(db, sql);
    EXPECT_EQ(outcome.rc, SQLITE_OK) << sql << "\n" << outcome.ToString();
    return outcome;
  }
  Outcome Run(const std::string& sql) { return Run(db_, sql); }

  // Returns the rows of `table` listed as `shape` lists them.
  std::string Rows(sqlite3* db, const Shape& shape, const std::string& table) {
    return Run(db, ForTable(shape.select, table)).ToString();
  }

  // Creates manifold table `name` (extra options `options`) and its native
  // oracle `name_oracle`.
  void CreateBoth(const Shape& shape, const std::string& name, const std::string& options = "") {
    Run("CREATE VIRTUAL TABLE " + name + " USING manifold(engine=" + GetParam() + ", " +
        shape.columns + options + ")");
    Run("CREATE TABLE " + name + "_oracle(" + shape.columns + ")" + shape.native_suffix);
  }
  void WriteBoth(const std::string& sql, const std::string& name) {
    Run(ForTable(sql, name));
    Run(ForTable(sql, name + "_oracle"));
  }

  // Copies the backup directory to a new place, as a user restores it.
  std::string Restore(const std::string& backup, const std::string& where) {
    std::error_code ec;
    fs::copy(backup, where, fs::copy_options::recursive, ec);
    EXPECT_FALSE(ec) << ec.message();
    return where;
  }

  sqltest::TempDir dir_;
  sqltest::Connection db_;
};

TEST_P(BackupTest, RestoredCopyHoldsTheRowsAsOfTheBackup) {
  fs::create_directories(Path("data"));
  // One table in the default store, one at a relative path in a
  // subdirectory, one sharing that store: each layout must travel.
  struct Placed {
    const Shape* shape;
    std::string name;
    std::string options;
  };
  const std::string sub = ", path='data/kv." + GetParam() + "'";
  const std::vector<Placed> tables = {
      {&kShapes[0], "t_rowid", ""},
      {&kShapes[1], "t_composite", ""},
      {&kShapes[0], "s_rowid", sub},
      {&kShapes[1], "s_composite", sub},
  };
  std::vector<std::string> at_backup;
  for (const Placed& t : tables) {
    CreateBoth(*t.shape, t.name, t.options);
    WriteBoth(t.shape->before, t.name);
    at_backup.push_back(Rows(db_, *t.shape, t.name + "_oracle"));
    ASSERT_EQ(Rows(db_, *t.shape, t.name), at_backup.back());
  }

  Outcome result = Run("SELECT manifold_backup('" + Path("backup") + "')");
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_NE(result.rows[0].find("\"copy\":\"app.db." + GetParam() + "\""), std::string::npos)
      << result.rows[0];
  EXPECT_NE(result.rows[0].find("\"copy\":\"data/kv." + GetParam() + "\""), std::string::npos)
      << result.rows[0];

  // Writes after the backup must not reach it.
  for (const Placed& t : tables) WriteBoth(t.shape->after, t.name);

  const std::string restored = Restore(Path("backup"), Path("restored"));
  sqltest::Connection copy;
  ASSERT_TRUE(copy.Open(restored + "/app.db"));
  for (size_t i = 0; i < tables.size(); ++i) {
    SCOPED_TRACE(tables[i].name);
    const Shape& shape = *tables[i].shape;
    // The oracle in the copied database file holds the rows as of the backup.
    EXPECT_EQ(Rows(copy, shape, tables[i].name + "_oracle"), at_backup[i]);
    EXPECT_EQ(Rows(copy, shape, tables[i].name), at_backup[i]);
    // ... and differs from the live table, which moved on.
    EXPECT_NE(Rows(db_, shape, tables[i].name), at_backup[i]);
    EXPECT_EQ(Rows(db_, shape, tables[i].name), Rows(db_, shape, tables[i].name + "_oracle"));
  }
  // The restored copy is a working database: writes there stay there.
  WriteBoth(kShapes[0].after, "t_rowid");
  Run(copy, ForTable(kShapes[0].after, "t_rowid"));
  Run(copy, ForTable(kShapes[0].after, "t_rowid_oracle"));
  EXPECT_EQ(Rows(copy, kShapes[0], "t_rowid"), Rows(copy, kShapes[0], "t_rowid_oracle"));
  EXPECT_EQ(Rows(db_, kShapes[0], "t_rowid"), Rows(db_, kShapes[0], "t_rowid_oracle"));
  Outcome check = Run(copy, "SELECT manifold_check('s_composite')");
  ASSERT_EQ(check.rows.size(), 1u);
  EXPECT_NE(check.rows[0].find("\"ok\":true"), std::string::npos) << check.rows[0];
}

TEST_P(BackupTest, StoreOutsideTheDatabaseDirectoryGoesUnderExternal) {
  fs::create_directories(Path("db"));
  fs::create_directories(Path("elsewhere"));
  sqltest::Connection db;
  ASSERT_TRUE(db.Open(Path("db/app.db")));
  const std::string store = Path("elsewhere/far." + GetParam());
  Run(db, "CREATE VIRTUAL TABLE far USING manifold(engine=" + GetParam() +
              ", k TEXT PRIMARY KEY, v, path='" + store + "')");
  Run(db, "INSERT INTO far VALUES ('x', 1), ('y', x'00ff')");
  Outcome result = Run(db, "SELECT manifold_backup('" + Path("backup") + "')");
  ASSERT_EQ(result.rows.size(), 1u);
  const std::string real_store = fs::canonical(Path("elsewhere")).string() + "/far." + GetParam();
  EXPECT_NE(result.rows[0].find("\"copy\":\"external" + real_store + "\",\"external\":true"),
            std::string::npos)
      << result.rows[0];
  ASSERT_TRUE(fs::exists(Path("backup") + "/external" + real_store));
  // Restoring an external store: copy it back to its own path.
  const std::string before = Run(db, "SELECT * FROM far ORDER BY k").ToString();
  Run(db, "DELETE FROM far");
  db.Close();
  fs::remove_all(store);
  fs::copy(Path("backup") + "/external" + real_store, store, fs::copy_options::recursive);
  ASSERT_TRUE(db.Open(Path("db/app.db")));
  EXPECT_EQ(Run(db, "SELECT * FROM far ORDER BY k").ToString(), before);
}

TEST_P(BackupTest, BackupDuringConcurrentCommitsHoldsEveryStoreAtOneMoment) {
  // Another connection commits transactions that each insert row i into
  // manifold tables in two stores, taking their locks in either order. Every
  // backup must hold the same rows in both, and all rows 1..n for some n.
  const std::string engine = GetParam();
  // sync=off: the test is about the moment of the copy, not durability.
  Run("CREATE VIRTUAL TABLE a USING manifold(engine=" + engine +
      ", id INTEGER PRIMARY KEY, v, sync=off)");
  Run("CREATE VIRTUAL TABLE b USING manifold(engine=" + engine +
      ", id INTEGER PRIMARY KEY, v, sync=off, path='second." + engine + "')");
  std::atomic<int> committed{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> writer_failed{false};
  std::string writer_error;  // written before writer_failed is set
  std::thread writer([&] {
    sqltest::Connection w;
    if (!w.Open(Path("app.db"))) return;
    RunSql(w, "PRAGMA busy_timeout = 10000");
    for (int i = 1; !stop.load() && i <= 100000; ++i) {
      const std::string n = std::to_string(i);
      const std::string into_a = "INSERT INTO a VALUES (" + n + ", 'a" + n + "');";
      const std::string into_b = "INSERT INTO b VALUES (" + n + ", 'b" + n + "');";
      Outcome o = RunSql(w, "BEGIN;" + (i % 2 == 0 ? into_a + into_b : into_b + into_a) + "COMMIT");
      if (o.rc != SQLITE_OK) {
        RunSql(w, "ROLLBACK");
        if (o.rc == SQLITE_BUSY) {
          --i;  // retry the same row
          continue;
        }
        writer_error = o.ToString();
        writer_failed.store(true);
        return;
      }
      committed.store(i);
    }
  });
  std::vector<std::pair<int, int>> bounds;
  for (int round = 0; round < 3; ++round) {
    const int target = (round + 1) * 20;
    while (committed.load() < target && !writer_failed.load()) std::this_thread::yield();
    const int low = committed.load();
    Outcome r =
        RunSql(db_, "SELECT manifold_backup('" + Path("backup" + std::to_string(round)) + "')");
    const int high = committed.load() + 1;  // a commit may be finishing as we read
    EXPECT_EQ(r.rc, SQLITE_OK) << r.ToString();
    bounds.emplace_back(low, high);
  }
  stop.store(true);
  writer.join();
  ASSERT_FALSE(writer_failed.load()) << writer_error;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("backup " + std::to_string(round));
    const std::string restored =
        Restore(Path("backup" + std::to_string(round)), Path("restored" + std::to_string(round)));
    sqltest::Connection copy;
    ASSERT_TRUE(copy.Open(restored + "/app.db"));
    const std::string summary = "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM ";
    Outcome a = Run(copy, summary + "a");
    EXPECT_EQ(a.ToString(), Run(copy, summary + "b").ToString()) << "two stores differ";
    Outcome n = Run(copy, "SELECT count(*) FROM a");
    ASSERT_EQ(n.rows.size(), 1u);
    const int rows = std::stoi(n.rows[0].substr(std::string("integer ").size()));
    EXPECT_GE(rows, bounds[round].first);
    EXPECT_LE(rows, bounds[round].second);
    // Rows 1..n, with their values, in both tables.
    Outcome all = Run(copy,
                      "SELECT count(*) FROM a JOIN b USING (id) WHERE a.v = 'a' || id AND "
                      "b.v = 'b' || id AND id BETWEEN 1 AND " +
                          std::to_string(rows));
    EXPECT_EQ(all.rows, n.rows);
  }
}

TEST_P(BackupTest, RefusesANonEmptyDirectoryAndATransactionThatWrote) {
  Run("CREATE VIRTUAL TABLE t USING manifold(engine=" + GetParam() + ", k PRIMARY KEY, v)");
  Run("INSERT INTO t VALUES (1, 2)");
  fs::create_directories(Path("full"));
  { std::ofstream(Path("full/keep")) << "x"; }
  Outcome full = RunSql(db_, "SELECT manifold_backup('" + Path("full") + "')");
  EXPECT_NE(full.rc, SQLITE_OK);
  EXPECT_NE(full.message.find("exists and is not empty"), std::string::npos) << full.message;
  EXPECT_TRUE(fs::exists(Path("full/keep")));
  EXPECT_EQ(std::distance(fs::directory_iterator(Path("full")), fs::directory_iterator()), 1);

  // An empty directory is fine.
  fs::create_directories(Path("empty"));
  Run("SELECT manifold_backup('" + Path("empty") + "')");
  EXPECT_TRUE(fs::exists(Path("empty/app.db")));

  Run("BEGIN");
  Run("INSERT INTO t VALUES (3, 4)");
  Outcome in_txn = RunSql(db_, "SELECT manifold_backup('" + Path("txn") + "')");
  EXPECT_EQ(in_txn.rc, SQLITE_BUSY) << in_txn.ToString();
  EXPECT_NE(in_txn.message.find("COMMIT or ROLLBACK first"), std::string::npos) << in_txn.message;
  EXPECT_FALSE(fs::exists(Path("txn")));
  Run("COMMIT");
  // Inside a transaction that only read, the backup runs.
  Run("BEGIN");
  Run("SELECT count(*) FROM t");
  Run("SELECT manifold_backup('" + Path("read") + "')");
  Run("COMMIT");
  sqltest::Connection copy;
  ASSERT_TRUE(copy.Open(Path("read/app.db")));
  EXPECT_EQ(Run(copy, "SELECT * FROM t ORDER BY k").ToString(),
            Run("SELECT * FROM t ORDER BY k").ToString());
}

TEST_P(BackupTest, StoresOpenedReadOnlyAreCopiedToo) {
  const std::string engine = GetParam();
  const std::string store = ", path='shared." + engine + "'";
  Run("CREATE VIRTUAL TABLE w USING manifold(engine=" + engine + ", k TEXT PRIMARY KEY, v" + store +
      ")");
  Run("CREATE VIRTUAL TABLE r USING manifold(engine=" + engine + ", k TEXT PRIMARY KEY, v" + store +
      ", table='w', readonly=1)");
  Run("INSERT INTO w VALUES ('a', 1), ('b', x'02'), ('c', 3.5)");
  const std::string expected =
      "  ok\n  | text 'a' | integer 1\n  | text 'b' | blob x'02'\n  | text 'c' | real 3.5\n";
  // Reopened, the read-only table is the first opener of the store in this
  // process: the store is open read-only, and the backup has no writer to
  // hold off for it.
  db_.Close();
  ASSERT_TRUE(db_.Open(Path("app.db")));
  EXPECT_EQ(Run("SELECT * FROM r ORDER BY k").ToString(), expected);
  Outcome writable = RunSql(db_, "SELECT * FROM w ORDER BY k");
  Outcome backup = RunSql(db_, "SELECT manifold_backup('" + Path("backup") + "')");
  if (writable.rc != SQLITE_OK) {
    // An engine that cannot open a store read-write while it is open
    // read-only: the backup fails on that table, and says so.
    EXPECT_NE(backup.rc, SQLITE_OK);
    EXPECT_NE(backup.message.find("table \"w\""), std::string::npos) << backup.message;
    EXPECT_FALSE(fs::exists(Path("backup")));
    return;
  }
  ASSERT_EQ(backup.rc, SQLITE_OK) << backup.ToString();
  sqltest::Connection copy;
  ASSERT_TRUE(copy.Open(Path("backup/app.db")));
  EXPECT_EQ(Run(copy, "SELECT * FROM r ORDER BY k").ToString(), expected);
  EXPECT_EQ(Run(copy, "SELECT * FROM w ORDER BY k").ToString(), expected);
}

INSTANTIATE_TEST_SUITE_P(PersistentEngines, BackupTest, ::testing::ValuesIn(PersistentEngines()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// Engine::Backup through the C++ interface: the copy opens with the same
// engine and holds every keyspace as of the call, with or without zstd.
class EngineBackupTest : public ::testing::TestWithParam<std::string> {};

// Returns every keyspace and key/value pair of `engine` in order, as text.
std::string Contents(Engine& engine) {
  std::string out;
  Result<std::unique_ptr<ReadTxn>> txn = engine.BeginRead();
  EXPECT_TRUE(txn.ok()) << txn.status().ToString();
  if (!txn.ok()) return "";
  Result<std::vector<std::string>> names = (*txn)->ListKeyspaces();
  EXPECT_TRUE(names.ok());
  if (!names.ok()) return "";
  for (const std::string& name : *names) {
    out += "[" + name + "]\n";
    Result<Keyspace> ks = (*txn)->OpenKeyspace(name);
    EXPECT_TRUE(ks.ok());
    if (!ks.ok()) continue;
    Result<std::unique_ptr<Cursor>> cursor = (*txn)->NewCursor(*ks);
    EXPECT_TRUE(cursor.ok());
    if (!cursor.ok()) continue;
    for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
      out += std::string((*cursor)->key()) + "=" + std::string((*cursor)->value()) + "\n";
    }
    EXPECT_TRUE((*cursor)->status().ok());
  }
  return out;
}

TEST_P(EngineBackupTest, CopyOpensAndHoldsTheCommittedStateOfTheCall) {
  for (Compression compression : {Compression::kNone, Compression::kZstd}) {
    SCOPED_TRACE(compression == Compression::kZstd ? "zstd" : "none");
    sqltest::TempDir dir;
    Options options;
    options.path = dir.path() + "/store";
    options.create_if_missing = true;
    options.compression = compression;
    Result<std::unique_ptr<Engine>> engine = Engine::Open(GetParam(), options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto write = [&](int from, int to, const char* keyspace) {
      Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(std::chrono::seconds(5));
      ASSERT_TRUE(txn.ok()) << txn.status().ToString();
      Result<Keyspace> ks = (*txn)->CreateKeyspace(keyspace);
      ASSERT_TRUE(ks.ok());
      for (int i = from; i < to; ++i) {
        // Long, alike values: compressible, and spanning several pages.
        std::string value(200 + i % 50, static_cast<char>('a' + i % 26));
        ASSERT_TRUE((*txn)->Put(*ks, "key" + std::to_string(100000 + i), value).ok());
      }
      ASSERT_TRUE((*txn)->Commit().ok());
    };
    write(0, 2000, "one");
    write(0, 300, "two");
    const std::string expected = Contents(**engine);
    // A reader open across the call does not get in the way.
    Result<std::unique_ptr<ReadTxn>> reader = (*engine)->BeginRead();
    ASSERT_TRUE(reader.ok());
    Status backed_up = (*engine)->Backup(dir.path() + "/copy");
    if (!(*engine)->capabilities().persistent) {
      EXPECT_EQ(backed_up.code(), Status::Code::kNotSupported) << backed_up.ToString();
      return;
    }
    ASSERT_TRUE(backed_up.ok()) << backed_up.ToString();
    reader->reset();
    write(2000, 2500, "one");
    write(0, 10, "three");
    EXPECT_NE(Contents(**engine), expected);
    // The path must be new.
    EXPECT_FALSE((*engine)->Backup(dir.path() + "/copy").ok());

    Options copy_options;
    copy_options.path = dir.path() + "/copy";
    copy_options.compression = compression;
    Result<std::unique_ptr<Engine>> copy = Engine::Open(GetParam(), copy_options);
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    EXPECT_EQ(Contents(**copy), expected);
    Status checked = (*copy)->Check();
    EXPECT_TRUE(checked.ok() || checked.code() == Status::Code::kNotSupported)
        << checked.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(AllEngines, EngineBackupTest, ::testing::ValuesIn(RegisteredEngineNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(BackupMemory, MemoryTablesAreReportedAsSkipped) {
  sqltest::RegisterManifold();
  sqltest::TempDir dir;
  sqltest::Connection db;
  ASSERT_TRUE(db.Open(dir.path() + "/app.db"));
  Outcome created = RunSql(db,
                           "CREATE VIRTUAL TABLE cache USING memory(k PRIMARY KEY, v);"
                           "INSERT INTO cache VALUES (1, 1)");
  ASSERT_EQ(created.rc, SQLITE_OK) << created.ToString();
  Outcome r = RunSql(db, "SELECT manifold_backup('" + dir.path() + "/backup')");
  ASSERT_EQ(r.rc, SQLITE_OK) << r.ToString();
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_NE(r.rows[0].find("\"stores\":[]"), std::string::npos) << r.rows[0];
  EXPECT_NE(r.rows[0].find("\"reason\":\"the memory engine keeps nothing on disk\""),
            std::string::npos)
      << r.rows[0];
  EXPECT_TRUE(fs::exists(dir.path() + "/backup/app.db"));
}

TEST(BackupMemory, InMemoryMainDatabaseIsRefused) {
  sqltest::RegisterManifold();
  sqltest::TempDir dir;
  sqltest::Connection db;
  ASSERT_TRUE(db.Open(":memory:"));
  Outcome r = RunSql(db, "SELECT manifold_backup('" + dir.path() + "/backup')");
  EXPECT_NE(r.rc, SQLITE_OK);
  EXPECT_NE(r.message.find("the main database is in memory"), std::string::npos) << r.message;
  EXPECT_FALSE(fs::exists(dir.path() + "/backup"));
}

}  // namespace
}  // namespace manifold
