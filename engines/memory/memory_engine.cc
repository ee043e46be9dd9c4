// Placeholder until the memory engine lands: registered, reported unavailable.
#include "memory/memory_engine.h"

namespace manifold {

EngineInfo MemoryEngineInfo() { return EngineInfo{"memory", "", Capabilities{}, false, {}}; }

Result<std::unique_ptr<Engine>> OpenMemoryEngine(const Options& /*options*/) {
  return Status::NotSupported("engine 'memory' is not part of this build");
}

}  // namespace manifold
