// The lmdb engine's entry points for the registry.
#ifndef MANIFOLD_ENGINES_LMDB_LMDB_ENGINE_H_
#define MANIFOLD_ENGINES_LMDB_LMDB_ENGINE_H_

#include <memory>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

// Returns the lmdb engine's row of manifold_engines.
EngineInfo LmdbEngineInfo();

// Opens (or joins, if this process has it open) the lmdb store at options.path.
Result<std::unique_ptr<Engine>> OpenLmdbEngine(const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_LMDB_LMDB_ENGINE_H_
