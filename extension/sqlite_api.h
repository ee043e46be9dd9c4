// The one include of SQLite for the extension: sqlite3ext.h, so every call
// goes through the host's sqlite3_api table and manifold.so links no SQLite of
// its own. module.cc defines sqlite3_api (SQLITE_EXTENSION_INIT1).
#ifndef MANIFOLD_EXTENSION_SQLITE_API_H_
#define MANIFOLD_EXTENSION_SQLITE_API_H_

#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#endif  // MANIFOLD_EXTENSION_SQLITE_API_H_
