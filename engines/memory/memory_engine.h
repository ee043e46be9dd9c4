// The memory engine's entry points for the registry.
#ifndef MANIFOLD_ENGINES_MEMORY_MEMORY_ENGINE_H_
#define MANIFOLD_ENGINES_MEMORY_MEMORY_ENGINE_H_

#include <memory>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

// Returns the memory engine's row of manifold_engines.
EngineInfo MemoryEngineInfo();

// Opens (or joins, if this process has it open) the memory store named
// options.path; path "" is a new private store. Memory stores are never
// persistent: a named store lives while any Engine handle refers to it.
Result<std::unique_ptr<Engine>> OpenMemoryEngine(const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_MEMORY_MEMORY_ENGINE_H_
