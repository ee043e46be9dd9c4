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

Status::Status(Code code, std::string message)
    : rep_(new Rep{code, false, std::move(message)}) {}

const Status::Rep* Status::Copy(const Rep* rep) {
  return rep->constant ? rep : new Rep(*rep);
}

void Status::RepDeleter::operator()(const Rep* rep) const noexcept {
  if (!rep->constant) delete rep;
}

Status Status::KeyNotFound() noexcept {
  // Made once and never destroyed, so that it outlives every Status.
  static const Rep* const rep = new Rep{Code::kNotFound, true, "key not found"};
  return Status(rep);
}

const std::string& Status::EmptyMessage() noexcept {
  static const std::string* const empty = new std::string();
  return *empty;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code(), std::string(context) + ": " + message());
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code())) + ": " + message();
}

int CompareBytes(Bytes a, Bytes b) { return a.compare(b); }

std::string_view Version() { return "0.1.0"; }

}  // namespace manifold
