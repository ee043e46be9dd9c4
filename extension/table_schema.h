// TableSchema and ParseTableArguments: what a user wrote in
// CREATE VIRTUAL TABLE t USING module(...), checked and understood.
//
// Each argument is an option (name=value: a number, a quoted string or a bare
// word) or a column definition / table constraint as in CREATE TABLE. Anything
// unknown, malformed or unsupported is an error that names the argument; it is
// never ignored. Pure functions; thread-safe.
#ifndef MANIFOLD_EXTENSION_TABLE_SCHEMA_H_
#define MANIFOLD_EXTENSION_TABLE_SCHEMA_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "affinity.h"
#include "key_codec.h"
#include "manifold/options.h"
#include "manifold/registry.h"
#include "manifold/status.h"

namespace manifold {

struct ColumnDef {
  std::string name;           // as declared, unquoted
  std::string declared_type;  // as written, "" when none
  Affinity affinity = Affinity::kBlob;
  bool not_null = false;
  std::string collation = "BINARY";  // BINARY, NOCASE or RTRIM (key columns: BINARY only)
  int key_position = -1;             // index in the primary key, -1 when not a key column
  SortOrder key_order = SortOrder::kAsc;
};

// How rows are keyed, and so which native table is the oracle.
enum class KeyKind {
  kRowid,              // no PRIMARY KEY: a hidden rowid, as a native rowid table
  kIntegerPrimaryKey,  // `INTEGER PRIMARY KEY` (ASC): that column is the rowid
  kSingleKey,          // any other one-column key: as a native WITHOUT ROWID table
  kCompositeKey,       // a key of several columns: as a native WITHOUT ROWID table
};

struct TableSchema {
  std::vector<ColumnDef> columns;
  std::vector<int> key_columns;  // column indexes, in key order
  KeyKind key_kind = KeyKind::kRowid;
  bool raw = false;  // no columns given: (key BLOB PRIMARY KEY, value BLOB), stored bytes untouched

  // Returns the CREATE TABLE statement to hand to sqlite3_declare_vtab.
  std::string DeclareSql() const;
  // Returns a canonical text of the declaration (names, types, key, NOT NULL,
  // collations), recorded in the store so that reopening it with a different
  // declaration is an error.
  std::string Fingerprint() const;
};

// The options of a table; each is also accepted by every module.
struct TableOptions {
  std::string engine;    // from the module name, or engine= for module `manifold`
  std::string path;      // as written; "" means the default beside the main database
  std::string keyspace;  // table=; when not given, the virtual table's name
  bool keyspace_given = false;  // table= was written ('' only for lmdb: its unnamed main database)
  bool read_only = false;
  Compression compression = Compression::kNone;
  int compression_level = 3;
  SyncMode sync = SyncMode::kFull;
  std::map<std::string, std::string> engine_options;  // anything else engine-specific
};

struct ParsedTable {
  TableSchema schema;
  TableOptions options;
};

// Parses the module arguments (argv[3..] of xCreate/xConnect, already split by
// SQLite at top-level commas). `module` is the module name, `table` the
// virtual table's name, `default_engine` the engine when the module is
// `manifold` and no engine= is given. Engine-specific options are checked
// against the chosen engine's EngineInfo::option_names (registry.h). Errors are InvalidArgument, worded
//   <module> table "<table>": <what was wrong> '<the argument>' (<what is allowed>)
Result<ParsedTable> ParseTableArguments(std::string_view module, std::string_view table,
                                        const std::vector<std::string_view>& args,
                                        std::string_view default_engine);

// As above, choosing among `engines` instead of RegisteredEngines(), so that
// tests can describe engines (their availability and option names) of their own.
Result<ParsedTable> ParseTableArguments(std::string_view module, std::string_view table,
                                        const std::vector<std::string_view>& args,
                                        std::string_view default_engine,
                                        const std::vector<EngineInfo>& engines);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_TABLE_SCHEMA_H_
