// SqlitekvConnection: one sqlite3 connection on a sqlitekv store file, with
// the prepared statements the engine runs on it and what it knows of the
// store's catalog (keyspace id -> table).
//
// The sqlitekv engine uses SQLite as a storage library, as the lmdb engine
// uses liblmdb: this folder is the one place under engines/ that includes
// sqlite3.h, and it knows nothing of the extension's SQL layer.
//
// Statements are prepared once per connection and kept: each TableEntry holds
// a free list per statement kind, and a Statement borrowed from it is reset
// and returned when it goes out of scope. An entry is retired when its
// keyspace may have changed (the schema changed under this connection, or
// this connection dropped the keyspace); a retired entry's statements are
// finalized as they come back.
//
// Not thread-safe: a connection is used by one transaction at a time (it may
// move between threads; it is opened with SQLITE_OPEN_NOMUTEX).
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_CONNECTION_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_CONNECTION_H_

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/engine.h"
#include "manifold/status.h"

namespace manifold {

// The catalog table of a sqlitekv store: one row per keyspace.
inline constexpr std::string_view kSqlitekvCatalog = "manifold_keyspaces";

// What a statement does. Keyspace kinds run on one keyspace's table; catalog
// kinds on the catalog or SQLite's schema.
enum class StatementKind {
  // keyspace table (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID
  kGet,            // ?1 key -> v
  kPut,            // ?1 key, ?2 value
  kDelete,         // ?1 key
  kFirst,          // ascending from the first key
  kAtOrAfter,      // ascending from the first key >= ?1
  kAfter,          // ascending from the first key > ?1
  kLast,           // descending from the last key
  kAtOrBefore,     // descending from the last key <= ?1
  kBefore,         // descending from the last key < ?1
  // catalog
  kSchemaVersion,  // PRAGMA schema_version
  kHasCatalog,     // 1 if the catalog table exists
  kCatalogById,    // ?1 id -> name, table_name
  kCatalogByName,  // ?1 name -> id, table_name
  kCatalogList,    // names in byte order
  kCatalogInsert,  // ?1 name, ?2 table_name
  kCatalogDelete,  // ?1 id
  kTableNameTaken, // ?1 table name -> count of tables so named (case-insensitively)
  kNumKinds,
};

// A keyspace's table as one connection knows it, with its statements.
struct TableEntry {
  TableEntry() = default;
  TableEntry(const TableEntry&) = delete;
  TableEntry& operator=(const TableEntry&) = delete;
  ~TableEntry();  // finalizes the idle statements

  uint64_t id = 0;           // the catalog's id; 0 for the catalog's own entry
  std::string name;          // the keyspace name
  std::string table;         // the table name, unquoted
  bool retired = false;      // statements coming back are finalized
  std::array<std::vector<sqlite3_stmt*>, static_cast<size_t>(StatementKind::kNumKinds)> idle;
};

// A prepared statement borrowed from a TableEntry. Reset, unbound and given
// back (or finalized, if the entry was retired) when destroyed or Reset().
class Statement {
 public:
  Statement() = default;
  Statement(std::shared_ptr<TableEntry> entry, StatementKind kind, sqlite3_stmt* stmt)
      : entry_(std::move(entry)), kind_(kind), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement() { Reset(); }

  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }
  // Gives the statement back now.
  void Reset();

 private:
  std::shared_ptr<TableEntry> entry_;
  StatementKind kind_ = StatementKind::kGet;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqlitekvConnection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_NOMUTEX is added).
  // `busy_ms` is the busy timeout for everything but BEGIN IMMEDIATE.
  static Result<std::unique_ptr<SqlitekvConnection>> Open(const std::string& path, int flags,
                                                          int busy_ms);
  ~SqlitekvConnection();
  SqlitekvConnection(const SqlitekvConnection&) = delete;
  SqlitekvConnection& operator=(const SqlitekvConnection&) = delete;

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }

  // Returns a Status for SQLite result `rc` (the connection's latest error),
  // naming the store and `what`.
  Status Error(int rc, std::string_view what) const;
  // Runs `sql` (no results wanted).
  Status Exec(const std::string& sql);

  // Borrows the statement of `kind` on `entry`'s table, preparing it if none
  // is idle.
  Result<Statement> Borrow(const std::shared_ptr<TableEntry>& entry, StatementKind kind);
  // As Borrow, for a catalog kind.
  Result<Statement> BorrowCatalog(StatementKind kind) { return Borrow(catalog_, kind); }

  // --- What this connection knows of the catalog -------------------------

  // Call at the start of every transaction (it starts the read): forgets
  // every keyspace if the schema changed since this connection last looked.
  Status Revalidate();
  // Forgets every keyspace (after a rollback that may have undone DDL).
  void ForgetKeyspaces();
  // Forgets one keyspace (dropped by this connection).
  void ForgetKeyspace(uint64_t id);
  // Re-reads the schema version after this connection changed the schema,
  // so that its own DDL does not look like someone else's.
  Status NoteOwnSchemaChange();
  // True if the store has a catalog (a file that never had a writer may not).
  bool has_catalog() const { return has_catalog_; }

  // Returns the table of keyspace `ks`, or NotFound if it no longer exists in
  // this transaction's view (dropped, or dropped and created again).
  Result<std::shared_ptr<TableEntry>> Lookup(const Keyspace& ks);
  // Returns the keyspace named `name`, or NotFound.
  Result<Keyspace> FindByName(std::string_view name);
  // Remembers a keyspace this connection just created.
  void Remember(uint64_t id, std::string name, std::string table);

 private:
  SqlitekvConnection(sqlite3* db, std::string path);
  Result<int64_t> ReadSchemaVersion();
  std::shared_ptr<TableEntry> MakeEntry(uint64_t id, std::string name, std::string table);

  sqlite3* db_;
  const std::string path_;
  std::shared_ptr<TableEntry> catalog_;
  std::map<uint64_t, std::shared_ptr<TableEntry>> tables_;
  int64_t schema_version_ = -1;  // as last seen; -1: unknown
  bool has_catalog_ = false;
};

// Returns a Status for SQLite result code `rc` with message `message`.
Status SqliteStatus(int rc, std::string message);

// Binds `bytes` as a BLOB (never NULL, also when empty) to parameter `index`.
int BindBytes(sqlite3_stmt* stmt, int index, Bytes bytes);

// Returns column `col` of the current row as bytes; they live until the
// statement moves.
Bytes ColumnBytes(sqlite3_stmt* stmt, int col);

// Returns `name` quoted as an SQL identifier.
std::string QuoteIdentifier(std::string_view name);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_CONNECTION_H_
