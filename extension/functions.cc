#include "functions.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "errors.h"
#include "json.h"
#include "key_codec.h"
#include "manifold/registry.h"
#include "record_codec.h"
#include "table.h"

namespace manifold {
namespace {

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

// Names the table and its engine in messages: `btree table "t"`.
std::string TableLabel(Table& table) {
  return table.options().engine + " table \"" + table.name() + "\"";
}

// The reader a function sees the table through: the connection's write
// transaction when one is live (so it sees its own writes), else a snapshot
// kept alive by *snapshot.
Result<ReadTxn*> ReaderOf(Table& table, std::shared_ptr<ReadTxn>* snapshot) {
  StoreSession& session = table.session();
  if (ReadTxn* writer = session.write_txn()) return writer;
  Result<std::shared_ptr<ReadTxn>> taken = session.Snapshot();
  if (!taken.ok()) return taken.status();
  *snapshot = *taken;
  return snapshot->get();
}

// Returns the number as JSON text; a ratio to three decimals.
std::string JsonRatio(uint64_t numerator, uint64_t denominator) {
  if (denominator == 0) return "null";
  char text[32];
  snprintf(text, sizeof(text), "%.3f",
           static_cast<double>(numerator) / static_cast<double>(denominator));
  return text;
}

// manifold_stats('t'): JSON {engine, compression, path, keyspace, rows,
// bytes_on_disk, logical_bytes, stored_bytes, compression_ratio}.
//   rows, logical_bytes: counted from the table's keyspace as this connection
//     sees it: key bytes plus value bytes as manifold hands them to the engine
//     (encoded keys and records, before any compression).
//   stored_bytes: the same keyspace after compression, in the committed state:
//     Engine::StoredBytes where the engine measures it (rocksdb: SST bytes of
//     the column family plus its memtable estimate; the zstd value layer: keys
//     plus compressed values), else equal to logical_bytes (the engine stores
//     keys and values as given).
//   compression_ratio: logical_bytes / stored_bytes (null when stored_bytes is 0).
//   bytes_on_disk: the engine's estimate for the whole store (every table in
//     it, with the engine's own overhead).
void StatsFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  FunctionCall(context, "manifold_stats", [&]() -> Status {
    Result<Table*> found = FindTable(*connection, argv[0]);
    if (!found.ok()) return found.status();
    Table& table = **found;
    Status s = table.EnsureOpen();
    if (!s.ok()) return Status(s).WithContext(TableLabel(table));
    std::shared_ptr<ReadTxn> snapshot;
    Result<ReadTxn*> reader = ReaderOf(table, &snapshot);
    if (!reader.ok()) return reader.status().WithContext(TableLabel(table));
    uint64_t rows = 0, logical = 0;
    {
      Result<std::unique_ptr<Cursor>> cursor = (*reader)->NewCursor(table.keyspace());
      if (!cursor.ok()) return cursor.status().WithContext(TableLabel(table));
      for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
        ++rows;
        logical += (*cursor)->key().size() + (*cursor)->value().size();
      }
      MANIFOLD_RETURN_IF_ERROR((*cursor)->status().WithContext(TableLabel(table)));
    }
    Engine& engine = table.session().engine();
    uint64_t stored = logical;
    Result<uint64_t> measured = engine.StoredBytes(table.keyspace_name());
    if (measured.ok()) {
      stored = *measured;
    } else if (measured.status().code() != Status::Code::kNotSupported) {
      return measured.status().WithContext(TableLabel(table));
    }
    Result<uint64_t> size = engine.EstimatedSize();
    if (!size.ok()) return size.status().WithContext(TableLabel(table));
    const char* compression =
        table.options().compression == Compression::kZstd ? "zstd" : "none";
    std::string json = "{\"engine\":" + JsonString(table.options().engine) +
                       ",\"compression\":" + JsonString(compression) +
                       ",\"path\":" + JsonString(table.store_path()) +
                       ",\"keyspace\":" + JsonString(table.keyspace_name()) +
                       ",\"rows\":" + std::to_string(rows) +
                       ",\"bytes_on_disk\":" + std::to_string(*size) +
                       ",\"logical_bytes\":" + std::to_string(logical) +
                       ",\"stored_bytes\":" + std::to_string(stored) +
                       ",\"compression_ratio\":" + JsonRatio(logical, stored) + "}";
    sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
    return Status::OK();
  });
}

// What manifold_check found: problems in the order found, at most kMaxProblems
// of them spelled out.
class CheckReport {
 public:
  static constexpr size_t kMaxProblems = 100;

  void Add(std::string problem) {
    if (problems_.size() < kMaxProblems) problems_.push_back(std::move(problem));
    ++count_;
  }
  bool ok() const { return count_ == 0; }

  std::string Json() const {
    std::string out = "[";
    for (const std::string& problem : problems_) {
      if (out.size() > 1) out += ",";
      out += JsonString(problem);
    }
    if (count_ > problems_.size()) {
      if (out.size() > 1) out += ",";
      out += JsonString("... and " + std::to_string(count_ - problems_.size()) + " more");
    }
    return out + "]";
  }

 private:
  std::vector<std::string> problems_;
  uint64_t count_ = 0;
};

// Returns `key` as hex for a problem's text, the first 32 bytes of it.
std::string KeyText(Bytes key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "key x'";
  for (size_t i = 0; i < key.size() && i < 32; ++i) {
    out += kHex[static_cast<unsigned char>(key[i]) >> 4];
    out += kHex[static_cast<unsigned char>(key[i]) & 15];
  }
  return out + (key.size() > 32 ? "...'" : "'");
}

// Checks that one stored row decodes as the table's layout says (table.h):
// the key as a rowid or as the key columns (nothing left over), the value as
// a record whose every column decodes. Raw tables hold any bytes.
Status CheckRow(const Table& table, Bytes key, Bytes value) {
  const TableSchema& schema = table.schema();
  if (schema.raw) return Status::OK();
  if (table.rowid_keyed()) {
    int64_t rowid = 0;
    MANIFOLD_RETURN_IF_ERROR(KeyCodec::DecodeRowid(key, &rowid).WithContext("key"));
  } else {
    std::string_view rest = key;
    for (int column : schema.key_columns) {
      Value component;
      MANIFOLD_RETURN_IF_ERROR(KeyCodec::Decode(&rest, schema.columns[column].key_order, &component)
                                   .WithContext("key"));
    }
    if (!rest.empty()) {
      return Status::Corruption("key: " + std::to_string(rest.size()) +
                                " bytes follow the key columns");
    }
  }
  RecordReader record;
  MANIFOLD_RETURN_IF_ERROR(record.Open(value).WithContext("record"));
  for (int i = 0; i < record.column_count(); ++i) {
    ValueRef column;
    MANIFOLD_RETURN_IF_ERROR(record.Column(i, &column).WithContext("record"));
  }
  return Status::OK();
}

// True for the codes that mean "the data is damaged" rather than "the check
// could not run".
bool IsDamage(const Status& s) {
  return s.code() == Status::Code::kCorruption || s.code() == Status::Code::kIOError;
}

// Walks the table's keyspace for manifold_check, counting the rows read in
// *rows and adding what is wrong to *report. Returns an error only when the
// walk could not run for a reason that says nothing about the data.
Status WalkKeyspace(Table& table, CheckReport* report, uint64_t* rows) {
  std::shared_ptr<ReadTxn> snapshot;
  Result<ReadTxn*> reader = ReaderOf(table, &snapshot);
  if (!reader.ok()) {
    if (!IsDamage(reader.status())) return reader.status();
    report->Add("cannot read the store: " + reader.status().message());
    return Status::OK();
  }
  Result<std::unique_ptr<Cursor>> cursor = (*reader)->NewCursor(table.keyspace());
  if (!cursor.ok()) {
    if (!IsDamage(cursor.status())) return cursor.status();
    report->Add("cannot read the keyspace: " + cursor.status().message());
    return Status::OK();
  }
  Cursor& c = **cursor;
  std::string previous;
  bool first = true;
  for (c.SeekToFirst(); c.Valid(); c.Next()) {
    Bytes key = c.key();
    if (!first && CompareBytes(previous, key) >= 0) {
      report->Add(KeyText(key) + ": does not follow the key before it");
    }
    first = false;
    previous.assign(key.data(), key.size());
    Bytes value = c.value();
    if (!c.Valid()) break;  // the value could not be read: status() says why
    ++*rows;
    if (Status row = CheckRow(table, key, value); !row.ok()) {
      report->Add(KeyText(key) + ": " + row.message());
    }
  }
  Status walked = c.status();
  if (!walked.ok()) {
    if (!IsDamage(walked)) return walked;
    report->Add("reading stopped after " + std::to_string(*rows) + " rows: " + walked.message());
  }
  return Status::OK();
}

// manifold_check('t'): an integrity check of the table, read-only. JSON
// {table, engine, keyspace, engine_check, rows, ok, problems}:
//   engine_check: "ok" or "failed" from the engine's check of the whole store
//     (Engine::Check: btree walks every page of the file, rocksdb verifies
//     every SST block's checksum), "none" when the engine has none of its own
//     (lmdb, memory), "not run" when the store did not open.
//   rows: rows walked in key order through the table's keyspace, as this
//     connection sees it; every key must follow the one before it, every value
//     must be readable (decompressed where compressed), and each row must
//     decode as the table's key and record layout.
//   problems: one text per problem found (the first 100, then a count);
//     ok is true when there are none.
// A store that cannot open because it is damaged is a problem; a missing
// table or an error that says nothing about the data is an SQL error.
void CheckFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  FunctionCall(context, "manifold_check", [&]() -> Status {
    Result<Table*> found = FindTable(*connection, argv[0]);
    if (!found.ok()) return found.status();
    Table& table = **found;
    const std::string label = TableLabel(table);
    CheckReport report;
    std::string engine_check = "not run";
    uint64_t rows = 0;
    Status opened = table.EnsureOpen();
    if (!opened.ok() && !IsDamage(opened)) return opened.WithContext(label);
    if (!opened.ok()) report.Add("cannot open the store: " + opened.message());
    if (opened.ok()) {
      Status checked = table.session().engine().Check();
      if (checked.ok()) {
        engine_check = "ok";
      } else if (checked.code() == Status::Code::kNotSupported) {
        engine_check = "none";
      } else if (IsDamage(checked)) {
        engine_check = "failed";
        report.Add(checked.message());
      } else {
        return checked.WithContext(label);
      }
      MANIFOLD_RETURN_IF_ERROR(WalkKeyspace(table, &report, &rows).WithContext(label));
    }
    std::string json = "{\"table\":" + JsonString(table.name()) +
                       ",\"engine\":" + JsonString(table.options().engine) +
                       ",\"keyspace\":" + JsonString(table.keyspace_name()) +
                       ",\"engine_check\":" + JsonString(engine_check) +
                       ",\"rows\":" + std::to_string(rows) +
                       ",\"ok\":" + (report.ok() ? "true" : "false") +
                       ",\"problems\":" + report.Json() + "}";
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
  try {
    auto table = std::make_unique<EnginesTable>();
    memset(static_cast<sqlite3_vtab*>(table.get()), 0, sizeof(sqlite3_vtab));
    *out = table.release();
    return SQLITE_OK;
  } catch (const std::bad_alloc&) {  // no exception may cross into SQLite
    return SQLITE_NOMEM;
  }
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
    rc = sqlite3_create_function_v2(db, "manifold_check", 1, SQLITE_UTF8, connection.get(),
                                    &CheckFunction, nullptr, nullptr, nullptr);
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
