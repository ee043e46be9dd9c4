#include "manifold/status.h"

#include "manifold/engine.h"

namespace manifold {

std::string_view CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "OK";
    case Status::Code::kNotFound: return "NotFound";
    case Status::Code::kInvalidArgument: return "InvalidArgument";
    case Status::Code::kCorruption: return "Corruption";
    case Status::Code::kIOError: return "IOError";
    case Status::Code::kBusy: return "Busy";
    case Status::Code::kReadOnly: return "ReadOnly";
    case Status::Code::kFull: return "Full";
    case Status::Code::kNotSupported: return "NotSupported";
    case Status::Code::kConstraint: return "Constraint";
    case Status::Code::kAborted: return "Aborted";
    case Status::Code::kInternal: return "Internal";
  }
  return "Unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

int CompareBytes(Bytes a, Bytes b) { return a.compare(b); }

std::string_view Version() { return "0.1.0"; }

}  // namespace manifold
