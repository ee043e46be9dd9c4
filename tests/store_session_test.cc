// Tests of StoreSession (extension/store_session.h), the one write
// transaction that the tables of a store share in a connection, driven with
// the calls SQLite makes, over a memory store whose savepoints can be made
// to fail.
#include "store_session.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "forwarding_engine.h"
#include "manifold/registry.h"

namespace manifold {
namespace {

using std::chrono::milliseconds;

// Forwards to a memory engine's write transaction, except that Savepoint()
// fails while *fail_savepoints is set.
class FailingSavepointTxn final : public testing::ForwardingWriteTxn {
 public:
  FailingSavepointTxn(std::unique_ptr<WriteTxn> inner, const bool* fail)
      : ForwardingWriteTxn(std::move(inner)), fail_(fail) {}
  Status Savepoint(int level) override {
    if (*fail_) return Status::IOError("savepoint refused by the test");
    return inner_->Savepoint(level);
  }

 private:
  const bool* fail_;
};

class FailingSavepointEngine final : public testing::ForwardingEngine {
 public:
  FailingSavepointEngine(std::unique_ptr<Engine> inner, const bool* fail)
      : ForwardingEngine(std::move(inner)), fail_(fail) {}

 private:
  std::unique_ptr<WriteTxn> Wrap(std::unique_ptr<WriteTxn> txn) override {
    return std::make_unique<FailingSavepointTxn>(std::move(txn), fail_);
  }
  const bool* fail_;
};

class StoreSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.path = "store-session-test";
    options.create_if_missing = true;
    Result<std::unique_ptr<Engine>> engine = Engine::Open("memory", options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    session_ = std::make_unique<StoreSession>(
        "memory store 'store-session-test'",
        std::make_unique<FailingSavepointEngine>(std::move(*engine), &fail_savepoints_));
    ASSERT_TRUE(session_->Begin(milliseconds(100)).ok());
    Result<Keyspace> ks = session_->write_txn()->CreateKeyspace("t");
    ASSERT_TRUE(ks.ok());
    ks_ = *ks;
    ASSERT_TRUE(session_->Leave().ok());
  }

  void Put(const std::string& key) {
    ASSERT_TRUE(session_->write_txn()->Put(ks_, key, "v").ok()) << key;
  }
  // The keys the write transaction sees, in order.
  std::string Keys() {
    Result<std::unique_ptr<Cursor>> cursor = session_->write_txn()->NewCursor(ks_);
    EXPECT_TRUE(cursor.ok());
    std::string keys;
    for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
      keys += std::string((*cursor)->key()) + " ";
    }
    return keys;
  }

  bool fail_savepoints_ = false;
  std::unique_ptr<StoreSession> session_;
  Keyspace ks_;
};

// BEGIN; INSERT INTO t ...; SAVEPOINT a; INSERT INTO t ...; then a statement
// writing table u of the same store, whose join mark fails. SQLite rolls that
// statement back to the level of the failed mark: nothing t wrote may go.
TEST_F(StoreSessionTest, AFailedJoinMarkRollsBackOnlyTheStatementThatFailed) {
  ASSERT_TRUE(session_->Begin(milliseconds(100)).ok());  // t's xBegin
  Put("1-before-savepoint");
  ASSERT_TRUE(session_->Savepoint(0).ok());  // SAVEPOINT a
  Put("2-after-savepoint");

  ASSERT_TRUE(session_->Begin(milliseconds(100)).ok());  // u's xBegin
  fail_savepoints_ = true;
  EXPECT_FALSE(session_->Savepoint(1).ok());  // u's join mark at the statement's level
  fail_savepoints_ = false;
  // The failed statement's rollback, sent to each table of the store.
  ASSERT_TRUE(session_->RollbackTo(1).ok());  // t
  EXPECT_EQ("1-before-savepoint 2-after-savepoint ", Keys());
  ASSERT_TRUE(session_->RollbackTo(1).ok());  // u
  EXPECT_EQ("1-before-savepoint 2-after-savepoint ", Keys());

  // The savepoint made before still holds its own state.
  Put("3-later");
  ASSERT_TRUE(session_->RollbackTo(0).ok());  // ROLLBACK TO a
  EXPECT_EQ("1-before-savepoint ", Keys());
  ASSERT_TRUE(session_->Sync().ok());
  ASSERT_TRUE(session_->Leave().ok());
  ASSERT_TRUE(session_->Leave().ok());

  Result<std::unique_ptr<ReadTxn>> read = session_->engine().BeginRead();
  ASSERT_TRUE(read.ok());
  std::string value;
  EXPECT_TRUE((*read)->Get(ks_, "1-before-savepoint", &value).ok());
  EXPECT_TRUE((*read)->Get(ks_, "2-after-savepoint", &value).IsNotFound());
}

// A mark that failed is not recorded as made: the next table to mark that
// level makes it, and a rollback to the level goes back to that mark.
TEST_F(StoreSessionTest, AFailedMarkIsMadeByTheNextTableThatMarksTheLevel) {
  ASSERT_TRUE(session_->Begin(milliseconds(100)).ok());
  Put("1-before");
  fail_savepoints_ = true;
  EXPECT_FALSE(session_->Savepoint(0).ok());
  fail_savepoints_ = false;
  ASSERT_TRUE(session_->Savepoint(0).ok());  // another table: made this time
  ASSERT_TRUE(session_->Savepoint(0).ok());  // a third: already marked
  Put("2-after");
  ASSERT_TRUE(session_->RollbackTo(0).ok());
  EXPECT_EQ("1-before ", Keys());
  session_->RollbackAndLeave();
}

}  // namespace
}  // namespace manifold
