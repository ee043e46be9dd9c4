// Tests of the poison wrapper (engines/common/poison.h) over a scripted
// engine: once any operation of a store returns IOError, every handle of that
// store fails every later operation, cursors already open included, and Full
// poisons nothing.
#include "common/poison.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conformance_util.h"

namespace manifold {
namespace {

using std::chrono::milliseconds;
using testing::TempDir;

using Rows = std::map<std::string, std::string, std::less<>>;

// What the scripted engine's handles share: the committed rows of its one
// keyspace "t", and the status the next commit returns instead of committing.
struct Script {
  Rows rows;
  Status next_commit;
};

// A cursor over a copy of the rows (a snapshot).
class RowsCursor final : public Cursor {
 public:
  explicit RowsCursor(Rows rows) : rows_(std::move(rows)), it_(rows_.end()) {}
  bool Valid() const override { return it_ != rows_.end(); }
  void SeekToFirst() override { it_ = rows_.begin(); }
  void SeekToLast() override { it_ = rows_.empty() ? rows_.end() : std::prev(rows_.end()); }
  void Seek(Bytes target) override { it_ = rows_.lower_bound(target); }
  void SeekForPrev(Bytes target) override {
    it_ = rows_.upper_bound(target);
    it_ = it_ == rows_.begin() ? rows_.end() : std::prev(it_);
  }
  void Next() override { ++it_; }
  void Prev() override { it_ = it_ == rows_.begin() ? rows_.end() : std::prev(it_); }
  Bytes key() const override { return it_->first; }
  Bytes value() override { return it_->second; }
  Status status() const override { return Status::OK(); }

 private:
  Rows rows_;
  Rows::const_iterator it_;
};

class ScriptedWrite final : public WriteTxn {
 public:
  explicit ScriptedWrite(std::shared_ptr<Script> script)
      : script_(std::move(script)), rows_(script_->rows) {}
  Result<Keyspace> OpenKeyspace(std::string_view name) override {
    return Keyspace{std::string(name), 1};
  }
  Result<std::vector<std::string>> ListKeyspaces() override {
    return std::vector<std::string>{"t"};
  }
  Status Get(const Keyspace&, Bytes key, std::string* value) override {
    auto it = rows_.find(key);
    if (it == rows_.end()) return Status::NotFound("no such key");
    *value = it->second;
    return Status::OK();
  }
  Result<std::unique_ptr<Cursor>> NewCursor(const Keyspace&) override {
    return std::unique_ptr<Cursor>(std::make_unique<RowsCursor>(rows_));
  }
  Result<Keyspace> CreateKeyspace(std::string_view name) override { return OpenKeyspace(name); }
  Status DropKeyspace(std::string_view) override { return Status::NotSupported("scripted"); }
  Status Put(const Keyspace&, Bytes key, Bytes value) override {
    rows_[std::string(key)] = std::string(value);
    return Status::OK();
  }
  Status Delete(const Keyspace&, Bytes key) override {
    rows_.erase(std::string(key));
    return Status::OK();
  }
  Status Savepoint(int) override { return Status::NotSupported("scripted"); }
  Status RollbackTo(int) override { return Status::NotSupported("scripted"); }
  Status Release(int) override { return Status::NotSupported("scripted"); }
  Status Commit() override {
    Status s = std::exchange(script_->next_commit, Status::OK());
    if (s.ok()) script_->rows = rows_;
    return s;
  }
  void Rollback() override {}

 private:
  std::shared_ptr<Script> script_;
  Rows rows_;
};

class ScriptedEngine final : public Engine {
 public:
  explicit ScriptedEngine(std::shared_ptr<Script> script) : script_(std::move(script)) {}
  std::string_view name() const override { return "scripted"; }
  Capabilities capabilities() const override { return Capabilities{}; }
  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    return std::unique_ptr<ReadTxn>(std::make_unique<ScriptedWrite>(script_));
  }
  Result<std::unique_ptr<WriteTxn>> BeginWrite(milliseconds) override {
    return std::unique_ptr<WriteTxn>(std::make_unique<ScriptedWrite>(script_));
  }
  Result<uint64_t> EstimatedSize() override { return uint64_t{0}; }
  Status Compact() override { return Status::OK(); }

 private:
  std::shared_ptr<Script> script_;
};

class PoisonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/store";
    std::ofstream(path_) << "x";  // handles of one store share its (device, inode)
    script_ = std::make_shared<Script>();
    script_->rows = {{"a", "1"}, {"b", "2"}, {"c", "3"}};
  }
  std::unique_ptr<Engine> Open() {
    return GuardStore(std::make_unique<ScriptedEngine>(script_), path_, "scripted store");
  }
  // Commits one row through `engine` after scripting the commit's result.
  Status CommitReturning(Engine& engine, Status result) {
    script_->next_commit = std::move(result);
    Result<std::unique_ptr<WriteTxn>> txn = engine.BeginWrite(milliseconds(0));
    if (!txn.ok()) return txn.status();
    Status s = (*txn)->Put(Keyspace{"t", 1}, "d", "4");
    return s.ok() ? (*txn)->Commit() : s;
  }

  TempDir dir_;
  std::string path_;
  std::shared_ptr<Script> script_;
};

TEST_F(PoisonTest, AnOpenCursorStopsAtItsNextMoveAndStaysStopped) {
  std::unique_ptr<Engine> engine = Open();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> cursor, reader->NewCursor(Keyspace{"t", 1}));
  cursor->SeekToFirst();
  ASSERT_TRUE(cursor->Valid());
  EXPECT_EQ("a", std::string(cursor->key()));
  cursor->Next();
  ASSERT_TRUE(cursor->Valid());  // not poisoned yet: moves as the engine does

  Status failed = CommitReturning(*engine, Status::IOError("fsync: disk on fire"));
  EXPECT_EQ(Status::Code::kIOError, failed.code()) << failed.ToString();

  // The cursor under it could go on; the poison stops it.
  cursor->Next();
  EXPECT_FALSE(cursor->Valid());
  EXPECT_EQ(Status::Code::kIOError, cursor->status().code()) << cursor->status().ToString();
  EXPECT_NE(std::string::npos, cursor->status().message().find("poisoned"));
  EXPECT_NE(std::string::npos, cursor->status().message().find("disk on fire"));
  cursor->SeekToFirst();
  EXPECT_FALSE(cursor->Valid());
  EXPECT_EQ(Status::Code::kIOError, cursor->status().code());
}

TEST_F(PoisonTest, AnOpenCursorsStepCallsStopAtThePoisonToo) {
  std::unique_ptr<Engine> engine = Open();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> cursor, reader->NewCursor(Keyspace{"t", 1}));
  cursor->SeekToFirst();
  Bytes key;
  Bytes value;
  ASSERT_TRUE(cursor->NextEntry(&key, &value));  // not poisoned yet
  EXPECT_EQ("b", key);

  Status failed = CommitReturning(*engine, Status::IOError("fsync: disk on fire"));
  EXPECT_EQ(Status::Code::kIOError, failed.code()) << failed.ToString();

  EXPECT_FALSE(cursor->NextEntry(&key, &value));
  EXPECT_FALSE(cursor->Valid());
  EXPECT_EQ(Status::Code::kIOError, cursor->status().code()) << cursor->status().ToString();
  EXPECT_NE(std::string::npos, cursor->status().message().find("disk on fire"));
  EXPECT_FALSE(cursor->PrevEntry(&key, &value));
  EXPECT_EQ(Status::Code::kIOError, cursor->status().code());
}

TEST_F(PoisonTest, AnOpenCursorsRangeReadStopsAtThePoisonToo) {
  std::unique_ptr<Engine> engine = Open();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> cursor, reader->NewCursor(Keyspace{"t", 1}));
  std::string visited;
  auto visit = [&visited](Bytes key, Bytes) {
    visited += key;
    return true;
  };
  EXPECT_EQ(2u, cursor->ReadFrom("b", 10, visit));  // not poisoned yet
  EXPECT_EQ("bc", visited);

  Status failed = CommitReturning(*engine, Status::IOError("fsync: disk on fire"));
  EXPECT_EQ(Status::Code::kIOError, failed.code()) << failed.ToString();

  visited.clear();
  EXPECT_EQ(0u, cursor->ReadFrom("a", 10, visit));
  EXPECT_EQ("", visited);
  EXPECT_FALSE(cursor->Valid());
  EXPECT_EQ(Status::Code::kIOError, cursor->status().code()) << cursor->status().ToString();
  EXPECT_NE(std::string::npos, cursor->status().message().find("disk on fire"));
}

TEST_F(PoisonTest, EveryHandleOfTheStoreFailsUntilAllAreClosed) {
  std::unique_ptr<Engine> first = Open();
  std::unique_ptr<Engine> second = Open();
  EXPECT_EQ(Status::Code::kIOError,
            CommitReturning(*first, Status::IOError("write: EIO")).code());
  Result<std::unique_ptr<ReadTxn>> read = second->BeginRead();
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(Status::Code::kIOError, read.status().code());
  EXPECT_NE(std::string::npos, read.status().message().find("write: EIO"));
  // A commit that would now succeed is refused without reaching the engine.
  EXPECT_EQ(Status::Code::kIOError, CommitReturning(*second, Status::OK()).code());
  EXPECT_EQ(0u, script_->rows.count("d"));

  first.reset();
  second.reset();
  std::unique_ptr<Engine> reopened = Open();  // recovers from what the store holds
  EXPECT_OK(CommitReturning(*reopened, Status::OK()));
  EXPECT_EQ(1u, script_->rows.count("d"));
}

TEST_F(PoisonTest, AFullDiskPoisonsNothing) {
  std::unique_ptr<Engine> engine = Open();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ReadTxn> reader, engine->BeginRead());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cursor> cursor, reader->NewCursor(Keyspace{"t", 1}));
  cursor->SeekToFirst();
  EXPECT_EQ(Status::Code::kFull, CommitReturning(*engine, Status::Full("no space")).code());
  cursor->Next();
  EXPECT_TRUE(cursor->Valid());
  EXPECT_OK(cursor->status());
  EXPECT_OK(CommitReturning(*engine, Status::OK()));  // space came back
  EXPECT_EQ(1u, script_->rows.count("d"));
}

}  // namespace
}  // namespace manifold
