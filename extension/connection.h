// Connection: manifold's state for one SQLite connection: the store sessions
// its tables share, the tables by name (for manifold_stats and friends), and
// the connection's busy timeout. Owned jointly (shared_ptr) by the modules
// registered on the connection and by its tables, so it outlives both.
// Not thread-safe: SQLite serializes calls on one connection.
#ifndef MANIFOLD_EXTENSION_CONNECTION_H_
#define MANIFOLD_EXTENSION_CONNECTION_H_

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/engine.h"
#include "sqlite_api.h"
#include "store_session.h"

namespace manifold {

class Table;

class Connection {
 public:
  explicit Connection(sqlite3* db) : db_(db) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // Returns this connection's session on the store `engine` at `options.path`
  // (already resolved), opening the store with `options` if no table of this
  // connection has it open. `options.create_if_missing` creates it.
  Result<std::shared_ptr<StoreSession>> Session(const std::string& engine,
                                                const Options& options);

  // Returns the connection's busy timeout (PRAGMA busy_timeout), 0 if unset.
  std::chrono::milliseconds BusyTimeout();

  // The tables of this connection by name (case-insensitive, as SQL names).
  void AddTable(Table* table);
  void RemoveTable(Table* table);
  // Returns the table named `name` in this connection, or null.
  Table* FindTable(std::string_view name) const;

  // Keyspaces this connection itself marked dropped inside a transaction
  // (catalog.cc). Under trusted_schema=OFF only these drops are carried out:
  // a catalog row of a database file from someone else must not drop a
  // keyspace in a store of the user's.
  void NoteMarkedDrop(const std::string& engine, const std::string& path,
                      const std::string& keyspace) {
    marked_drops_.insert(engine + '\0' + path + '\0' + keyspace);
  }
  bool MarkedDrop(const std::string& engine, const std::string& path,
                  const std::string& keyspace) const {
    return marked_drops_.count(engine + '\0' + path + '\0' + keyspace) > 0;
  }

 private:
  sqlite3* db_;
  std::map<std::string, std::weak_ptr<StoreSession>> sessions_;
  // Stores of engines that are not persistent live only while opened: the
  // connection keeps them open, so that SQLite reconnecting its tables (after
  // a rolled-back schema change) does not lose their data.
  std::vector<std::shared_ptr<StoreSession>> pinned_;
  std::multimap<std::string, Table*> tables_;  // key: lower-case name
  std::set<std::string> marked_drops_;         // engine, path, keyspace joined by NUL
};

// What every module registered on a connection carries as its client data.
struct ModuleContext {
  std::string module;  // "lmdb", ..., or "manifold"
  std::shared_ptr<Connection> connection;
};

// Returns `name` in ASCII lower case (SQL identifiers compare that way).
std::string LowerAscii(std::string_view name);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_CONNECTION_H_
