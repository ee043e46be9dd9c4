#include "errors.h"

#include <string>

namespace manifold {

int ToSqliteCode(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return SQLITE_OK;
    case Status::Code::kNotFound:
      return SQLITE_CANTOPEN;
    case Status::Code::kInvalidArgument:
      return status.message() == kDatatypeMismatch ? SQLITE_MISMATCH : SQLITE_ERROR;
    case Status::Code::kCorruption:
      return SQLITE_CORRUPT_VTAB;
    case Status::Code::kIOError:
      return SQLITE_IOERR;
    case Status::Code::kBusy:
      return SQLITE_BUSY;
    case Status::Code::kReadOnly:
      return SQLITE_READONLY;
    case Status::Code::kFull:
      // An engine's "limit exhausted" is memory when its message says so
      // (sqlitekv passes on its own SQLite's "out of memory").
      return status.message().find("out of memory") != std::string::npos ? SQLITE_NOMEM
                                                                           : SQLITE_FULL;
    case Status::Code::kNotSupported:
      return SQLITE_ERROR;
    case Status::Code::kConstraint:
      // The message is SQLite's own wording, so it also tells the subtype.
      if (status.message().starts_with("NOT NULL constraint failed")) {
        return SQLITE_CONSTRAINT_NOTNULL;
      }
      if (status.message().starts_with("UNIQUE constraint failed")) {
        return SQLITE_CONSTRAINT_PRIMARYKEY;
      }
      return SQLITE_CONSTRAINT;
    case Status::Code::kAborted:
      return SQLITE_ABORT;
    case Status::Code::kInternal:
      return SQLITE_INTERNAL;
  }
  return SQLITE_ERROR;
}

std::string UserMessage(std::string_view module, std::string_view table, const Status& status) {
  if (status.code() == Status::Code::kConstraint) return status.message();
  if (status.code() == Status::Code::kInvalidArgument && status.message() == kDatatypeMismatch) {
    return status.message();
  }
  std::string prefix = std::string(module) + " table \"" + std::string(table) + "\": ";
  if (status.message().starts_with(prefix)) return status.message();
  return prefix + status.message();
}

void SetSqliteMessage(char** slot, std::string_view message) noexcept {
  sqlite3_free(*slot);
  *slot = sqlite3_mprintf("%.*s", static_cast<int>(message.size()), message.data());
}

}  // namespace manifold
