// manifold_backup('dir'): a consistent copy of the main database file and of
// every store its manifold tables use, laid out so that restoring is copying
// the directory back. Registered per connection; SQLite serializes calls.
//
// What `.dump`, VACUUM INTO and SQLite's backup API cannot do: they copy the
// SQLite file, which holds only the declarations and manifold's catalog, and
// leave the rows (in the stores) behind.
#ifndef MANIFOLD_EXTENSION_BACKUP_H_
#define MANIFOLD_EXTENSION_BACKUP_H_

#include <memory>
#include <string>

#include "connection.h"
#include "sqlite_api.h"

namespace manifold {

// Registers manifold_backup(dir) on `db`. Returns a SQLite code.
//
// manifold_backup writes into `dir` (relative to the process's working
// directory, as VACUUM INTO; created if missing, refused if it exists and is
// not empty):
//   - the main database file, under its own file name, copied with SQLite's
//     backup API (rows of native tables included);
//   - every store a manifold table of the main database uses, copied by its
//     engine (Engine::Backup), at its path relative to the database's
//     directory: default stores (`app.db.lmdb`) and relative `path=` options
//     land beside the copied database file, so the copied directory opens as
//     it is. A store outside the database's directory (an absolute or `../`
//     path) is copied to `dir/external/<its absolute path>`: tables keep
//     naming the original path, so restoring it means copying it back there.
//   - memory stores are listed as skipped: nothing of them is on disk.
// Consistency: before copying, it takes the write lock of every store it
// copies (never waiting for one while holding another; up to the connection's
// busy timeout in all, then SQLITE_BUSY), so no commit reaches any of them
// while the database file (one read snapshot) and the stores are copied:
// every store is as of one moment. Readers are never blocked; writers of
// other connections wait while the copies are taken. The database file is
// not locked: a transaction writing native and manifold tables commits its
// stores just before the file, and a backup in between holds only the
// former. A connection inside a transaction that has written is refused
// (COMMIT or ROLLBACK first).
// On any error, nothing is left in `dir`.
// Returns JSON: {"directory", "database", "stores": [{"engine", "path",
// "copy", "external", "tables"}], "skipped": [{"engine", "path", "tables",
// "reason"}]}, where "copy" is relative to "directory".
int RegisterBackupFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_BACKUP_H_
