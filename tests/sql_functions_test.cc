// manifold_check and manifold_stats through the sqlite3 C API, on every engine
// this build has: a healthy table checks clean, a damaged btree file is
// reported (never a crash), and the byte counts of manifold_stats are the
// table's own and reflect compression.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "btree/btree_engine.h"
#include "manifold/registry.h"

extern "C" int sqlite3_manifold_init(sqlite3* db, char** pzErrMsg,
                                     const sqlite3_api_routines* pApi);

namespace manifold {
namespace {

namespace fs = std::filesystem;

// A connection with manifold loaded.
class Db {
 public:
  explicit Db(const std::string& path) {
    sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));
    EXPECT_EQ(SQLITE_OK, sqlite3_open(path.c_str(), &db_));
  }
  ~Db() { EXPECT_EQ(SQLITE_OK, sqlite3_close(db_)); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs `sql`; returns the result code, the message in last_error().
  int Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    last_error_ = error == nullptr ? "" : error;
    sqlite3_free(error);
    return rc;
  }
  // Returns the first column of the first row as text ("NULL" for NULL), or
  // "error <code>: <message>".
  std::string Value(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr);
    std::string out;
    if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text == nullptr ? "NULL" : reinterpret_cast<const char*>(text);
    } else if (rc != SQLITE_DONE) {
      out = "error " + std::to_string(sqlite3_extended_errcode(db_)) + ": " + sqlite3_errmsg(db_);
    }
    sqlite3_finalize(stmt);
    return out;
  }
  // Returns the first column of the first row as an integer; fails the test
  // on an error.
  int64_t Int(const std::string& sql) {
    std::string text = Value(sql);
    EXPECT_EQ(std::string::npos, text.find("error")) << sql << ": " << text;
    return std::strtoll(text.c_str(), nullptr, 10);
  }
  double Real(const std::string& sql) {
    std::string text = Value(sql);
    EXPECT_EQ(std::string::npos, text.find("error")) << sql << ": " << text;
    return std::strtod(text.c_str(), nullptr);
  }
  const std::string& last_error() const { return last_error_; }

 private:
  sqlite3* db_ = nullptr;
  std::string last_error_;
};

// A fresh temporary directory per test.
class SqlFunctions : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/manifold-functions-XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(pattern));
    dir_ = pattern;
    db_ = std::make_unique<Db>(dir_ + "/test.db");
  }
  void TearDown() override {
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  const std::string& engine() const { return GetParam(); }
  Db& db() { return *db_; }
  void Create(const std::string& name, const std::string& arguments) {
    ASSERT_EQ(SQLITE_OK,
              db().Exec("CREATE VIRTUAL TABLE " + name + " USING " + engine() + "(" + arguments +
                        ")"))
        << db().last_error();
  }
  // Inserts rows 0..count-1 into `table` as (i, <value_sql of i>).
  void Fill(const std::string& table, int count, const std::string& value_sql) {
    ASSERT_EQ(SQLITE_OK, db().Exec("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 "
                                   "FROM n WHERE i < " +
                                   std::to_string(count - 1) + ") INSERT INTO " + table +
                                   " SELECT i, " + value_sql + " FROM n"))
        << db().last_error();
  }
  // Makes the engine's stored measure current: rocksdb counts rows still in
  // its memtable only as an estimate, so flush them into SST files first.
  void Settle(const std::string& table) {
    if (engine() == "rocksdb") {
      ASSERT_NE(std::string::npos, db().Value("SELECT manifold_compact('" + table + "')")
                                       .find("bytes_after"));
    }
  }
  std::string Check(const std::string& table) {
    return db().Value("SELECT manifold_check('" + table + "')");
  }

  std::string dir_;
  std::unique_ptr<Db> db_;
};

TEST_P(SqlFunctions, CheckReportsAHealthyTableOfEveryLayoutOk) {
  Create("by_rowid", "a, b");
  Create("by_ipk", "id INTEGER PRIMARY KEY, v");
  Create("by_text", "name TEXT PRIMARY KEY, v");
  Create("by_pair", "x, y, v, PRIMARY KEY (x DESC, y)");
  Create("raw_kv", "");
  Create("packed", "id INTEGER PRIMARY KEY, v, compression=zstd");
  Fill("by_rowid", 300, "printf('row %d', i)");
  Fill("by_ipk", 300, "randomblob(i % 50)");
  Fill("by_text", 300, "i * 1.5");
  ASSERT_EQ(SQLITE_OK, db().Exec("INSERT INTO by_pair SELECT id % 7, id, v FROM by_ipk"));
  ASSERT_EQ(SQLITE_OK, db().Exec("INSERT INTO raw_kv VALUES (x'00ff', 'anything'), ('k', 1)"));
  Fill("packed", 300, "printf('%.200c', char(65 + i % 26))");
  ASSERT_EQ(SQLITE_OK, db().Exec("DELETE FROM by_ipk WHERE id % 3 = 0"));
  const std::vector<std::pair<std::string, int>> expected = {
      {"by_rowid", 300}, {"by_ipk", 200}, {"by_text", 300},
      {"by_pair", 300},  {"raw_kv", 2},   {"packed", 300}};
  for (const auto& [table, rows] : expected) {
    const std::string c = "manifold_check('" + table + "')";
    EXPECT_EQ("1", db().Value("SELECT json_extract(" + c + ", '$.ok')")) << Check(table);
    EXPECT_EQ("[]", db().Value("SELECT json_extract(" + c + ", '$.problems')"));
    EXPECT_EQ(rows, db().Int("SELECT json_extract(" + c + ", '$.rows')")) << table;
    EXPECT_EQ(table, db().Value("SELECT json_extract(" + c + ", '$.table')"));
    EXPECT_EQ(engine(), db().Value("SELECT json_extract(" + c + ", '$.engine')"));
    const std::string engine_check = db().Value("SELECT json_extract(" + c + ", '$.engine_check')");
    if (engine() == "btree" || engine() == "rocksdb") {
      EXPECT_EQ("ok", engine_check) << table;  // these engines have a check of their own
    } else {
      EXPECT_TRUE(engine_check == "ok" || engine_check == "none") << engine_check;
    }
  }
}

TEST_P(SqlFunctions, CheckInsideATransactionWalksItsOwnWrites) {
  Create("t", "id INTEGER PRIMARY KEY, v");
  Fill("t", 10, "i");
  ASSERT_EQ(SQLITE_OK, db().Exec("BEGIN; INSERT INTO t VALUES (100, 'new')"));
  EXPECT_EQ(11, db().Int("SELECT json_extract(manifold_check('t'), '$.rows')"));
  EXPECT_EQ("1", db().Value("SELECT json_extract(manifold_check('t'), '$.ok')"));
  ASSERT_EQ(SQLITE_OK, db().Exec("ROLLBACK"));
  EXPECT_EQ(10, db().Int("SELECT json_extract(manifold_check('t'), '$.rows')"));
}

TEST_P(SqlFunctions, CheckOfAMissingTableIsAnErrorThatNamesIt) {
  std::string result = Check("nosuch");
  EXPECT_EQ(0u, result.find("error")) << result;
  EXPECT_NE(std::string::npos, result.find("manifold_check: no manifold table named 'nosuch'"))
      << result;
}

TEST_P(SqlFunctions, StatsCountOnlyTheTablesOwnKeyspace) {
  Create("small", "id INTEGER PRIMARY KEY, v");
  Create("big", "id INTEGER PRIMARY KEY, v");
  Fill("small", 10, "'x'");
  Settle("small");
  const int64_t small_logical =
      db().Int("SELECT json_extract(manifold_stats('small'), '$.logical_bytes')");
  const int64_t small_stored =
      db().Int("SELECT json_extract(manifold_stats('small'), '$.stored_bytes')");
  // Each row: an 8-byte rowid key and a short record.
  EXPECT_GE(small_logical, 10 * 9);
  EXPECT_LE(small_logical, 10 * 20);
  Fill("big", 2000, "randomblob(100)");
  Settle("big");
  EXPECT_EQ(small_logical,
            db().Int("SELECT json_extract(manifold_stats('small'), '$.logical_bytes')"));
  EXPECT_GE(db().Int("SELECT json_extract(manifold_stats('big'), '$.logical_bytes')"),
            2000 * 108);
  // The small table's stored bytes do not grow with its neighbour's rows.
  EXPECT_LT(db().Int("SELECT json_extract(manifold_stats('small'), '$.stored_bytes')"),
            std::max<int64_t>(small_stored, 1) * 4 + 4096);
}

TEST_P(SqlFunctions, StatsOfCompressibleRowsWithZstdStoreFewerBytesThanTheyHold) {
  Create("t", "id INTEGER PRIMARY KEY, v, compression=zstd");
  Fill("t", 2000, "printf('%.400c', char(65 + i % 26)) || i");
  Settle("t");
  const std::string s = "manifold_stats('t')";
  const int64_t logical = db().Int("SELECT json_extract(" + s + ", '$.logical_bytes')");
  const int64_t stored = db().Int("SELECT json_extract(" + s + ", '$.stored_bytes')");
  EXPECT_GE(logical, 2000 * 400);
  EXPECT_LT(stored * 3, logical) << db().Value("SELECT " + s);
  EXPECT_GT(db().Real("SELECT json_extract(" + s + ", '$.compression_ratio')"), 3.0);
  EXPECT_EQ("zstd", db().Value("SELECT json_extract(" + s + ", '$.compression')"));
}

TEST_P(SqlFunctions, StatsOfIncompressibleRowsWithZstdStoreAboutWhatTheyHold) {
  Create("t", "id INTEGER PRIMARY KEY, v, compression=zstd");
  Fill("t", 500, "randomblob(1000)");
  Settle("t");
  const std::string s = "manifold_stats('t')";
  const double logical = db().Int("SELECT json_extract(" + s + ", '$.logical_bytes')");
  const double stored = db().Int("SELECT json_extract(" + s + ", '$.stored_bytes')");
  EXPECT_GE(logical, 500 * 1000);
  EXPECT_GT(stored, logical * 0.9) << db().Value("SELECT " + s);
  EXPECT_LT(stored, logical * 1.2) << db().Value("SELECT " + s);
}

TEST_P(SqlFunctions, StatsWithoutCompressionStoreWhatIsGiven) {
  Create("t", "name TEXT PRIMARY KEY, v");
  Fill("t", 100, "'value'");
  ASSERT_EQ(SQLITE_OK, db().Exec("UPDATE t SET name = 'k' || name"));
  Settle("t");
  const std::string s = "manifold_stats('t')";
  EXPECT_EQ("none", db().Value("SELECT json_extract(" + s + ", '$.compression')"));
  const int64_t logical = db().Int("SELECT json_extract(" + s + ", '$.logical_bytes')");
  const int64_t stored = db().Int("SELECT json_extract(" + s + ", '$.stored_bytes')");
  if (engine() == "rocksdb") {
    // Measured from the SST files, which add their own block structure.
    EXPECT_GT(stored, logical / 2);
    EXPECT_LT(stored, logical * 3);
  } else {
    EXPECT_EQ(logical, stored);
    EXPECT_EQ("1.0", db().Value("SELECT json_extract(" + s + ", '$.compression_ratio')"));
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, SqlFunctions, ::testing::ValuesIn(RegisteredEngineNames()),
                         [](const auto& info) { return info.param; });

// A btree store whose pages are damaged one at a time while it is closed.
class DamagedBtree : public SqlFunctions {};

// Reads the whole file.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST_P(DamagedBtree, CheckReportsEachDamagedPageAndNeverCrashes) {
  constexpr size_t kPageSize = 4096;  // the btree default (FORMAT.md)
  const std::string store = dir_ + "/data.btree";
  Create("t", "id INTEGER PRIMARY KEY, v, path='data.btree'");
  Create("u", "name TEXT PRIMARY KEY, v, path='data.btree'");
  Fill("t", 600, "printf('%.80c', char(65 + i % 26))");
  Fill("u", 50, "randomblob(3000)");  // values long enough for overflow pages
  EXPECT_EQ("1", db().Value("SELECT json_extract(manifold_check('t'), '$.ok')"));
  db_.reset();
  const std::string pristine = ReadFile(store);
  ASSERT_EQ(0u, pristine.size() % kPageSize);
  ASSERT_TRUE(CheckBtreeFile(store).ok());

  int damaged_pages = 0, reported = 0;
  for (size_t page = 2; page < pristine.size() / kPageSize; ++page) {
    const uint8_t type = static_cast<uint8_t>(pristine[page * kPageSize + 4]);
    if (type < 2 || type > 5) continue;  // not a branch, leaf, overflow or freelist page
    // Two kinds of damage: the cells at the end of the page, and the header's
    // cell count.
    for (int variant = 0; variant < 2; ++variant) {
      std::string bytes = pristine;
      if (variant == 0) {
        for (size_t i = kPageSize - 48; i < kPageSize; ++i) bytes[page * kPageSize + i] ^= 0x5a;
      } else {
        bytes[page * kPageSize + 6] = '\xff';
        bytes[page * kPageSize + 7] = '\x7f';
      }
      WriteFile(store, bytes);
      // The store's own check, read-only, says whether the damage is in a page
      // in use (a page on the freelist may hold anything).
      const bool in_use = !CheckBtreeFile(store).ok();
      db_ = std::make_unique<Db>(dir_ + "/test.db");
      for (const std::string table : {"t", "u"}) {
        std::string result = Check(table);
        SCOPED_TRACE("page " + std::to_string(page) + " variant " + std::to_string(variant) +
                     " table " + table + ": " + result);
        const bool error = result.find("error") == 0;
        if (error) {
          // Only damage may make the function fail, and then as corruption.
          EXPECT_TRUE(in_use);
          EXPECT_EQ(SQLITE_CORRUPT, std::strtol(result.c_str() + 6, nullptr, 10) & 0xff);
          continue;
        }
        const std::string ok =
            db().Value("SELECT json_extract(manifold_check('" + table + "'), '$.ok')");
        EXPECT_EQ(in_use ? "0" : "1", ok);
        if (in_use && ok == "0") ++reported;
        // Reading the table answers or fails; it does not crash.
        db().Value("SELECT count(*), sum(length(v)) FROM " + table);
      }
      db_.reset();
      if (in_use) ++damaged_pages;
    }
  }
  EXPECT_GT(damaged_pages, 4);
  EXPECT_GT(reported, 4);
  WriteFile(store, pristine);
  db_ = std::make_unique<Db>(dir_ + "/test.db");
  EXPECT_EQ("1", db().Value("SELECT json_extract(manifold_check('u'), '$.ok')"));
}

INSTANTIATE_TEST_SUITE_P(Btree, DamagedBtree, ::testing::Values("btree"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace manifold
