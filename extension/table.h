// Table: one manifold virtual table as one connection sees it: its schema, its
// store and keyspace, and how rows map to keys and records.
//
// Storage layout (the contract between manifold versions):
//   kRowid / kIntegerPrimaryKey: key = KeyCodec::EncodeRowid(rowid); value =
//     RecordCodec of every column except the INTEGER PRIMARY KEY one.
//   kSingleKey / kCompositeKey: key = KeyCodec::Append of the key columns in
//     key order, each with its ASC/DESC; value = RecordCodec of the non-key
//     columns in column order, then one "hint" per key column in key order:
//     NULL when KeyCodec::DecodesExactly(value), else the exact value (a REAL
//     with an integral value), so every value keeps its typeof().
//   raw: key and value are the stored bytes, untouched.
// The store also holds the keyspace "__manifold_schema": keyspace name ->
// TableSchema::Fingerprint(), checked whenever a table is attached.
//
// Not thread-safe: SQLite serializes calls on one connection.
#ifndef MANIFOLD_EXTENSION_TABLE_H_
#define MANIFOLD_EXTENSION_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <unordered_map>
#include <vector>

#include "connection.h"
#include "manifold/engine.h"
#include "sqlite_api.h"
#include "store_session.h"
#include "table_schema.h"
#include "value.h"

namespace manifold {

// The keyspace that records each keyspace's schema fingerprint.
inline constexpr std::string_view kSchemaKeyspace = "__manifold_schema";

// Returns `value` as a borrowed ValueRef (bytes owned by SQLite).
ValueRef RefOf(sqlite3_value* value);
// Returns `path` absolute with every symlink resolved (realpath(3)), or
// nullopt if it cannot be resolved (a part of it does not exist).
std::optional<std::string> ResolvedPath(const std::string& path);

// Sets the result of `context` to a copy of `value`. `scratch`, when given,
// is a buffer the call may reuse to hand SQLite short text NUL-terminated.
void ResultValue(sqlite3_context* context, const ValueRef& value,
                 std::string* scratch = nullptr);

class Table : public sqlite3_vtab {
 public:
  // Builds the table from xCreate/xConnect's arguments. Opens nothing.
  static Result<std::unique_ptr<Table>> Make(const ModuleContext& module, sqlite3* db, int argc,
                                             const char* const* argv);
  ~Table();

  const std::string& module() const { return module_; }
  const std::string& name() const { return name_; }
  const std::string& schema_name() const { return schema_name_; }
  const TableSchema& schema() const { return parsed_.schema; }
  const TableOptions& options() const { return parsed_.options; }
  const std::string& store_path() const { return options_.path; }
  const std::string& keyspace_name() const { return keyspace_name_; }
  Connection& connection() { return *connection_; }

  // xCreate's work: creates the store if missing and the keyspace, or attaches
  // to an existing keyspace with the same declaration.
  Status CreateStorage();
  // Opens the store and keyspace and checks the fingerprint, once; every real
  // use calls it first. A missing store or keyspace is an error, never a file.
  Status EnsureOpen();
  // Forgets what the current statement did (called when a statement starts
  // reading the table: every UPDATE reads it before its first xUpdate).
  void StartStatement() { replaced_keys_.clear(); }
  // Looks the keyspace name up in the catalog (a renamed table keeps its
  // keyspace), once.
  Status ResolveKeyspace();
  void set_keyspace_name(std::string name) { keyspace_name_ = std::move(name); }
  // True when the keyspace was named by table=, not defaulted to the name.
  bool keyspace_explicit() const { return parsed_.options.keyspace_given; }
  // Removes the keyspace and its fingerprint (DROP TABLE).
  Status DropStorage();
  // The table was renamed to `new_name` (the keyspace stays).
  void Renamed(std::string new_name);

  StoreSession& session() { return *session_; }
  const Keyspace& keyspace() const { return keyspace_; }

  // Transaction callbacks, forwarded to the session once per table.
  Status Begin();
  Status Sync();
  Status Commit();
  void Rollback();
  Status Savepoint(int level);
  Status Release(int level);
  Status RollbackTo(int level);

  // xUpdate: argc == 1 deletes argv[0]; argv[0] NULL inserts; else updates.
  Status Update(int argc, sqlite3_value** argv, sqlite3_int64* rowid);

  // Composite-key tables expose SQLite's rowid as a handle to a key.
  int64_t HandleForKey(std::string_view key);
  // Cursor bookkeeping: a handle stays the same for this connection while it
  // has handed out at most kMaxRememberedHandles of them; past that, they are
  // forgotten once no cursor is open and no transaction is live.
  static constexpr size_t kMaxRememberedHandles = 1 << 18;
  void CursorOpened() { ++open_cursors_; }
  void CursorClosed();

  // Layout: where column `column` lives. record_slot(c) is its index in the
  // record, -1 for the INTEGER PRIMARY KEY (the rowid). key_position(c) is its
  // index among the key columns, -1 if not a key column.
  int record_slot(int column) const { return record_slot_[column]; }
  int key_position(int column) const { return parsed_.schema.columns[column].key_position; }
  // Index in the record of the hint of key component `position`.
  int hint_slot(int position) const { return nonkey_count_ + position; }
  int ipk_column() const { return ipk_column_; }
  // Returns how many leading record slots a row decode needs to read every
  // column in `columns_used` (SQLite's colUsed: bit c for column c, bit 63
  // for every column from 63 on), the hints of used key columns included.
  int RecordSlotsFor(uint64_t columns_used) const;
  bool rowid_keyed() const {
    return parsed_.schema.key_kind == KeyKind::kRowid ||
           parsed_.schema.key_kind == KeyKind::kIntegerPrimaryKey;
  }

  // Returns "engine table "name": " for messages.
  std::string Prefix() const;

 private:
  Table() = default;
  Status CheckFingerprint(ReadTxn& txn, Engine& engine, bool creating, bool* write_fingerprint);
  Status KeyOfOldRow(sqlite3_value* old, std::string* key);
  Status WriteRow(sqlite3_value** argv, int argc, bool insert, const std::string& old_key,
                  sqlite3_int64* rowid);
  Status NewRowid(WriteTxn& txn, int64_t* rowid);
  // Returns "t.a, t.b": the key columns, as a UNIQUE constraint message names them.
  std::string KeyColumnNames() const;
  void ForgetHandlesIfMany();

  std::string module_;
  std::string schema_name_;  // "main", "temp" or an attached name
  std::string name_;
  // Keys of rows that OR REPLACE removed during the current statement. SQLite
  // computes every new row of a virtual-table UPDATE before the first write,
  // so an UPDATE that reaches such a key would apply values computed from the
  // removed row where a native table uses the row that replaced it: that
  // statement fails instead of giving a different answer.
  std::set<std::string> replaced_keys_;
  ParsedTable parsed_;
  Options options_;  // how the store opens; path resolved
  std::string keyspace_name_;
  std::shared_ptr<Connection> connection_;

  std::shared_ptr<StoreSession> session_;  // set by EnsureOpen
  Keyspace keyspace_;
  bool open_ = false;
  bool keyspace_resolved_ = false;
  bool in_transaction_ = false;

  int open_cursors_ = 0;
  std::unordered_map<int64_t, std::string> handle_keys_;
  std::unordered_map<std::string, int64_t> key_handles_;
  int64_t next_handle_ = 1;

  std::vector<int> record_slot_;
  int nonkey_count_ = 0;
  int ipk_column_ = -1;

  // WriteRow's per-row buffers, reused so that a bulk insert allocates
  // nothing per row once they have grown. xUpdate is never reentered.
  std::vector<ValueRef> row_values_;
  std::vector<std::string> row_scratch_;
  std::vector<ValueRef> record_fields_;
  std::string row_key_;
  std::string row_record_;
  std::string existing_value_;
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_TABLE_H_
