#include "backup.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "catalog.h"
#include "errors.h"
#include "json.h"
#include "table.h"

namespace manifold {
namespace {

namespace fs = std::filesystem;

std::string Quote(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Returns `path` with symlinks resolved, or `path` itself if it cannot be.
std::string RealPath(const std::string& path) {
  return ResolvedPath(path).value_or(path);
}

// One store to copy: every table of the main database that uses it.
struct StoreToCopy {
  std::string engine;
  std::string path;  // resolved, absolute
  std::vector<Table*> tables;
  Table* writable = nullptr;  // a table whose session may take the write lock
  bool persistent = true;
  std::string copy;  // where it goes, relative to the backup directory
  bool external = false;
};

// The manifold tables of the main database, connected and opened: every
// virtual table in main's schema whose module is one of manifold's.
Result<std::vector<Table*>> MainTables(Connection& connection) {
  sqlite3* db = connection.db();
  std::vector<std::string> names;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND "
                              "sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
                              -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      if (text != nullptr) names.emplace_back(reinterpret_cast<const char*>(text));
    }
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    return Status::InvalidArgument(std::string("cannot list the tables: ") + sqlite3_errmsg(db));
  }
  std::vector<Table*> tables;
  for (const std::string& name : names) {
    Table* table = connection.FindTable(name);
    if (table == nullptr) {
      // Not connected yet: preparing a statement on it makes SQLite connect it.
      // Another module's table (fts5, ...) stays unknown and is not ours to copy.
      sqlite3_stmt* probe = nullptr;
      if (sqlite3_prepare_v2(db, ("SELECT 1 FROM main." + Quote(name) + " LIMIT 0").c_str(), -1,
                             &probe, nullptr) == SQLITE_OK) {
        sqlite3_step(probe);
      }
      sqlite3_finalize(probe);
      table = connection.FindTable(name);
    }
    if (table == nullptr || table->schema_name() != "main") continue;
    Status opened = table->EnsureOpen();
    if (!opened.ok()) {
      return opened.WithContext(table->options().engine + " table \"" + table->name() + "\"");
    }
    tables.push_back(table);
  }
  return tables;
}

// Copies the main database file of `db` to `dest` with SQLite's backup API,
// then forgets pending keyspace drops in the copy: their catalog rows name the
// original stores, which a restored copy must never touch.
Status CopyDatabaseFile(sqlite3* db, const std::string& dest) {
  sqlite3* out = nullptr;
  int rc = sqlite3_open_v2(dest.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  Status s;
  if (rc != SQLITE_OK) {
    s = Status::IOError("cannot create '" + dest +
                        "': " + (out != nullptr ? sqlite3_errmsg(out) : sqlite3_errstr(rc)));
  } else if (sqlite3_backup* backup = sqlite3_backup_init(out, "main", db, "main")) {
    rc = sqlite3_backup_step(backup, -1);
    int finished = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      std::string message = "cannot copy the database file: " + std::string(sqlite3_errstr(rc));
      s = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED ? Status::Busy(message)
                                                                     : Status::IOError(message);
    } else if (finished != SQLITE_OK) {
      s = Status::IOError("cannot copy the database file: " + std::string(sqlite3_errmsg(out)));
    }
  } else {
    s = Status::IOError("cannot copy the database file: " + std::string(sqlite3_errmsg(out)));
  }
  if (s.ok()) {
    bool has_catalog = false;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(out,
                           "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND "
                           "name = 'manifold_catalog'",
                           -1, &stmt, nullptr) == SQLITE_OK) {
      has_catalog = sqlite3_step(stmt) == SQLITE_ROW;
    }
    sqlite3_finalize(stmt);
    if (has_catalog) {
      char* message = nullptr;
      if (sqlite3_exec(out, "DELETE FROM manifold_catalog WHERE dropped = 1", nullptr, nullptr,
                       &message) != SQLITE_OK) {
        s = Status::IOError("cannot update the copied catalog: " +
                            std::string(message != nullptr ? message : "unknown error"));
      }
      sqlite3_free(message);
    }
  }
  if (sqlite3_close(out) != SQLITE_OK && s.ok()) {
    s = Status::IOError("cannot close the copy of the database file '" + dest + "'");
  }
  return s;
}

// Removes what a failed backup left in `dir`: the directory itself when this
// call created it, else its contents (it was empty before).
void RemovePartialBackup(const fs::path& dir, bool created) {
  std::error_code ignored;
  if (created) {
    fs::remove_all(dir, ignored);
    return;
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ignored)) {
    fs::remove_all(entry.path(), ignored);
  }
}

std::string TablesJson(const std::vector<Table*>& tables) {
  std::string out = "[";
  for (Table* table : tables) out += (out.size() > 1 ? "," : "") + JsonString(table->name());
  return out + "]";
}

class Backup {
 public:
  explicit Backup(Connection& connection) : connection_(connection), db_(connection.db()) {}
  ~Backup() { ReleaseLocks(); }
  Backup(const Backup&) = delete;
  Backup& operator=(const Backup&) = delete;

  // Runs the whole backup into `dir`; on success stores the JSON in *json.
  Status Run(const std::string& dir_text, std::string* json) {
    const char* main_file = sqlite3_db_filename(db_, "main");
    if (main_file == nullptr || *main_file == '\0') {
      return Status::InvalidArgument(
          "the main database is in memory: there is no database file to back up");
    }
    const std::string db_file = RealPath(main_file);
    const fs::path db_path(db_file);
    const std::string db_dir = db_path.parent_path().string();
    if (sqlite3_txn_state(db_, "main") == SQLITE_TXN_WRITE) {
      return Status::Busy(
          "cannot back up inside a transaction that has written: COMMIT or ROLLBACK first");
    }
    Result<std::vector<Table*>> tables = MainTables(connection_);
    if (!tables.ok()) return tables.status();
    for (Table* table : *tables) {
      if (table->session().write_txn() != nullptr) {
        return Status::Busy("cannot back up inside a transaction that has written (" +
                            table->options().engine + " table \"" + table->name() +
                            "\"): COMMIT or ROLLBACK first");
      }
    }
    // Drops committed earlier and not finished yet: finish them now, so that
    // the copies do not carry keyspaces the catalog no longer knows.
    if (!tables->empty()) MANIFOLD_RETURN_IF_ERROR(CatalogResolve(*tables->front()));

    std::vector<StoreToCopy> stores = GroupByStore(*tables, db_dir);

    std::error_code ec;
    const fs::path dir = fs::absolute(fs::path(dir_text), ec);
    if (ec) return Status::InvalidArgument("invalid directory '" + dir_text + "': " + ec.message());
    bool created = false;
    if (fs::exists(dir, ec)) {
      if (!fs::is_directory(dir, ec)) {
        return Status::InvalidArgument("'" + dir_text + "' exists and is not a directory");
      }
      if (!fs::is_empty(dir, ec)) {
        return Status::InvalidArgument("'" + dir_text +
                                       "' exists and is not empty: manifold_backup never "
                                       "overwrites, give a new or empty directory");
      }
    } else {
      if (!fs::create_directory(dir, ec) || ec) {
        return Status::IOError("cannot create the directory '" + dir_text +
                               "': " + (ec ? ec.message() : "unknown error"));
      }
      created = true;
    }
    Status s = CopyAll(dir, db_path.filename().string(), &stores);
    ReleaseLocks();
    if (!s.ok()) {
      RemovePartialBackup(dir, created);
      return s;
    }
    std::string copied = "[", skipped = "[";
    for (const StoreToCopy& store : stores) {
      if (store.persistent) {
        copied += std::string(copied.size() > 1 ? "," : "") +
                  "{\"engine\":" + JsonString(store.engine) +
                  ",\"path\":" + JsonString(store.path) + ",\"copy\":" + JsonString(store.copy) +
                  ",\"external\":" + (store.external ? "true" : "false") +
                  ",\"tables\":" + TablesJson(store.tables) + "}";
      } else {
        skipped +=
            std::string(skipped.size() > 1 ? "," : "") + "{\"engine\":" + JsonString(store.engine) +
            ",\"path\":" + JsonString(store.path) + ",\"tables\":" + TablesJson(store.tables) +
            ",\"reason\":" + JsonString("the " + store.engine + " engine keeps nothing on disk") +
            "}";
      }
    }
    *json = "{\"directory\":" + JsonString(dir.string()) +
            ",\"database\":" + JsonString(db_path.filename().string()) + ",\"stores\":" + copied +
            "],\"skipped\":" + skipped + "]}";
    return Status::OK();
  }

 private:
  static std::vector<StoreToCopy> GroupByStore(const std::vector<Table*>& tables,
                                               const std::string& db_dir) {
    std::map<std::pair<std::string, std::string>, StoreToCopy> by_store;
    for (Table* table : tables) {
      StoreToCopy& store = by_store[{table->store_path(), table->options().engine}];
      store.engine = table->options().engine;
      store.path = table->store_path();
      store.tables.push_back(table);
      store.persistent = table->session().engine().capabilities().persistent;
      if (store.writable == nullptr && !table->options().read_only) store.writable = table;
    }
    std::vector<StoreToCopy> stores;
    for (auto& [key, store] : by_store) {
      const std::string prefix = db_dir + (db_dir.ends_with('/') ? "" : "/");
      if (store.path.starts_with(prefix) && store.path.size() > prefix.size()) {
        store.copy = store.path.substr(prefix.size());
      } else {
        store.copy =
            "external" + (store.path.starts_with('/') ? "" : std::string("/")) + store.path;
        store.external = true;
      }
      stores.push_back(std::move(store));
    }
    return stores;  // ordered by path: every backup takes the locks in one order
  }

  // Takes the write locks, copies the database file, then each store.
  Status CopyAll(const fs::path& dir, const std::string& db_name,
                 std::vector<StoreToCopy>* stores) {
    MANIFOLD_RETURN_IF_ERROR(HoldWritersOff(*stores));
    MANIFOLD_RETURN_IF_ERROR(CopyDatabaseFile(db_, (dir / db_name).string()));
    for (StoreToCopy& store : *stores) {
      if (!store.persistent) continue;
      const fs::path dest = dir / store.copy;
      std::error_code ec;
      fs::create_directories(dest.parent_path(), ec);
      if (ec) {
        return Status::IOError("cannot create '" + dest.parent_path().string() +
                               "': " + ec.message());
      }
      // A writable handle sees the latest commits; a read-only RocksDB handle
      // sees the store as of its own open, which a writer may have moved past.
      Table& table = store.writable != nullptr ? *store.writable : *store.tables.front();
      MANIFOLD_RETURN_IF_ERROR(table.session()
                                   .engine()
                                   .Backup(dest.string())
                                   .WithContext(store.engine + " table \"" + table.name() +
                                                "\": cannot back up its store"));
    }
    return Status::OK();
  }

  // Takes the write lock of every store, so that no commit lands in any of
  // them while the copies are taken: a transaction of another connection is
  // in all of them or in none (it holds each store's lock until it has
  // committed to all of them). The database file is not locked: its copy is
  // one read snapshot taken meanwhile.
  //
  // Writers take these locks in any order, so waiting for one while holding
  // another could make a writer and the backup wait for each other until the
  // busy timeout. Instead each round waits (up to what is left of the
  // connection's busy timeout) only for the lock that was busy last time,
  // holding nothing, then tries the others without waiting; if one is busy,
  // it lets every lock go and starts over. A writer waits for the backup at
  // most while the copies are taken.
  Status HoldWritersOff(const std::vector<StoreToCopy>& stores) {
    using Clock = std::chrono::steady_clock;
    const std::chrono::milliseconds timeout = connection_.BusyTimeout();
    const Clock::time_point deadline = Clock::now() + timeout;
    std::vector<const StoreToCopy*> lockable;
    for (const StoreToCopy& store : stores) {
      if (store.persistent && store.writable != nullptr) lockable.push_back(&store);
    }
    const size_t count = lockable.size();
    if (count == 0) return Status::OK();
    size_t wait_for = 0;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() < 0) left = std::chrono::milliseconds(0);
      Status s = Lock(*lockable[wait_for], left);
      size_t busy = count;
      for (size_t i = 0; s.ok() && i < count; ++i) {
        if (i == wait_for) continue;
        s = Lock(*lockable[i], std::chrono::milliseconds(0));
        if (!s.ok() && s.code() == Status::Code::kBusy) busy = i;
      }
      if (s.ok()) return Status::OK();
      ReleaseLocks();
      if (busy == count || Clock::now() >= deadline) {
        return s.WithContext("cannot hold writers off for the backup (waited up to " +
                             std::to_string(timeout.count()) + " ms, the busy timeout)");
      }
      wait_for = busy;
    }
  }

  // Takes the write lock of `store`, waiting up to `wait`; Busy if held.
  Status Lock(const StoreToCopy& store, std::chrono::milliseconds wait) {
    Result<std::unique_ptr<WriteTxn>> lock = store.writable->session().engine().BeginWrite(wait);
    if (lock.ok()) {
      locks_.push_back(std::move(*lock));
      return Status::OK();
    }
    // A store this process opened read-only has no writer here to hold off
    // (other processes may still write: the engine's copy is a snapshot).
    if (lock.status().code() == Status::Code::kReadOnly) return Status::OK();
    return lock.status().WithContext(store.engine + " store '" + store.path + "'");
  }

  void ReleaseLocks() {
    for (std::unique_ptr<WriteTxn>& lock : locks_) lock->Rollback();
    locks_.clear();
  }

  Connection& connection_;
  sqlite3* db_;
  std::vector<std::unique_ptr<WriteTxn>> locks_;  // held from the first copy to the last
};

// manifold_backup('dir'): see backup.h.
void BackupFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) noexcept {
  auto* connection = static_cast<Connection*>(sqlite3_user_data(context));
  try {
    std::string json;
    Status s = [&]() -> Status {
      const unsigned char* text = sqlite3_value_text(argv[0]);
      if (text == nullptr || sqlite3_value_type(argv[0]) == SQLITE_NULL || *text == '\0') {
        return Status::InvalidArgument("expects a directory name");
      }
      Backup backup(*connection);
      return backup.Run(reinterpret_cast<const char*>(text), &json);
    }();
    if (s.ok()) {
      sqlite3_result_text(context, json.c_str(), static_cast<int>(json.size()), SQLITE_TRANSIENT);
      return;
    }
    std::string message = "manifold_backup: " + s.message();
    sqlite3_result_error(context, message.c_str(), -1);
    sqlite3_result_error_code(context, ToSqliteCode(s));
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (...) {
    sqlite3_result_error(context, "manifold_backup: internal error: unexpected exception", -1);
  }
}

}  // namespace

int RegisterBackupFunctions(sqlite3* db, const std::shared_ptr<Connection>& connection) {
  // It writes files: never from a view, a trigger or a schema (SQLITE_DIRECTONLY).
  // It borrows the Connection: the modules own it and outlive the function.
  return sqlite3_create_function_v2(db, "manifold_backup", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                    connection.get(), &BackupFunction, nullptr, nullptr, nullptr);
}

}  // namespace manifold
