// Errors at the SQLite boundary: a Status becomes a SQLite result code plus a
// message in zErrMsg, and no exception ever crosses into SQLite.
// Stateless helpers; thread-safe.
#ifndef MANIFOLD_EXTENSION_ERRORS_H_
#define MANIFOLD_EXTENSION_ERRORS_H_

#include <new>
#include <string>
#include <string_view>

#include "manifold/status.h"
#include "sqlite_api.h"

namespace manifold {

// The message SQLite itself uses for a value that cannot be a rowid; a Status
// of kInvalidArgument with exactly this message maps to SQLITE_MISMATCH.
inline constexpr std::string_view kDatatypeMismatch = "datatype mismatch";

// Returns the SQLite result code for `status`: kBusy -> SQLITE_BUSY,
// kReadOnly -> SQLITE_READONLY, kCorruption -> SQLITE_CORRUPT_VTAB, kFull ->
// SQLITE_FULL, kConstraint -> SQLITE_CONSTRAINT_NOTNULL / _PRIMARYKEY (by the
// native message it carries) or SQLITE_CONSTRAINT, kNotFound ->
// SQLITE_CANTOPEN, kIOError -> SQLITE_IOERR, and so on. OK -> SQLITE_OK.
int ToSqliteCode(const Status& status);

// Returns the message a user sees for `status` raised by table `table` of
// module `module`: constraint and mismatch messages stay exactly as SQLite's
// own ("NOT NULL constraint failed: t.a"); anything else is prefixed with
// `<module> table "<table>": ` unless it already starts with that.
std::string UserMessage(std::string_view module, std::string_view table, const Status& status);

// Replaces *slot (an sqlite3_malloc'ed message or null) with a copy of
// `message` made by sqlite3_mprintf. Never throws.
void SetSqliteMessage(char** slot, std::string_view message) noexcept;

// Runs `body` (returning Status) for a callback of a virtual table, storing a
// failure's message in vtab->zErrMsg. Returns the SQLite code.
template <typename Body>
int VtabCall(sqlite3_vtab* vtab, std::string_view module, std::string_view table,
             Body&& body) noexcept {
  try {
    Status s = body();
    if (s.ok()) return SQLITE_OK;
    const std::string message = UserMessage(module, table, s);
    SetSqliteMessage(&vtab->zErrMsg, message);
    return ToSqliteCode(s);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (...) {
    SetSqliteMessage(&vtab->zErrMsg, "internal error: unexpected exception");
    return SQLITE_INTERNAL;
  }
}

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_ERRORS_H_
