// The sqlitekv engine's entry points for the registry.
//
// sqlitekv keeps each keyspace in a WITHOUT ROWID table of one SQLite
// database file: a baseline for the other engines, and a store whose bytes
// SQLite's own tools (the sqlite3 shell, any SQLite browser) can read.
//
// The design, in short (README.md's "sqlitekv" section says it for users):
// - One store per file (device and inode) per process, shared and
//   reference-counted (SqlitekvStore, engines/common/store_registry.h).
// - The file is in WAL mode. The catalog table manifold_keyspaces(id, name
//   BLOB, table_name) maps each keyspace name (any bytes, compared as
//   unsigned bytes) to its table "ks:<name>" (or "ks#<hex>" for names that
//   are not printable UTF-8, with "#2", "#3" ... against case-insensitive
//   clashes), each CREATE TABLE "ks:<name>"(k BLOB PRIMARY KEY, v BLOB)
//   WITHOUT ROWID. SQLite compares BLOBs with memcmp, shorter first on a
//   common prefix: exactly manifold's unsigned byte order.
// - A write transaction is BEGIN IMMEDIATE on the store's writer connection
//   after the in-process WriteGate (so two writers of one thread get Busy
//   instead of a deadlock); another process's writer is waited for through
//   SQLite's busy timeout, then Busy. Savepoint levels map onto SQLite
//   SAVEPOINT / RELEASE / ROLLBACK TO; keyspace creation and drop are
//   ordinary DDL in the same transaction.
// - A read transaction is a pooled read-only connection holding an SQLite
//   read transaction (BEGIN and a first read): a WAL snapshot that never
//   blocks the writer.
// - sync=full/normal/off is PRAGMA synchronous FULL/NORMAL/OFF on the writer;
//   read-only opens SQLITE_OPEN_READONLY connections only.
// - compression=zstd is manifold's value layer (engines/zstd), as for btree.
// - Keys and values are limited only by SQLite's SQLITE_LIMIT_LENGTH (1e9
//   bytes by default); errors name the limit.
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_ENGINE_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_ENGINE_H_

#include <memory>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

// Returns the sqlitekv engine's row of manifold_engines.
EngineInfo SqlitekvEngineInfo();

// Opens (or joins, if this process has it open) the sqlitekv store in the
// SQLite database file options.path.
Result<std::unique_ptr<Engine>> OpenSqlitekvEngine(const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_ENGINE_H_
