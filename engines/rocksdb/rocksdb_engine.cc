// Placeholder until the rocksdb engine lands: registered, reported unavailable.
#include "rocksdb/rocksdb_engine.h"

namespace manifold {

EngineInfo RocksdbEngineInfo() { return EngineInfo{"rocksdb", "", Capabilities{}, false, {}}; }

Result<std::unique_ptr<Engine>> OpenRocksdbEngine(const Options& /*options*/) {
  return Status::NotSupported("engine 'rocksdb' is not part of this build");
}

}  // namespace manifold
