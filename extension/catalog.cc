#include "catalog.h"

#include <string>
#include <vector>

#include "errors.h"
#include "table.h"

namespace manifold {
namespace {

std::string Quoted(const std::string& identifier) {
  std::string out = "\"";
  for (char c : identifier) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string CatalogName(const Table& table) {
  return Quoted(table.schema_name()) + ".manifold_catalog";
}

// Runs `sql` with text parameters; calls `row` for each result row.
template <typename Row>
int Run(sqlite3* db, const std::string& sql, const std::vector<std::string>& params, Row&& row) {
  // DDL must not disturb last_insert_rowid(), which our own INSERTs would.
  struct KeepRowid {
    sqlite3* db;
    sqlite3_int64 rowid;
    ~KeepRowid() { sqlite3_set_last_insert_rowid(db, rowid); }
  } keep{db, sqlite3_last_insert_rowid(db)};
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc != SQLITE_OK) return rc;
  for (size_t i = 0; i < params.size(); ++i) {
    sqlite3_bind_text(stmt, static_cast<int>(i) + 1, params[i].c_str(), -1, SQLITE_TRANSIENT);
  }
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
  sqlite3_finalize(stmt);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int Run(sqlite3* db, const std::string& sql, const std::vector<std::string>& params) {
  return Run(db, sql, params, [](sqlite3_stmt*) {});
}

std::string Column(sqlite3_stmt* stmt, int i) {
  const unsigned char* text = sqlite3_column_text(stmt, i);
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

Status SqlError(sqlite3* db, const std::string& what) {
  return Status::IOError("cannot " + what + " in manifold_catalog: " + sqlite3_errmsg(db));
}

bool CatalogExists(Table& table) {
  bool exists = false;
  Run(table.connection().db(),
      "SELECT 1 FROM " + Quoted(table.schema_name()) +
          ".sqlite_master WHERE type='table' AND name='manifold_catalog'",
      {}, [&](sqlite3_stmt*) { exists = true; });
  return exists;
}

// Whether the connection trusts the schema of its database files (PRAGMA
// trusted_schema, SQLite's default ON).
bool TrustedSchema(sqlite3* db) {
  int trusted = 1;
  if (sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted) != SQLITE_OK) return false;
  return trusted != 0;
}

// Drops the keyspaces of rows whose drop has committed. Best effort: a store
// that cannot be opened keeps its row for a later try. Under
// trusted_schema=OFF the catalog may come from someone else: only drops this
// connection marked itself are carried out, the other rows wait for a
// connection that trusts the file (else a crafted row could drop a keyspace
// of any store the user can write, by the user merely reading a table).
void ProcessCommittedDrops(Table& table) {
  sqlite3* db = table.connection().db();
  if (!sqlite3_get_autocommit(db) || !CatalogExists(table)) return;
  const bool trusted = TrustedSchema(db);
  struct Dropped {
    std::string rowid, engine, path, keyspace;
  };
  std::vector<Dropped> dropped;
  const std::string catalog = CatalogName(table);
  Run(db,
      "SELECT rowid, engine, path, keyspace FROM " + catalog +
          " AS d WHERE dropped = 1 AND NOT EXISTS (SELECT 1 FROM " + catalog +
          " AS l WHERE l.dropped = 0 AND l.engine = d.engine AND l.path = d.path AND "
          "l.keyspace = d.keyspace)",
      {},
      [&](sqlite3_stmt* stmt) {
        dropped.push_back({Column(stmt, 0), Column(stmt, 1), Column(stmt, 2), Column(stmt, 3)});
      });
  for (const Dropped& d : dropped) {
    if (!trusted && !table.connection().MarkedDrop(d.engine, d.path, d.keyspace)) continue;
    Options options;
    options.path = d.path;
    Result<std::shared_ptr<StoreSession>> session = table.connection().Session(d.engine, options);
    if (session.ok() && (*session)->write_txn() == nullptr) {
      Result<std::unique_ptr<WriteTxn>> txn =
          (*session)->engine().BeginWrite(table.connection().BusyTimeout());
      if (!txn.ok()) continue;
      Status s = (*txn)->DropKeyspace(d.keyspace);
      if (!s.ok() && !s.IsNotFound()) continue;
      Result<Keyspace> schema_ks = (*txn)->OpenKeyspace(kSchemaKeyspace);
      if (schema_ks.ok() && !(*txn)->Delete(*schema_ks, d.keyspace).ok()) continue;
      if (!(*txn)->Commit().ok()) continue;
    } else if (session.ok() || !session.status().IsNotFound()) {
      continue;  // busy or broken now: try again later; a store that is gone needs nothing
    }
    Run(db, "DELETE FROM " + catalog + " WHERE rowid = ?", {d.rowid});
  }
  // Rows of drops whose keyspace a live table now uses: nothing left to drop.
  Run(db,
      "DELETE FROM " + catalog + " WHERE dropped = 1 AND EXISTS (SELECT 1 FROM " + catalog +
          " AS l WHERE l.dropped = 0 AND l.engine = manifold_catalog.engine AND "
          "l.path = manifold_catalog.path AND l.keyspace = manifold_catalog.keyspace)",
      {});
}

// Returns true when a live row other than `name`'s uses the table's keyspace.
bool KeyspaceShared(Table& table) {
  bool shared = false;
  Run(table.connection().db(),
      "SELECT 1 FROM " + CatalogName(table) +
          " WHERE dropped = 0 AND engine = ? AND path = ? AND keyspace = ? AND "
          "name <> ? COLLATE NOCASE",
      {table.options().engine, table.store_path(), table.keyspace_name(), table.name()},
      [&](sqlite3_stmt*) { shared = true; });
  return shared;
}

const char kCreateCatalog[] =
    " (name TEXT, engine TEXT NOT NULL, path TEXT NOT NULL, keyspace TEXT NOT NULL, "
    "dropped INTEGER NOT NULL DEFAULT 0)";

}  // namespace

Status CatalogBeforeCreate(Table& table) {
  sqlite3* db = table.connection().db();
  if (sqlite3_get_autocommit(db)) ProcessCommittedDrops(table);
  if (!CatalogExists(table)) return Status::OK();
  // A renamed table keeps its keyspace, and a dropped one keeps it until the
  // drop commits; a new table that would default to such a keyspace gets a
  // fresh one ("t_2", ...) instead of its data.
  if (!table.keyspace_explicit()) {
    const std::string base = table.keyspace_name();
    for (int n = 2; n < 10000; ++n) {
      bool used = false;
      Run(db,
          "SELECT 1 FROM " + CatalogName(table) +
              " WHERE engine = ? AND path = ? AND keyspace = ? AND "
              "(dropped = 1 OR name <> ? COLLATE NOCASE)",
          {table.options().engine, table.store_path(), table.keyspace_name(), table.name()},
          [&](sqlite3_stmt*) { used = true; });
      if (!used) break;
      table.set_keyspace_name(base + "_" + std::to_string(n));
    }
  }
  if (sqlite3_get_autocommit(db)) return Status::OK();
  bool pending = false;
  Run(db,
      "SELECT 1 FROM " + CatalogName(table) +
          " WHERE dropped = 1 AND engine = ? AND path = ? AND keyspace = ?",
      {table.options().engine, table.store_path(), table.keyspace_name()},
      [&](sqlite3_stmt*) { pending = true; });
  if (pending) {
    return Status::InvalidArgument("keyspace '" + table.keyspace_name() +
                                   "' belongs to a table dropped in this transaction: COMMIT "
                                   "before creating a table on it");
  }
  return Status::OK();
}

Status CatalogRecordCreate(Table& table) {
  sqlite3* db = table.connection().db();
  const std::string catalog = CatalogName(table);
  if (Run(db, "CREATE TABLE IF NOT EXISTS " + catalog + kCreateCatalog, {}) != SQLITE_OK) {
    return SqlError(db, "create the catalog");
  }
  if (Run(db, "DELETE FROM " + catalog + " WHERE dropped = 0 AND name = ? COLLATE NOCASE",
          {table.name()}) != SQLITE_OK ||
      Run(db, "INSERT INTO " + catalog + " (name, engine, path, keyspace) VALUES (?, ?, ?, ?)",
          {table.name(), table.options().engine, table.store_path(), table.keyspace_name()}) !=
          SQLITE_OK) {
    return SqlError(db, "record table '" + table.name() + "'");
  }
  return Status::OK();
}

Status CatalogResolve(Table& table) {
  if (!CatalogExists(table)) return Status::OK();
  ProcessCommittedDrops(table);
  std::string keyspace;
  bool found = false;
  Run(table.connection().db(),
      "SELECT keyspace FROM " + CatalogName(table) +
          " WHERE dropped = 0 AND name = ? COLLATE NOCASE ORDER BY rowid DESC LIMIT 1",
      {table.name()}, [&](sqlite3_stmt* stmt) {
        keyspace = Column(stmt, 0);
        found = true;
      });
  if (found) table.set_keyspace_name(std::move(keyspace));
  return Status::OK();
}

Status CatalogDrop(Table& table) {
  sqlite3* db = table.connection().db();
  MANIFOLD_RETURN_IF_ERROR(table.ResolveKeyspace());
  const bool have_catalog = CatalogExists(table);
  const std::string catalog = CatalogName(table);
  if (sqlite3_get_autocommit(db)) {
    if (!have_catalog || !KeyspaceShared(table)) MANIFOLD_RETURN_IF_ERROR(table.DropStorage());
    if (have_catalog) {
      Run(db, "DELETE FROM " + catalog + " WHERE dropped = 0 AND name = ? COLLATE NOCASE",
          {table.name()});
      ProcessCommittedDrops(table);
    }
    return Status::OK();
  }
  // Inside a transaction: mark it; the keyspace goes once the drop commits.
  table.connection().NoteMarkedDrop(table.options().engine, table.store_path(),
                                    table.keyspace_name());
  if (Run(db, "CREATE TABLE IF NOT EXISTS " + catalog + kCreateCatalog, {}) != SQLITE_OK ||
      Run(db,
          "UPDATE " + catalog + " SET dropped = 1 WHERE dropped = 0 AND name = ? COLLATE NOCASE",
          {table.name()}) != SQLITE_OK) {
    return SqlError(db, "mark table '" + table.name() + "' dropped");
  }
  if (sqlite3_changes(db) == 0 &&
      Run(db,
          "INSERT INTO " + catalog +
              " (name, engine, path, keyspace, dropped) VALUES (?, ?, ?, ?, 1)",
          {table.name(), table.options().engine, table.store_path(), table.keyspace_name()}) !=
          SQLITE_OK) {
    return SqlError(db, "mark table '" + table.name() + "' dropped");
  }
  return Status::OK();
}

Status CatalogRename(Table& table, const char* new_name) {
  sqlite3* db = table.connection().db();
  MANIFOLD_RETURN_IF_ERROR(table.ResolveKeyspace());
  const std::string catalog = CatalogName(table);
  if (Run(db, "CREATE TABLE IF NOT EXISTS " + catalog + kCreateCatalog, {}) != SQLITE_OK ||
      Run(db, "UPDATE " + catalog + " SET name = ? WHERE dropped = 0 AND name = ? COLLATE NOCASE",
          {new_name, table.name()}) != SQLITE_OK) {
    return SqlError(db, "rename table '" + table.name() + "'");
  }
  if (sqlite3_changes(db) == 0 &&
      Run(db, "INSERT INTO " + catalog + " (name, engine, path, keyspace) VALUES (?, ?, ?, ?)",
          {new_name, table.options().engine, table.store_path(), table.keyspace_name()}) !=
          SQLITE_OK) {
    return SqlError(db, "rename table '" + table.name() + "'");
  }
  table.Renamed(new_name);
  return Status::OK();
}

}  // namespace manifold
