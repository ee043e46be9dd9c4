// The catalog: a table `manifold_catalog` in the SQLite file itself (in the
// schema of the virtual table), one row per manifold table:
//   (name, engine, path, keyspace, dropped)
// Because it is an ordinary table, it follows SQLite's own transactions, which
// is what DROP TABLE, ALTER TABLE RENAME and CREATE VIRTUAL TABLE inside a
// transaction need: SQLite calls xDestroy at once (even if the transaction
// later rolls back) and never reports a rolled-back rename.
//   - The keyspace of a table is fixed at creation and recorded here; RENAME
//     only changes the row's name, so the data follows the table.
//   - DROP in autocommit mode drops the keyspace at once. Inside a
//     transaction it only marks the row dropped; the keyspace goes at the next
//     use of manifold on the connection in autocommit mode (if the transaction
//     rolled back, the mark is gone and so is nothing).
//   - CREATE inside a transaction that rolls back leaves an empty keyspace and
//     no row; a later CREATE of that name reuses the keyspace.
// Functions run SQL on the table's own connection; not thread-safe.
#ifndef MANIFOLD_EXTENSION_CATALOG_H_
#define MANIFOLD_EXTENSION_CATALOG_H_

#include "manifold/status.h"

namespace manifold {

class Table;

// Before xCreate's storage work: drops keyspaces whose drop has committed
// (autocommit mode), and refuses to reuse a keyspace dropped in the current,
// uncommitted transaction.
Status CatalogBeforeCreate(Table& table);
// After xCreate's storage work: records the table.
Status CatalogRecordCreate(Table& table);
// Sets the table's keyspace name from its catalog row, if it has one, and in
// autocommit mode finishes committed drops. Called once before first use.
Status CatalogResolve(Table& table);
// xDestroy.
Status CatalogDrop(Table& table);
// xRename.
Status CatalogRename(Table& table, const char* new_name);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_CATALOG_H_
