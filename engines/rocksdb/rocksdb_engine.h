// The rocksdb engine's entry points for the registry.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_ENGINE_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_ENGINE_H_

#include <memory>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

// Returns the rocksdb engine's row of manifold_engines.
EngineInfo RocksdbEngineInfo();

// Opens (or joins, if this process has it open) the rocksdb store at options.path.
Result<std::unique_ptr<Engine>> OpenRocksdbEngine(const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_ENGINE_H_
