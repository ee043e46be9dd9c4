// Tests of ParseTableArguments, TableSchema::DeclareSql and Fingerprint.
//
// Declarations are checked against real SQLite: the text DeclareSql produces
// must create a table whose PRAGMA table_info (and column collations) equal
// those of the native table the user would have written, and which key is a
// rowid alias is asked of SQLite itself.
#include "table_schema.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace manifold {
namespace {

// Engines of our own, so that the tests do not depend on what this build has.
std::vector<EngineInfo> TestEngines() {
  std::vector<EngineInfo> engines(4);
  engines[0].name = "btree";
  engines[0].available = true;
  engines[1].name = "lmdb";
  engines[1].available = true;
  engines[1].option_names = {"map_size", "max_readers"};
  engines[2].name = "rocksdb";
  engines[2].available = false;
  engines[2].option_names = {"block_cache"};
  engines[3].name = "memory";
  engines[3].available = true;
  return engines;
}

Result<ParsedTable> Parse(std::string_view module, const std::vector<std::string_view>& args,
                          std::string_view table = "t") {
  return ParseTableArguments(module, table, args, "btree", TestEngines());
}

// Returns the error message of parsing `args`, or "OK".
std::string ErrorOf(std::string_view module, const std::vector<std::string_view>& args) {
  Result<ParsedTable> parsed = Parse(module, args);
  if (parsed.ok()) return "OK";
  EXPECT_EQ(Status::Code::kInvalidArgument, parsed.status().code());
  return parsed.status().message();
}

TableSchema SchemaOf(const std::vector<std::string_view>& args) {
  Result<ParsedTable> parsed = Parse("memory", args);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? parsed->schema : TableSchema();
}

// ---------------------------------------------------------------------------
// Options

// Found by arguments_fuzz: a quoted column name holding a NUL byte was
// accepted, and its declaration ended at the NUL when SQLite read it.
TEST(TableArgumentsTest, ANulByteInAnArgumentIsRefused) {
  using namespace std::string_view_literals;
  EXPECT_EQ("memory table \"t\": argument holds a NUL byte '\" cou'",
            ErrorOf("memory", {"id INTEGER PRIMARY KEY", "\" cou\0oted col\" TEXT"sv}));
  EXPECT_EQ("memory table \"t\": argument holds a NUL byte 'path='a'",
            ErrorOf("memory", {"path='a\0b'"sv, "v"}));
  EXPECT_EQ("OK", ErrorOf("memory", {"id INTEGER PRIMARY KEY", "\" cou oted col\" TEXT"}));
}

TEST(TableOptionsTest, DefaultsWhenNoOptionIsGiven) {
  Result<ParsedTable> parsed = Parse("lmdb", {"a"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const TableOptions& o = parsed->options;
  EXPECT_EQ("lmdb", o.engine);
  EXPECT_EQ("", o.path);
  EXPECT_EQ("", o.keyspace);
  EXPECT_FALSE(o.read_only);
  EXPECT_EQ(Compression::kNone, o.compression);
  EXPECT_EQ(3, o.compression_level);
  EXPECT_EQ(SyncMode::kFull, o.sync);
  EXPECT_TRUE(o.engine_options.empty());
}

TEST(TableOptionsTest, EveryCommonOptionIsParsed) {
  Result<ParsedTable> parsed =
      Parse("lmdb", {"path='app.lmdb'", "table=objects", "readonly=1", "compression=zstd",
                     "compression_level=19", "sync=normal", "a"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const TableOptions& o = parsed->options;
  EXPECT_EQ("app.lmdb", o.path);
  EXPECT_EQ("objects", o.keyspace);
  EXPECT_TRUE(o.read_only);
  EXPECT_EQ(Compression::kZstd, o.compression);
  EXPECT_EQ(19, o.compression_level);
  EXPECT_EQ(SyncMode::kNormal, o.sync);
  EXPECT_FALSE(parsed->schema.raw);
}

TEST(TableOptionsTest, ReadonlyAcceptsEachBooleanSpelling) {
  const std::pair<std::string, bool> cases[] = {
      {"readonly=1", true},      {"readonly=0", false},     {"readonly=true", true},
      {"readonly=FALSE", false}, {"readonly=on", true},     {"readonly=Off", false},
      {"readonly='1'", true},    {"readonly = true", true},
  };
  for (const auto& [arg, expected] : cases) {
    Result<ParsedTable> parsed = Parse("btree", {arg});
    ASSERT_TRUE(parsed.ok()) << arg << ": " << parsed.status().ToString();
    EXPECT_EQ(expected, parsed->options.read_only) << arg;
  }
}

TEST(TableOptionsTest, SyncAndCompressionAcceptEachValueInAnyCase) {
  EXPECT_EQ(SyncMode::kFull, Parse("btree", {"sync=FULL"})->options.sync);
  EXPECT_EQ(SyncMode::kNormal, Parse("btree", {"sync=normal"})->options.sync);
  EXPECT_EQ(SyncMode::kOff, Parse("btree", {"sync='off'"})->options.sync);
  EXPECT_EQ(Compression::kNone, Parse("btree", {"compression=None"})->options.compression);
  EXPECT_EQ(Compression::kZstd, Parse("btree", {"compression=ZSTD"})->options.compression);
  EXPECT_EQ(1, Parse("btree", {"compression_level=1"})->options.compression_level);
  EXPECT_EQ(7, Parse("btree", {"compression_level='7'"})->options.compression_level);
}

TEST(TableOptionsTest, QuotedValuesAreUnquoted) {
  EXPECT_EQ("it's here", Parse("btree", {"path='it''s here'"})->options.path);
  EXPECT_EQ("say \"hi\"", Parse("btree", {"path=\"say \"\"hi\"\"\""})->options.path);
  EXPECT_EQ("a,b (c)", Parse("btree", {"table='a,b (c)'"})->options.keyspace);
}

TEST(TableOptionsTest, BareWordValueMayHoldPathCharacters) {
  EXPECT_EQ("/srv/data/app.lmdb", Parse("lmdb", {"path=/srv/data/app.lmdb"})->options.path);
  EXPECT_EQ("../x-y.db", Parse("lmdb", {"path = ../x-y.db"})->options.path);
}

TEST(TableOptionsTest, OptionNamesAreCaseInsensitive) {
  Result<ParsedTable> parsed = Parse("lmdb", {"PATH='p'", "Table=k", "MAP_SIZE=10"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ("p", parsed->options.path);
  EXPECT_EQ("k", parsed->options.keyspace);
  EXPECT_EQ("10", parsed->options.engine_options.at("map_size"));
}

TEST(TableOptionsTest, UnknownOptionIsAnErrorListingKnownOptions) {
  EXPECT_EQ(
      "lmdb table \"t\": unknown option 'page_sise' (known: path, table, readonly, compression, "
      "compression_level, sync, map_size, max_readers)",
      ErrorOf("lmdb", {"page_sise=4096"}));
  EXPECT_EQ(
      "btree table \"t\": unknown option 'colour' (known: path, table, readonly, compression, "
      "compression_level, sync)",
      ErrorOf("btree", {"a", "colour='red'"}));
}

TEST(TableOptionsTest, OptionOfAnotherEngineIsUnknown) {
  EXPECT_EQ(
      "memory table \"t\": unknown option 'map_size' (known: path, table, readonly, "
      "compression, compression_level, sync)",
      ErrorOf("memory", {"map_size=1"}));
}

TEST(TableOptionsTest, RepeatedOptionIsAnError) {
  EXPECT_EQ("btree table \"t\": option given twice 'SYNC=off' (each option may be given once)",
            ErrorOf("btree", {"sync=full", "SYNC=off"}));
  EXPECT_EQ("lmdb table \"t\": option given twice 'map_size=2' (each option may be given once)",
            ErrorOf("lmdb", {"map_size=1", "map_size=2"}));
}

TEST(TableOptionsTest, MalformedValueNamesOptionValueAndWhatIsAllowed) {
  EXPECT_EQ("btree table \"t\": invalid value for option sync 'fast' (allowed: full, normal, off)",
            ErrorOf("btree", {"sync=fast"}));
  EXPECT_EQ(
      "btree table \"t\": invalid value for option readonly '2' (allowed: 0, 1, true, false, "
      "on, off)",
      ErrorOf("btree", {"readonly=2"}));
  EXPECT_EQ(
      "btree table \"t\": invalid value for option compression_level 'x' (allowed: an integer "
      "from 1 to 19)",
      ErrorOf("btree", {"compression_level=x"}));
  EXPECT_EQ(
      "btree table \"t\": invalid value for option compression_level '20' (allowed: an "
      "integer from 1 to 19)",
      ErrorOf("btree", {"compression_level=20"}));
  EXPECT_EQ(
      "btree table \"t\": invalid value for option compression_level '0' (allowed: an "
      "integer from 1 to 19)",
      ErrorOf("btree", {"compression_level=0"}));
  EXPECT_EQ("btree table \"t\": invalid value for option compression 'lz4' (allowed: none, zstd)",
            ErrorOf("btree", {"compression=lz4"}));
  EXPECT_EQ("btree table \"t\": invalid value for option path '' (a file or directory name)",
            ErrorOf("btree", {"path=''"}));
  EXPECT_EQ("btree table \"t\": invalid value for option table '' (a keyspace name)",
            ErrorOf("btree", {"table=\"\""}));
}

TEST(TableOptionsTest, MalformedOptionSyntaxIsAnError) {
  const std::string allowed = " (the value is a number, a quoted string or a single bare word)";
  EXPECT_EQ("btree table \"t\": malformed option 'path=a b'" + allowed,
            ErrorOf("btree", {"path=a b"}));
  EXPECT_EQ("btree table \"t\": malformed option 'path='a'b'" + allowed,
            ErrorOf("btree", {"path='a'b"}));
  EXPECT_EQ("btree table \"t\": malformed option 'path='open'" + allowed,
            ErrorOf("btree", {"path='open"}));
  EXPECT_EQ("btree table \"t\": malformed option 'sync='" + allowed, ErrorOf("btree", {"sync="}));
  EXPECT_EQ("btree table \"t\": malformed option 'table=f(x)'" + allowed,
            ErrorOf("btree", {"table=f(x)"}));
}

TEST(TableOptionsTest, EngineSpecificOptionGoesToEngineOptionsAsWritten) {
  Result<ParsedTable> parsed = Parse("lmdb", {"map_size=1GiB", "max_readers='126'", "a"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::map<std::string, std::string> expected = {{"map_size", "1GiB"}, {"max_readers", "126"}};
  EXPECT_EQ(expected, parsed->options.engine_options);
}

TEST(TableOptionsTest, ManifoldModuleChoosesEngineWithEngineOption) {
  // engine= may come after the engine's own options.
  Result<ParsedTable> parsed = Parse("manifold", {"map_size=4096", "a", "engine=LMDB"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ("lmdb", parsed->options.engine);
  EXPECT_EQ("4096", parsed->options.engine_options.at("map_size"));

  EXPECT_EQ("memory", Parse("manifold", {"engine='memory'"})->options.engine);
}

TEST(TableOptionsTest, ManifoldModuleUsesDefaultEngineWithoutEngineOption) {
  Result<ParsedTable> parsed = ParseTableArguments("manifold", "t", {"a"}, "memory", TestEngines());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ("memory", parsed->options.engine);
  EXPECT_EQ(
      "manifold table \"t\": unknown option 'map_size' (known: path, table, readonly, "
      "compression, compression_level, sync, engine)",
      ErrorOf("manifold", {"map_size=1"}));
}

TEST(TableOptionsTest, EngineOptionIsRejectedByEngineModules) {
  EXPECT_EQ(
      "lmdb table \"t\": unsupported option 'engine' (engine= belongs to module manifold; "
      "module lmdb always uses engine lmdb)",
      ErrorOf("lmdb", {"engine=memory"}));
}

TEST(TableOptionsTest, ModuleNameIsCaseInsensitive) {
  Result<ParsedTable> parsed = Parse("LMDB", {"a"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ("lmdb", parsed->options.engine);
}

TEST(TableOptionsTest, UnknownOrUnavailableEngineIsAClearError) {
  EXPECT_EQ(
      "rocksdb table \"t\": engine is not part of this build 'rocksdb' (available: btree, "
      "lmdb, memory)",
      ErrorOf("rocksdb", {"a"}));
  EXPECT_EQ(
      "manifold table \"t\": engine is not part of this build 'rocksdb' (available: btree, "
      "lmdb, memory)",
      ErrorOf("manifold", {"engine=rocksdb"}));
  EXPECT_EQ("sqlitekv table \"t\": unknown engine 'sqlitekv' (available: btree, lmdb, memory)",
            ErrorOf("sqlitekv", {"a"}));
  EXPECT_EQ("manifold table \"t\": unknown engine 'leveldb' (available: btree, lmdb, memory)",
            ErrorOf("manifold", {"engine=leveldb"}));
}

TEST(TableOptionsTest, RegisteredEnginesDecideWithoutAnExplicitList) {
  for (const EngineInfo& info : RegisteredEngines()) {
    Result<ParsedTable> parsed = ParseTableArguments(info.name, "t", {"a"}, "btree");
    EXPECT_EQ(info.available, parsed.ok()) << info.name << ": " << parsed.status().ToString();
    if (!info.available) {
      EXPECT_NE(std::string::npos, parsed.status().message().find("is not part of this build"));
    }
  }
}

TEST(TableOptionsTest, ErrorNamesTheTable) {
  Result<ParsedTable> parsed = Parse("btree", {"sync=fast"}, "users");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(0u, parsed.status().message().rfind("btree table \"users\": ", 0));
}

// ---------------------------------------------------------------------------
// Column definitions

TEST(ColumnDefinitionTest, NamesMayBeQuotedInEveryStyle) {
  TableSchema schema =
      SchemaOf({"plain", "\"x y\"", "[sq uare]", "`back``tick`", "'single'", "\"dq\"\"inside\""});
  ASSERT_EQ(6u, schema.columns.size());
  EXPECT_EQ("plain", schema.columns[0].name);
  EXPECT_EQ("x y", schema.columns[1].name);
  EXPECT_EQ("sq uare", schema.columns[2].name);
  EXPECT_EQ("back`tick", schema.columns[3].name);
  EXPECT_EQ("single", schema.columns[4].name);
  EXPECT_EQ("dq\"inside", schema.columns[5].name);
}

TEST(ColumnDefinitionTest, DeclaredTypeIsKeptAsSqliteRecordsIt) {
  TableSchema schema =
      SchemaOf({"a", "b VARCHAR(20)", "c DOUBLE PRECISION", "d UNSIGNED BIG INT", "e varchar( 20 )",
                "f DOUBLE   PRECISION NOT NULL", "g DECIMAL(10, -2)", "h \"my type\"",
                "i \"my\" \"type\"", "j 'x''y'"});
  std::vector<std::string> types;
  for (const ColumnDef& c : schema.columns) types.push_back(c.declared_type);
  std::vector<std::string> expected = {"",
                                       "VARCHAR(20)",
                                       "DOUBLE PRECISION",
                                       "UNSIGNED BIG INT",
                                       "varchar( 20 )",
                                       "DOUBLE   PRECISION",
                                       "DECIMAL(10, -2)",
                                       "my type",
                                       "my",
                                       "x'y"};
  EXPECT_EQ(expected, types);
}

TEST(ColumnDefinitionTest, AffinityFollowsDeclaredType) {
  TableSchema schema =
      SchemaOf({"a", "b INT", "c TEXT", "d BLOB", "e REAL", "f NUMERIC", "g VARCHAR(5)",
                "h DOUBLE PRECISION", "i BIGINT", "j DECIMAL(10,2)"});
  std::vector<Affinity> affinities;
  for (const ColumnDef& c : schema.columns) affinities.push_back(c.affinity);
  std::vector<Affinity> expected = {Affinity::kBlob,   Affinity::kInteger, Affinity::kText,
                                    Affinity::kBlob,   Affinity::kReal,    Affinity::kNumeric,
                                    Affinity::kText,   Affinity::kReal,    Affinity::kInteger,
                                    Affinity::kNumeric};
  EXPECT_EQ(expected, affinities);
}

TEST(ColumnDefinitionTest, NotNullNullCollateAndConstraintNamesAreAccepted) {
  TableSchema schema =
      SchemaOf({"a TEXT NOT NULL", "b NULL", "c TEXT COLLATE nocase", "d COLLATE \"RTRIM\"",
                "e CONSTRAINT nn NOT NULL CONSTRAINT c COLLATE BINARY", "f INT CONSTRAINT dangling",
                "g -- a comment\n TEXT /* and another */ NOT NULL"});
  ASSERT_EQ(7u, schema.columns.size());
  EXPECT_TRUE(schema.columns[0].not_null);
  EXPECT_FALSE(schema.columns[1].not_null);
  EXPECT_EQ("NOCASE", schema.columns[2].collation);
  EXPECT_EQ("RTRIM", schema.columns[3].collation);
  EXPECT_EQ("", schema.columns[3].declared_type);
  EXPECT_TRUE(schema.columns[4].not_null);
  EXPECT_EQ("BINARY", schema.columns[4].collation);
  EXPECT_EQ("INT", schema.columns[5].declared_type);
  EXPECT_EQ("g", schema.columns[6].name);
  EXPECT_EQ("TEXT", schema.columns[6].declared_type);
  EXPECT_TRUE(schema.columns[6].not_null);
  EXPECT_EQ(KeyKind::kRowid, schema.key_kind);
}

TEST(ColumnDefinitionTest, ColumnNamedLikeAnOptionIsAColumn) {
  Result<ParsedTable> parsed = Parse("btree", {"path TEXT", "sync", "table_name INT"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(3u, parsed->schema.columns.size());
  EXPECT_EQ("path", parsed->schema.columns[0].name);
  EXPECT_EQ("sync", parsed->schema.columns[1].name);
  EXPECT_EQ("", parsed->options.path);
}

TEST(ColumnDefinitionTest, UniqueOnTheSoleKeyColumnIsAccepted) {
  TableSchema schema = SchemaOf({"k TEXT PRIMARY KEY UNIQUE", "v"});
  EXPECT_EQ(KeyKind::kSingleKey, schema.key_kind);
}

TEST(ColumnDefinitionTest, UnsupportedColumnConstraintsAreNamed) {
  const std::string supported = "manifold tables support PRIMARY KEY, NOT NULL, NULL, COLLATE";
  EXPECT_EQ(
      "btree table \"t\": unsupported CHECK constraint in 'a INT CHECK(a > 0)' (" + supported + ")",
      ErrorOf("btree", {"a INT CHECK(a > 0)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported DEFAULT in 'b INT DEFAULT 3' (SQLite passes an omitted "
      "column to a virtual table as NULL, so a default cannot be told apart from an explicit "
      "NULL)",
      ErrorOf("btree", {"a", "b INT DEFAULT 3"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported REFERENCES (foreign key) in 'p INT REFERENCES "
      "parent(id)' (" +
          supported + ")",
      ErrorOf("btree", {"p INT REFERENCES parent(id)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported generated column in 'g INT GENERATED ALWAYS AS "
      "(1)' (" +
          supported + ")",
      ErrorOf("btree", {"g INT GENERATED ALWAYS AS (1)"}));
  EXPECT_EQ("btree table \"t\": unsupported generated column in 'g AS (a + 1) STORED' (" +
                supported + ")",
            ErrorOf("btree", {"g AS (a + 1) STORED"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported UNIQUE on a column that is not the primary key in 'u "
      "TEXT UNIQUE' (only the primary key is unique)",
      ErrorOf("btree", {"u TEXT UNIQUE"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported UNIQUE on a column that is not the primary key in 'a "
      "UNIQUE' (only the primary key is unique)",
      ErrorOf("btree", {"a UNIQUE", "b", "PRIMARY KEY(a, b)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported ON CONFLICT clause in 'a NOT NULL ON CONFLICT IGNORE' "
      "(write INSERT OR REPLACE, OR IGNORE, ... in the statement instead)",
      ErrorOf("btree", {"a NOT NULL ON CONFLICT IGNORE"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported ON CONFLICT clause in 'a PRIMARY KEY ON CONFLICT "
      "REPLACE' (write INSERT OR REPLACE, OR IGNORE, ... in the statement instead)",
      ErrorOf("btree", {"a PRIMARY KEY ON CONFLICT REPLACE"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported AUTOINCREMENT in 'id INTEGER PRIMARY KEY AUTOINCREMENT' "
      "(INTEGER PRIMARY KEY without AUTOINCREMENT assigns rowids as SQLite does)",
      ErrorOf("btree", {"id INTEGER PRIMARY KEY AUTOINCREMENT"}));
}

TEST(ColumnDefinitionTest, TypeWithTheWordHiddenIsAnError) {
  // sqlite3_declare_vtab would hide the column, which a native table never does.
  EXPECT_EQ(
      "btree table \"t\": unsupported declared type 'TEXT hidden' in 'a TEXT hidden' (SQLite "
      "hides a virtual table column whose type has the word HIDDEN)",
      ErrorOf("btree", {"a TEXT hidden"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported declared type 'HIDDEN' in 'b \"HIDDEN\"' (SQLite hides "
      "a virtual table column whose type has the word HIDDEN)",
      ErrorOf("btree", {"a", "b \"HIDDEN\""}));
  EXPECT_EQ("OK", ErrorOf("btree", {"a hiddenness", "b unhidden"}));
}

TEST(ColumnDefinitionTest, CollationRulesAreEnforced) {
  EXPECT_EQ(
      "btree table \"t\": unknown collation 'french' in 'a TEXT COLLATE french' (known: "
      "BINARY, NOCASE, RTRIM)",
      ErrorOf("btree", {"a TEXT COLLATE french"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported COLLATE NOCASE on key column 'k' in 'k TEXT PRIMARY KEY "
      "COLLATE NOCASE' (key columns compare as BINARY)",
      ErrorOf("btree", {"k TEXT PRIMARY KEY COLLATE NOCASE"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported COLLATE RTRIM on key column 'k' in 'k TEXT COLLATE "
      "RTRIM' (key columns compare as BINARY)",
      ErrorOf("btree", {"k TEXT COLLATE RTRIM", "PRIMARY KEY(k)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported COLLATE NOCASE on a key column in 'PRIMARY KEY(k "
      "COLLATE NOCASE)' (key columns compare as BINARY)",
      ErrorOf("btree", {"k TEXT", "PRIMARY KEY(k COLLATE NOCASE)"}));
  EXPECT_EQ("OK", ErrorOf("btree", {"k TEXT", "PRIMARY KEY(k COLLATE binary DESC)"}));
}

TEST(ColumnDefinitionTest, DuplicateColumnNamesAreAnErrorIgnoringCase) {
  EXPECT_EQ(
      "btree table \"t\": duplicate column name 'A' in 'A TEXT' (column names differ ignoring "
      "case)",
      ErrorOf("btree", {"a INT", "A TEXT"}));
  EXPECT_EQ(
      "btree table \"t\": duplicate column name 'x y' in '[x y]' (column names differ ignoring "
      "case)",
      ErrorOf("btree", {"\"X Y\"", "[x y]"}));
}

TEST(ColumnDefinitionTest, PrimaryKeyMistakesAreErrors) {
  EXPECT_EQ(
      "btree table \"t\": more than one PRIMARY KEY in 'b PRIMARY KEY' (a table has one "
      "primary key)",
      ErrorOf("btree", {"a PRIMARY KEY", "b PRIMARY KEY"}));
  EXPECT_EQ(
      "btree table \"t\": more than one PRIMARY KEY in 'a PRIMARY KEY' (a table has one "
      "primary key)",
      ErrorOf("btree", {"a PRIMARY KEY", "b", "PRIMARY KEY(b)"}));
  EXPECT_EQ(
      "btree table \"t\": more than one PRIMARY KEY in 'PRIMARY KEY(b)' (a table has one "
      "primary key)",
      ErrorOf("btree", {"a", "b", "PRIMARY KEY(a)", "PRIMARY KEY(b)"}));
  EXPECT_EQ(
      "btree table \"t\": more than one PRIMARY KEY in 'a PRIMARY KEY PRIMARY KEY' (a table "
      "has one primary key)",
      ErrorOf("btree", {"a PRIMARY KEY PRIMARY KEY"}));
  EXPECT_EQ("btree table \"t\": PRIMARY KEY names unknown column 'c' in 'PRIMARY KEY(a, c)'",
            ErrorOf("btree", {"a", "b", "PRIMARY KEY(a, c)"}));
  EXPECT_EQ("btree table \"t\": PRIMARY KEY names column 'a' twice in 'PRIMARY KEY(a, A)'",
            ErrorOf("btree", {"a", "b", "PRIMARY KEY(a, A)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported AUTOINCREMENT in 'PRIMARY KEY(a AUTOINCREMENT)' "
      "(INTEGER PRIMARY KEY without AUTOINCREMENT assigns rowids as SQLite does)",
      ErrorOf("btree", {"a INTEGER", "PRIMARY KEY(a AUTOINCREMENT)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported ON CONFLICT clause in 'PRIMARY KEY(a) ON CONFLICT "
      "FAIL' (write INSERT OR REPLACE, OR IGNORE, ... in the statement instead)",
      ErrorOf("btree", {"a", "PRIMARY KEY(a) ON CONFLICT FAIL"}));
}

TEST(ColumnDefinitionTest, UnsupportedTableConstraintsAreNamed) {
  const std::string allowed = " (only PRIMARY KEY(...) is supported as a table constraint)";
  EXPECT_EQ("btree table \"t\": unsupported UNIQUE table constraint 'UNIQUE(a, b)'" + allowed,
            ErrorOf("btree", {"a", "b", "UNIQUE(a, b)"}));
  EXPECT_EQ("btree table \"t\": unsupported CHECK table constraint 'CHECK(a < b)'" + allowed,
            ErrorOf("btree", {"a", "b", "CHECK(a < b)"}));
  EXPECT_EQ(
      "btree table \"t\": unsupported FOREIGN KEY table constraint 'CONSTRAINT fk FOREIGN "
      "KEY(a) REFERENCES p(id)'" +
          allowed,
      ErrorOf("btree", {"a", "CONSTRAINT fk FOREIGN KEY(a) REFERENCES p(id)"}));
}

TEST(ColumnDefinitionTest, SyntaxErrorsQuoteTheArgument) {
  const std::string expected = " (expected a column definition, PRIMARY KEY(...) or name=value)";
  EXPECT_EQ("btree table \"t\": unterminated quote in 'a \"TEXT'", ErrorOf("btree", {"a \"TEXT"}));
  EXPECT_EQ("btree table \"t\": unterminated quote in '[a'", ErrorOf("btree", {"[a"}));
  EXPECT_EQ("btree table \"t\": malformed number in 'a VARCHAR(20x)'",
            ErrorOf("btree", {"a VARCHAR(20x)"}));
  EXPECT_EQ("btree table \"t\": incomplete definition 'a VARCHAR(20'" + expected,
            ErrorOf("btree", {"a VARCHAR(20"}));
  EXPECT_EQ("btree table \"t\": unexpected 'x' in 'a VARCHAR(x)'" + expected,
            ErrorOf("btree", {"a VARCHAR(x)"}));
  EXPECT_EQ("btree table \"t\": unexpected ')' in 'a INT NOT NULL)'" + expected,
            ErrorOf("btree", {"a INT NOT NULL)"}));
  EXPECT_EQ("btree table \"t\": unexpected 'a' in 'PRIMARY KEY a'" + expected,
            ErrorOf("btree", {"a", "PRIMARY KEY a"}));
  EXPECT_EQ("btree table \"t\": incomplete definition 'a NOT'" + expected,
            ErrorOf("btree", {"a NOT"}));
  EXPECT_EQ("btree table \"t\": unexpected '=' in 'a INT = 5'" + expected,
            ErrorOf("btree", {"a INT = 5"}));
  // Only a bare name makes an option: a quoted one starts a column definition.
  EXPECT_EQ("btree table \"t\": unexpected '=' in '\"path\"=5'" + expected,
            ErrorOf("btree", {"\"path\"=5"}));
  EXPECT_EQ("btree table \"t\": empty argument ''" + expected, ErrorOf("btree", {""}));
  EXPECT_EQ(
      "btree table \"t\": column definition after a table constraint 'b' (table constraints "
      "come after every column, as in CREATE TABLE)",
      ErrorOf("btree", {"a", "PRIMARY KEY(a)", "b"}));
}

// ---------------------------------------------------------------------------
// Key kinds

TEST(KeyKindTest, NoPrimaryKeyIsRowidTable) {
  TableSchema schema = SchemaOf({"a", "b"});
  EXPECT_EQ(KeyKind::kRowid, schema.key_kind);
  EXPECT_TRUE(schema.key_columns.empty());
  EXPECT_EQ(-1, schema.columns[0].key_position);
}

TEST(KeyKindTest, IntegerPrimaryKeyIsTheRowid) {
  for (std::string_view arg : {"id INTEGER PRIMARY KEY", "id integer primary key asc",
                               "id \"INTEGER\" PRIMARY KEY", "id Integer PRIMARY KEY NOT NULL"}) {
    TableSchema schema = SchemaOf({arg, "v TEXT"});
    EXPECT_EQ(KeyKind::kIntegerPrimaryKey, schema.key_kind) << arg;
    EXPECT_EQ(std::vector<int>{0}, schema.key_columns) << arg;
    EXPECT_EQ(0, schema.columns[0].key_position);
  }
  EXPECT_FALSE(SchemaOf({"id INTEGER PRIMARY KEY", "v"}).columns[0].not_null);
}

TEST(KeyKindTest, OtherIntegerLookalikesAreNotTheRowid) {
  for (std::string_view arg : {"id INTEGER PRIMARY KEY DESC", "id INT PRIMARY KEY",
                               "id INTEGER(8) PRIMARY KEY", "id BIGINT PRIMARY KEY",
                               "id \"INTEGER \" PRIMARY KEY", "id UNSIGNED INTEGER PRIMARY KEY"}) {
    TableSchema schema = SchemaOf({arg, "v"});
    EXPECT_EQ(KeyKind::kSingleKey, schema.key_kind) << arg;
    EXPECT_TRUE(schema.columns[0].not_null) << arg;
  }
  EXPECT_EQ(SortOrder::kDesc, SchemaOf({"id INTEGER PRIMARY KEY DESC"}).columns[0].key_order);
}

TEST(KeyKindTest, TableConstraintOnIntegerColumnIsTheRowidEvenDesc) {
  // sqlite3AddPrimaryKey ignores the DESC of a table constraint.
  for (std::string_view key : {"PRIMARY KEY(a)", "PRIMARY KEY(a DESC)", "PRIMARY KEY (A ASC)",
                               "CONSTRAINT pk PRIMARY KEY([a])"}) {
    TableSchema schema = SchemaOf({"a INTEGER", "b", key});
    EXPECT_EQ(KeyKind::kIntegerPrimaryKey, schema.key_kind) << key;
    EXPECT_EQ(SortOrder::kAsc, schema.columns[0].key_order) << key;
  }
}

TEST(KeyKindTest, SingleKeyColumnIsNotNullWithItsOrder) {
  TableSchema schema = SchemaOf({"k TEXT", "v", "PRIMARY KEY(k DESC)"});
  EXPECT_EQ(KeyKind::kSingleKey, schema.key_kind);
  EXPECT_EQ(std::vector<int>{0}, schema.key_columns);
  EXPECT_TRUE(schema.columns[0].not_null);
  EXPECT_EQ(SortOrder::kDesc, schema.columns[0].key_order);
  EXPECT_FALSE(schema.columns[1].not_null);
}

TEST(KeyKindTest, CompositeKeyKeepsColumnOrderAndDirections) {
  TableSchema schema = SchemaOf({"a", "b TEXT", "c INTEGER", "PRIMARY KEY(c, a DESC)"});
  EXPECT_EQ(KeyKind::kCompositeKey, schema.key_kind);
  EXPECT_EQ((std::vector<int>{2, 0}), schema.key_columns);
  EXPECT_EQ(0, schema.columns[2].key_position);
  EXPECT_EQ(1, schema.columns[0].key_position);
  EXPECT_EQ(-1, schema.columns[1].key_position);
  EXPECT_EQ(SortOrder::kAsc, schema.columns[2].key_order);
  EXPECT_EQ(SortOrder::kDesc, schema.columns[0].key_order);
  EXPECT_TRUE(schema.columns[0].not_null);
  EXPECT_TRUE(schema.columns[2].not_null);
  EXPECT_FALSE(schema.columns[1].not_null);
}

TEST(KeyKindTest, OptionsOnlyGiveTheRawView) {
  for (const std::vector<std::string_view>& args :
       {std::vector<std::string_view>{}, std::vector<std::string_view>{"path='x'", "readonly=1"}}) {
    Result<ParsedTable> parsed = Parse("lmdb", args);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    const TableSchema& schema = parsed->schema;
    EXPECT_TRUE(schema.raw);
    ASSERT_EQ(2u, schema.columns.size());
    EXPECT_EQ("key", schema.columns[0].name);
    EXPECT_EQ("BLOB", schema.columns[0].declared_type);
    EXPECT_EQ("value", schema.columns[1].name);
    EXPECT_EQ("BLOB", schema.columns[1].declared_type);
    EXPECT_EQ(Affinity::kBlob, schema.columns[1].affinity);
    EXPECT_EQ(KeyKind::kSingleKey, schema.key_kind);
    EXPECT_EQ(std::vector<int>{0}, schema.key_columns);
    EXPECT_TRUE(schema.columns[0].not_null);
  }
  EXPECT_FALSE(SchemaOf({"key BLOB PRIMARY KEY", "value BLOB"}).raw);
}

// ---------------------------------------------------------------------------
// DeclareSql, checked by real SQLite

class Db {
 public:
  Db() { EXPECT_EQ(SQLITE_OK, sqlite3_open(":memory:", &db_)); }
  ~Db() { sqlite3_close(db_); }
  sqlite3* get() { return db_; }

  // Returns "" or the error message.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
    std::string message = rc == SQLITE_OK ? "" : (error ? error : "error");
    sqlite3_free(error);
    return message;
  }

  // Returns one line per column: name|type|notnull|pk|collation.
  std::vector<std::string> Describe(const std::string& table) {
    std::vector<std::string> rows;
    sqlite3_stmt* stmt = nullptr;
    std::string sql = "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)";
    EXPECT_EQ(SQLITE_OK, sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr));
    sqlite3_bind_text(stmt, 1, table.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string name = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      std::string row = name + "|" + reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)) +
                        "|" + std::to_string(sqlite3_column_int(stmt, 2)) + "|" +
                        std::to_string(sqlite3_column_int(stmt, 3));
      const char* collation = nullptr;
      if (sqlite3_table_column_metadata(db_, "main", table.c_str(), name.c_str(), nullptr,
                                        &collation, nullptr, nullptr, nullptr) == SQLITE_OK) {
        // Collation names are case-insensitive; SQLite keeps them as written.
        std::string name = collation ? collation : "?";
        for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        row += "|" + name;
      }
      rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Declarations a user might write, each a list of module arguments.
std::vector<std::vector<std::string_view>> DeclarationCorpus() {
  return {
      {"a", "b"},
      {"a INTEGER PRIMARY KEY", "b TEXT NOT NULL"},
      {"a integer primary key desc", "b"},
      {"a INT PRIMARY KEY", "b"},
      {"a INTEGER(8) PRIMARY KEY", "b REAL"},
      {"a \"INTEGER\" PRIMARY KEY", "b"},
      {"a INTEGER", "b", "PRIMARY KEY(a DESC)"},
      {"a Integer NOT NULL", "b", "PRIMARY KEY(a)"},
      {"k TEXT PRIMARY KEY", "v"},
      {"k TEXT", "v BLOB COLLATE NOCASE", "PRIMARY KEY(k DESC)"},
      {"stream TEXT", "seq INTEGER", "body BLOB", "PRIMARY KEY (stream, seq DESC)"},
      {"a", "b", "c", "CONSTRAINT pk PRIMARY KEY(c, a)"},
      {"\"x y\" VARCHAR(20) NOT NULL", "[odd\"name] DOUBLE PRECISION",
       "`b` UNSIGNED BIG INT COLLATE RTRIM"},
      {"'q' 'x''y'", "r \"my\" \"type\"", "s \"x-y\"", "\"t\"\"u\" \"NOT NULL\""},
      {"a varchar( 20 )", "b DECIMAL(10, 2)", "c DOUBLE   PRECISION", "d NUMERIC(-1)"},
      {"a TEXT COLLATE nocase", "b NULL", "c CONSTRAINT n NOT NULL COLLATE rtrim"},
      {"k BLOB PRIMARY KEY UNIQUE", "v -- comment\n TEXT"},
      {"é TEXT", "ü INTEGER", "PRIMARY KEY(é, ü)"},
      {"path TEXT", "sync INT"},
  };
}

// The native table a user would have written: a WITHOUT ROWID table where
// manifold behaves as one.
std::string NativeSql(const std::vector<std::string_view>& args, const TableSchema& schema) {
  std::string sql = "CREATE TABLE n(";
  if (schema.raw) {
    sql += "key BLOB PRIMARY KEY, value BLOB";
  } else {
    for (size_t i = 0; i < args.size(); ++i) sql += (i ? ", " : "") + std::string(args[i]);
  }
  sql += ")";
  if (schema.key_kind == KeyKind::kSingleKey || schema.key_kind == KeyKind::kCompositeKey) {
    sql += " WITHOUT ROWID";
  }
  return sql;
}

TEST(DeclareSqlTest, TableInfoMatchesTheNativeTable) {
  std::vector<std::vector<std::string_view>> corpus = DeclarationCorpus();
  corpus.push_back({"path='x'"});  // raw
  for (const std::vector<std::string_view>& args : corpus) {
    TableSchema schema = SchemaOf(args);
    Db db;
    std::string declare = schema.DeclareSql();
    std::string native = NativeSql(args, schema);
    ASSERT_EQ("", db.Exec(declare)) << declare;
    ASSERT_EQ("", db.Exec(native)) << native;
    std::vector<std::string> expected = db.Describe("n");
    EXPECT_EQ(expected, db.Describe("x")) << declare << "\nversus " << native;
    EXPECT_EQ(schema.columns.size(), expected.size()) << native;
  }
}

// A writable virtual table that only declares the schema it is given: what
// sqlite3_declare_vtab accepts and PRAGMA table_info then shows.
struct ProbeTable {
  sqlite3_vtab base;
};
struct ProbeCursor {
  sqlite3_vtab_cursor base;
};

int ProbeConnect(sqlite3* db, void* aux, int /*argc*/, const char* const* /*argv*/,
                 sqlite3_vtab** out, char** /*error*/) {
  int rc = sqlite3_declare_vtab(db, static_cast<const std::string*>(aux)->c_str());
  if (rc != SQLITE_OK) return rc;
  auto* table = static_cast<ProbeTable*>(sqlite3_malloc(sizeof(ProbeTable)));
  if (table == nullptr) return SQLITE_NOMEM;
  memset(table, 0, sizeof(ProbeTable));
  *out = &table->base;
  return SQLITE_OK;
}
int ProbeBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 1;
  return SQLITE_OK;
}
int ProbeDisconnect(sqlite3_vtab* table) {
  sqlite3_free(table);
  return SQLITE_OK;
}
int ProbeOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* cursor = static_cast<ProbeCursor*>(sqlite3_malloc(sizeof(ProbeCursor)));
  if (cursor == nullptr) return SQLITE_NOMEM;
  memset(cursor, 0, sizeof(ProbeCursor));
  *out = &cursor->base;
  return SQLITE_OK;
}
int ProbeClose(sqlite3_vtab_cursor* cursor) {
  sqlite3_free(cursor);
  return SQLITE_OK;
}
int ProbeFilter(sqlite3_vtab_cursor*, int, const char*, int, sqlite3_value**) { return SQLITE_OK; }
int ProbeNext(sqlite3_vtab_cursor*) { return SQLITE_OK; }
int ProbeEof(sqlite3_vtab_cursor*) { return 1; }
int ProbeColumn(sqlite3_vtab_cursor*, sqlite3_context*, int) { return SQLITE_OK; }
int ProbeRowid(sqlite3_vtab_cursor*, sqlite3_int64* rowid) {
  *rowid = 0;
  return SQLITE_OK;
}
int ProbeUpdate(sqlite3_vtab*, int, sqlite3_value**, sqlite3_int64*) { return SQLITE_READONLY; }

sqlite3_module ProbeModule() {
  sqlite3_module module;
  memset(&module, 0, sizeof(module));
  module.xCreate = &ProbeConnect;
  module.xConnect = &ProbeConnect;
  module.xBestIndex = &ProbeBestIndex;
  module.xDisconnect = &ProbeDisconnect;
  module.xDestroy = &ProbeDisconnect;
  module.xOpen = &ProbeOpen;
  module.xClose = &ProbeClose;
  module.xFilter = &ProbeFilter;
  module.xNext = &ProbeNext;
  module.xEof = &ProbeEof;
  module.xColumn = &ProbeColumn;
  module.xRowid = &ProbeRowid;
  module.xUpdate = &ProbeUpdate;  // writable: SQLite is stricter about WITHOUT ROWID then
  return module;
}

TEST(DeclareSqlTest, WritableVirtualTableAcceptsItAndShowsTheNativeTableInfo) {
  static const sqlite3_module module = ProbeModule();
  std::vector<std::vector<std::string_view>> corpus = DeclarationCorpus();
  corpus.push_back({"path='x'"});  // raw
  for (const std::vector<std::string_view>& args : corpus) {
    TableSchema schema = SchemaOf(args);
    std::string declare = schema.DeclareSql();
    Db db;
    ASSERT_EQ(SQLITE_OK, sqlite3_create_module(db.get(), "probe", &module, &declare));
    ASSERT_EQ("", db.Exec("CREATE VIRTUAL TABLE v USING probe()")) << declare;
    std::string native = NativeSql(args, schema);
    ASSERT_EQ("", db.Exec(native)) << native;
    EXPECT_EQ(db.Describe("n"), db.Describe("v")) << declare << "\nversus " << native;
  }
}

TEST(DeclareSqlTest, ExactTextForEachKeyKind) {
  EXPECT_EQ("CREATE TABLE x(\"a\", \"b\" TEXT NOT NULL COLLATE NOCASE)",
            SchemaOf({"a", "b TEXT NOT NULL COLLATE NOCASE"}).DeclareSql());
  EXPECT_EQ("CREATE TABLE x(\"id\" INTEGER PRIMARY KEY, \"v\")",
            SchemaOf({"id INTEGER", "v", "PRIMARY KEY(id DESC)"}).DeclareSql());
  EXPECT_EQ("CREATE TABLE x(\"k\" TEXT NOT NULL, \"v\", PRIMARY KEY(\"k\" DESC)) WITHOUT ROWID",
            SchemaOf({"k TEXT PRIMARY KEY DESC", "v"}).DeclareSql());
  EXPECT_EQ("CREATE TABLE x(\"a\" NOT NULL, \"b\" NOT NULL, \"c\", PRIMARY KEY(\"b\" DESC, \"a\"))",
            SchemaOf({"a", "b", "c", "PRIMARY KEY(b DESC, a)"}).DeclareSql());
  EXPECT_EQ(
      "CREATE TABLE x(\"key\" BLOB NOT NULL, \"value\" BLOB, PRIMARY KEY(\"key\")) WITHOUT ROWID",
      SchemaOf({}).DeclareSql());
  EXPECT_EQ("CREATE TABLE x(\"a\"\"b\" \"x-y\")", SchemaOf({"\"a\"\"b\" \"x-y\""}).DeclareSql());
}

TEST(DeclareSqlTest, TypesHoldingKeywordsAreDeclaredSoSqliteReadsThemBack) {
  Db db;
  for (int i = 0; i < sqlite3_keyword_count(); ++i) {
    const char* name = nullptr;
    int size = 0;
    ASSERT_EQ(SQLITE_OK, sqlite3_keyword_name(i, &name, &size));
    std::string keyword(name, size);
    for (const std::string& type : {keyword, "x " + keyword, keyword + "(1)"}) {
      std::string arg = "a \"" + type + "\"";
      TableSchema schema = SchemaOf({arg});
      ASSERT_EQ(type, schema.columns[0].declared_type);
      ASSERT_EQ("", db.Exec(schema.DeclareSql())) << schema.DeclareSql();
      ASSERT_EQ("", db.Exec("CREATE TABLE n(" + arg + ")"));
      EXPECT_EQ(db.Describe("n"), db.Describe("x")) << schema.DeclareSql();
      ASSERT_EQ("", db.Exec("DROP TABLE x; DROP TABLE n"));
    }
  }
}

TEST(DeclareSqlTest, GeneratedAlwaysRemnantIsDroppedFromTheTypeAsSqliteDoes) {
  for (std::string_view arg : {"a VERYLONGTYPENAME always", "a some type always", "a short always",
                               "a \"a long quoted always\""}) {
    TableSchema schema = SchemaOf({arg});
    Db db;
    ASSERT_EQ("", db.Exec(schema.DeclareSql())) << schema.DeclareSql();
    ASSERT_EQ("", db.Exec("CREATE TABLE n(" + std::string(arg) + ")"));
    std::vector<std::string> native = db.Describe("n");
    EXPECT_EQ(native, db.Describe("x")) << schema.DeclareSql();
    EXPECT_EQ("a|" + schema.columns[0].declared_type + "|0|0|BINARY", native[0]);
  }
}

// Stores in *alias whether SQLite made the single key column of `table`
// (already created) an alias of the rowid.
void KeyIsRowidAlias(Db& db, const std::string& table, const TableSchema& schema, bool* alias) {
  // Give every non-key column a value and only the rowid for the key: an
  // alias reads back 42; otherwise the key is NULL, or the insert fails (NOT
  // NULL, or no rowid at all in a WITHOUT ROWID table).
  std::string insert = "INSERT INTO " + table + "(rowid";
  std::string values = "VALUES(42";
  for (const ColumnDef& column : schema.columns) {
    if (column.key_position >= 0) continue;
    insert += ", \"" + column.name + "\"";
    values += ", 'v'";
  }
  if (!db.Exec(insert + ") " + values + ")").empty()) {
    *alias = false;
    return;
  }
  sqlite3_stmt* stmt = nullptr;
  std::string key = schema.columns[schema.key_columns[0]].name;
  ASSERT_EQ(SQLITE_OK,
            sqlite3_prepare_v2(db.get(), ("SELECT \"" + key + "\" FROM " + table).c_str(), -1,
                               &stmt, nullptr));
  ASSERT_EQ(SQLITE_ROW, sqlite3_step(stmt));
  *alias = sqlite3_column_type(stmt, 0) == SQLITE_INTEGER && sqlite3_column_int64(stmt, 0) == 42;
  sqlite3_finalize(stmt);
}

TEST(DeclareSqlTest, IntegerPrimaryKeyExactlyWhenSqliteMakesARowidAlias) {
  int checked = 0;
  for (const std::vector<std::string_view>& args : DeclarationCorpus()) {
    TableSchema schema = SchemaOf(args);
    if (schema.key_columns.size() != 1) continue;
    SCOPED_TRACE(std::string(args[0]));
    Db db;
    std::string native = "CREATE TABLE n(";
    for (size_t i = 0; i < args.size(); ++i) native += (i ? ", " : "") + std::string(args[i]);
    ASSERT_EQ("", db.Exec(native + ")"));
    ASSERT_EQ("", db.Exec(schema.DeclareSql()));
    bool native_alias = false;
    bool declared_alias = false;
    KeyIsRowidAlias(db, "n", schema, &native_alias);
    KeyIsRowidAlias(db, "x", schema, &declared_alias);
    EXPECT_EQ(native_alias, schema.key_kind == KeyKind::kIntegerPrimaryKey);
    EXPECT_EQ(native_alias, declared_alias);
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

// ---------------------------------------------------------------------------
// Fingerprint

TEST(FingerprintTest, SameDeclarationGivesSameFingerprint) {
  EXPECT_EQ(SchemaOf({"a INT PRIMARY KEY", "b TEXT"}).Fingerprint(),
            SchemaOf({"a INT  PRIMARY  KEY ASC", "b TEXT NULL CONSTRAINT x"}).Fingerprint());
  EXPECT_EQ(Parse("lmdb", {"a", "path='x'"})->schema.Fingerprint(),
            Parse("lmdb", {"a", "path='y'", "sync=off"})->schema.Fingerprint());
  EXPECT_EQ(SchemaOf({"a TEXT", "PRIMARY KEY(a)"}).Fingerprint(),
            SchemaOf({"a TEXT PRIMARY KEY"}).Fingerprint());
}

TEST(FingerprintTest, EveryPartOfTheDeclarationChangesIt) {
  const std::vector<std::vector<std::string_view>> variants = {
      {"a TEXT", "b INT", "PRIMARY KEY(a)"},
      {"A TEXT", "b INT", "PRIMARY KEY(a)"},                 // name case
      {"a TEXT", "b INTEGER", "PRIMARY KEY(a)"},             // type
      {"a TEXT", "b INT NOT NULL", "PRIMARY KEY(a)"},        // NOT NULL
      {"a TEXT", "b INT COLLATE NOCASE", "PRIMARY KEY(a)"},  // collation
      {"a TEXT", "b INT", "PRIMARY KEY(a DESC)"},            // key order
      {"a TEXT", "b INT", "PRIMARY KEY(a, b)"},              // key columns
      {"a TEXT", "b INT", "PRIMARY KEY(b, a)"},              // key column order
      {"a TEXT", "b INT"},                                   // no key
      {"b INT", "a TEXT", "PRIMARY KEY(a)"},                 // column order
      {"a TEXT", "b INT", "c", "PRIMARY KEY(a)"},            // one more column
      {"a text", "b INT", "PRIMARY KEY(a)"},                 // type case
      {},                                                    // raw
      {"key BLOB PRIMARY KEY", "value BLOB"},                // raw look-alike
  };
  std::set<std::string> fingerprints;
  for (const auto& args : variants) {
    std::string fp = SchemaOf(args).Fingerprint();
    EXPECT_TRUE(fingerprints.insert(fp).second) << fp;
  }
}

TEST(FingerprintTest, NamesWithSeparatorsCannotCollide) {
  EXPECT_NE(SchemaOf({"\"a\"\" b\""}).Fingerprint(), SchemaOf({"a", "b"}).Fingerprint());
  EXPECT_NE(SchemaOf({"\"a, b\""}).Fingerprint(), SchemaOf({"a", "b"}).Fingerprint());
}

// ---------------------------------------------------------------------------
// Robustness

uint32_t Seed() {
  const char* env = std::getenv("MANIFOLD_SEED");
  return env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : 20240601u;
}

TEST(RobustnessTest, RandomArgumentsNeverCrashAndAcceptedOnesDeclareValidSql) {
  const uint32_t seed = Seed();
  SCOPED_TRACE("MANIFOLD_SEED=" + std::to_string(seed));
  std::mt19937 rng(seed);
  const int iterations = std::getenv("MANIFOLD_LONG") ? 200000 : 5000;
  static const char* const kPieces[] = {
      "a",
      "b",
      "k",
      " ",
      "  ",
      "(",
      ")",
      ",",
      "=",
      "'",
      "\"",
      "[",
      "]",
      "`",
      "--",
      "/*",
      "*/",
      "\n",
      "PRIMARY",
      "KEY",
      "NOT",
      "NULL",
      "COLLATE",
      "NOCASE",
      "BINARY",
      "DESC",
      "ASC",
      "INTEGER",
      "TEXT",
      "INT",
      "VARCHAR",
      "20",
      "-",
      "+",
      "1e5",
      "0x1F",
      "UNIQUE",
      "CHECK",
      "DEFAULT",
      "CONSTRAINT",
      "ON",
      "CONFLICT",
      "AUTOINCREMENT",
      "path",
      "sync",
      "map_size",
      "engine",
      "off",
      "é",
      "\xff",
      "\x80",
      "''",
      "\"\"",
      ".",
      "x y",
      "AS",
      "always",
      "hidden",
      "GENERATED",
      "ON",
      "SELECT",
      "KEY",
      "FOREIGN",
      "REFERENCES",
      "x",
  };
  int accepted = 0;
  Db db;
  static const sqlite3_module module = ProbeModule();
  std::string declare;
  ASSERT_EQ(SQLITE_OK, sqlite3_create_module(db.get(), "probe", &module, &declare));
  for (int iteration = 0; iteration < iterations; ++iteration) {
    std::vector<std::string> owned(1 + rng() % 4);
    for (std::string& arg : owned) {
      int pieces = static_cast<int>(rng() % 8);
      for (int p = 0; p < pieces; ++p) {
        if (rng() % 10 == 0) {
          arg += static_cast<char>(1 + rng() % 255);  // any byte but NUL (SQLite gives C strings)
        } else {
          arg += kPieces[rng() % (sizeof(kPieces) / sizeof(kPieces[0]))];
        }
      }
    }
    std::vector<std::string_view> args(owned.begin(), owned.end());
    std::string module = rng() % 2 ? "manifold" : "lmdb";
    Result<ParsedTable> parsed = ParseTableArguments(module, "t", args, "btree", TestEngines());
    if (!parsed.ok()) {
      ASSERT_EQ(Status::Code::kInvalidArgument, parsed.status().code());
      ASSERT_EQ(0u, parsed.status().message().rfind(module + " table \"t\": ", 0));
      continue;
    }
    ++accepted;
    const TableSchema& schema = parsed->schema;
    ASSERT_FALSE(schema.columns.empty());
    declare = schema.DeclareSql();
    ASSERT_EQ("", db.Exec("CREATE VIRTUAL TABLE x USING probe()")) << declare << "\nfrom args:\n"
                                                                   << [&] {
                                                                        std::string all;
                                                                        for (auto& a : owned)
                                                                          all += "[" + a + "]\n";
                                                                        return all;
                                                                      }();
    std::vector<std::string> described = db.Describe("x");
    ASSERT_EQ(schema.columns.size(), described.size()) << declare;
    for (size_t i = 0; i < described.size(); ++i) {
      ASSERT_EQ(0u, described[i].rfind(schema.columns[i].name + "|", 0)) << declare;
    }
    ASSERT_EQ("", db.Exec("DROP TABLE x"));
    ASSERT_FALSE(schema.Fingerprint().empty());
  }
  EXPECT_GT(accepted, iterations / 50);  // the generator does reach the success path
}

}  // namespace
}  // namespace manifold
