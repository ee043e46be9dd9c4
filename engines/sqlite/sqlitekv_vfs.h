// The VFS of the sqlitekv engine's own connections: SQLite's default VFS,
// except that a read that fails with EIO (or ERANGE, ENXIO) is reported as
// SQLITE_IOERR_READ. SQLite's unix VFS reports it as SQLITE_IOERR_CORRUPTFS,
// which SQLite then turns into SQLITE_CORRUPT ("database disk image is
// malformed"): a failing disk is not a damaged file, and an I/O error must
// poison the store (common/poison.h), not send the user to repair the file.
// And a write or truncate that fails with EFBIG (past RLIMIT_FSIZE) or
// EDQUOT is SQLITE_FULL, as ENOSPC already is.
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_VFS_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_VFS_H_

namespace manifold {

// Registers the VFS (once; thread-safe) and returns its name, or null when
// it cannot be registered (then the default VFS is used).
const char* SqlitekvVfsName();

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_VFS_H_
