// Placeholder until the lmdb engine lands: registered, reported unavailable.
#include "lmdb/lmdb_engine.h"

namespace manifold {

EngineInfo LmdbEngineInfo() { return EngineInfo{"lmdb", "", Capabilities{}, false, {}}; }

Result<std::unique_ptr<Engine>> OpenLmdbEngine(const Options& /*options*/) {
  return Status::NotSupported("engine 'lmdb' is not part of this build");
}

}  // namespace manifold
