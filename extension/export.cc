#include "export.h"

#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.h"
#include "table.h"

namespace manifold {
namespace {

// Returns `name` as an SQL identifier in double quotes.
std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Returns the text of `value`, or InvalidArgument naming `what` if it is NULL.
Result<std::string> TextArgument(sqlite3_value* value, const char* what) {
  const unsigned char* text = sqlite3_value_text(value);
  if (text == nullptr || sqlite3_value_type(value) == SQLITE_NULL) {
    return Status::InvalidArgument(std::string("expects ") + what + ", not NULL");
  }
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_value_bytes(value)));
}

// Returns the manifold table `name` of this connection, connecting it first
// (an unused table of a freshly opened database is not connected yet).
Result<Table*> FindManifoldTable(Connection& connection, const std::string& name) {
  if (Table* table = connection.FindTable(name)) return table;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(connection.db(), ("SELECT 1 FROM " + Quote(name) + " LIMIT 0").c_str(),
                         -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (Table* table = connection.FindTable(name)) return table;
  return Status::NotFound("no manifold table named '" + name + "'");
}

// Returns the name by which the hidden rowid of a table with `schema`'s
// columns can be read and written, or "" if every alias is a column name.
std::string RowidAlias(const TableSchema& schema) {
  for (std::string_view alias : {"rowid", "oid", "_rowid_"}) {
    bool taken = false;
    for (const ColumnDef& column : schema.columns) {
      taken = taken || LowerAscii(column.name) == alias;
    }
    if (!taken) return std::string(alias);
  }
  return "";
}

// Returns the Status for SQLite's result code `rc` with SQLite's `message`,
// so that the caller of manifold_export sees the same kind of error.
Status FromSqlite(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Busy(std::move(message));
    case SQLITE_CONSTRAINT:
      return Status::Constraint(std::move(message));
    case SQLITE_READONLY:
      return Status::ReadOnly(std::move(message));
    case SQLITE_FULL:
      return Status::Full(std::move(message));
    case SQLITE_IOERR:
      return Status::IOError(std::move(message));
    case SQLITE_CORRUPT:
      return Status::Corruption(std::move(message));
    case SQLITE_NOMEM:
      throw std::bad_alloc();
    default:
      return Status::InvalidArgument(std::move(message));
  }
}

// Runs `sql` on `db`; a failure is an error carrying SQLite's message.
Status Exec(sqlite3* db, const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return Status::OK();
  std::string text = message != nullptr ? message : sqlite3_errstr(rc);
  sqlite3_free(message);
  return FromSqlite(rc, std::move(text));
}

// Creates the native table and copies the rows; returns how many were copied.
// The caller wraps this in a savepoint.
Result<int64_t> CreateAndCopy(sqlite3* db, Table& table, const std::string& native) {
  const TableSchema& schema = table.schema();
  const std::string schema_name = Quote(table.schema_name());
  std::string columns;
  if (schema.key_kind == KeyKind::kRowid) {
    // A rowid table keeps its rowids: they may be referred to from elsewhere.
    std::string alias = RowidAlias(schema);
    if (alias.empty()) {
      return Status::InvalidArgument("cannot keep the rowids of '" + table.name() +
                                     "': its columns are named rowid, oid and _rowid_");
    }
    columns = alias;
  }
  for (const ColumnDef& column : schema.columns) {
    if (!columns.empty()) columns += ", ";
    columns += Quote(column.name);
  }
  MANIFOLD_RETURN_IF_ERROR(Exec(db, NativeCreateSql(schema, table.schema_name(), native)));
  MANIFOLD_RETURN_IF_ERROR(Exec(db, "INSERT INTO " + schema_name + "." + Quote(native) + "(" +
                                        columns + ") SELECT " + columns + " FROM " +
                                        schema_name + "." + Quote(table.name())));
  return static_cast<int64_t>(sqlite3_changes64(db));
}

// manifold_export('t', 'native'): see export.h.
void ExportFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) noexcept {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  sqlite3* db = connection->db();
  try {
    Result<int64_t> copied = [&]() -> Result<int64_t> {
      Result<std::string> name = TextArgument(argv[0], "a manifold table name");
      if (!name.ok()) return name.status();
      Result<std::string> native = TextArgument(argv[1], "a name for the native table");
      if (!native.ok()) return native.status();
      Result<Table*> table = FindManifoldTable(*connection, *name);
      if (!table.ok()) return table.status();
      // A savepoint is a transaction of its own in autocommit mode and nests
      // inside an open one: either way the table and its rows come together.
      MANIFOLD_RETURN_IF_ERROR(Exec(db, "SAVEPOINT manifold_export"));
      Result<int64_t> result = CreateAndCopy(db, **table, *native);
      if (!result.ok()) {
        // Best effort: the error that matters is the one that stopped the copy.
        (void)Exec(db, "ROLLBACK TO manifold_export");
        (void)Exec(db, "RELEASE manifold_export");
        return result.status();
      }
      MANIFOLD_RETURN_IF_ERROR(Exec(db, "RELEASE manifold_export"));
      return result;
    }();
    if (copied.ok()) {
      sqlite3_result_int64(context, *copied);
      return;
    }
    std::string message = "manifold_export: " + copied.status().message();
    sqlite3_result_error(context, message.c_str(), -1);
    sqlite3_result_error_code(context, ToSqliteCode(copied.status()));
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (...) {
    sqlite3_result_error(context, "manifold_export: internal error: unexpected exception", -1);
  }
}

}  // namespace

std::string NativeCreateSql(const TableSchema& schema, const std::string& schema_name,
                            const std::string& name) {
  // DeclareSql is the declaration SQLite already accepted for the virtual
  // table, so columns, types, NOT NULL, COLLATE and the key are spelled the
  // way SQLite understands them; only the name and, for a composite key, the
  // WITHOUT ROWID a virtual table cannot have differ.
  static constexpr std::string_view kPrefix = "CREATE TABLE x(";
  std::string declared = schema.DeclareSql();
  std::string sql = "CREATE TABLE " + Quote(schema_name) + "." + Quote(name) + "(" +
                    declared.substr(kPrefix.size());
  if (schema.key_kind == KeyKind::kCompositeKey) sql += " WITHOUT ROWID";
  return sql;
}

int RegisterExportFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection) {
  // It writes: never from a view, a trigger or a schema (SQLITE_DIRECTONLY).
  // It borrows the Connection: the modules own it and outlive the function.
  return sqlite3_create_function_v2(db, "manifold_export", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                    connection.get(), &ExportFunction, nullptr, nullptr, nullptr);
}

}  // namespace manifold
