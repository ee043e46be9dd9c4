// SqlitekvStore: one open sqlitekv store (a SQLite database file), shared by
// every handle of this process that reaches the same file (one store per
// device and inode, engines/common/store_registry.h).
//
// It owns the connections: one writer connection, used only by the holder of
// the store's WriteGate, and a pool of read-only connections, one per live
// read transaction. The file is in WAL mode, so a reader holds its snapshot
// without blocking the writer, and the writer never blocks readers.
//
// Thread-safe.
#ifndef MANIFOLD_ENGINES_SQLITE_SQLITEKV_STORE_H_
#define MANIFOLD_ENGINES_SQLITE_SQLITEKV_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/write_gate.h"
#include "manifold/options.h"
#include "manifold/status.h"
#include "sqlite/sqlitekv_connection.h"

namespace manifold {

// How the first opener of this process opens the store.
struct SqlitekvStoreOptions {
  bool create_if_missing = false;
  bool read_only = false;     // no writer connection until a writable handle joins
  int busy_timeout_ms = 5000; // readers and the writer outside BEGIN IMMEDIATE
};

class SqlitekvStore {
 public:
  // Returns this process's store for the file `path`, opening it (and with
  // create_if_missing, creating it) if this process has not. A missing file
  // without create_if_missing (or read-only) is NotFound, and nothing is
  // created. A writable opener of a store first opened read-only gives it
  // its writer connection.
  static Result<std::shared_ptr<SqlitekvStore>> Get(const std::string& path,
                                                    const SqlitekvStoreOptions& options);

  // Closes every connection; the writer's close checkpoints the WAL.
  // REQUIRES: no transaction of the store is live.
  ~SqlitekvStore();
  SqlitekvStore(const SqlitekvStore&) = delete;
  SqlitekvStore& operator=(const SqlitekvStore&) = delete;

  const std::string& path() const { return path_; }
  int busy_timeout_ms() const { return busy_timeout_ms_; }
  // "sqlitekv store '<path>'", for messages.
  std::string label() const { return "sqlitekv store '" + path_ + "'"; }

  WriteGate& gate() { return gate_; }
  // Returns the writer connection, or ReadOnly if no writable handle opened
  // the store. REQUIRES: the gate is held.
  Result<SqlitekvConnection*> writer();
  // Makes the writer use `sync` for its commits. REQUIRES: the gate is held,
  // no transaction is open on the writer.
  Status SetSync(SyncMode sync);

  // Returns an idle read-only connection, or a new one.
  Result<std::unique_ptr<SqlitekvConnection>> AcquireReader();
  // Takes a reader back (no transaction open on it).
  void ReleaseReader(std::unique_ptr<SqlitekvConnection> reader);

  // Returns the bytes of the database file and its WAL.
  Result<uint64_t> FileBytes() const;

 private:
  SqlitekvStore(std::string path, int busy_timeout_ms)
      : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}
  // Opens the writer connection: WAL mode and the catalog.
  Status OpenWriter(bool create);
  // Opens a reader and reads the schema, so a file that is not a database
  // fails at open.
  Status CheckReadable();

  static constexpr size_t kMaxIdleReaders = 8;

  const std::string path_;
  const int busy_timeout_ms_;
  WriteGate gate_;

  std::mutex mu_;
  std::unique_ptr<SqlitekvConnection> writer_;  // guarded by mu_ while null; then by gate_
  bool has_writer_ = false;                     // guarded by mu_
  SyncMode writer_sync_ = SyncMode::kFull;      // guarded by gate_
  std::vector<std::unique_ptr<SqlitekvConnection>> idle_readers_;  // guarded by mu_
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_SQLITE_SQLITEKV_STORE_H_
