// Status as a value: OK and the lookup miss cost no allocation, errors copy
// and move as independent values, and Result carries either side.
#include "manifold/status.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <utility>

namespace {

// Allocations made by this test binary while `counting` is set.
thread_local bool counting = false;
thread_local long allocations = 0;

}  // namespace

namespace {

void* CountedNew(std::size_t size) {
  if (counting) ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return CountedNew(size); }
void* operator new[](std::size_t size) { return CountedNew(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace manifold {
namespace {

// Counts the allocations `body` makes.
template <typename Body>
long AllocationsOf(Body&& body) {
  allocations = 0;
  counting = true;
  body();
  counting = false;
  return allocations;
}

TEST(StatusTest, AnOkStatusIsOnePointerAndCostsNoAllocation) {
  static_assert(sizeof(Status) == sizeof(void*));
  (void)Status().message();  // the one empty message is made at first use
  bool ok = false;
  Status::Code code = Status::Code::kInternal;
  bool empty = false;
  long n = AllocationsOf([&] {
    Status a;
    Status b = Status::OK();
    Status c = a;
    c = b;
    Status d = std::move(c);
    ok = d.ok();
    code = d.code();
    empty = d.message().empty();
  });
  EXPECT_EQ(0, n);
  EXPECT_TRUE(ok);
  EXPECT_EQ(Status::Code::kOk, code);
  EXPECT_TRUE(empty);
  EXPECT_EQ("OK", Status().ToString());
}

TEST(StatusTest, TheLookupMissIsSharedAndAllocatesNothing) {
  (void)Status::KeyNotFound();  // its one constant is made at first use
  bool all_not_found = false;
  long n = AllocationsOf([&] {
    Status miss = Status::KeyNotFound();
    Status copy = miss;
    Status assigned;
    assigned = copy;
    Status moved = std::move(copy);
    all_not_found = miss.IsNotFound() && assigned.IsNotFound() && moved.IsNotFound() &&
                    !moved.ok();
  });
  EXPECT_EQ(0, n);
  EXPECT_TRUE(all_not_found);
  Status miss = Status::KeyNotFound();
  EXPECT_EQ("key not found", miss.message());
  EXPECT_EQ("NotFound: key not found", miss.ToString());
  // Context makes a new error and leaves the shared one as it was.
  Status wrapped = miss.WithContext("lmdb 't'");
  EXPECT_EQ("lmdb 't': key not found", wrapped.message());
  EXPECT_EQ("key not found", Status::KeyNotFound().message());
}

TEST(StatusTest, ErrorsCopyAndMoveAsIndependentValues) {
  const std::string long_message(100, 'x');  // past any small-string buffer
  Status original = Status::IOError(long_message);
  Status copy = original;
  EXPECT_EQ(Status::Code::kIOError, copy.code());
  EXPECT_EQ(long_message, copy.message());
  EXPECT_NE(&original.message(), &copy.message());  // its own message

  // Assigning over an error frees the old one (ASan reports a leak or a
  // double free if not) and copies the new one.
  copy = Status::Busy("busy");
  EXPECT_TRUE(copy.IsBusy());
  EXPECT_EQ(long_message, original.message());
  copy = copy;  // NOLINT: self-assignment must keep the value
  EXPECT_EQ("busy", copy.message());
  copy = std::move(copy);  // NOLINT: so must self-move
  EXPECT_TRUE(copy.IsBusy());

  Status moved = std::move(original);
  EXPECT_EQ(long_message, moved.message());
  EXPECT_TRUE(original.ok());  // NOLINT: a moved-from Status is OK

  moved = Status::OK();
  EXPECT_TRUE(moved.ok());
  EXPECT_EQ("", moved.message());
}

TEST(StatusTest, EveryCodeKeepsItsCodeAndMessage) {
  struct Case {
    Status status;
    Status::Code code;
  };
  const Case cases[] = {
      {Status::NotFound("m"), Status::Code::kNotFound},
      {Status::InvalidArgument("m"), Status::Code::kInvalidArgument},
      {Status::Corruption("m"), Status::Code::kCorruption},
      {Status::IOError("m"), Status::Code::kIOError},
      {Status::Busy("m"), Status::Code::kBusy},
      {Status::ReadOnly("m"), Status::Code::kReadOnly},
      {Status::Full("m"), Status::Code::kFull},
      {Status::NotSupported("m"), Status::Code::kNotSupported},
      {Status::Constraint("m"), Status::Code::kConstraint},
      {Status::Aborted("m"), Status::Code::kAborted},
      {Status::Internal("m"), Status::Code::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.code, c.status.code());
    EXPECT_EQ("m", c.status.message());
    EXPECT_EQ(std::string(CodeName(c.code)) + ": m", c.status.ToString());
  }
}

TEST(StatusTest, ResultHoldsAValueOrAnError) {
  Result<std::string> value = std::string("v");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ("v", *value);
  EXPECT_TRUE(value.status().ok());

  Result<std::string> error = Status::KeyNotFound();
  EXPECT_FALSE(error.ok());
  EXPECT_TRUE(error.status().IsNotFound());
  Result<std::string> copy = error;
  EXPECT_TRUE(copy.status().IsNotFound());
}

}  // namespace
}  // namespace manifold
