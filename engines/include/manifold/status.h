// Status and Result<T>: how every fallible call in manifold reports its outcome.
//
// A Status is OK, or a code plus a message meant for a person. A Result<T> is a
// T, or a non-OK Status. Both are plain values: copy them, return them, compare
// their codes. Thread-safe as values (no shared state but immutable
// constants).
//
// An OK Status is one null pointer: making, moving, testing and dropping one
// costs a few instructions, which matters on the paths every row and every
// lookup take. An error holds its code and message on the heap (as LevelDB's
// Status does); the few errors a hot path returns (a key not found) share a
// constant and allocate nothing.
#ifndef MANIFOLD_STATUS_H_
#define MANIFOLD_STATUS_H_

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace manifold {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,         // the key, keyspace or store does not exist
    kInvalidArgument,  // the caller asked for something malformed or unknown
    kCorruption,       // stored bytes fail a check; the store needs attention
    kIOError,          // the operating system refused a read, write or sync
    kBusy,             // another writer holds the store past the wait allowed
    kReadOnly,         // the store was opened read-only
    kFull,             // the disk, the map or a limit is exhausted
    kNotSupported,     // the engine or this build cannot do it
    kConstraint,       // a uniqueness or NOT NULL rule was broken
    kAborted,          // the transaction is over (committed, failed or rolled back)
    kInternal,         // a bug in manifold
  };

  // Creates an OK status.
  Status() noexcept = default;
  Status(const Status& other) : rep_(other.ok() ? nullptr : Copy(other.rep_.get())) {}
  Status(Status&& other) noexcept = default;
  Status& operator=(const Status& other) {
    // Copied before the old one goes: if the copy throws, *this stands.
    if (this != &other) rep_ = RepPtr(other.ok() ? nullptr : Copy(other.rep_.get()));
    return *this;
  }
  Status& operator=(Status&& other) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
  // NotFound("key not found"), the miss of a lookup: one constant, made at
  // first use and shared, so a miss allocates nothing.
  static Status KeyNotFound() noexcept;
  static Status InvalidArgument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
  }
  static Status Corruption(std::string message) { return {Code::kCorruption, std::move(message)}; }
  static Status IOError(std::string message) { return {Code::kIOError, std::move(message)}; }
  static Status Busy(std::string message) { return {Code::kBusy, std::move(message)}; }
  static Status ReadOnly(std::string message) { return {Code::kReadOnly, std::move(message)}; }
  static Status Full(std::string message) { return {Code::kFull, std::move(message)}; }
  static Status NotSupported(std::string message) {
    return {Code::kNotSupported, std::move(message)};
  }
  static Status Constraint(std::string message) { return {Code::kConstraint, std::move(message)}; }
  static Status Aborted(std::string message) { return {Code::kAborted, std::move(message)}; }
  static Status Internal(std::string message) { return {Code::kInternal, std::move(message)}; }

  bool ok() const { return rep_ == nullptr; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsBusy() const { return code() == Code::kBusy; }
  bool IsConstraint() const { return code() == Code::kConstraint; }
  Code code() const { return rep_ == nullptr ? Code::kOk : rep_->code; }
  // Empty for OK.
  const std::string& message() const { return rep_ == nullptr ? EmptyMessage() : rep_->message; }

  // Returns a copy whose message is `context` + ": " + message(); OK stays OK.
  Status WithContext(std::string_view context) const;

  // Returns "OK" or "<code name>: <message>", for logs and test failures.
  std::string ToString() const;

  // The rare deliberate drop of an error, easy to grep for.
  void IgnoreError() const {}

 private:
  struct Rep {
    Code code;
    bool constant;  // shared by every Status that holds it; never deleted
    std::string message;
  };
  // Deletes an error's Rep, never a shared constant.
  struct RepDeleter {
    void operator()(const Rep* rep) const noexcept;
  };
  using RepPtr = std::unique_ptr<const Rep, RepDeleter>;

  // An error's making, copying and freeing are out of line (status.cc): only
  // the OK paths are worth inlining.
  Status(Code code, std::string message);
  explicit Status(const Rep* constant) noexcept : rep_(constant) {}
  // A copy of an error's Rep (the constant itself for a constant).
  static const Rep* Copy(const Rep* rep);
  static const std::string& EmptyMessage() noexcept;

  RepPtr rep_;  // null: OK
};

// Returns the name of a code ("NotFound", "IOError", ...).
std::string_view CodeName(Status::Code code);

// A T, or a non-OK Status. REQUIRES for value access: ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result made from a Status must carry an error");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace manifold

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define MANIFOLD_RETURN_IF_ERROR(expr)               \
  do {                                               \
    ::manifold::Status manifold_status_ = (expr);    \
    if (!manifold_status_.ok()) return manifold_status_; \
  } while (0)

#endif  // MANIFOLD_STATUS_H_
