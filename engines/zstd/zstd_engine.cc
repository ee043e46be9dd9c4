// Placeholder until the zstd value layer lands.
#include "zstd/zstd_engine.h"

namespace manifold {

Result<std::unique_ptr<Engine>> WrapWithZstd(std::unique_ptr<Engine> inner,
                                             const Options& /*options*/) {
  return Status::NotSupported("compression=zstd on engine '" + std::string(inner->name()) +
                              "' is not part of this build yet");
}

}  // namespace manifold
