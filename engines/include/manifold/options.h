// Options: how a store is opened. A plain struct; every field has its default.
#ifndef MANIFOLD_OPTIONS_H_
#define MANIFOLD_OPTIONS_H_

#include <chrono>
#include <map>
#include <string>

namespace manifold {

// How durable a commit is once Commit() returns OK.
enum class SyncMode {
  kFull,    // survives power loss: data and commit record are fsynced
  kNormal,  // survives a crash of the process; power loss may lose recent commits
  kOff,     // may lose the latest commits on a crash, never corrupts the store
};

enum class Compression {
  kNone,
  kZstd,  // the engine's own zstd where it has one, else manifold's value layer
};

struct Options {
  // Where the store lives: a file (btree, sqlite), a directory (lmdb, rocksdb),
  // or a process-wide name (memory; empty means a private store of this opener).
  std::string path;

  // Create the store if it does not exist. When false, a missing store is
  // NotFound and no file or directory is created.
  bool create_if_missing = false;

  // Open read-only: every write fails with a ReadOnly status.
  bool read_only = false;

  SyncMode sync = SyncMode::kFull;

  Compression compression = Compression::kNone;
  int compression_level = 3;  // zstd level, 1..19

  // Engine-specific settings as name=value text (for example lmdb's
  // "map_size"). An engine rejects a name it does not know with
  // InvalidArgument that names it.
  std::map<std::string, std::string> engine_options;
};

}  // namespace manifold

#endif  // MANIFOLD_OPTIONS_H_
