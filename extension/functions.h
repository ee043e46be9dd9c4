// manifold's SQL functions: manifold_version(), manifold_stats('table'),
// manifold_check('table'), manifold_compact('table'), and the table-valued manifold_engines (an
// eponymous virtual table). Registered per connection; SQLite serializes calls.
#ifndef MANIFOLD_EXTENSION_FUNCTIONS_H_
#define MANIFOLD_EXTENSION_FUNCTIONS_H_

#include <memory>

#include "connection.h"
#include "sqlite_api.h"

namespace manifold {

// Registers the functions and manifold_engines on `db`. Returns a SQLite code.
int RegisterFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_FUNCTIONS_H_
