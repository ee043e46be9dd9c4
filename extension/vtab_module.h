// The virtual-table modules: one per registered engine ("btree", "lmdb",
// "rocksdb", "memory") plus "manifold" (engine= chooses; default btree, or
// lmdb while the build has no btree). An engine missing from the build still
// has its module, and CREATE fails naming it.
// Thread-safe to call per connection (SQLite serializes each connection).
#ifndef MANIFOLD_EXTENSION_VTAB_MODULE_H_
#define MANIFOLD_EXTENSION_VTAB_MODULE_H_

#include <memory>

#include "connection.h"
#include "sqlite_api.h"

namespace manifold {

// Registers every module on `db`, sharing `connection`. Returns a SQLite code.
int RegisterModules(sqlite3* db, const std::shared_ptr<Connection>& connection);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_VTAB_MODULE_H_
