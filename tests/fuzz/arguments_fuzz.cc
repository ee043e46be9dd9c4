// libFuzzer target for the CREATE VIRTUAL TABLE argument parser
// (ParseTableArguments, extension/table_schema.h).
//
// The input picks the module name and is split into arguments at newlines.
// Parsing never crashes; what it accepts describes a table that SQLite itself
// accepts: its DeclareSql() prepares as a CREATE TABLE, and its fingerprint
// is stable.
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/registry.h"
#include "table_schema.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "arguments_fuzz: %s\n", what.c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  static const char* const kModules[] = {"manifold", "btree", "lmdb", "rocksdb", "memory"};
  static sqlite3* db = [] {
    sqlite3* opened = nullptr;
    if (sqlite3_open(":memory:", &opened) != SQLITE_OK) Fail("cannot open SQLite");
    return opened;
  }();
  if (size == 0) return 0;
  const std::string_view module = kModules[data[0] % 5];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> args;
  std::string_view rest = text;
  while (!rest.empty() && args.size() < 64) {
    size_t newline = rest.find('\n');
    args.push_back(rest.substr(0, newline));
    if (newline == std::string_view::npos) break;
    rest.remove_prefix(newline + 1);
  }
  Result<ParsedTable> parsed = ParseTableArguments(module, "t", args, DefaultEngineName());
  if (!parsed.ok()) {
    if (parsed.status().message().empty()) Fail("an error without a message");
    return 0;
  }
  const std::string declare = parsed->schema.DeclareSql();
  if (parsed->schema.Fingerprint() != parsed->schema.Fingerprint()) Fail("unstable fingerprint");
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, declare.c_str(), static_cast<int>(declare.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    Fail("accepted arguments declare a table SQLite refuses: " + declare + ": " +
         sqlite3_errmsg(db));
  }
  sqlite3_finalize(stmt);
  return 0;
}
