// Stores written by other programs, read through raw tables
// (`(key BLOB PRIMARY KEY, value BLOB)`): an LMDB environment made by
// `mdb_load` (Debian's lmdb-utils), its unnamed main database and a named
// one, and a RocksDB directory made with RocksDB's C++ API, its default
// column family and another one. Every raw table is compared with a native
// table holding the bytes the test wrote, and the decoded columns with the
// numbers and strings the test encoded itself. Writes through writable raw
// tables are checked with the other program's own reader (mdb_dump, RocksDB).
// Last, the layout functions against bytes computed here.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sql_oracle.h"

namespace manifold {
namespace {

using sqltest::Outcome;
using sqltest::RunSql;

// --- Encodings, written here independently of manifold ---------------------

std::string BigEndian(uint64_t v, int width) {
  std::string out(static_cast<size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}

// `fields`, each prefixed by its length: width 0 = varint, else big-endian.
std::string LengthPrefixed(const std::vector<std::string>& fields, int width) {
  std::string out;
  for (const std::string& f : fields) {
    out += width == 0 ? Varint(f.size()) : BigEndian(f.size(), width);
    out += f;
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// One stored pair and what it means.
struct Entry {
  std::string key, value;
};

// Rows keyed by 8-byte big-endian integers, whose values hold two
// varint-length-prefixed strings; one value is longer than 127 bytes so its
// length takes two varint bytes.
std::vector<Entry> IntegerKeyedEntries(std::vector<std::pair<int64_t, std::string>>* meaning) {
  std::vector<Entry> entries;
  const int64_t ids[] = {1, 2, 42, 255, 256, 65535, 1000000007, int64_t{1} << 40};
  for (int64_t id : ids) {
    std::string name = "name-" + std::to_string(id);
    std::string note = id == 42 ? std::string(300, 'x') : "note " + std::to_string(id * 3);
    entries.push_back({BigEndian(static_cast<uint64_t>(id), 8), LengthPrefixed({name, note}, 0)});
    meaning->emplace_back(id, name + "|" + note);
  }
  return entries;
}

// Rows keyed by two 4-byte-length-prefixed strings (a composite key), values
// are 4-byte big-endian counters.
std::vector<Entry> CompositeKeyedEntries() {
  std::vector<Entry> entries;
  const char* streams[] = {"alpha", "beta", ""};
  for (const char* stream : streams) {
    for (int seq = 0; seq < 3; ++seq) {
      entries.push_back({LengthPrefixed({stream, "ev" + std::to_string(seq)}, 4),
                         BigEndian(static_cast<uint64_t>(seq * 1000 + 7), 4)});
    }
  }
  return entries;
}

class ExistingStoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sqltest::RegisterManifold();
    ASSERT_TRUE(db_.Open(dir_.path() + "/app.db"));
  }

  Outcome Run(const std::string& sql) {
    Outcome outcome = RunSql(db_, sql);
    EXPECT_EQ(outcome.rc, SQLITE_OK) << sql << "\n" << outcome.ToString();
    return outcome;
  }

  // Creates native table `name` (key BLOB PRIMARY KEY, value BLOB) holding
  // `entries`: the oracle a raw table is compared with.
  void CreateOracle(const std::string& name, const std::vector<Entry>& entries) {
    Run("CREATE TABLE " + name + "(key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID");
    for (const Entry& e : entries) {
      Run("INSERT INTO " + name + " VALUES (x'" + Hex(e.key) + "', x'" + Hex(e.value) + "')");
    }
  }

  // The same query on the raw table and on the oracle must give the same rows.
  void ExpectSame(const std::string& query_with_T, const std::string& raw,
                  const std::string& oracle) {
    auto on = [&](const std::string& table) {
      std::string sql = query_with_T;
      for (size_t at; (at = sql.find("%T")) != std::string::npos;) sql.replace(at, 2, table);
      return Run(sql).ToString();
    };
    EXPECT_EQ(on(raw), on(oracle)) << query_with_T;
  }

  sqltest::TempDir dir_;
  sqltest::Connection db_;
};

// --- LMDB, written by mdb_load ---------------------------------------------

bool HaveProgram(const char* name) {
  std::string command = std::string("command -v ") + name + " >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// Writes `entries` in mdb_dump's bytevalue format and loads them with
// mdb_load into `env` (the unnamed main database when `subdb` is empty).
void MdbLoad(const std::string& env, const std::string& subdb, const std::vector<Entry>& entries,
             const std::string& scratch) {
  const std::string input = scratch + "/load-" + (subdb.empty() ? "main" : subdb) + ".txt";
  {
    std::ofstream out(input);
    out << "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";
    for (const Entry& e : entries) out << " " << Hex(e.key) << "\n " << Hex(e.value) << "\n";
    out << "DATA=END\n";
  }
  std::string command =
      "mdb_load -f '" + input + "'" + (subdb.empty() ? "" : " -s " + subdb) + " '" + env + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// Returns what mdb_dump prints for `subdb` of `env` in printable form.
std::string MdbDump(const std::string& env, const std::string& subdb) {
  std::string command =
      "mdb_dump -p" + (subdb.empty() ? "" : " -s " + subdb) + " '" + env + "' 2>/dev/null";
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
    pclose(pipe);
  }
  return out;
}

TEST_F(ExistingStoresTest, LmdbMainAndNamedDatabasesFromMdbLoad) {
  if (!HaveProgram("mdb_load") || !HaveProgram("mdb_dump")) {
    GTEST_SKIP() << "mdb_load/mdb_dump not installed (Debian package lmdb-utils): the LMDB "
                    "environment of another program cannot be made";
  }
  const std::string env = dir_.path() + "/other.lmdb";
  ASSERT_EQ(mkdir(env.c_str(), 0755), 0);
  std::vector<std::pair<int64_t, std::string>> meaning;
  const std::vector<Entry> main_entries = IntegerKeyedEntries(&meaning);
  const std::vector<Entry> named_entries = CompositeKeyedEntries();
  MdbLoad(env, "", main_entries, dir_.path());
  MdbLoad(env, "objects", named_entries, dir_.path());

  Run("CREATE VIRTUAL TABLE main_db USING lmdb(path='other.lmdb', table='', readonly=1)");
  Run("CREATE VIRTUAL TABLE objects USING lmdb(path='other.lmdb', table='objects', readonly=1)");
  CreateOracle("main_oracle", main_entries);
  CreateOracle("objects_oracle", named_entries);

  // LMDB keeps the record of each named database in the main database.
  Outcome record = Run("SELECT count(*) FROM main_db WHERE key = CAST('objects' AS BLOB)");
  EXPECT_EQ(record.rows, std::vector<std::string>{"integer 1"});
  const std::string not_record = " WHERE key <> CAST('objects' AS BLOB)";
  ExpectSame("SELECT hex(key), hex(value) FROM %T" + not_record + " ORDER BY key", "main_db",
             "main_oracle");
  ExpectSame("SELECT hex(key), hex(value) FROM %T ORDER BY key", "objects", "objects_oracle");

  // Decoded in SQL: the integers and strings this test encoded.
  Outcome decoded =
      Run("SELECT manifold_decode_be(key), CAST(manifold_decode_lp(value, 1) AS TEXT)"
          " || '|' || CAST(manifold_decode_lp(value, 2) AS TEXT) FROM main_db" +
          not_record + " ORDER BY key");
  std::vector<std::string> expected;
  for (const auto& [id, text] : meaning) {
    expected.push_back("integer " + std::to_string(id) + " | text '" + text + "'");
  }
  EXPECT_EQ(decoded.rows, expected);
  // A point lookup and a range by integer key, as on the oracle.
  ExpectSame(
      "SELECT manifold_decode_be(key), hex(value) FROM %T WHERE key = manifold_encode_be(42)",
      "main_db", "main_oracle");
  ExpectSame(
      "SELECT manifold_decode_be(key) FROM %T WHERE key >= manifold_encode_be(256) AND "
      "key < manifold_encode_be(1000000007) ORDER BY key DESC",
      "main_db", "main_oracle");
  ExpectSame(
      "SELECT CAST(manifold_decode_lp(key, 1, 4) AS TEXT), "
      "CAST(manifold_decode_lp(key, 2, 4) AS TEXT), manifold_decode_be(value) "
      "FROM %T ORDER BY key",
      "objects", "objects_oracle");
  // A read-only open leaves the environment as mdb_load made it.
  EXPECT_FALSE(std::filesystem::exists(env + "/manifold-open.lock"));
  EXPECT_NE(Run("SELECT name FROM pragma_table_info('main_db')").rows.size(), 0u);
}

TEST_F(ExistingStoresTest, LmdbWritesThroughRawTablesAreSeenByMdbDump) {
  if (!HaveProgram("mdb_load") || !HaveProgram("mdb_dump")) {
    GTEST_SKIP() << "mdb_load/mdb_dump not installed (Debian package lmdb-utils): the LMDB "
                    "environment of another program cannot be made";
  }
  const std::string env = dir_.path() + "/writable.lmdb";
  ASSERT_EQ(mkdir(env.c_str(), 0755), 0);
  std::vector<std::pair<int64_t, std::string>> meaning;
  MdbLoad(env, "", IntegerKeyedEntries(&meaning), dir_.path());
  MdbLoad(env, "objects", CompositeKeyedEntries(), dir_.path());

  Run("CREATE VIRTUAL TABLE main_db USING lmdb(path='writable.lmdb', table='')");
  Run("CREATE VIRTUAL TABLE objects USING lmdb(path='writable.lmdb', table='objects')");
  Run("INSERT INTO main_db VALUES (manifold_encode_be(77), CAST('seventy-seven' AS BLOB))");
  Run("DELETE FROM objects WHERE manifold_decode_lp(key, 1, 4) = CAST('beta' AS BLOB)");
  // The main database's record of a named database is LMDB's, not a row.
  Outcome clobber =
      RunSql(db_, "INSERT OR REPLACE INTO main_db VALUES (CAST('objects' AS BLOB), x'00')");
  EXPECT_NE(clobber.rc, SQLITE_OK);

  // mdb_dump -p prints printable bytes as they are, others as \hh.
  const std::string main_dump = MdbDump(env, "");
  EXPECT_NE(main_dump.find(" \\00\\00\\00\\00\\00\\00\\00M\n seventy-seven\n"), std::string::npos)
      << main_dump;
  const std::string objects_dump = MdbDump(env, "objects");
  EXPECT_EQ(objects_dump.find("beta"), std::string::npos) << objects_dump;
  EXPECT_NE(objects_dump.find("alpha"), std::string::npos) << objects_dump;
  // DROP TABLE forgets a table on the main database and leaves its data;
  // on a named database it drops that database, as for any table.
  Run("DROP TABLE main_db");
  Run("DROP TABLE objects");
  EXPECT_NE(MdbDump(env, "").find("seventy-seven"), std::string::npos);
  EXPECT_EQ(MdbDump(env, "objects").find("alpha"), std::string::npos);
}

// --- RocksDB, written with its C++ API --------------------------------------

// Writes `default_entries` into the default column family and
// `events_entries` into column family "events" of a new RocksDB at `path`.
void WriteRocksdb(const std::string& path, const std::vector<Entry>& default_entries,
                  const std::vector<Entry>& events_entries) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"events", rocksdb::ColumnFamilyOptions()}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, families, &handles, &raw);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);
  for (const Entry& e : default_entries) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], e.key, e.value).ok());
  }
  for (const Entry& e : events_entries) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], e.key, e.value).ok());
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

// Returns the value of `key` in column family `family` of the RocksDB at
// `path`, or "<absent>".
std::string RocksdbGet(const std::string& path, const std::string& family, const std::string& key) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, families, &handles, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return "<cannot open>";
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value = "<absent>";
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == family) {
      std::string found;
      if (db->Get(rocksdb::ReadOptions(), handles[i], key, &found).ok()) value = found;
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles)
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  return value;
}

TEST_F(ExistingStoresTest, RocksdbDefaultAndNamedColumnFamiliesFromTheCppApi) {
  const std::string path = dir_.path() + "/other.rocksdb";
  std::vector<std::pair<int64_t, std::string>> meaning;
  const std::vector<Entry> default_entries = IntegerKeyedEntries(&meaning);
  const std::vector<Entry> events_entries = CompositeKeyedEntries();
  WriteRocksdb(path, default_entries, events_entries);

  Run("CREATE VIRTUAL TABLE dflt USING rocksdb(path='other.rocksdb', table='default', readonly=1)");
  Run("CREATE VIRTUAL TABLE events USING rocksdb(path='other.rocksdb', table='events', "
      "readonly=1)");
  CreateOracle("dflt_oracle", default_entries);
  CreateOracle("events_oracle", events_entries);
  ExpectSame("SELECT hex(key), hex(value) FROM %T ORDER BY key", "dflt", "dflt_oracle");
  ExpectSame("SELECT hex(key), hex(value) FROM %T ORDER BY key DESC", "events", "events_oracle");
  Outcome decoded =
      Run("SELECT manifold_decode_be(key), CAST(manifold_decode_lp(value, 1) AS TEXT)"
          " || '|' || CAST(manifold_decode_lp(value, 2) AS TEXT) FROM dflt"
          " ORDER BY key");
  std::vector<std::string> expected;
  for (const auto& [id, text] : meaning) {
    expected.push_back("integer " + std::to_string(id) + " | text '" + text + "'");
  }
  EXPECT_EQ(decoded.rows, expected);
  ExpectSame(
      "SELECT manifold_decode_be(key) FROM %T WHERE key BETWEEN manifold_encode_be(2) AND "
      "manifold_encode_be(65535) ORDER BY key",
      "dflt", "dflt_oracle");
  ExpectSame(
      "SELECT CAST(manifold_decode_lp(key, 2, 4) AS TEXT), manifold_decode_be(value) "
      "FROM %T WHERE manifold_decode_lp(key, 1, 4) = CAST('alpha' AS BLOB) ORDER BY key",
      "events", "events_oracle");
}

TEST_F(ExistingStoresTest, RocksdbWritesThroughRawTablesAreSeenByRocksdb) {
  const std::string path = dir_.path() + "/writable.rocksdb";
  std::vector<std::pair<int64_t, std::string>> meaning;
  WriteRocksdb(path, IntegerKeyedEntries(&meaning), CompositeKeyedEntries());
  {
    sqltest::Connection db;
    ASSERT_TRUE(db.Open(dir_.path() + "/app.db"));
    auto run = [&](const std::string& sql) {
      Outcome o = RunSql(db, sql);
      EXPECT_EQ(o.rc, SQLITE_OK) << sql << "\n" << o.ToString();
      return o;
    };
    run("CREATE VIRTUAL TABLE dflt USING rocksdb(path='writable.rocksdb', table='default')");
    run("CREATE VIRTUAL TABLE events USING rocksdb(path='writable.rocksdb', table='events')");
    run("UPDATE dflt SET value = CAST('changed' AS BLOB) WHERE key = manifold_encode_be(2)");
    run("INSERT INTO events VALUES (x'00', x'01')");
    // DROP TABLE on the default column family forgets the table only.
    run("DROP TABLE dflt");
  }
  EXPECT_EQ(RocksdbGet(path, "default", BigEndian(2, 8)), "changed");
  EXPECT_EQ(RocksdbGet(path, "default", BigEndian(42, 8)),
            LengthPrefixed({"name-42", std::string(300, 'x')}, 0));
  EXPECT_EQ(RocksdbGet(path, "events", std::string(1, '\0')), std::string(1, '\1'));
}

// --- The layout functions against bytes computed here ----------------------

TEST_F(ExistingStoresTest, LayoutFunctionsMatchIndependentlyComputedBytes) {
  const int64_t values[] = {0,         1,     127,      128,        255,
                            256,       65535, 65536,    1000000007, (int64_t{1} << 56) - 1,
                            INT64_MAX, -1,    INT64_MIN};
  for (int64_t v : values) {
    SCOPED_TRACE(v);
    const std::string n = std::to_string(v);
    const std::string literal = v == INT64_MIN ? "(-9223372036854775807 - 1)" : n;
    Outcome enc = Run("SELECT hex(manifold_encode_be(" + literal + "))");
    EXPECT_EQ(enc.rows, std::vector<std::string>{
                            "text '" + Hex(BigEndian(static_cast<uint64_t>(v), 8)) + "'"});
    Outcome dec =
        Run("SELECT manifold_decode_be(x'" + Hex(BigEndian(static_cast<uint64_t>(v), 8)) + "')");
    EXPECT_EQ(dec.rows, std::vector<std::string>{"integer " + n});
    for (int width = 1; width < 8; ++width) {
      const bool fits = v >= 0 && (static_cast<uint64_t>(v) >> (8 * width)) == 0;
      Outcome narrow = RunSql(
          db_, "SELECT hex(manifold_encode_be(" + literal + ", " + std::to_string(width) + "))");
      if (!fits) {
        EXPECT_EQ(narrow.rc, SQLITE_ERROR) << narrow.ToString();
        continue;
      }
      EXPECT_EQ(narrow.rows, std::vector<std::string>{
                                 "text '" + Hex(BigEndian(static_cast<uint64_t>(v), width)) + "'"});
      Outcome back = Run("SELECT manifold_decode_be(x'" +
                         Hex(BigEndian(static_cast<uint64_t>(v), width)) + "')");
      EXPECT_EQ(back.rows, std::vector<std::string>{"integer " + n});
    }
  }
  // Length-prefixed fields in every prefix form; a 200-byte field needs a
  // two-byte varint.
  const std::vector<std::string> fields = {"a", "", std::string(200, 'q'), std::string("\0\1z", 3)};
  for (int width : {0, 1, 2, 4, 8}) {
    SCOPED_TRACE(width);
    const std::string blob = "x'" + Hex(LengthPrefixed(fields, width)) + "'";
    const std::string prefix = width == 0 ? "" : ", " + std::to_string(width);
    for (size_t i = 0; i < fields.size(); ++i) {
      Outcome field = Run("SELECT hex(manifold_decode_lp(" + blob + ", " + std::to_string(i + 1) +
                          prefix + ")), typeof(manifold_decode_lp(" + blob + ", " +
                          std::to_string(i + 1) + prefix + "))");
      EXPECT_EQ(field.rows,
                std::vector<std::string>{"text '" + Hex(fields[i]) + "' | text 'blob'"});
    }
    Outcome past = Run("SELECT manifold_decode_lp(" + blob + ", 5" + prefix + ")");
    EXPECT_EQ(past.rows, std::vector<std::string>{"null"});
  }
  EXPECT_EQ(
      Run("SELECT hex(manifold_decode_lp(x'" + Hex(LengthPrefixed(fields, 0)) + "', 3, 'varint'))")
          .rows,
      std::vector<std::string>{"text '" + Hex(fields[2]) + "'"});
  // A length running past the end, a varint cut short, NULL: NULL.
  EXPECT_EQ(Run("SELECT manifold_decode_lp(x'05616263', 1)").rows,
            std::vector<std::string>{"null"});
  EXPECT_EQ(Run("SELECT manifold_decode_lp(x'80', 1)").rows, std::vector<std::string>{"null"});
  EXPECT_EQ(Run("SELECT manifold_decode_lp(NULL, 1), manifold_decode_be(NULL), "
                "manifold_encode_be(NULL)")
                .rows,
            std::vector<std::string>{"null | null | null"});
  // Misuse is an error that says what is allowed.
  Outcome wide = RunSql(db_, "SELECT manifold_decode_be(x'010203040506070809')");
  EXPECT_EQ(wide.rc, SQLITE_ERROR);
  EXPECT_EQ(wide.message, "manifold_decode_be: expects 1 to 8 bytes, got 9");
  Outcome bad_prefix = RunSql(db_, "SELECT manifold_decode_lp(x'00', 1, 3)");
  EXPECT_EQ(bad_prefix.message,
            "manifold_decode_lp: unknown length prefix '3' (allowed: 'varint', 1, 2, 4, 8)");
  Outcome bad_field = RunSql(db_, "SELECT manifold_decode_lp(x'00', 0)");
  EXPECT_EQ(bad_field.message, "manifold_decode_lp: the field number counts from 1");
}

}  // namespace
}  // namespace manifold
