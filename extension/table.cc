#include "table.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "affinity.h"
#include "catalog.h"
#include "errors.h"
#include "key_codec.h"
#include "manifold/registry.h"
#include "record_codec.h"

namespace manifold {
namespace {

// The default engine of module `manifold`: btree, or lmdb while this build
// has no btree.
std::string DefaultEngine() {
  std::string fallback = "lmdb";
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name == DefaultEngineName() && info.available) return info.name;
  }
  return fallback;
}

bool EnginePersistent(const std::string& engine) {
  for (const EngineInfo& info : RegisteredEngines()) {
    if (info.name == engine) return info.capabilities.persistent;
  }
  return true;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Returns `path` made absolute with symlinks of its existing part resolved,
// so that two spellings of one store share a session.
std::string Canonical(const std::string& path) {
  if (std::optional<std::string> real = ResolvedPath(path)) return *real;
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (std::optional<std::string> real = ResolvedPath(dir)) {
    return *real + (real->ends_with('/') ? "" : "/") + base;
  }
  return path;
}

// Resolves the path= option per SPEC.md: relative to the main database's
// directory, defaulting to "<db file>.<engine>"; memory stores are names.
Result<std::string> ResolveStorePath(sqlite3* db, const std::string& engine,
                                     const std::string& written) {
  const char* main_file = sqlite3_db_filename(db, "main");
  std::string db_file = main_file == nullptr ? "" : main_file;
  if (!EnginePersistent(engine)) {
    if (!written.empty()) return written;
    if (!db_file.empty()) return db_file + "." + engine;
    char name[64];
    snprintf(name, sizeof(name), "memory:%p", static_cast<void*>(db));
    return std::string(name);
  }
  if (written.empty()) {
    if (db_file.empty()) {
      return Status::InvalidArgument(
          "the main database is in memory, so the store needs a path= (for example path='data." +
          engine + "')");
    }
    return Canonical(db_file + "." + engine);
  }
  if (written[0] == '/' || db_file.empty()) return Canonical(written);
  return Canonical(DirName(db_file) + "/" + written);
}

// Returns true when `ks` holds no key.
Result<bool> KeyspaceEmpty(ReadTxn& txn, const Keyspace& ks) {
  Result<std::unique_ptr<Cursor>> cursor = txn.NewCursor(ks);
  if (!cursor.ok()) return cursor.status();
  (*cursor)->SeekToFirst();
  if ((*cursor)->Valid()) return false;
  if (Status s = (*cursor)->status(); !s.ok()) return s;
  return true;
}

}  // namespace

ValueRef RefOf(sqlite3_value* value) {
  switch (sqlite3_value_type(value)) {
    case SQLITE_INTEGER:
      return ValueRef::Integer(sqlite3_value_int64(value));
    case SQLITE_FLOAT:
      return ValueRef::Real(sqlite3_value_double(value));
    case SQLITE_TEXT: {
      const unsigned char* text = sqlite3_value_text(value);
      int n = sqlite3_value_bytes(value);
      return ValueRef::Text(
          std::string_view(text == nullptr ? "" : reinterpret_cast<const char*>(text), n));
    }
    case SQLITE_BLOB: {
      const void* blob = sqlite3_value_blob(value);
      int n = sqlite3_value_bytes(value);
      return ValueRef::Blob(
          std::string_view(blob == nullptr ? "" : static_cast<const char*>(blob), n));
    }
    default:
      return ValueRef::Null();
  }
}

std::optional<std::string> ResolvedPath(const std::string& path) {
  // Owned at once: copying it into a std::string may throw std::bad_alloc.
  std::unique_ptr<char, decltype(&std::free)> real(realpath(path.c_str(), nullptr), &std::free);
  if (real == nullptr) return std::nullopt;
  return std::string(real.get());
}

void ResultValue(sqlite3_context* context, const ValueRef& value, std::string* scratch) {
  // SQLite NUL-terminates text before most uses (sqlite3_value_text(): the
  // shell, length(), collations) by reallocating the register that holds
  // it, and for text under ~30 bytes the next row's copy then frees and
  // allocates the register again: two to three allocator calls per text
  // column per row, a quarter of a full scan. Text handed over terminated
  // (length -1) is copied once into a register that keeps its size. Only
  // short text without NUL bytes (which a length of -1 would cut) takes
  // that path; long text pays one more pass for strlen, for little gain.
  constexpr size_t kTerminatedMax = 1024;
  if (value.type == ValueType::kText && scratch != nullptr && !value.bytes.empty() &&
      value.bytes.size() <= kTerminatedMax) {
    // The scratch only grows, so copying into it is a memccpy: one pass that
    // copies and finds a NUL byte (which sends the text the other way).
    const size_t n = value.bytes.size();
    if (scratch->size() <= n) scratch->resize(std::max<size_t>(2 * n, 64));
    char* out = scratch->data();
    if (::memccpy(out, value.bytes.data(), 0, n) == nullptr) {
      out[n] = '\0';
      sqlite3_result_text(context, out, -1, SQLITE_TRANSIENT);
      return;
    }
  }
  switch (value.type) {
    case ValueType::kNull:
      sqlite3_result_null(context);
      return;
    case ValueType::kInteger:
      sqlite3_result_int64(context, value.i);
      return;
    case ValueType::kReal:
      sqlite3_result_double(context, value.r);
      return;
    case ValueType::kText:
      // A null pointer would make the result NULL: empty text needs "".
      sqlite3_result_text64(context, value.bytes.empty() ? "" : value.bytes.data(),
                            value.bytes.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      return;
    case ValueType::kBlob:
      if (value.bytes.empty()) {
        sqlite3_result_zeroblob(context, 0);
      } else {
        sqlite3_result_blob64(context, value.bytes.data(), value.bytes.size(), SQLITE_TRANSIENT);
      }
      return;
  }
}

Result<std::unique_ptr<Table>> Table::Make(const ModuleContext& module, sqlite3* db, int argc,
                                           const char* const* argv) {
  std::unique_ptr<Table> table(new Table());
  table->module_ = module.module;
  table->schema_name_ = argv[1];
  table->name_ = argv[2];
  table->connection_ = module.connection;
  std::vector<std::string_view> args;
  for (int i = 3; i < argc; ++i) args.emplace_back(argv[i]);
  Result<ParsedTable> parsed =
      ParseTableArguments(module.module, table->name_, args, DefaultEngine());
  if (!parsed.ok()) return parsed.status();
  table->parsed_ = std::move(*parsed);
  const TableOptions& o = table->parsed_.options;
  Result<std::string> path = ResolveStorePath(db, o.engine, o.path);
  if (!path.ok()) return path.status();
  table->options_.path = std::move(*path);
  table->options_.read_only = o.read_only;
  table->options_.sync = o.sync;
  table->options_.compression = o.compression;
  table->options_.compression_level = o.compression_level;
  table->options_.engine_options = o.engine_options;
  table->keyspace_name_ = o.keyspace_given ? o.keyspace : table->name_;

  const TableSchema& schema = table->parsed_.schema;
  int columns = static_cast<int>(schema.columns.size());
  table->record_slot_.assign(columns, -1);
  if (schema.key_kind == KeyKind::kIntegerPrimaryKey) table->ipk_column_ = schema.key_columns[0];
  int slot = 0;
  for (int c = 0; c < columns; ++c) {
    bool in_key = table->rowid_keyed() ? c == table->ipk_column_
                                       : schema.columns[c].key_position >= 0;
    if (!in_key) table->record_slot_[c] = slot++;
  }
  table->nonkey_count_ = slot;
  return table;
}

int Table::RecordSlotsFor(uint64_t columns_used) const {
  int slots = 0;
  const int columns = static_cast<int>(record_slot_.size());
  for (int c = 0; c < columns; ++c) {
    if ((columns_used & (uint64_t{1} << std::min(c, 63))) == 0) continue;
    int slot = record_slot_[c];
    if (slot < 0 && !rowid_keyed() && key_position(c) >= 0) slot = hint_slot(key_position(c));
    slots = std::max(slots, slot + 1);
  }
  return slots;
}

Table::~Table() {
  if (in_transaction_ && session_ != nullptr) session_->RollbackAndLeave();
  sqlite3_free(zErrMsg);
  zErrMsg = nullptr;
}

std::string Table::Prefix() const { return module_ + " table \"" + name_ + "\": "; }

Status Table::CheckFingerprint(ReadTxn& txn, Engine& engine, bool creating,
                               bool* write_fingerprint) {
  *write_fingerprint = false;
  std::string mine = parsed_.schema.Fingerprint();
  std::string recorded;
  bool have_recorded = false;
  Result<Keyspace> schema_ks = txn.OpenKeyspace(kSchemaKeyspace);
  if (schema_ks.ok()) {
    Status s = txn.Get(*schema_ks, keyspace_name_, &recorded);
    if (s.ok()) {
      have_recorded = true;
    } else if (!s.IsNotFound()) {
      return s;
    }
  } else if (!schema_ks.status().IsNotFound()) {
    return schema_ks.status();
  }
  Result<Keyspace> ks = txn.OpenKeyspace(keyspace_name_);
  if (!ks.ok() && !ks.status().IsNotFound()) return ks.status();
  if (!ks.ok()) {
    if (!creating) {
      return Status::NotFound("keyspace '" + keyspace_name_ + "' does not exist in " +
                              parsed_.options.engine + " store '" + options_.path + "'");
    }
    *write_fingerprint = !options_.read_only;
    return Status::OK();
  }
  if (have_recorded && recorded == mine) return Status::OK();
  Result<bool> empty = KeyspaceEmpty(txn, *ks);
  if (!empty.ok()) return empty.status();
  if (have_recorded) {
    if (creating && *empty) {
      *write_fingerprint = !options_.read_only;
      return Status::OK();
    }
    // A damaged page can change the recorded declaration itself: then the
    // answer is the damage, which the store's own check finds.
    if (Status damage = engine.Check(); damage.code() == Status::Code::kCorruption) return damage;
    return Status::InvalidArgument("store already holds table '" + keyspace_name_ +
                                   "' with a different declaration: " + recorded);
  }
  // A keyspace written by another program: only the raw view may read it.
  if (parsed_.schema.raw) return Status::OK();
  if (*empty) {
    *write_fingerprint = creating && !options_.read_only;
    return Status::OK();
  }
  return Status::InvalidArgument("keyspace '" + keyspace_name_ +
                                 "' holds data not written by manifold (declare the table "
                                 "without columns to use its raw bytes)");
}

Status Table::CreateStorage() {
  keyspace_resolved_ = true;
  Options options = options_;
  options.create_if_missing = !options.read_only;
  Result<std::shared_ptr<StoreSession>> session =
      connection_->Session(parsed_.options.engine, options);
  if (!session.ok()) {
    return session.status().WithContext("cannot open '" + options_.path + "'");
  }
  session_ = std::move(*session);
  bool write_fingerprint = false;
  if (options_.read_only) {
    Result<std::unique_ptr<ReadTxn>> txn = session_->engine().BeginRead();
    if (!txn.ok()) return txn.status();
    MANIFOLD_RETURN_IF_ERROR(CheckFingerprint(**txn, session_->engine(), /*creating=*/false,
                                              &write_fingerprint));
    Result<Keyspace> ks = (*txn)->OpenKeyspace(keyspace_name_);
    if (!ks.ok()) return ks.status();
    keyspace_ = *ks;
    open_ = true;
    return Status::OK();
  }
  // Inside a transaction that already writes this store, the keyspace is
  // created by that transaction; else by one of our own, committed now.
  std::unique_ptr<WriteTxn> own;
  WriteTxn* txn = session_->write_txn();
  if (txn == nullptr) {
    Result<std::unique_ptr<WriteTxn>> begun =
        session_->engine().BeginWrite(connection_->BusyTimeout());
    if (!begun.ok()) return begun.status();
    own = std::move(*begun);
    txn = own.get();
  }
  MANIFOLD_RETURN_IF_ERROR(
      CheckFingerprint(*txn, session_->engine(), /*creating=*/true, &write_fingerprint));
  Result<Keyspace> ks = txn->CreateKeyspace(keyspace_name_);
  if (!ks.ok()) return ks.status();
  if (write_fingerprint) {
    Result<Keyspace> schema_ks = txn->CreateKeyspace(kSchemaKeyspace);
    if (!schema_ks.ok()) return schema_ks.status();
    MANIFOLD_RETURN_IF_ERROR(txn->Put(*schema_ks, keyspace_name_, parsed_.schema.Fingerprint()));
  }
  if (own != nullptr) MANIFOLD_RETURN_IF_ERROR(own->Commit());
  keyspace_ = *ks;
  open_ = true;
  return Status::OK();
}

Status Table::ResolveKeyspace() {
  if (keyspace_resolved_) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(CatalogResolve(*this));
  keyspace_resolved_ = true;
  return Status::OK();
}

Status Table::EnsureOpen() {
  if (open_) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(ResolveKeyspace());
  Options options = options_;
  options.create_if_missing = false;
  Result<std::shared_ptr<StoreSession>> session =
      connection_->Session(parsed_.options.engine, options);
  if (!session.ok()) {
    return session.status().WithContext("cannot open '" + options_.path + "'");
  }
  std::shared_ptr<StoreSession> opened = std::move(*session);
  std::unique_ptr<ReadTxn> own;
  ReadTxn* txn = opened->write_txn();
  if (txn == nullptr) {
    Result<std::unique_ptr<ReadTxn>> begun = opened->engine().BeginRead();
    if (!begun.ok()) return begun.status();
    own = std::move(*begun);
    txn = own.get();
  }
  bool write_fingerprint = false;
  MANIFOLD_RETURN_IF_ERROR(
      CheckFingerprint(*txn, opened->engine(), /*creating=*/false, &write_fingerprint));
  Result<Keyspace> ks = txn->OpenKeyspace(keyspace_name_);
  if (!ks.ok()) return ks.status();
  keyspace_ = *ks;
  session_ = std::move(opened);
  open_ = true;
  return Status::OK();
}

Status Table::DropStorage() {
  // A table whose store is gone can still be dropped; a read-only one is only
  // forgotten, its store untouched.
  if (options_.read_only) return Status::OK();
  if (Status s = EnsureOpen(); !s.ok()) return s.IsNotFound() ? Status::OK() : s;
  // LMDB's unnamed main database and RocksDB's default column family belong
  // to the store itself (a store written by another program keeps its data
  // there): dropping the table forgets it and leaves them.
  if ((parsed_.options.engine == "lmdb" && keyspace_name_.empty()) ||
      (parsed_.options.engine == "rocksdb" && keyspace_name_ == "default")) {
    return Status::OK();
  }
  std::unique_ptr<WriteTxn> own;
  WriteTxn* txn = session_->write_txn();
  if (txn == nullptr) {
    Result<std::unique_ptr<WriteTxn>> begun =
        session_->engine().BeginWrite(connection_->BusyTimeout());
    if (!begun.ok()) return begun.status();
    own = std::move(*begun);
    txn = own.get();
  }
  Status s = txn->DropKeyspace(keyspace_name_);
  if (!s.ok() && !s.IsNotFound()) return s;
  Result<Keyspace> schema_ks = txn->OpenKeyspace(kSchemaKeyspace);
  if (schema_ks.ok()) {
    MANIFOLD_RETURN_IF_ERROR(txn->Delete(*schema_ks, keyspace_name_));
  } else if (!schema_ks.status().IsNotFound()) {
    return schema_ks.status();
  }
  if (own != nullptr) MANIFOLD_RETURN_IF_ERROR(own->Commit());
  open_ = false;
  return Status::OK();
}

void Table::Renamed(std::string new_name) {
  connection_->RemoveTable(this);
  name_ = std::move(new_name);
  connection_->AddTable(this);
}

Status Table::Begin() {
  StartStatement();
  MANIFOLD_RETURN_IF_ERROR(EnsureOpen());
  // A read-only store never gets a write transaction; xUpdate refuses writes.
  if (options_.read_only || in_transaction_) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(session_->Begin(connection_->BusyTimeout()));
  in_transaction_ = true;
  return Status::OK();
}

Status Table::Sync() { return in_transaction_ ? session_->Sync() : Status::OK(); }

Status Table::Commit() {
  if (!in_transaction_) return Status::OK();
  in_transaction_ = false;
  Status s = session_->Leave();
  if (open_cursors_ == 0) ForgetHandlesIfMany();
  return s;
}

void Table::Rollback() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  session_->RollbackAndLeave();
  if (open_cursors_ == 0) ForgetHandlesIfMany();
}

Status Table::Savepoint(int level) {
  return in_transaction_ ? session_->Savepoint(level) : Status::OK();
}
Status Table::Release(int level) {
  return in_transaction_ ? session_->Release(level) : Status::OK();
}
Status Table::RollbackTo(int level) {
  return in_transaction_ ? session_->RollbackTo(level) : Status::OK();
}

void Table::CursorClosed() {
  if (--open_cursors_ == 0 && !in_transaction_) ForgetHandlesIfMany();
}

void Table::ForgetHandlesIfMany() {
  // Handles outlive statements, so that a client which reads rows and later
  // updates one by the rowid it read (as GUI editors do) finds the same row.
  // Past the bound they are forgotten; handles are never reused, so a
  // forgotten handle matches no row rather than another one.
  if (handle_keys_.size() <= kMaxRememberedHandles) return;
  handle_keys_.clear();
  key_handles_.clear();
}

int64_t Table::HandleForKey(std::string_view key) {
  std::string k(key);
  auto it = key_handles_.find(k);
  if (it != key_handles_.end()) return it->second;
  int64_t handle = next_handle_++;
  handle_keys_.emplace(handle, k);
  key_handles_.emplace(std::move(k), handle);
  return handle;
}

Status Table::KeyOfOldRow(sqlite3_value* old, std::string* key) {
  const TableSchema& schema = parsed_.schema;
  key->clear();
  if (rowid_keyed()) {
    KeyCodec::AppendRowid(sqlite3_value_int64(old), key);
  } else if (schema.key_kind == KeyKind::kCompositeKey) {
    auto it = handle_keys_.find(sqlite3_value_int64(old));
    if (it == handle_keys_.end()) return Status::Internal("unknown rowid of a composite-key row");
    *key = it->second;
  } else if (schema.raw) {
    ValueRef v = RefOf(old);
    key->assign(v.bytes);
  } else {
    const ColumnDef& column = schema.columns[schema.key_columns[0]];
    KeyCodec::Append(RefOf(old), column.key_order, key);
  }
  return Status::OK();
}

Status Table::NewRowid(WriteTxn& txn, int64_t* rowid) {
  Result<std::unique_ptr<Cursor>> cursor = txn.NewCursor(keyspace_);
  if (!cursor.ok()) return cursor.status();
  (*cursor)->SeekToLast();
  if (!(*cursor)->Valid()) {
    MANIFOLD_RETURN_IF_ERROR((*cursor)->status());
    *rowid = 1;
    return Status::OK();
  }
  int64_t max = 0;
  MANIFOLD_RETURN_IF_ERROR(KeyCodec::DecodeRowid((*cursor)->key(), &max));
  if (max < INT64_MAX) {
    *rowid = max + 1;
    return Status::OK();
  }
  // As SQLite: once the largest rowid is taken, try random unused ones.
  std::string scratch;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int64_t candidate = 0;
    sqlite3_randomness(sizeof(candidate), &candidate);
    candidate &= INT64_MAX;
    if (candidate == 0) continue;
    Status s = txn.Get(keyspace_, KeyCodec::EncodeRowid(candidate), &scratch);
    if (s.IsNotFound()) {
      *rowid = candidate;
      return Status::OK();
    }
    MANIFOLD_RETURN_IF_ERROR(s);
  }
  return Status::Full("database or disk is full (no unused rowid found)");
}

Status Table::Update(int argc, sqlite3_value** argv, sqlite3_int64* rowid) {
  if (options_.read_only) return Status::ReadOnly("the store is read-only");
  MANIFOLD_RETURN_IF_ERROR(EnsureOpen());
  // A table created in this transaction is in SQLite's transaction without
  // an xBegin (sqlite3VtabCallCreate adds it directly): join at first write.
  if (!in_transaction_) MANIFOLD_RETURN_IF_ERROR(Begin());
  WriteTxn* txn = session_->write_txn();
  if (txn == nullptr) return Status::Internal("write outside a transaction");
  std::string old_key;
  if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    MANIFOLD_RETURN_IF_ERROR(KeyOfOldRow(argv[0], &old_key));
  }
  if (argc == 1) return txn->Delete(keyspace_, old_key);
  bool insert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
  return WriteRow(argv, argc, insert, old_key, rowid);
}

std::string Table::KeyColumnNames() const {
  const TableSchema& schema = parsed_.schema;
  if (rowid_keyed()) {
    return name_ + "." + (ipk_column_ >= 0 ? schema.columns[ipk_column_].name : "rowid");
  }
  std::string names;
  for (int c : schema.key_columns) {
    names += (names.empty() ? "" : ", ") + name_ + "." + schema.columns[c].name;
  }
  return names;
}

Status Table::WriteRow(sqlite3_value** argv, int argc, bool insert, const std::string& old_key,
                       sqlite3_int64* rowid) {
  const TableSchema& schema = parsed_.schema;
  WriteTxn& txn = *session_->write_txn();
  const int on_conflict = sqlite3_vtab_on_conflict(connection_->db());
  const int columns = static_cast<int>(schema.columns.size());
  if (argc != columns + 2) return Status::Internal("xUpdate got an unexpected argument count");

  // Member buffers: a bulk insert allocates nothing per row once they grew.
  std::vector<ValueRef>& values = row_values_;
  std::vector<std::string>& scratch = row_scratch_;
  values.resize(columns);
  scratch.resize(columns);
  for (int c = 0; c < columns; ++c) {
    ValueRef v = RefOf(argv[2 + c]);
    if (schema.raw) {
      // Raw bytes: text and numbers are stored as their text, as CAST(x AS BLOB).
      if (v.type == ValueType::kInteger || v.type == ValueType::kReal) {
        const unsigned char* text = sqlite3_value_text(argv[2 + c]);
        v = ValueRef::Blob(std::string_view(reinterpret_cast<const char*>(text),
                                            sqlite3_value_bytes(argv[2 + c])));
      }
      values[c] = v;
    } else {
      values[c] = ApplyAffinity(schema.columns[c].affinity, v, &scratch[c]);
    }
  }
  std::string& key = row_key_;
  key.clear();
  int64_t new_rowid = 0;
  if (rowid_keyed()) {
    std::string rowid_scratch;
    ValueRef given = ValueRef::Null();
    if (!insert && ipk_column_ >= 0 && values[ipk_column_].type == ValueType::kNull) {
      // Natively an INTEGER PRIMARY KEY set to NULL by UPDATE is a mismatch
      // (only INSERT assigns a new rowid for NULL).
      return Status::InvalidArgument(std::string(kDatatypeMismatch));
    }
    if (ipk_column_ >= 0 && values[ipk_column_].type != ValueType::kNull) {
      given = values[ipk_column_];
    } else if (sqlite3_value_type(argv[1]) != SQLITE_NULL) {
      given = ApplyAffinity(Affinity::kInteger, RefOf(argv[1]), &rowid_scratch);
    }
    if (given.type == ValueType::kInteger) {
      new_rowid = given.i;
    } else if (given.type != ValueType::kNull || !insert) {
      return Status::InvalidArgument(std::string(kDatatypeMismatch));
    } else {
      MANIFOLD_RETURN_IF_ERROR(NewRowid(txn, &new_rowid));
    }
    KeyCodec::AppendRowid(new_rowid, &key);
  } else {
    if (schema.key_kind == KeyKind::kCompositeKey) {
      bool rowid_given = sqlite3_value_type(argv[1]) != SQLITE_NULL;
      if ((insert && rowid_given) ||
          (!insert && (!rowid_given ||
                       sqlite3_value_int64(argv[1]) != sqlite3_value_int64(argv[0])))) {
        return Status::InvalidArgument("table has a composite primary key: rowid cannot be set");
      }
    }
    for (int c : schema.key_columns) {
      if (schema.raw) {
        key.append(values[c].bytes);
      } else {
        KeyCodec::Append(values[c], schema.columns[c].key_order, &key);
      }
    }
  }

  // NOT NULL, declared or implied by a WITHOUT ROWID key, in column order as
  // natively (after the rowid checks, which SQLite makes first). OR REPLACE has
  // no DEFAULT to fall back on, so it fails too.
  for (int c = 0; c < columns; ++c) {
    if (values[c].type != ValueType::kNull || c == ipk_column_) continue;
    const ColumnDef& column = schema.columns[c];
    bool required = column.not_null || schema.raw ||
                    (!rowid_keyed() && column.key_position >= 0);
    if (!required) continue;
    // Under OR IGNORE, SQLite turns the constraint error into a skipped row.
    return Status::Constraint("NOT NULL constraint failed: " + name_ + "." + column.name);
  }

  if (!insert && replaced_keys_.count(old_key) > 0) {
    return Status::NotSupported(
        "UPDATE OR REPLACE moved a row onto a row that the same statement updates afterwards; "
        "SQLite computes a virtual table's new rows before writing any, so this cannot give "
        "a native table's answer (nothing was changed; split the statement)");
  }
  // A plain INSERT (no OR REPLACE) checks and writes in one engine call below.
  const bool plain_insert = insert && on_conflict != SQLITE_REPLACE;
  if (!plain_insert && (insert || key != old_key)) {
    Status s = txn.Get(keyspace_, key, &existing_value_);
    if (s.ok()) {
      if (on_conflict != SQLITE_REPLACE) {
        return Status::Constraint("UNIQUE constraint failed: " + KeyColumnNames());
      }
      // REPLACE: the Put below overwrites the conflicting row.
      replaced_keys_.insert(key);
    } else if (!s.IsNotFound()) {
      return s;
    }
  }

  std::string& record = row_record_;
  record.clear();
  if (schema.raw) {
    record.assign(values[1].bytes);
  } else {
    std::vector<ValueRef>& fields = record_fields_;
    fields.clear();
    for (int c = 0; c < columns; ++c) {
      if (record_slot_[c] >= 0) fields.push_back(values[c]);
    }
    if (!rowid_keyed()) {
      for (int c : schema.key_columns) {
        fields.push_back(KeyCodec::DecodesExactly(values[c]) ? ValueRef::Null() : values[c]);
      }
    }
    RecordCodec::Encode(fields, &record);
  }
  if (!insert && key != old_key) MANIFOLD_RETURN_IF_ERROR(txn.Delete(keyspace_, old_key));
  if (plain_insert) {
    Status s = txn.Insert(keyspace_, key, record);
    if (s.IsConstraint()) return Status::Constraint("UNIQUE constraint failed: " + KeyColumnNames());
    MANIFOLD_RETURN_IF_ERROR(s);
  } else {
    MANIFOLD_RETURN_IF_ERROR(txn.Put(keyspace_, key, record));
  }
  if (rowid_keyed()) *rowid = new_rowid;
  return Status::OK();
}

}  // namespace manifold
