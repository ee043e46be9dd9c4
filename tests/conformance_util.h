// Helpers for tests that drive engines through the public interface: status
// assertions that print the status, a temporary directory per test, readable
// renderings of cursor positions, and the seed of randomized tests.
#ifndef MANIFOLD_TESTS_CONFORMANCE_UTIL_H_
#define MANIFOLD_TESTS_CONFORMANCE_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "manifold/engine.h"
#include "manifold/status.h"
#include "test_env.h"

namespace manifold::testing {

inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
const Status& StatusOf(const Result<T>& result) {
  return result.status();
}

}  // namespace manifold::testing

// Asserts that a Status or Result is OK, printing the expression and status.
#define ASSERT_OK(expr)                                                             \
  do {                                                                              \
    const auto& manifold_result_ = (expr);                                          \
    ASSERT_TRUE(::manifold::testing::StatusOf(manifold_result_).ok())               \
        << #expr << " -> " << ::manifold::testing::StatusOf(manifold_result_).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                             \
  do {                                                                              \
    const auto& manifold_result_ = (expr);                                          \
    EXPECT_TRUE(::manifold::testing::StatusOf(manifold_result_).ok())               \
        << #expr << " -> " << ::manifold::testing::StatusOf(manifold_result_).ToString(); \
  } while (0)

// Asserts that a Status or Result has `code` (a Status::Code enumerator name).
#define EXPECT_CODE(expected, expr)                                                  \
  do {                                                                               \
    const auto& manifold_result_ = (expr);                                           \
    EXPECT_EQ(::manifold::CodeName(::manifold::Status::Code::expected),              \
              ::manifold::CodeName(::manifold::testing::StatusOf(manifold_result_).code())) \
        << #expr << " -> " << ::manifold::testing::StatusOf(manifold_result_).ToString() \
        << " (expected " #expected ")";                                                  \
  } while (0)

#define MANIFOLD_CONCAT_INNER_(a, b) a##b
#define MANIFOLD_CONCAT_(a, b) MANIFOLD_CONCAT_INNER_(a, b)

// `lhs = *expr` for a Result `expr`, asserting it is OK first.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(MANIFOLD_CONCAT_(manifold_result_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)                          \
  auto tmp = (expr);                                                        \
  ASSERT_TRUE(tmp.ok()) << #expr << " -> " << tmp.status().ToString(); \
  lhs = std::move(*tmp)

namespace manifold::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it
// when this object is destroyed.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/manifold-test-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  // Empty if the directory could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Returns where `cursor` is, for EXPECT_EQ: its key, "<end>" when it is past
// either end with an OK status, or "<error: ...>".
inline std::string At(const Cursor& cursor) {
  if (cursor.Valid()) return std::string(cursor.key());
  Status status = cursor.status();
  return status.ok() ? "<end>" : "<error: " + status.ToString() + ">";
}

// Returns the value of `key`, "<not found>", or "<error: ...>".
inline std::string GetOr(ReadTxn& txn, const Keyspace& ks, Bytes key) {
  std::string value;
  Status status = txn.Get(ks, key, &value);
  if (status.ok()) return value;
  if (status.IsNotFound()) return "<not found>";
  return "<error: " + status.ToString() + ">";
}

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Returns every entry of `ks` walking forward (or backward) with a new cursor;
// a final entry {"<error>", status} if the walk fails.
inline KeyValues Scan(ReadTxn& txn, const Keyspace& ks, bool backward = false) {
  KeyValues out;
  Result<std::unique_ptr<Cursor>> cursor = txn.NewCursor(ks);
  if (!cursor.ok()) return {{"<error>", cursor.status().ToString()}};
  Cursor& c = **cursor;
  for (backward ? c.SeekToLast() : c.SeekToFirst(); c.Valid(); backward ? c.Prev() : c.Next()) {
    out.emplace_back(std::string(c.key()), std::string(c.value()));
  }
  if (!c.status().ok()) out.emplace_back("<error>", c.status().ToString());
  return out;
}

}  // namespace manifold::testing

#endif  // MANIFOLD_TESTS_CONFORMANCE_UTIL_H_
