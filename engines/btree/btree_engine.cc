// Placeholder until the btree engine lands: registered, reported unavailable.
#include "btree/btree_engine.h"

namespace manifold {

EngineInfo BtreeEngineInfo() { return EngineInfo{"btree", "", Capabilities{}, false, {}}; }

Result<std::unique_ptr<Engine>> OpenBtreeEngine(const Options& /*options*/) {
  return Status::NotSupported("engine 'btree' is not part of this build");
}

}  // namespace manifold
