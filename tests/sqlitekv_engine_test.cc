// Behaviour of the sqlitekv engine beyond the shared conformance suite: the
// store is an ordinary SQLite database whose keyspaces are WITHOUT ROWID
// tables that SQLite itself can read and write, the write lock is SQLite's
// (Busy for a writer of another connection or process after the wait),
// read-only stores, snapshots, reopening, compaction and damaged files.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "conformance_util.h"
#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {
namespace {

using ::manifold::testing::GetOr;
using ::manifold::testing::KeyValues;
using ::manifold::testing::Scan;
using ::manifold::testing::TempDir;

constexpr auto kTinyWait = std::chrono::milliseconds(20);
constexpr auto kLongWait = std::chrono::milliseconds(30000);

// A plain sqlite3 connection on the store file, as another program would open it.
class RawDb {
 public:
  RawDb(const std::string& path, int flags) {
    rc_ = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc_ == SQLITE_OK) sqlite3_busy_timeout(db_, 0);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
  // Returns the rows of `sql`, columns joined by '|', rows by '\n'; or the error.
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return std::string("<error: ") + sqlite3_errmsg(db_) + ">";
    }
    std::string out;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!out.empty()) out += '\n';
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i > 0) out += '|';
        const unsigned char* text = sqlite3_column_text(stmt, i);
        out += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
      }
    }
    if (rc != SQLITE_DONE) out = std::string("<error: ") + sqlite3_errmsg(db_) + ">";
    sqlite3_finalize(stmt);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// A pipe for handing one byte between parent and child: no sleeps.
class Pipe {
 public:
  Pipe() { ok_ = ::pipe(fds_) == 0; }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  bool ok() const { return ok_; }
  bool Send(char c) { return ::write(fds_[1], &c, 1) == 1; }
  char Receive() {
    char c = 0;
    return ::read(fds_[0], &c, 1) == 1 ? c : '\0';
  }

 private:
  int fds_[2] = {-1, -1};
  bool ok_ = false;
};

class SqlitekvEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.path() + "/store.sqlite";
    options_.path = path_;
    options_.create_if_missing = true;
    options_.sync = SyncMode::kOff;
  }

  std::unique_ptr<Engine> OpenOrDie(const Options& options) {
    Result<std::unique_ptr<Engine>> engine = Engine::Open("sqlitekv", options);
    EXPECT_OK(engine);
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  // Commits `entries` into keyspace `keyspace` (created if absent).
  void Commit(Engine& engine, const std::string& keyspace, const KeyValues& entries) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine.BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace(keyspace));
    for (const auto& [key, value] : entries) ASSERT_OK(txn->Put(ks, key, value));
    ASSERT_OK(txn->Commit());
  }

  KeyValues Contents(Engine& engine, const std::string& keyspace) {
    Result<std::unique_ptr<ReadTxn>> txn = engine.BeginRead();
    if (!txn.ok()) return {{"<error>", txn.status().ToString()}};
    Result<Keyspace> ks = (*txn)->OpenKeyspace(keyspace);
    if (!ks.ok()) return {{"<error>", ks.status().ToString()}};
    return Scan(**txn, *ks);
  }

  TempDir dir_;
  std::string path_;
  Options options_;
};

TEST_F(SqlitekvEngineTest, RegistryReportsSqlitekvAfterRocksdbWithSqlitesVersion) {
  std::vector<std::string> names;
  for (const EngineInfo& info : RegisteredEngines()) {
    names.push_back(info.name);
    if (info.name != "sqlitekv") continue;
    EXPECT_TRUE(info.available);
    EXPECT_EQ(sqlite3_libversion(), info.library_version);
    EXPECT_TRUE(info.capabilities.persistent);
    EXPECT_TRUE(info.capabilities.multi_process);
    EXPECT_FALSE(info.capabilities.native_compression);
    EXPECT_TRUE(info.capabilities.empty_keys);
    EXPECT_EQ(0u, info.capabilities.max_key_size);
    EXPECT_TRUE(info.option_names.empty());
  }
  auto position = [&](const std::string& name) {
    return std::find(names.begin(), names.end(), name) - names.begin();
  };
  ASSERT_NE(names.size(), static_cast<size_t>(position("sqlitekv")));
  EXPECT_EQ(position("rocksdb") + 1, position("sqlitekv"));
  EXPECT_EQ(position("sqlitekv") + 1, position("memory"));
}

TEST_F(SqlitekvEngineTest, EngineNameSqliteIsAnAlias) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Engine::Open("sqlite", options_));
  EXPECT_EQ("sqlitekv", engine->name());
}

TEST_F(SqlitekvEngineTest, UnknownOptionIsInvalidArgumentAndCreatesNothing) {
  options_.engine_options["page_size"] = "4096";
  Result<std::unique_ptr<Engine>> engine = Engine::Open("sqlitekv", options_);
  EXPECT_CODE(kInvalidArgument, engine);
  EXPECT_NE(std::string::npos, engine.status().message().find("'page_size'"));
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(SqlitekvEngineTest, StoreIsASqliteDatabaseWithWithoutRowidTablePerKeyspace) {
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "users", {{"b", "2"}, {std::string("a\x00", 2), "1"}, {"\xff", "3"}});
  Commit(*engine, "events", {{"k", "v"}});
  engine.reset();  // closed: the WAL is checkpointed into the file

  RawDb raw(path_, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ("ok", raw.Query("PRAGMA integrity_check"));
  EXPECT_EQ("wal", raw.Query("PRAGMA journal_mode"));
  EXPECT_EQ("events|ks:events\nusers|ks:users",
            raw.Query("SELECT CAST(name AS TEXT), table_name FROM manifold_keyspaces ORDER BY name"));
  std::string sql = raw.Query("SELECT sql FROM sqlite_schema WHERE name = 'ks:users'");
  EXPECT_NE(std::string::npos, sql.find("WITHOUT ROWID")) << sql;
  EXPECT_NE(std::string::npos, sql.find("k BLOB PRIMARY KEY")) << sql;
  // BLOB keys in SQLite's own order are manifold's unsigned byte order.
  EXPECT_EQ("6100|31\n62|32\nFF|33",
            raw.Query("SELECT hex(k), hex(v) FROM \"ks:users\" ORDER BY k"));
  EXPECT_EQ("blob", raw.Query("SELECT DISTINCT typeof(k) FROM \"ks:users\""));
}

TEST_F(SqlitekvEngineTest, RowsWrittenBySqliteItselfAreReadByTheEngine) {
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "ks", {{"a", "1"}});
  {
    RawDb raw(path_, SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(SQLITE_OK, raw.Exec("INSERT INTO \"ks:ks\" VALUES (x'62', x'32')"));
  }
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Contents(*engine, "ks"));
}

TEST_F(SqlitekvEngineTest, KeyspaceNamesOfAnyBytesGetTablesOfTheirOwn) {
  // Table names are case-insensitive and cannot hold every byte; keyspace
  // names are bytes.
  const std::vector<std::string> names = {"Users", "users", "USERS#2", "with \"quotes\"",
                                          std::string("nul\x00inside", 10), "\xff\xfe", ""};
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  for (size_t i = 0; i < names.size(); ++i) {
    Commit(*engine, names[i], {{"k", std::to_string(i)}});
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(KeyValues({{"k", std::to_string(i)}}), Contents(*engine, names[i]))
        << "keyspace " << i;
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> listed, reader->ListKeyspaces());
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, listed);
  reader.reset();
  engine.reset();
  RawDb raw(path_, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(std::to_string(names.size()),
            raw.Query("SELECT count(DISTINCT lower(table_name)) FROM manifold_keyspaces"));
}

TEST_F(SqlitekvEngineTest, DroppedAndRolledBackKeyspacesLeaveNoTableBehind) {
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "dropped", {{"k", "v"}});
  Commit(*engine, "kept", {{"k", "v"}});
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK(txn->DropKeyspace("dropped"));
    ASSERT_OK(txn->CreateKeyspace("never"));
    ASSERT_OK(txn->Savepoint(1));
    ASSERT_OK(txn->CreateKeyspace("rolled back"));
    ASSERT_OK(txn->RollbackTo(1));
    ASSERT_OK(txn->Commit());
  }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK(txn->DropKeyspace("never"));
    ASSERT_OK(txn->CreateKeyspace("uncommitted"));
  }  // rolled back
  RawDb raw(path_, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ("ks:kept\nks:never",
            raw.Query("SELECT name FROM sqlite_schema WHERE name LIKE 'ks%' ORDER BY name"));
  EXPECT_EQ("kept|ks:kept\nnever|ks:never",
            raw.Query("SELECT CAST(name AS TEXT), table_name FROM manifold_keyspaces "
                      "ORDER BY name"));
}

TEST_F(SqlitekvEngineTest, WriterOfAnotherConnectionMakesBeginWriteBusyAfterTheWait) {
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "ks", {{"a", "1"}});
  RawDb raw(path_, SQLITE_OPEN_READWRITE);
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(SQLITE_OK, raw.Exec("BEGIN IMMEDIATE; INSERT INTO \"ks:ks\" VALUES (x'62', x'32')"));
  Result<std::unique_ptr<WriteTxn>> busy = engine->BeginWrite(kTinyWait);
  EXPECT_CODE(kBusy, busy);
  EXPECT_NE(std::string::npos, busy.status().message().find(path_)) << busy.status().ToString();
  // Readers are not blocked by that writer, and do not see its work.
  EXPECT_EQ(KeyValues({{"a", "1"}}), Contents(*engine, "ks"));
  ASSERT_EQ(SQLITE_OK, raw.Exec("COMMIT"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kTinyWait));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
  EXPECT_EQ("2", GetOr(*txn, ks, "b"));
}

TEST_F(SqlitekvEngineTest, WriterInAnotherProcessMakesBeginWriteBusyUntilItCommits) {
  {
    std::unique_ptr<Engine> engine = OpenOrDie(options_);
    ASSERT_NE(engine, nullptr);
    Commit(*engine, "ks", {{"a", "1"}});
  }  // closed before fork: the child opens the store on its own
  Pipe to_parent, to_child;
  ASSERT_TRUE(to_parent.ok() && to_child.ok());
  pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    {
      Result<std::unique_ptr<Engine>> engine = Engine::Open("sqlitekv", options_);
      if (!engine.ok()) ::_exit(1);
      Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kLongWait);
      if (!txn.ok()) ::_exit(2);
      Result<Keyspace> ks = (*txn)->OpenKeyspace("ks");
      if (!ks.ok() || !(*txn)->Put(*ks, "b", "from child").ok()) ::_exit(3);
      to_parent.Send('w');  // writing
      if (to_child.Receive() != 'c') ::_exit(4);
      if (!(*txn)->Commit().ok()) code = 5;
    }
    to_parent.Send('d');
    ::_exit(code);
  }
  ASSERT_GT(child, 0);
  ASSERT_EQ('w', to_parent.Receive());
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  EXPECT_CODE(kBusy, engine->BeginWrite(kTinyWait));
  EXPECT_EQ(KeyValues({{"a", "1"}}), Contents(*engine, "ks"));
  to_child.Send('c');
  EXPECT_EQ('d', to_parent.Receive());
  int status = 0;
  ASSERT_EQ(child, ::waitpid(child, &status, 0));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(0, WEXITSTATUS(status));
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "from child"}}), Contents(*engine, "ks"));
  ASSERT_OK(engine->BeginWrite(kTinyWait));
}

TEST_F(SqlitekvEngineTest, ReadOnlyHandleReadsAndRefusesWritesWhileWritableHandleWrites) {
  std::unique_ptr<Engine> writable = OpenOrDie(options_);
  ASSERT_NE(writable, nullptr);
  Commit(*writable, "ks", {{"a", "1"}});
  Options read_only_options = options_;
  read_only_options.read_only = true;
  read_only_options.create_if_missing = false;
  std::unique_ptr<Engine> read_only = OpenOrDie(read_only_options);
  ASSERT_NE(read_only, nullptr);
  EXPECT_CODE(kReadOnly, read_only->BeginWrite(kTinyWait));
  EXPECT_CODE(kReadOnly, read_only->Compact());
  Commit(*writable, "ks", {{"b", "2"}});
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Contents(*read_only, "ks"));
}

TEST_F(SqlitekvEngineTest, StoreFirstOpenedReadOnlyGainsAWriterWhenAWritableHandleJoins) {
  { Commit(*OpenOrDie(options_), "ks", {{"a", "1"}}); }
  Options read_only_options = options_;
  read_only_options.read_only = true;
  std::unique_ptr<Engine> read_only = OpenOrDie(read_only_options);
  ASSERT_NE(read_only, nullptr);
  EXPECT_CODE(kReadOnly, read_only->BeginWrite(kTinyWait));
  std::unique_ptr<Engine> writable = OpenOrDie(options_);
  ASSERT_NE(writable, nullptr);
  Commit(*writable, "ks", {{"b", "2"}});
  EXPECT_EQ(KeyValues({{"a", "1"}, {"b", "2"}}), Contents(*read_only, "ks"));
  EXPECT_CODE(kReadOnly, read_only->BeginWrite(kTinyWait));
}

TEST_F(SqlitekvEngineTest, ReopenKeepsKeyspacesAndDataAndLeavesNoWal) {
  for (SyncMode sync : {SyncMode::kFull, SyncMode::kNormal, SyncMode::kOff}) {
    options_.sync = sync;
    std::unique_ptr<Engine> engine = OpenOrDie(options_);
    ASSERT_NE(engine, nullptr);
    Commit(*engine, "ks" + std::to_string(static_cast<int>(sync)), {{"k", "v"}});
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
  options_.create_if_missing = false;
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, reader->ListKeyspaces());
  EXPECT_EQ((std::vector<std::string>{"ks0", "ks1", "ks2"}), names);
  reader.reset();
  EXPECT_EQ(KeyValues({{"k", "v"}}), Contents(*engine, "ks1"));
}

TEST_F(SqlitekvEngineTest, EveryOpenSnapshotKeepsItsOwnCommit) {
  // More snapshots than the idle connection pool keeps, all open at once.
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  std::vector<std::unique_ptr<ReadTxn>> snapshots;
  for (int i = 0; i < 12; ++i) {
    Commit(*engine, "ks", {{"n", std::to_string(i)}});
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> snapshot, engine->BeginRead());
    snapshots.push_back(std::move(snapshot));
  }
  for (int i = 0; i < 12; ++i) {
    ASSERT_OK_AND_ASSIGN(Keyspace ks, snapshots[i]->OpenKeyspace("ks"));
    EXPECT_EQ(std::to_string(i), GetOr(*snapshots[i], ks, "n")) << "snapshot " << i;
  }
}

TEST_F(SqlitekvEngineTest, CompactGivesBackTheSpaceOfDeletedValues) {
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  KeyValues entries;
  for (int i = 0; i < 64; ++i) entries.emplace_back("k" + std::to_string(100 + i), std::string(32768, 'x'));
  Commit(*engine, "ks", entries);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
    for (int i = 1; i < 64; ++i) ASSERT_OK(txn->Delete(ks, "k" + std::to_string(100 + i)));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t before, engine->EstimatedSize());
  ASSERT_OK(engine->Compact());
  ASSERT_OK_AND_ASSIGN(uint64_t after, engine->EstimatedSize());
  EXPECT_LT(after, before / 4) << "before " << before << ", after " << after;
  EXPECT_EQ(KeyValues({{"k100", std::string(32768, 'x')}}), Contents(*engine, "ks"));
  EXPECT_OK(engine->Check());
}

TEST_F(SqlitekvEngineTest, FileThatIsNotASqliteDatabaseIsCorruptionNamingIt) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << std::string(8192, 'j');
  }
  for (bool read_only : {false, true}) {
    options_.read_only = read_only;
    Result<std::unique_ptr<Engine>> engine = Engine::Open("sqlitekv", options_);
    EXPECT_CODE(kCorruption, engine);
    EXPECT_NE(std::string::npos, engine.status().message().find(path_))
        << engine.status().ToString();
  }
}

TEST_F(SqlitekvEngineTest, ReadOnlyOpenOfAPlainSqliteDatabaseSeesNoKeyspaces) {
  {
    RawDb raw(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(SQLITE_OK, raw.Exec("CREATE TABLE notes(x)"));
  }
  options_.read_only = true;
  std::unique_ptr<Engine> engine = OpenOrDie(options_);
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, reader->ListKeyspaces());
  EXPECT_TRUE(names.empty());
  EXPECT_CODE(kNotFound, reader->OpenKeyspace("notes"));
}

}  // namespace
}  // namespace manifold
