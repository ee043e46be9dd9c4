// The entry point of manifold.so: registers the modules and SQL functions on
// a connection.
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <memory>
#include <mutex>
#include <new>

#include "backup.h"
#include "connection.h"
#include "export.h"
#include "functions.h"
#include "layout_functions.h"
#include "vtab_module.h"

// Called by sqlite3_load_extension (".load ./build/manifold") and by
// sqlite3_auto_extension in manifold's own tests, once per connection.
extern "C" __attribute__((visibility("default"))) int sqlite3_manifold_init(
    sqlite3* db, char** pzErrMsg, const sqlite3_api_routines* pApi) {
  // The API table is the same for every connection, but connections open on
  // any thread: storing it again while other threads call through it is a
  // data race (found by ThreadSanitizer in concurrency_test), so it is stored
  // once.
  static std::once_flag api_stored;
  std::call_once(api_stored, [pApi] { SQLITE_EXTENSION_INIT2(pApi); });
  (void)pzErrMsg;
  try {
    // Shared by every module of this connection and by its tables; freed when
    // SQLite destroys the last module (connection close).
    auto connection = std::make_shared<manifold::Connection>(db);
    int rc = manifold::RegisterModules(db, connection);
    if (rc != SQLITE_OK) return rc;
    rc = manifold::RegisterFunctions(db, connection);
    if (rc != SQLITE_OK) return rc;
    rc = manifold::RegisterExportFunctions(db, connection);
    if (rc != SQLITE_OK) return rc;
    rc = manifold::RegisterBackupFunctions(db, connection);
    if (rc != SQLITE_OK) return rc;
    return manifold::RegisterLayoutFunctions(db);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (...) {
    return SQLITE_INTERNAL;
  }
}
