// manifold_export('t', 'native'): copies a manifold table into a new native
// SQLite table with the same declaration, so that a database can travel to a
// machine without manifold. Registered per connection; SQLite serializes calls.
#ifndef MANIFOLD_EXTENSION_EXPORT_H_
#define MANIFOLD_EXTENSION_EXPORT_H_

#include <memory>
#include <string>

#include "connection.h"
#include "sqlite_api.h"
#include "table_schema.h"

namespace manifold {

// Registers manifold_export(table, native_table) on `db`. Returns a SQLite code.
//
// manifold_export creates `native_table` in the schema (main, temp or an
// attached database) of the manifold table `table`, declared with the same
// columns, declared types, NOT NULL, COLLATE and PRIMARY KEY, and copies every
// row; it returns the number of rows copied. A table without a PRIMARY KEY and
// an INTEGER PRIMARY KEY table become native rowid tables that keep every
// rowid; any other key becomes a WITHOUT ROWID table. The creation and the
// copy are one transaction (a savepoint inside an open transaction): on any
// error, no table is left behind. An existing `native_table` is an error.
int RegisterExportFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection);

// Returns the CREATE TABLE statement of a native table named `name` in
// `schema_name` with the declaration `schema`. Pure; exposed for tests.
std::string NativeCreateSql(const TableSchema& schema, const std::string& schema_name,
                            const std::string& name);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_EXPORT_H_
