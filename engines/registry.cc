// The one place that knows every engine. Adding an engine is one line in
// kEngines (and its folder); nothing else changes.
#include "manifold/registry.h"

#include <utility>

#include "btree/btree_engine.h"
#include "common/poison.h"
#include "lmdb/lmdb_engine.h"
#include "memory/memory_engine.h"
#include "rocksdb/rocksdb_engine.h"
#include "sqlite/sqlitekv_engine.h"
#include "zstd/zstd_engine.h"

namespace manifold {
namespace {

struct EngineEntry {
  EngineInfo (*info)();
  Result<std::unique_ptr<Engine>> (*open)(const Options&);
};

// Registry order is the order of manifold_engines; the default comes first.
constexpr EngineEntry kEngines[] = {
    {&BtreeEngineInfo, &OpenBtreeEngine},
    {&LmdbEngineInfo, &OpenLmdbEngine},
    {&RocksdbEngineInfo, &OpenRocksdbEngine},
    {&SqlitekvEngineInfo, &OpenSqlitekvEngine},
    {&MemoryEngineInfo, &OpenMemoryEngine},
};

}  // namespace

std::vector<EngineInfo> RegisteredEngines() {
  std::vector<EngineInfo> engines;
  for (const EngineEntry& entry : kEngines) engines.push_back(entry.info());
  return engines;
}

std::vector<std::string> RegisteredEngineNames() {
  std::vector<std::string> names;
  for (const EngineEntry& entry : kEngines) {
    EngineInfo info = entry.info();
    if (info.available) names.push_back(info.name);
  }
  return names;
}

std::string_view DefaultEngineName() { return "btree"; }

Result<std::unique_ptr<Engine>> Engine::Open(std::string_view name, const Options& options) {
  // "sqlite" is what a C++ caller would guess for the engine whose module is
  // sqlitekv; the engine still reports its registered name.
  if (name == "sqlite") name = "sqlitekv";
  std::string known;
  for (const EngineEntry& entry : kEngines) {
    EngineInfo info = entry.info();
    if (info.name != name) {
      if (info.available) known += (known.empty() ? "" : ", ") + info.name;
      continue;
    }
    if (!info.available) {
      return Status::NotSupported("engine '" + info.name + "' is not part of this build");
    }
    if (options.compression_level < 1 || options.compression_level > 19) {
      return Status::InvalidArgument("compression_level " +
                                     std::to_string(options.compression_level) +
                                     " is out of range (1..19)");
    }
    Result<std::unique_ptr<Engine>> engine = entry.open(options);
    if (!engine.ok()) return engine;
    // A store on disk belongs to the process that opened it: in a forked
    // child every use is a clear error, and closing closes nothing
    // (fork_guard.h). An I/O error poisons it until it is reopened
    // (poison.h). Memory stores need neither: fork() copies them.
    if (info.capabilities.persistent) {
      *engine = GuardStore(std::move(*engine), options.path,
                           info.name + " store '" + options.path + "'");
    }
    // Engines without compression of their own get manifold's zstd value layer.
    if (options.compression == Compression::kZstd && !info.capabilities.native_compression) {
      return WrapWithZstd(std::move(*engine), options);
    }
    return engine;
  }
  return Status::InvalidArgument("unknown engine '" + std::string(name) + "' (known: " + known +
                                 ")");
}

}  // namespace manifold
