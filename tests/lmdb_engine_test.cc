// Behaviour of the lmdb engine beyond the shared conformance suite: the map
// growing by itself, one environment per directory per process, the write
// locks within and across processes, LMDB's key limits, read-only stores,
// stores written by other programs, and compaction.
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "conformance_util.h"
#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {
namespace {

using ::manifold::testing::At;
using ::manifold::testing::GetOr;
using ::manifold::testing::KeyValues;
using ::manifold::testing::Scan;
using ::manifold::testing::TempDir;

constexpr auto kNoWait = std::chrono::milliseconds(0);
constexpr auto kTinyWait = std::chrono::milliseconds(20);
constexpr auto kLongWait = std::chrono::milliseconds(30000);

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

// Runs `body` in a child process and returns its exit status. The child must
// not touch environments the parent has open: LMDB handles do not survive fork.
template <typename Body>
pid_t Fork(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class LmdbEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.path() + "/store";
    options_.path = path_;
    options_.create_if_missing = true;
    options_.sync = SyncMode::kOff;
  }

  Result<std::unique_ptr<Engine>> Open(const Options& options) {
    return Engine::Open("lmdb", options);
  }
  std::unique_ptr<Engine> OpenOrDie() {
    Result<std::unique_ptr<Engine>> engine = Open(options_);
    EXPECT_OK(engine);
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  // Commits key=value into keyspace "ks".
  void Commit(Engine& engine, const std::string& key, const std::string& value) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine.BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
    ASSERT_OK(txn->Put(ks, key, value));
    ASSERT_OK(txn->Commit());
  }

  std::string Read(Engine& engine, const std::string& key, const std::string& keyspace = "ks") {
    Result<std::unique_ptr<ReadTxn>> txn = engine.BeginRead();
    if (!txn.ok()) return "<error: " + txn.status().ToString() + ">";
    Result<Keyspace> ks = (*txn)->OpenKeyspace(keyspace);
    if (!ks.ok()) return "<error: " + ks.status().ToString() + ">";
    return GetOr(**txn, *ks, key);
  }

  TempDir dir_;
  std::string path_;
  Options options_;
};

TEST_F(LmdbEngineTest, RegistryReportsLmdbWithItsLimitsAndOptions) {
  bool found = false;
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name != "lmdb") continue;
    found = true;
    EXPECT_TRUE(info.available);
    EXPECT_TRUE(info.capabilities.persistent);
    EXPECT_TRUE(info.capabilities.multi_process);
    EXPECT_FALSE(info.capabilities.empty_keys);
    EXPECT_EQ(511u, info.capabilities.max_key_size);
    EXPECT_EQ(std::to_string(MDB_VERSION_MAJOR) + "." + std::to_string(MDB_VERSION_MINOR) + "." +
                  std::to_string(MDB_VERSION_PATCH),
              info.library_version);
    EXPECT_EQ((std::vector<std::string>{"map_size", "max_readers", "max_keyspaces"}),
              info.option_names);
  }
  EXPECT_TRUE(found);
}

TEST_F(LmdbEngineTest, UnknownOptionIsInvalidArgumentNamingItAndTheKnownOnes) {
  options_.engine_options["map_sise"] = "1";
  Result<std::unique_ptr<Engine>> engine = Open(options_);
  EXPECT_CODE(kInvalidArgument, engine);
  EXPECT_NE(std::string::npos, engine.status().message().find("'map_sise'"));
  EXPECT_NE(std::string::npos, engine.status().message().find("map_size, max_readers"));
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(LmdbEngineTest, MalformedOptionValueIsInvalidArgument) {
  options_.engine_options["map_size"] = "lots";
  EXPECT_CODE(kInvalidArgument, Open(options_));
}

TEST_F(LmdbEngineTest, MissingStoreIsNotFoundAndNothingIsCreated) {
  options_.create_if_missing = false;
  EXPECT_CODE(kNotFound, Open(options_));
  EXPECT_FALSE(std::filesystem::exists(path_));
  // An existing empty directory is not a store either.
  std::filesystem::create_directory(path_);
  EXPECT_CODE(kNotFound, Open(options_));
  EXPECT_FALSE(std::filesystem::exists(path_ + "/data.mdb"));
}

TEST_F(LmdbEngineTest, GrowsFarPastTheInitialMapSizeWithNoErrorVisible) {
  options_.engine_options["map_size"] = std::to_string(1 << 20);  // 1 MiB
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  const std::string value(1000, 'v');
  constexpr int kKeys = 52 * 1024;  // about 50 MiB of values
  auto key_of = [](int i) { return "key" + std::to_string(1000000 + i); };
  // One large transaction, then many small ones.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
    for (int i = 0; i < kKeys; ++i) ASSERT_OK(txn->Put(ks, key_of(i), value));
    ASSERT_OK(txn->Commit());
  }
  for (int batch = 0; batch < 50; ++batch) {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("more"));
    for (int i = 0; i < 1024; ++i) ASSERT_OK(txn->Put(ks, key_of(batch * 1024 + i), value));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t size, engine->EstimatedSize());
  EXPECT_GT(size, uint64_t{100} << 20);
  engine.reset();

  // Reopened with the same small map_size: the file's size wins.
  engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(value, Read(*engine, key_of(0)));
  EXPECT_EQ(value, Read(*engine, key_of(kKeys - 1)));
  EXPECT_EQ(value, Read(*engine, key_of(50 * 1024 - 1), "more"));
  Commit(*engine, "after", "reopen");
  EXPECT_EQ("reopen", Read(*engine, "after"));
}

TEST_F(LmdbEngineTest, OpenersThroughSymlinkAndOtherSpellingShareOneEnvironment) {
  std::unique_ptr<Engine> first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  std::filesystem::create_directory_symlink(path_, dir_.path() + "/link");
  Options via_link = options_;
  via_link.path = dir_.path() + "/link";
  Options via_dot = options_;
  via_dot.path = dir_.path() + "/./store/";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> second, Open(via_link));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> third, Open(via_dot));

  // One environment: the second handle's writer waits for the first's.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, first->BeginWrite(kLongWait));
  EXPECT_CODE(kBusy, second->BeginWrite(kTinyWait));
  EXPECT_CODE(kBusy, third->BeginWrite(kNoWait));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "k", "from first"));
  EXPECT_EQ("<error: NotFound: lmdb '" + path_ + "': keyspace 'ks' does not exist>",
            Read(*second, "k"));
  ASSERT_OK(txn->Commit());
  txn.reset();
  EXPECT_EQ("from first", Read(*second, "k"));
  EXPECT_EQ("from first", Read(*third, "k"));
  Commit(*third, "k", "from third");
  EXPECT_EQ("from third", Read(*first, "k"));
}

TEST_F(LmdbEngineTest, SecondWriterOnTheSameThreadIsBusyThenSucceedsAfterTheFirstEnds) {
  std::unique_ptr<Engine> a = OpenOrDie();
  ASSERT_NE(a, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> b, Open(options_));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, a->BeginWrite(kLongWait));
  Result<std::unique_ptr<WriteTxn>> busy = b->BeginWrite(kTinyWait);
  EXPECT_CODE(kBusy, busy);
  EXPECT_NE(std::string::npos, busy.status().message().find(path_));
  txn->Rollback();
  txn.reset();
  EXPECT_OK(b->BeginWrite(kNoWait));
}

TEST_F(LmdbEngineTest, WriterInAnotherProcessMakesBeginWriteBusyUntilItEnds) {
  { std::unique_ptr<Engine> create = OpenOrDie(); }  // closed before fork
  Pipe to_parent, to_child;
  ASSERT_TRUE(to_parent.ok() && to_child.ok());
  pid_t child = Fork([&]() -> int {
    Result<std::unique_ptr<Engine>> engine = Engine::Open("lmdb", options_);
    if (!engine.ok()) return 2;
    Result<std::unique_ptr<WriteTxn>> txn = (*engine)->BeginWrite(kLongWait);
    if (!txn.ok()) return 3;
    Result<Keyspace> ks = (*txn)->CreateKeyspace("ks");
    if (!ks.ok() || !(*txn)->Put(*ks, "k", "child").ok()) return 4;
    to_parent.Send('w');   // holding the write transaction
    to_child.Receive();    // until the parent has seen Busy
    return (*txn)->Commit().ok() ? 0 : 5;
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ('w', to_parent.Receive());
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  Result<std::unique_ptr<WriteTxn>> busy = engine->BeginWrite(kTinyWait);
  EXPECT_CODE(kBusy, busy);
  EXPECT_NE(std::string::npos, busy.status().message().find("another process"));
  // Readers are not blocked by the other process's writer.
  EXPECT_OK(engine->BeginRead());
  to_child.Send('c');
  EXPECT_EQ(0, WaitExit(child));
  EXPECT_EQ("child", Read(*engine, "k"));
  EXPECT_OK(engine->BeginWrite(kNoWait));
}

TEST_F(LmdbEngineTest, KeysBeyondLmdbLimitsAreInvalidArgumentNamingTheLimit) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  Status too_long = txn->Put(ks, std::string(512, 'k'), "v");
  EXPECT_CODE(kInvalidArgument, too_long);
  EXPECT_NE(std::string::npos, too_long.message().find("511")) << too_long.ToString();
  Status empty = txn->Put(ks, "", "v");
  EXPECT_CODE(kInvalidArgument, empty);
  EXPECT_NE(std::string::npos, empty.message().find("empty")) << empty.ToString();
  // The transaction goes on: the refused writes changed nothing.
  EXPECT_OK(txn->Put(ks, std::string(511, 'k'), "longest"));
  EXPECT_EQ("longest", GetOr(*txn, ks, std::string(511, 'k')));
  EXPECT_EQ("<not found>", GetOr(*txn, ks, std::string(600, 'k')));
  EXPECT_OK(txn->Delete(ks, std::string(600, 'k')));
  ASSERT_OK(txn->Commit());
}

TEST_F(LmdbEngineTest, ReadOnlyStoreReadsAndRefusesWrites) {
  {
    std::unique_ptr<Engine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    Commit(*engine, "k", "v");
  }
  Options read_only = options_;
  read_only.read_only = true;
  read_only.create_if_missing = false;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Open(read_only));
  EXPECT_EQ("v", Read(*engine, "k"));
  Result<std::unique_ptr<WriteTxn>> write = engine->BeginWrite(kNoWait);
  EXPECT_CODE(kReadOnly, write);
  EXPECT_NE(std::string::npos, write.status().message().find("read-only"));
  EXPECT_CODE(kReadOnly, engine->Compact());
}

TEST_F(LmdbEngineTest, ReadOnlyHandleOfAWritableStoreRefusesWrites) {
  std::unique_ptr<Engine> writable = OpenOrDie();
  ASSERT_NE(writable, nullptr);
  Options read_only = options_;
  read_only.read_only = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> engine, Open(read_only));
  EXPECT_CODE(kReadOnly, engine->BeginWrite(kNoWait));
  Commit(*writable, "k", "v");
  EXPECT_EQ("v", Read(*engine, "k"));
}

TEST_F(LmdbEngineTest, CursorsSurviveSavepointsAndKeepTheirPosition) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  for (const char* key : {"a", "c", "e", "g"}) ASSERT_OK(txn->Put(ks, key, key));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> outer, txn->NewCursor(ks));
  outer->Seek("c");
  ASSERT_OK(txn->Savepoint(1));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> inner, txn->NewCursor(ks));
  inner->Seek("e");
  ASSERT_OK(txn->Put(ks, "d", "d"));
  outer->Next();
  EXPECT_EQ("d", At(*outer));
  // Rolling back does not move a cursor back; it sees the restored state.
  ASSERT_OK(txn->RollbackTo(1));
  outer->Next();
  EXPECT_EQ("e", At(*outer));
  inner->Prev();
  EXPECT_EQ("c", At(*inner));
  EXPECT_EQ("c", std::string(inner->value()));
  // Release ends the nested LMDB transaction the inner cursor was opened on.
  ASSERT_OK(txn->Put(ks, "f", "f"));
  ASSERT_OK(txn->Release(1));
  inner->Next();
  EXPECT_EQ("e", At(*inner));
  inner->Next();
  EXPECT_EQ("f", At(*inner));
  outer->Prev();
  EXPECT_EQ("c", At(*outer));
  inner.reset();
  outer.reset();
  ASSERT_OK(txn->Commit());
}

// A read snapshot skips the handle lock for the keyspace it last read from
// (lmdb_txn.cc): that shortcut must still refuse a handle whose name is not
// the slot's, and a handle whose keyspace was dropped (and whose slot was
// reused) since, as the locked path does.
TEST_F(LmdbEngineTest, SnapshotReadsThroughAStaleHandleFailAsBeforeItsFirstRead) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace a, txn->CreateKeyspace("a"));
    ASSERT_OK(txn->Put(a, "k", "from a"));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> snapshot, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace a, snapshot->OpenKeyspace("a"));
  EXPECT_EQ("from a", GetOr(*snapshot, a, "k"));
  EXPECT_EQ("from a", GetOr(*snapshot, a, "k"));  // now through the shortcut

  // The same slot under another name is no handle of this store.
  std::string value = "untouched";
  EXPECT_FALSE(snapshot->Get(Keyspace{"not a", a.id}, "k", &value).ok());
  EXPECT_EQ("untouched", value);
  EXPECT_EQ("from a", GetOr(*snapshot, a, "k"));

  // Dropped, and its slot taken by another keyspace.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK(txn->DropKeyspace("a"));
    ASSERT_OK(txn->Commit());
  }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace b, txn->CreateKeyspace("b"));
    ASSERT_OK(txn->Put(b, "k", "from b"));
    ASSERT_OK(txn->Commit());
  }
  Status dropped = snapshot->Get(a, "k", &value);
  EXPECT_FALSE(dropped.ok()) << "a dropped keyspace's handle still read '" << value << "'";
  EXPECT_EQ("untouched", value);
}

// The shortcut compares the name in word loads (lmdb_txn.cc, SameName): a
// name of the same length that differs in any one byte is still refused,
// for every length the comparison treats apart.
TEST_F(LmdbEngineTest, SnapshotShortcutRefusesANameOfTheSameLengthDifferingInOneByte) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  for (size_t length : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 40}) {
    std::string name(length, 'n');
    for (size_t i = 0; i < length; ++i) name[i] = static_cast<char>('a' + i % 26);
    {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
      ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace(name));
      ASSERT_OK(txn->Put(ks, "k", "v"));
      ASSERT_OK(txn->Commit());
    }
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> snapshot, engine->BeginRead());
    ASSERT_OK_AND_ASSIGN(Keyspace ks, snapshot->OpenKeyspace(name));
    EXPECT_EQ("v", GetOr(*snapshot, ks, "k"));  // loads the keyspace: the shortcut from here
    for (size_t at = 0; at < length; ++at) {
      std::string other = name;
      other[at] = 'Z';
      std::string value = "untouched";
      EXPECT_FALSE(snapshot->Get(Keyspace{other, ks.id}, "k", &value).ok())
          << "name '" << other << "' read keyspace '" << name << "'";
      EXPECT_EQ("untouched", value);
    }
    EXPECT_EQ("v", GetOr(*snapshot, ks, "k"));
  }
}

TEST_F(LmdbEngineTest, WriteFailingInsideASavepointIsUndoneByRollingItBack) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
  ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
  ASSERT_OK(txn->Put(ks, "kept", "1"));
  ASSERT_OK(txn->Savepoint(3));
  ASSERT_OK_AND_ASSIGN(Keyspace temp, txn->CreateKeyspace("temp"));
  ASSERT_OK(txn->Put(temp, "x", "y"));
  ASSERT_OK(txn->RollbackTo(3));
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("temp"));
  ASSERT_OK(txn->Commit());
  EXPECT_EQ("1", Read(*engine, "kept"));
  EXPECT_EQ("<error: NotFound: lmdb '" + path_ + "': keyspace 'temp' does not exist>",
            Read(*engine, "x", "temp"));
}

// Writes, with LMDB's own API, what another program might leave in a store:
// a plain key in the unnamed main database and a named database.
int WriteForeignStore(const std::string& path, bool plain_key) {
  MDB_env* env = nullptr;
  if (mdb_env_create(&env) != 0) return 10;
  mdb_env_set_maxdbs(env, 8);
  if (mdb_env_open(env, path.c_str(), MDB_NOTLS, 0644) != 0) return 11;
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env, nullptr, 0, &txn) != 0) return 12;
  MDB_dbi main_dbi = 0, named = 0;
  if (mdb_dbi_open(txn, nullptr, 0, &main_dbi) != 0) return 13;
  if (mdb_dbi_open(txn, "foreign", MDB_CREATE, &named) != 0) return 14;
  MDB_val key{3, const_cast<char*>("key")}, value{5, const_cast<char*>("value")};
  if (mdb_put(txn, named, &key, &value, 0) != 0) return 15;
  if (plain_key) {
    MDB_val plain{5, const_cast<char*>("plain")};
    // 48 bytes, the size of a named database's record, to tempt a scan.
    std::string bytes(48, 'p');
    MDB_val data{bytes.size(), bytes.data()};
    if (mdb_put(txn, main_dbi, &plain, &data, 0) != 0) return 16;
  }
  if (mdb_txn_commit(txn) != 0) return 17;
  mdb_env_close(env);
  return 0;
}

TEST_F(LmdbEngineTest, ForeignStoreShowsNamedDatabasesAsKeyspacesAndMainDatabaseAsEmptyName) {
  std::filesystem::create_directory(path_);
  ASSERT_EQ(0, WriteForeignStore(path_, /*plain_key=*/true));
  options_.create_if_missing = false;
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::vector<std::string> names, txn->ListKeyspaces());
  EXPECT_EQ(std::vector<std::string>{"foreign"}, names);
  ASSERT_OK_AND_ASSIGN(Keyspace foreign, txn->OpenKeyspace("foreign"));
  EXPECT_EQ("value", GetOr(*txn, foreign, "key"));
  EXPECT_CODE(kNotFound, txn->OpenKeyspace("plain"));
  ASSERT_OK_AND_ASSIGN(Keyspace main_db, txn->OpenKeyspace(""));
  EXPECT_EQ(std::string(48, 'p'), GetOr(*txn, main_db, "plain"));
  txn.reset();

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> write, engine->BeginWrite(kLongWait));
  EXPECT_CODE(kInvalidArgument, write->CreateKeyspace("plain"));
  ASSERT_OK_AND_ASSIGN(Keyspace main_rw, write->CreateKeyspace(""));
  EXPECT_CODE(kInvalidArgument, write->Put(main_rw, "foreign", "clobber"));
  EXPECT_CODE(kInvalidArgument, write->DropKeyspace(""));
}

TEST_F(LmdbEngineTest, KeyspaceCreatedByAnotherProcessIsVisibleToAnOpenStore) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "k", "v");
  EXPECT_EQ("v", Read(*engine, "k"));  // the handle table is current
  pid_t child = Fork([&] { return WriteForeignStore(path_, /*plain_key=*/false); });
  ASSERT_EQ(0, WaitExit(child));
  EXPECT_EQ("value", Read(*engine, "key", "foreign"));
  Commit(*engine, "k", "v2");
  EXPECT_EQ("v2", Read(*engine, "k"));
}

TEST_F(LmdbEngineTest, ReaderSlotOfADeadProcessIsReclaimed) {
  options_.engine_options["max_readers"] = "1";
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "k", "v");
  Pipe to_parent;
  ASSERT_TRUE(to_parent.ok());
  pid_t child = Fork([&]() -> int {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0) return 10;
    mdb_env_set_maxdbs(env, 8);
    if (mdb_env_open(env, path_.c_str(), MDB_NOTLS, 0644) != 0) return 11;
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0) return 12;
    to_parent.Send('r');
    return 0;  // dies holding the only reader slot
  });
  ASSERT_GT(child, 0);
  ASSERT_EQ('r', to_parent.Receive());
  ASSERT_EQ(0, WaitExit(child));
  EXPECT_EQ("v", Read(*engine, "k"));
}

// Ended read transactions leave their LMDB handle (reset) for the next one
// to renew: each renewed snapshot is current, and a kept handle pins no
// snapshot, so the writer keeps reusing freed pages.
TEST_F(LmdbEngineTest, KeptReadHandlesSeeEveryNewCommitAndPinNoSnapshot) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "k", "v0");
  {
    // Two at once, so two handles are kept.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> a, engine->BeginRead());
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> b, engine->BeginRead());
    ASSERT_OK_AND_ASSIGN(Keyspace ks, a->OpenKeyspace("ks"));
    EXPECT_EQ("v0", GetOr(*a, ks, "k"));
    EXPECT_EQ("v0", GetOr(*b, ks, "k"));
  }
  for (int i = 1; i <= 3; ++i) {
    Commit(*engine, "k", "v" + std::to_string(i));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> a, engine->BeginRead());
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> b, engine->BeginRead());
    ASSERT_OK_AND_ASSIGN(Keyspace ks, a->OpenKeyspace("ks"));
    EXPECT_EQ("v" + std::to_string(i), GetOr(*a, ks, "k"));
    EXPECT_EQ("v" + std::to_string(i), GetOr(*b, ks, "k"));
  }
  // After a read, 200 commits rewrite a 256 KiB value. Were the kept handle
  // still pinning the snapshot it read, none of the pages they free could be
  // reused and the file would grow by the value's size per commit (50 MiB).
  const std::string big(256 << 10, 'x');
  Commit(*engine, "big", big);
  ASSERT_EQ(big, Read(*engine, "big"));
  ASSERT_OK_AND_ASSIGN(uint64_t before, engine->EstimatedSize());
  for (int i = 0; i < 200; ++i) Commit(*engine, "big", big + std::to_string(i));
  ASSERT_OK_AND_ASSIGN(uint64_t after, engine->EstimatedSize());
  EXPECT_LT(after, before + (8u << 20)) << "before " << before << " after " << after;
  EXPECT_EQ(big + "199", Read(*engine, "big"));
}

// A store with few reader slots keeps no idle handle: another process gets
// the only slot as soon as this process's read ends.
TEST_F(LmdbEngineTest, StoreWithFewReaderSlotsKeepsNoneIdleForAnotherProcess) {
  options_.engine_options["max_readers"] = "1";
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  Commit(*engine, "k", "v");
  EXPECT_EQ("v", Read(*engine, "k"));
  pid_t child = Fork([&]() -> int {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0) return 10;
    mdb_env_set_maxdbs(env, 8);
    if (mdb_env_open(env, path_.c_str(), MDB_NOTLS, 0644) != 0) return 11;
    MDB_txn* txn = nullptr;
    return mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0 ? 0 : 12;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(0, WaitExit(child));
}

// Inserts in key order go through MDB_APPEND (no search for the place);
// a key that is not past the last one falls back to the plain path, so keys
// out of order land and taken keys are refused as always.
TEST_F(LmdbEngineTest, InsertsInKeyOrderAppendAndOthersStillLand) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  std::map<std::string, std::string> model;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
    for (const char* key : {"b", "d", "f"}) {
      ASSERT_OK(txn->Insert(ks, key, "1"));
      model[key] = "1";
    }
    ASSERT_OK(txn->Insert(ks, "a", "2"));  // before the first: the append misses
    EXPECT_CODE(kConstraint, txn->Insert(ks, "f", "2"));
    EXPECT_CODE(kConstraint, txn->Insert(ks, "b", "2"));
    ASSERT_OK(txn->Insert(ks, "g", "2"));
    model["a"] = model["g"] = "2";
    ASSERT_OK(txn->Commit());
  }
  {
    // A new transaction tries to append first again.
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
    ASSERT_OK(txn->Insert(ks, "c", "3"));
    EXPECT_CODE(kConstraint, txn->Insert(ks, "g", "3"));
    ASSERT_OK(txn->Insert(ks, "h", "3"));
    model["c"] = model["h"] = "3";
    ASSERT_OK(txn->Commit());
  }
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->OpenKeyspace("ks"));
    EXPECT_CODE(kConstraint, txn->Insert(ks, "h", "4"));  // the last key
    ASSERT_OK(txn->Insert(ks, "i", "4"));
    model["i"] = "4";
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(Keyspace ks, reader->OpenKeyspace("ks"));
  EXPECT_EQ(KeyValues(model.begin(), model.end()), Scan(*reader, ks));
}

TEST_F(LmdbEngineTest, CompactGivesSpaceBackAndKeepsContents) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  const std::string value(2000, 'x');
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(Keyspace ks, txn->CreateKeyspace("ks"));
    ASSERT_OK_AND_ASSIGN(Keyspace other, txn->CreateKeyspace("other"));
    for (int i = 0; i < 4000; ++i) ASSERT_OK(txn->Put(ks, "key" + std::to_string(i), value));
    ASSERT_OK(txn->Put(other, "o", "kept"));
    ASSERT_OK(txn->Commit());
  }
  Keyspace ks;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<WriteTxn> txn, engine->BeginWrite(kLongWait));
    ASSERT_OK_AND_ASSIGN(ks, txn->OpenKeyspace("ks"));
    for (int i = 10; i < 4000; ++i) ASSERT_OK(txn->Delete(ks, "key" + std::to_string(i)));
    ASSERT_OK(txn->Commit());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t before, engine->EstimatedSize());
  ASSERT_OK(engine->Compact());
  ASSERT_OK_AND_ASSIGN(uint64_t after, engine->EstimatedSize());
  EXPECT_LT(after * 4, before) << "before " << before << " after " << after;
  // Keyspace handles taken before the compaction stay valid.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> txn, engine->BeginRead());
  EXPECT_EQ(value, GetOr(*txn, ks, "key9"));
  EXPECT_EQ("<not found>", GetOr(*txn, ks, "key10"));
  ASSERT_OK_AND_ASSIGN(Keyspace other, txn->OpenKeyspace("other"));
  EXPECT_EQ("kept", GetOr(*txn, other, "o"));
  EXPECT_EQ(10u, Scan(*txn, ks).size());
}

TEST_F(LmdbEngineTest, CompactWithAnotherHandleOpenChangesNothing) {
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> other, Open(options_));
  Commit(*engine, "k", "v");
  ASSERT_OK_AND_ASSIGN(uint64_t before, engine->EstimatedSize());
  EXPECT_OK(engine->Compact());
  ASSERT_OK_AND_ASSIGN(uint64_t after, engine->EstimatedSize());
  EXPECT_EQ(before, after);
  EXPECT_EQ("v", Read(*other, "k"));
}

TEST_F(LmdbEngineTest, FullSyncCommitSurvivesReopen) {
  options_.sync = SyncMode::kFull;
  {
    std::unique_ptr<Engine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    Commit(*engine, "k", "durable");
  }
  std::unique_ptr<Engine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ("durable", Read(*engine, "k"));
}

}  // namespace
}  // namespace manifold
