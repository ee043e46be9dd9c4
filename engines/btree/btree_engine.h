// The btree engine's entry points for the registry.
#ifndef MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_
#define MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_

#include <memory>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

// Returns the btree engine's row of manifold_engines.
EngineInfo BtreeEngineInfo();

// Opens (or joins, if this process has it open) the btree store at options.path.
Result<std::unique_ptr<Engine>> OpenBtreeEngine(const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_
