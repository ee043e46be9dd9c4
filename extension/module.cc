// The entry point of manifold.so: registers the modules and SQL functions.
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "manifold/engine.h"

namespace manifold {
namespace {

// manifold_version(): the library version as text.
void VersionFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** /*argv*/) {
  std::string_view version = Version();
  sqlite3_result_text(context, version.data(), static_cast<int>(version.size()), SQLITE_STATIC);
}

}  // namespace
}  // namespace manifold

// Called by sqlite3_load_extension (".load ./build/manifold") and by
// sqlite3_auto_extension in manifold's own tests.
extern "C" __attribute__((visibility("default"))) int sqlite3_manifold_init(
    sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  (void)pzErrMsg;
  return sqlite3_create_function_v2(db, "manifold_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                    nullptr, &manifold::VersionFunction, nullptr, nullptr,
                                    nullptr);
}
