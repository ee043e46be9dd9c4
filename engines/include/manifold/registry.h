// The engine registry: which engines this build has, and opening one by name.
// Thread-safe: the registry is fixed at build time and never changes.
#ifndef MANIFOLD_REGISTRY_H_
#define MANIFOLD_REGISTRY_H_

#include <string>
#include <string_view>
#include <vector>

#include "manifold/engine.h"

namespace manifold {

// What a registered engine is; one row of SQL's manifold_engines.
struct EngineInfo {
  std::string name;             // "btree", "lmdb", ...
  std::string library_version;  // the version of the library behind it
  Capabilities capabilities;
  bool available = false;       // false when this build left the engine out
  // Engine-specific option names accepted in Options::engine_options.
  std::vector<std::string> option_names;
};

// Returns every engine manifold knows, available or not, in registry order.
std::vector<EngineInfo> RegisteredEngines();

// Returns the names of the engines this build can open, in registry order.
std::vector<std::string> RegisteredEngineNames();

// Returns the name of the default engine ("btree").
std::string_view DefaultEngineName();

}  // namespace manifold

#endif  // MANIFOLD_REGISTRY_H_
