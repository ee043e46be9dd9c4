// The callbacks of sqlite3_module, in slot order. Each one catches every
// exception and turns a failure into a SQLite code plus a message (errors.h).
#include "vtab_module.h"

#include <filesystem>
#include <memory>
#include <string>

#include "catalog.h"
#include "cursor.h"
#include "errors.h"
#include "manifold/registry.h"
#include "planner.h"
#include "table.h"

namespace manifold {
namespace {

Table* AsTable(sqlite3_vtab* vtab) { return static_cast<Table*>(vtab); }
TableCursor* AsCursor(sqlite3_vtab_cursor* cursor) { return static_cast<TableCursor*>(cursor); }

template <typename Body>
int TableCall(sqlite3_vtab* vtab, Body&& body) noexcept {
  Table* table = AsTable(vtab);
  return VtabCall(vtab, table->module(), table->name(), std::forward<Body>(body));
}

// xCreate and xConnect share this: build the table, (create its storage),
// declare its schema. On failure *error gets the message.
int Construct(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
              char** error, bool create) noexcept {
  const ModuleContext& module = *static_cast<ModuleContext*>(aux);
  std::string name = argc > 2 ? argv[2] : "?";
  try {
    Result<std::unique_ptr<Table>> made = Table::Make(module, db, argc, argv);
    Status s = made.status();
    if (made.ok()) {
      Table& table = **made;
      // A CREATE that fails leaves no new store behind: a store this call
      // created is removed once the failed table has let it go.
      std::error_code ignored;
      const std::string store = table.store_path();
      const bool store_existed = !create || store.empty() || std::filesystem::exists(store, ignored);
      auto remove_new_store = [&] {
        made->reset();
        if (!store_existed) std::filesystem::remove_all(store, ignored);
      };
      if (create) s = CatalogBeforeCreate(table);
      if (s.ok() && create) s = table.CreateStorage();
      if (s.ok() && create) s = CatalogRecordCreate(table);
      if (s.ok()) {
        int rc = sqlite3_declare_vtab(db, table.schema().DeclareSql().c_str());
        if (rc != SQLITE_OK) {
          SetSqliteMessage(error, table.Prefix() + "cannot declare the table: " +
                                      sqlite3_errmsg(db));
          remove_new_store();
          return rc;
        }
        sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
        table.connection().AddTable(&table);
        *out = made->release();
        return SQLITE_OK;
      }
      remove_new_store();
    }
    SetSqliteMessage(error, UserMessage(module.module, name, s));
    return ToSqliteCode(s);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (...) {
    SetSqliteMessage(error, "internal error: unexpected exception");
    return SQLITE_INTERNAL;
  }
}

// xCreate: CREATE VIRTUAL TABLE. The only callback that creates files.
int Create(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
           char** error) {
  return Construct(db, aux, argc, argv, out, error, /*create=*/true);
}

// xConnect: a table named in the schema is being opened (also for PRAGMA
// table_info and DROP TABLE, even of tables SQLite then refuses). Opens
// nothing: the store opens at first real use.
int Connect(sqlite3* db, void* aux, int argc, const char* const* argv, sqlite3_vtab** out,
            char** error) {
  return Construct(db, aux, argc, argv, out, error, /*create=*/false);
}

// xBestIndex: choose a plan; see planner.h.
int BestIndexCallback(sqlite3_vtab* vtab, sqlite3_index_info* info) {
  try {
    return BestIndex(*AsTable(vtab), info);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (...) {
    return SQLITE_INTERNAL;
  }
}

// xDisconnect: the connection no longer uses the table.
int Disconnect(sqlite3_vtab* vtab) {
  Table* table = AsTable(vtab);
  table->connection().RemoveTable(table);
  std::unique_ptr<Table> owned(table);
  return SQLITE_OK;
}

// xDestroy: DROP TABLE. The keyspace goes now in autocommit mode, else when
// the transaction that dropped the table has committed (catalog.h).
int Destroy(sqlite3_vtab* vtab) {
  int rc = TableCall(vtab, [&] { return CatalogDrop(*AsTable(vtab)); });
  if (rc != SQLITE_OK) return rc;
  return Disconnect(vtab);
}

// xOpen: a new cursor, unplaced until xFilter.
int Open(sqlite3_vtab* vtab, sqlite3_vtab_cursor** out) {
  return TableCall(vtab, [&] {
    auto cursor = std::make_unique<TableCursor>(AsTable(vtab));
    *out = cursor.release();
    return Status::OK();
  });
}

// xClose.
int Close(sqlite3_vtab_cursor* cursor) {
  std::unique_ptr<TableCursor> owned(AsCursor(cursor));
  return SQLITE_OK;
}

// xFilter: start the scan chosen by xBestIndex.
int Filter(sqlite3_vtab_cursor* cursor, int idx_num, const char* idx_str, int argc,
           sqlite3_value** argv) {
  return TableCall(cursor->pVtab, [&] { return AsCursor(cursor)->Filter(idx_str, argc, argv); });
}

// xNext.
int Next(sqlite3_vtab_cursor* cursor) {
  return TableCall(cursor->pVtab, [&] { return AsCursor(cursor)->Next(); });
}

// xEof.
int Eof(sqlite3_vtab_cursor* cursor) { return AsCursor(cursor)->Eof() ? 1 : 0; }

// xColumn.
int Column(sqlite3_vtab_cursor* cursor, sqlite3_context* context, int column) {
  int rc = TableCall(cursor->pVtab, [&] { return AsCursor(cursor)->Column(context, column); });
  if (rc != SQLITE_OK && cursor->pVtab->zErrMsg != nullptr) {
    sqlite3_result_error(context, cursor->pVtab->zErrMsg, -1);
  }
  return rc;
}

// xRowid.
int Rowid(sqlite3_vtab_cursor* cursor, sqlite3_int64* rowid) {
  return TableCall(cursor->pVtab, [&] { return AsCursor(cursor)->Rowid(rowid); });
}

// xUpdate: INSERT, UPDATE or DELETE of one row.
int Update(sqlite3_vtab* vtab, int argc, sqlite3_value** argv, sqlite3_int64* rowid) {
  int rc = TableCall(vtab, [&] { return AsTable(vtab)->Update(argc, argv, rowid); });
  if ((rc & 0xff) == SQLITE_CONSTRAINT &&
      sqlite3_vtab_on_conflict(AsTable(vtab)->connection().db()) == SQLITE_IGNORE) {
    // SQLite skips the row, but would keep the message as the statement's
    // and show it for a later, unrelated error of the same statement.
    sqlite3_free(vtab->zErrMsg);
    vtab->zErrMsg = nullptr;
  }
  return rc;
}

// xBegin: the table is about to be written in this transaction.
int Begin(sqlite3_vtab* vtab) {
  return TableCall(vtab, [&] { return AsTable(vtab)->Begin(); });
}

// xSync: first phase of commit; the store commits here so that a failure is
// reported (SQLite ignores xCommit's result).
int Sync(sqlite3_vtab* vtab) {
  return TableCall(vtab, [&] { return AsTable(vtab)->Sync(); });
}

// xCommit.
int Commit(sqlite3_vtab* vtab) {
  return TableCall(vtab, [&] { return AsTable(vtab)->Commit(); });
}

// xRollback.
int Rollback(sqlite3_vtab* vtab) {
  return TableCall(vtab, [&] {
    AsTable(vtab)->Rollback();
    return Status::OK();
  });
}

// xRename: ALTER TABLE RENAME. The keyspace keeps its name (catalog.h).
int Rename(sqlite3_vtab* vtab, const char* new_name) {
  return TableCall(vtab, [&] { return CatalogRename(*AsTable(vtab), new_name); });
}

// xSavepoint, xRelease, xRollbackTo: SQLite's savepoint levels.
int SavepointCallback(sqlite3_vtab* vtab, int level) {
  return TableCall(vtab, [&] { return AsTable(vtab)->Savepoint(level); });
}
int ReleaseCallback(sqlite3_vtab* vtab, int level) {
  return TableCall(vtab, [&] { return AsTable(vtab)->Release(level); });
}
int RollbackToCallback(sqlite3_vtab* vtab, int level) {
  return TableCall(vtab, [&] { return AsTable(vtab)->RollbackTo(level); });
}

const sqlite3_module kModule = {
    /*iVersion=*/3,
    /*xCreate=*/Create,
    /*xConnect=*/Connect,
    /*xBestIndex=*/BestIndexCallback,
    /*xDisconnect=*/Disconnect,
    /*xDestroy=*/Destroy,
    /*xOpen=*/Open,
    /*xClose=*/Close,
    /*xFilter=*/Filter,
    /*xNext=*/Next,
    /*xEof=*/Eof,
    /*xColumn=*/Column,
    /*xRowid=*/Rowid,
    /*xUpdate=*/Update,
    /*xBegin=*/Begin,
    /*xSync=*/Sync,
    /*xCommit=*/Commit,
    /*xRollback=*/Rollback,
    /*xFindFunction=*/nullptr,
    /*xRename=*/Rename,
    /*xSavepoint=*/SavepointCallback,
    /*xRelease=*/ReleaseCallback,
    /*xRollbackTo=*/RollbackToCallback,
    /*xShadowName=*/nullptr,
};

void DestroyContext(void* aux) { std::unique_ptr<ModuleContext> owned(static_cast<ModuleContext*>(aux)); }

}  // namespace

int RegisterModules(sqlite3* db, const std::shared_ptr<Connection>& connection) {
  std::vector<std::string> names;
  for (const EngineInfo& info : RegisteredEngines()) names.push_back(info.name);
  names.push_back("manifold");
  for (const std::string& name : names) {
    auto context = std::make_unique<ModuleContext>(ModuleContext{name, connection});
    int rc = sqlite3_create_module_v2(db, name.c_str(), &kModule, context.release(),
                                      &DestroyContext);
    if (rc != SQLITE_OK) return rc;  // SQLite has called DestroyContext
  }
  return SQLITE_OK;
}

}  // namespace manifold
