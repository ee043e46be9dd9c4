// The zstd value layer: wraps any engine so that values are stored compressed.
#ifndef MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_
#define MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_

#include <memory>

#include "manifold/engine.h"

namespace manifold {

// Returns `inner` with its values compressed by zstd at options.compression_level.
Result<std::unique_ptr<Engine>> WrapWithZstd(std::unique_ptr<Engine> inner, const Options& options);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ZSTD_ZSTD_ENGINE_H_
