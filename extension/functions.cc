#include "functions.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "manifold/registry.h"
#include "table.h"

namespace manifold {
namespace {

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// manifold_version(): the library version as text.
void VersionFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** /*argv*/) {
  std::string_view version = Version();
  sqlite3_result_text(context, version.data(), static_cast<int>(version.size()), SQLITE_STATIC);
}

// Returns the manifold table `name` of this connection, connecting it first
// if the connection has not used it yet.
Result<Table*> FindTable(Connection& connection, sqlite3_value* name_value) {
  const unsigned char* text = sqlite3_value_text(name_value);
  if (text == nullptr) return Status::InvalidArgument("expects a table name");
  std::string name(reinterpret_cast<const char*>(text));
  if (Table* table = connection.FindTable(name)) return table;
  std::string quoted = "\"";
  for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  quoted += "\"";
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(connection.db(), ("SELECT 1 FROM " + quoted + " LIMIT 0").c_str(), -1,
                         &stmt, nullptr) == SQLITE_OK) {
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  if (Table* table = connection.FindTable(name)) return table;
  return Status::NotFound("no manifold table named '" + name + "'");
}

template <typename Body>
void FunctionCall(sqlite3_context* context, const char* function, Body&& body) noexcept {
  try {
    Status s = body();
    if (s.ok()) return;
    std::string message = std::string(function) + ": " + s.message();
    sqlite3_result_error(context, message.c_str(), -1);
    sqlite3_result_error_code(context, ToSqliteCode(s));
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (...) {
    sqlite3_result_error(context, "internal error: unexpected exception", -1);
  }
}

// manifold_stats('t'): JSON {engine, path, keyspace, rows, bytes_on_disk,
// logical_bytes, stored_bytes}. rows and logical_bytes (keys plus values) are
// counted from a snapshot of the table; bytes_on_disk and stored_bytes are
// the engine's estimate for the whole store.
void StatsFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  FunctionCall(context, "manifold_stats", [&]() -> Status {
    Result<Table*> found = FindTable(*connection, argv[0]);
    if (!found.ok()) return found.status();
    Table& table = **found;
    Status s = table.EnsureOpen();
    if (!s.ok()) return Status(s).WithContext(table.Prefix().substr(0, table.Prefix().size() - 2));
    StoreSession& session = table.session();
    std::shared_ptr<ReadTxn> snapshot;
    ReadTxn* reader = session.write_txn();
    if (reader == nullptr) {
      Result<std::shared_ptr<ReadTxn>> taken = session.Snapshot();
      if (!taken.ok()) return taken.status();
      snapshot = *taken;
      reader = snapshot.get();
    }
    uint64_t rows = 0, logical = 0;
    {
      Result<std::unique_ptr<Cursor>> cursor = reader->NewCursor(table.keyspace());
      if (!cursor.ok()) return cursor.status();
      for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
        ++rows;
        logical += (*cursor)->key().size() + (*cursor)->value().size();
      }
      MANIFOLD_RETURN_IF_ERROR((*cursor)->status());
    }
    Result<uint64_t> size = session.engine().EstimatedSize();
    if (!size.ok()) return size.status();
    std::string json = "{\"engine\":" + JsonString(table.options().engine) +
                       ",\"path\":" + JsonString(table.store_path()) +
                       ",\"keyspace\":" + JsonString(table.keyspace_name()) +
                       ",\"rows\":" + std::to_string(rows) +
                       ",\"bytes_on_disk\":" + std::to_string(*size) +
                       ",\"logical_bytes\":" + std::to_string(logical) +
                       ",\"stored_bytes\":" + std::to_string(*size) + "}";
    sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    return Status::OK();
  });
}

// manifold_compact('t'): compacts the table's store; JSON {bytes_before,
// bytes_after}.
void CompactFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  FunctionCall(context, "manifold_compact", [&]() -> Status {
    Result<Table*> found = FindTable(*connection, argv[0]);
    if (!found.ok()) return found.status();
    Table& table = **found;
    MANIFOLD_RETURN_IF_ERROR(table.EnsureOpen());
    StoreSession& session = table.session();
    if (session.write_txn() != nullptr) {
      return Status::Busy("cannot compact a store this transaction is writing");
    }
    Result<uint64_t> before = session.engine().EstimatedSize();
    if (!before.ok()) return before.status();
    MANIFOLD_RETURN_IF_ERROR(session.engine().Compact());
    Result<uint64_t> after = session.engine().EstimatedSize();
    if (!after.ok()) return after.status();
    std::string json = "{\"bytes_before\":" + std::to_string(*before) +
                       ",\"bytes_after\":" + std::to_string(*after) + "}";
    sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    return Status::OK();
  });
}

// manifold_engines: an eponymous, read-only virtual table listing the
// registry, one row per engine.
struct EnginesTable : sqlite3_vtab {};
struct EnginesCursor : sqlite3_vtab_cursor {
  std::vector<EngineInfo> engines;
  size_t row = 0;
};

int EnginesConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(
      db,
      "CREATE TABLE x(name TEXT, library_version TEXT, persistent INTEGER, multi_process "
      "INTEGER, compression INTEGER, available INTEGER)");
  if (rc != SQLITE_OK) return rc;
  auto table = std::make_unique<EnginesTable>();
  memset(static_cast<sqlite3_vtab*>(table.get()), 0, sizeof(sqlite3_vtab));
  *out = table.release();
  return SQLITE_OK;
}
int EnginesBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 10;
  info->estimatedRows = 10;
  return SQLITE_OK;
}
int EnginesDisconnect(sqlite3_vtab* vtab) {
  std::unique_ptr<EnginesTable> owned(static_cast<EnginesTable*>(vtab));
  return SQLITE_OK;
}
int EnginesOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  try {
    auto cursor = std::make_unique<EnginesCursor>();
    memset(static_cast<sqlite3_vtab_cursor*>(cursor.get()), 0, sizeof(sqlite3_vtab_cursor));
    cursor->engines = RegisteredEngines();
    *out = cursor.release();
    return SQLITE_OK;
  } catch (...) {
    return SQLITE_NOMEM;
  }
}
int EnginesClose(sqlite3_vtab_cursor* cursor) {
  std::unique_ptr<EnginesCursor> owned(static_cast<EnginesCursor*>(cursor));
  return SQLITE_OK;
}
int EnginesFilter(sqlite3_vtab_cursor* cursor, int, const char*, int, sqlite3_value**) {
  static_cast<EnginesCursor*>(cursor)->row = 0;
  return SQLITE_OK;
}
int EnginesNext(sqlite3_vtab_cursor* cursor) {
  ++static_cast<EnginesCursor*>(cursor)->row;
  return SQLITE_OK;
}
int EnginesEof(sqlite3_vtab_cursor* cursor) {
  auto* c = static_cast<EnginesCursor*>(cursor);
  return c->row >= c->engines.size();
}
int EnginesColumn(sqlite3_vtab_cursor* cursor, sqlite3_context* context, int column) {
  auto* c = static_cast<EnginesCursor*>(cursor);
  const EngineInfo& info = c->engines[c->row];
  switch (column) {
    case 0:
      sqlite3_result_text(context, info.name.c_str(), -1, SQLITE_TRANSIENT);
      break;
    case 1:
      sqlite3_result_text(context, info.library_version.c_str(), -1, SQLITE_TRANSIENT);
      break;
    case 2:
      sqlite3_result_int(context, info.capabilities.persistent);
      break;
    case 3:
      sqlite3_result_int(context, info.capabilities.multi_process);
      break;
    case 4:
      sqlite3_result_int(context, info.capabilities.native_compression);
      break;
    default:
      sqlite3_result_int(context, info.available);
      break;
  }
  return SQLITE_OK;
}
int EnginesRowid(sqlite3_vtab_cursor* cursor, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(static_cast<EnginesCursor*>(cursor)->row) + 1;
  return SQLITE_OK;
}

const sqlite3_module kEnginesModule = {
    /*iVersion=*/0,          /*xCreate=*/nullptr,       /*xConnect=*/EnginesConnect,
    /*xBestIndex=*/EnginesBestIndex, /*xDisconnect=*/EnginesDisconnect,
    /*xDestroy=*/nullptr,    /*xOpen=*/EnginesOpen,     /*xClose=*/EnginesClose,
    /*xFilter=*/EnginesFilter, /*xNext=*/EnginesNext,   /*xEof=*/EnginesEof,
    /*xColumn=*/EnginesColumn, /*xRowid=*/EnginesRowid, /*xUpdate=*/nullptr,
    /*xBegin=*/nullptr,      /*xSync=*/nullptr,         /*xCommit=*/nullptr,
    /*xRollback=*/nullptr,   /*xFindFunction=*/nullptr, /*xRename=*/nullptr,
    /*xSavepoint=*/nullptr,  /*xRelease=*/nullptr,      /*xRollbackTo=*/nullptr,
    /*xShadowName=*/nullptr,
};

}  // namespace

int RegisterFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection) {
  int rc = sqlite3_create_function_v2(db, "manifold_version", 0,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                      &VersionFunction, nullptr, nullptr, nullptr);
  // The functions borrow the Connection: the modules own it and outlive them.
  if (rc == SQLITE_OK) {
    rc = sqlite3_create_function_v2(db, "manifold_stats", 1, SQLITE_UTF8, connection.get(),
                                    &StatsFunction, nullptr, nullptr, nullptr);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_create_function_v2(db, "manifold_compact", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                    connection.get(), &CompactFunction, nullptr, nullptr, nullptr);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_create_module_v2(db, "manifold_engines", &kEnginesModule, nullptr, nullptr);
  }
  return rc;
}

}  // namespace manifold
