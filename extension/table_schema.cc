// Parsing of CREATE VIRTUAL TABLE arguments.
//
// SQLite hands each argument over as the raw text between top-level commas,
// so column definitions arrive unparsed: this file holds a small tokenizer and
// a recursive-descent parser for the subset of CREATE TABLE syntax a manifold
// table can honour. Where SQLite's own parser has a quirk that changes what a
// table is (which declared types make a rowid alias, how a declared type is
// dequoted), the quirk is reproduced and says so.
#include "table_schema.h"

#include <cstddef>
#include <set>
#include <utility>

namespace manifold {
namespace {

// ---------------------------------------------------------------------------
// Characters and words. ASCII only, locale-independent, as SQLite's tokenizer.

// As SQLite's tokenizer: \v is not whitespace there.
bool IsSpace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(unsigned char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
// Bytes >= 0x80 are identifier characters, so UTF-8 names need no quotes.
bool IsIdStart(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
bool IsIdChar(unsigned char c) { return IsIdStart(c) || IsDigit(c) || c == '$'; }

char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}
std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToUpper(c);
  return out;
}

// SQLite compares identifiers ASCII case-insensitively.
bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && IsSpace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Returns `name` as a double-quoted SQL identifier ("" inside).
std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// Removes the quotes of text that starts with a quote character, as SQLite's
// sqlite3Dequote does: the result ends at the closing quote, so the declared
// type `"my" "type"` is `my`, exactly as a native table records it.
std::string SqliteDequote(std::string_view text) {
  if (text.empty()) return std::string();
  char open = text.front();
  char close;
  switch (open) {
    case '"':
    case '\'':
    case '`':
      close = open;
      break;
    case '[':
      close = ']';
      break;
    default:
      return std::string(text);
  }
  std::string out;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] == close) {
      if (close != ']' && i + 1 < text.size() && text[i + 1] == close) {
        out += close;
        ++i;
        continue;
      }
      break;
    }
    out += text[i];
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tokens of one argument.

enum class TokenKind {
  kEnd,
  kWord,        // a bare identifier or keyword
  kQuotedName,  // "x", [x] or `x`
  kString,      // 'x'
  kNumber,      // 12, 1.5e3, 0x1F
  kPunct,       // any other single character: ( ) , = + - ...
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  size_t begin = 0;  // offsets into the argument text
  size_t end = 0;
  std::string_view text;  // as written, quotes included
};

// Splits `text` into tokens, skipping whitespace and comments as SQLite does.
// Returns false and stores the reason in *error when a quote is unterminated
// or a number runs into letters.
bool Tokenize(std::string_view text, std::vector<Token>* tokens, std::string* error) {
  size_t i = 0;
  const size_t n = text.size();
  auto at = [&](size_t k) -> unsigned char {
    return k < n ? static_cast<unsigned char>(text[k]) : 0;
  };
  while (i < n) {
    unsigned char c = at(i);
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (c == '-' && at(i + 1) == '-') {
      while (i < n && text[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && at(i + 1) == '*') {
      size_t close = text.find("*/", i + 2);
      i = close == std::string_view::npos ? n : close + 2;  // SQLite allows one open at the end
      continue;
    }
    Token token;
    token.begin = i;
    if (c == '"' || c == '\'' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : static_cast<char>(c);
      size_t k = i + 1;
      bool closed = false;
      while (k < n) {
        if (text[k] == close) {
          if (close != ']' && k + 1 < n && text[k + 1] == close) {
            k += 2;
            continue;
          }
          closed = true;
          ++k;
          break;
        }
        ++k;
      }
      if (!closed) {
        *error = "unterminated quote";
        return false;
      }
      token.kind = c == '\'' ? TokenKind::kString : TokenKind::kQuotedName;
      i = k;
    } else if (IsDigit(c) || (c == '.' && IsDigit(at(i + 1)))) {
      size_t k = i;
      if (c == '0' && (at(k + 1) == 'x' || at(k + 1) == 'X') && IsHexDigit(at(k + 2))) {
        k += 2;
        while (IsHexDigit(at(k))) ++k;
      } else {
        while (IsDigit(at(k))) ++k;
        if (at(k) == '.') {
          ++k;
          while (IsDigit(at(k))) ++k;
        }
        if ((at(k) == 'e' || at(k) == 'E') &&
            (IsDigit(at(k + 1)) ||
             ((at(k + 1) == '+' || at(k + 1) == '-') && IsDigit(at(k + 2))))) {
          k += 2;
          while (IsDigit(at(k))) ++k;
        }
      }
      if (IsIdChar(at(k))) {
        *error = "malformed number";
        return false;
      }
      token.kind = TokenKind::kNumber;
      i = k;
    } else if (IsIdStart(c)) {
      size_t k = i;
      while (IsIdChar(at(k))) ++k;
      token.kind = TokenKind::kWord;
      i = k;
    } else {
      token.kind = TokenKind::kPunct;
      ++i;
    }
    token.end = i;
    token.text = text.substr(token.begin, token.end - token.begin);
    tokens->push_back(token);
  }
  Token end;
  end.kind = TokenKind::kEnd;
  end.begin = end.end = n;
  tokens->push_back(end);
  return true;
}

bool IsName(const Token& t) {
  return t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedName ||
         t.kind == TokenKind::kString;
}

// The words that end a declared type and start a column constraint.
bool IsConstraintKeyword(std::string_view word) {
  static constexpr std::string_view kWords[] = {
      "CONSTRAINT", "PRIMARY", "NOT",        "NULL", "UNIQUE",    "CHECK",
      "DEFAULT",    "COLLATE", "REFERENCES", "AS",   "GENERATED",
  };
  for (std::string_view w : kWords) {
    if (EqualsIgnoreCase(word, w)) return true;
  }
  return false;
}

// SQLite's keywords (sqlite3_keyword_name). Some may not appear bare in a type name.
bool IsSqlKeyword(std::string_view word) {
  // Space-separated, with a space at either end, so " WORD " finds whole words.
  static constexpr std::string_view kKeywords =
      " ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT "
      "BEFORE BEGIN BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT "
      "CONSTRAINT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP "
      "DATABASE DEFAULT DEFERRABLE DEFERRED DELETE DESC DETACH DISTINCT DO DROP EACH ELSE "
      "END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS EXPLAIN FAIL FILTER FIRST FOLLOWING FOR "
      "FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING IF IGNORE IMMEDIATE IN INDEX "
      "INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL JOIN KEY LAST LEFT "
      "LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF OFFSET "
      "ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE "
      "RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING "
      "RIGHT ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO "
      "TRANSACTION TRIGGER UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL "
      "WHEN WHERE WINDOW WITH WITHOUT ";
  return kKeywords.find(" " + Upper(word) + " ") != std::string_view::npos;
}

// SQLite drops a trailing "always" (and "generated" before it) from a
// declared type of 16 or more characters, a remnant of the GENERATED ALWAYS
// grammar; `raw` is the type's text as written, before dequoting.
std::string_view StripGeneratedAlways(std::string_view raw) {
  if (raw.size() < 16 || !EqualsIgnoreCase(raw.substr(raw.size() - 6), "always")) return raw;
  raw.remove_suffix(6);
  while (!raw.empty() && IsSpace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
  if (raw.size() >= 9 && EqualsIgnoreCase(raw.substr(raw.size() - 9), "generated")) {
    raw.remove_suffix(9);
    while (!raw.empty() && IsSpace(static_cast<unsigned char>(raw.back()))) raw.remove_suffix(1);
  }
  return raw;
}

// Returns true when `type` holds the word "hidden" delimited by spaces, the
// test sqlite3_declare_vtab applies to make a column hidden.
bool HasHiddenWord(std::string_view type) {
  for (size_t i = 0; i + 6 <= type.size(); ++i) {
    if (EqualsIgnoreCase(type.substr(i, 6), "hidden") && (i == 0 || type[i - 1] == ' ') &&
        (i + 6 == type.size() || type[i + 6] == ' ')) {
      return true;
    }
  }
  return false;
}

// Returns true when `type` reads back, unquoted, as one declared type with
// exactly this text: words that are no keyword, then at most a parenthesised
// size. Any other type is declared quoted, which SQLite dequotes.
bool IsPlainType(std::string_view type) {
  std::vector<Token> tokens;
  std::string error;
  if (type.empty() || !Tokenize(type, &tokens, &error)) return false;
  if (tokens.front().begin != 0 || tokens[tokens.size() - 2].end != type.size()) return false;
  if (StripGeneratedAlways(type).size() != type.size()) return false;
  size_t i = 0;
  while (tokens[i].kind == TokenKind::kWord && !IsSqlKeyword(tokens[i].text)) ++i;
  if (i == 0) return false;
  if (tokens[i].kind == TokenKind::kEnd) return true;
  if (tokens[i].text != "(") return false;
  ++i;
  for (int number = 0; number < 2; ++number) {
    if (tokens[i].text == "+" || tokens[i].text == "-") ++i;
    if (tokens[i].kind != TokenKind::kNumber) return false;
    ++i;
    if (tokens[i].text != ",") break;
    ++i;
  }
  return tokens[i].text == ")" && tokens[i + 1].kind == TokenKind::kEnd;
}

// ---------------------------------------------------------------------------
// Errors: "<module> table "<table>": <what> '<argument>' (<allowed>)".

class Errors {
 public:
  Errors(std::string_view module, std::string_view table)
      : prefix_(std::string(module) + " table \"" + std::string(table) + "\": ") {}

  Status operator()(std::string_view what, std::string_view argument,
                    std::string_view allowed = {}) const {
    std::string message = prefix_ + std::string(what) + " '" + std::string(argument) + "'";
    if (!allowed.empty()) message += " (" + std::string(allowed) + ")";
    return Status::InvalidArgument(std::move(message));
  }

 private:
  std::string prefix_;
};

// ---------------------------------------------------------------------------
// Options.

constexpr std::string_view kCommonOptions[] = {
    "path", "table", "readonly", "compression", "compression_level", "sync"};

// Splits `name = value` into its name and value text (quotes removed).
// Returns false when the argument is not an option at all; *malformed is set
// when it is one whose value cannot be read.
bool SplitOption(std::string_view arg, std::string* name, std::string* value, bool* malformed) {
  *malformed = false;
  // Only the name and '=' need tokens; the value is read from the raw text,
  // so a bare word may hold characters SQL would split (path=/srv/a.lmdb).
  size_t i = 0;
  while (i < arg.size() && IsSpace(static_cast<unsigned char>(arg[i]))) ++i;
  if (i >= arg.size() || !IsIdStart(static_cast<unsigned char>(arg[i]))) return false;
  size_t name_begin = i;
  while (i < arg.size() && IsIdChar(static_cast<unsigned char>(arg[i]))) ++i;
  size_t name_end = i;
  while (i < arg.size() && IsSpace(static_cast<unsigned char>(arg[i]))) ++i;
  if (i >= arg.size() || arg[i] != '=') return false;
  *name = std::string(arg.substr(name_begin, name_end - name_begin));
  std::string_view rest = Trim(arg.substr(i + 1));
  if (rest.empty()) {
    *malformed = true;
    return true;
  }
  char quote = rest.front();
  if (quote == '\'' || quote == '"') {
    std::string out;
    size_t k = 1;
    bool closed = false;
    for (; k < rest.size(); ++k) {
      if (rest[k] == quote) {
        if (k + 1 < rest.size() && rest[k + 1] == quote) {
          out += quote;
          ++k;
          continue;
        }
        closed = true;
        ++k;
        break;
      }
      out += rest[k];
    }
    if (!closed || k != rest.size()) {
      *malformed = true;
      return true;
    }
    *value = std::move(out);
    return true;
  }
  for (char c : rest) {
    if (IsSpace(static_cast<unsigned char>(c)) || c == '\'' || c == '"' || c == '(' || c == ')' ||
        c == '`' || c == '[' || c == ']') {
      *malformed = true;
      return true;
    }
  }
  *value = std::string(rest);
  return true;
}

bool ParseBool(std::string_view text, bool* out) {
  std::string v = Lower(text);
  if (v == "1" || v == "true" || v == "on") {
    *out = true;
    return true;
  }
  if (v == "0" || v == "false" || v == "off") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseLevel(std::string_view text, int* out) {
  if (text.empty() || text.size() > 2) return false;
  int level = 0;
  for (char c : text) {
    if (!IsDigit(static_cast<unsigned char>(c))) return false;
    level = level * 10 + (c - '0');
  }
  if (level < 1 || level > 19) return false;
  *out = level;
  return true;
}

// Finds the engine called `name` (case-insensitive) or says why there is none.
Result<const EngineInfo*> FindEngine(const std::vector<EngineInfo>& engines, std::string_view name,
                                     const Errors& errors) {
  std::vector<std::string> available;
  for (const EngineInfo& info : engines) {
    if (info.available) available.push_back(info.name);
  }
  std::string allowed = "available: " + (available.empty() ? "none" : Join(available));
  for (const EngineInfo& info : engines) {
    if (!EqualsIgnoreCase(info.name, name)) continue;
    if (!info.available) {
      return errors("engine is not part of this build", info.name, allowed);
    }
    return &info;
  }
  return errors("unknown engine", name, allowed);
}

// ---------------------------------------------------------------------------
// Column definitions and table constraints.

// What a column definition says beyond its ColumnDef.
struct ColumnExtra {
  bool primary_key = false;  // a column constraint PRIMARY KEY
  SortOrder primary_key_order = SortOrder::kAsc;
  bool unique = false;
  std::string arg;  // the argument, for messages
};

struct KeyPart {
  std::string name;
  SortOrder order = SortOrder::kAsc;
};

struct TablePrimaryKey {
  std::vector<KeyPart> parts;
  std::string arg;
};

class DefinitionParser {
 public:
  DefinitionParser(std::string_view arg, const Errors& errors) : arg_(arg), errors_(errors) {}

  // Tokenizes the argument; an error when it cannot be.
  Status Start() {
    std::string error;
    if (!Tokenize(arg_, &tokens_, &error)) return errors_(error + " in", arg_);
    return Status::OK();
  }

  // Returns true when the argument is a table constraint rather than a column.
  bool IsTableConstraint() const {
    static constexpr std::string_view kStarts[] = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK",
                                                   "FOREIGN"};
    if (Peek().kind != TokenKind::kWord) return false;
    for (std::string_view w : kStarts) {
      if (EqualsIgnoreCase(Peek().text, w)) return true;
    }
    return false;
  }

  Status ParseColumn(ColumnDef* column, ColumnExtra* extra) {
    extra->arg = std::string(arg_);
    const Token& name = Peek();
    if (!IsName(name) || (name.kind == TokenKind::kWord && IsConstraintKeyword(name.text))) {
      return Unexpected();
    }
    column->name = SqliteDequote(name.text);
    Advance();
    MANIFOLD_RETURN_IF_ERROR(ParseType(column));
    while (Peek().kind != TokenKind::kEnd) {
      if (AcceptWord("CONSTRAINT")) {
        if (!IsName(Peek())) return Unexpected();
        Advance();
      } else if (AcceptWord("PRIMARY")) {
        if (!AcceptWord("KEY")) return Unexpected();
        if (extra->primary_key) {
          return errors_("more than one PRIMARY KEY in", arg_, "a table has one primary key");
        }
        extra->primary_key = true;
        if (AcceptWord("DESC")) {
          extra->primary_key_order = SortOrder::kDesc;
        } else {
          AcceptWord("ASC");
        }
        MANIFOLD_RETURN_IF_ERROR(RejectOnConflict());
        MANIFOLD_RETURN_IF_ERROR(RejectAutoincrement());
      } else if (AcceptWord("NOT")) {
        if (!AcceptWord("NULL")) return Unexpected();
        column->not_null = true;
        MANIFOLD_RETURN_IF_ERROR(RejectOnConflict());
      } else if (AcceptWord("NULL")) {
        MANIFOLD_RETURN_IF_ERROR(RejectOnConflict());
      } else if (AcceptWord("UNIQUE")) {
        extra->unique = true;
        MANIFOLD_RETURN_IF_ERROR(RejectOnConflict());
      } else if (AcceptWord("COLLATE")) {
        MANIFOLD_RETURN_IF_ERROR(ParseCollation(&column->collation));
      } else if (AtWord("CHECK")) {
        return errors_("unsupported CHECK constraint in", arg_,
                       "manifold tables support PRIMARY KEY, NOT NULL, NULL, COLLATE");
      } else if (AtWord("DEFAULT")) {
        return errors_("unsupported DEFAULT in", arg_,
                       "SQLite passes an omitted column to a virtual table as NULL, so a "
                       "default cannot be told apart from an explicit NULL");
      } else if (AtWord("REFERENCES")) {
        return errors_("unsupported REFERENCES (foreign key) in", arg_,
                       "manifold tables support PRIMARY KEY, NOT NULL, NULL, COLLATE");
      } else if (AtWord("AS") || AtWord("GENERATED")) {
        return errors_("unsupported generated column in", arg_,
                       "manifold tables support PRIMARY KEY, NOT NULL, NULL, COLLATE");
      } else {
        return Unexpected();
      }
    }
    return Status::OK();
  }

  Status ParseTableConstraint(TablePrimaryKey* key) {
    key->arg = std::string(arg_);
    if (AcceptWord("CONSTRAINT")) {
      if (!IsName(Peek())) return Unexpected();
      Advance();
    }
    if (AtWord("UNIQUE")) {
      return errors_("unsupported UNIQUE table constraint", arg_,
                     "only PRIMARY KEY(...) is supported as a table constraint");
    }
    if (AtWord("CHECK")) {
      return errors_("unsupported CHECK table constraint", arg_,
                     "only PRIMARY KEY(...) is supported as a table constraint");
    }
    if (AtWord("FOREIGN")) {
      return errors_("unsupported FOREIGN KEY table constraint", arg_,
                     "only PRIMARY KEY(...) is supported as a table constraint");
    }
    if (!AcceptWord("PRIMARY") || !AcceptWord("KEY") || !AcceptPunct('(')) return Unexpected();
    for (;;) {
      KeyPart part;
      if (!IsName(Peek())) return Unexpected();
      part.name = SqliteDequote(Peek().text);
      Advance();
      if (AcceptWord("COLLATE")) {
        std::string collation;
        MANIFOLD_RETURN_IF_ERROR(ParseCollation(&collation));
        if (collation != "BINARY") {
          return errors_("unsupported COLLATE " + collation + " on a key column in", arg_,
                         "key columns compare as BINARY");
        }
      }
      if (AcceptWord("DESC")) {
        part.order = SortOrder::kDesc;
      } else {
        AcceptWord("ASC");
      }
      key->parts.push_back(std::move(part));
      MANIFOLD_RETURN_IF_ERROR(RejectAutoincrement());
      if (AcceptPunct(')')) break;
      if (!AcceptPunct(',')) return Unexpected();
    }
    MANIFOLD_RETURN_IF_ERROR(RejectOnConflict());
    if (Peek().kind != TokenKind::kEnd) return Unexpected();
    return Status::OK();
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  void Advance() {
    if (tokens_[pos_].kind != TokenKind::kEnd) ++pos_;
  }
  bool AtWord(std::string_view word) const {
    return Peek().kind == TokenKind::kWord && EqualsIgnoreCase(Peek().text, word);
  }
  bool AcceptWord(std::string_view word) {
    if (!AtWord(word)) return false;
    Advance();
    return true;
  }
  bool AcceptPunct(char c) {
    if (Peek().kind != TokenKind::kPunct || Peek().text[0] != c) return false;
    Advance();
    return true;
  }

  Status Unexpected() const {
    if (Peek().kind == TokenKind::kEnd) {
      return errors_("incomplete definition", arg_,
                     "expected a column definition, PRIMARY KEY(...) or name=value");
    }
    return errors_("unexpected '" + std::string(Peek().text) + "' in", arg_,
                   "expected a column definition, PRIMARY KEY(...) or name=value");
  }

  // type-name: words, then optionally (n) or (n, m). The declared type is the
  // text as written from the first word to the last token, then dequoted, as
  // SQLite records it.
  Status ParseType(ColumnDef* column) {
    size_t begin = Peek().begin;
    size_t end = begin;
    bool any = false;
    while (IsName(Peek()) &&
           !(Peek().kind == TokenKind::kWord && IsConstraintKeyword(Peek().text))) {
      end = Peek().end;
      any = true;
      Advance();
    }
    if (any && AcceptPunct('(')) {
      for (int number = 0; number < 2; ++number) {
        if (!AcceptPunct('+')) AcceptPunct('-');
        if (Peek().kind != TokenKind::kNumber) return Unexpected();
        Advance();
        if (!AcceptPunct(',')) break;
      }
      if (Peek().kind != TokenKind::kPunct || Peek().text != ")") return Unexpected();
      end = Peek().end;
      Advance();
    }
    if (any) {
      column->declared_type = SqliteDequote(StripGeneratedAlways(arg_.substr(begin, end - begin)));
    }
    if (HasHiddenWord(column->declared_type)) {
      return errors_("unsupported declared type '" + column->declared_type + "' in", arg_,
                     "SQLite hides a virtual table column whose type has the word HIDDEN");
    }
    return Status::OK();
  }

  Status ParseCollation(std::string* collation) {
    if (!IsName(Peek())) return Unexpected();
    std::string name = Upper(SqliteDequote(Peek().text));
    if (name != "BINARY" && name != "NOCASE" && name != "RTRIM") {
      return errors_("unknown collation '" + SqliteDequote(Peek().text) + "' in", arg_,
                     "known: BINARY, NOCASE, RTRIM");
    }
    Advance();
    *collation = std::move(name);
    return Status::OK();
  }

  Status RejectOnConflict() const {
    if (AtWord("ON")) {
      return errors_("unsupported ON CONFLICT clause in", arg_,
                     "write INSERT OR REPLACE, OR IGNORE, ... in the statement instead");
    }
    return Status::OK();
  }

  Status RejectAutoincrement() const {
    if (AtWord("AUTOINCREMENT")) {
      return errors_("unsupported AUTOINCREMENT in", arg_,
                     "INTEGER PRIMARY KEY without AUTOINCREMENT assigns rowids as SQLite does");
    }
    return Status::OK();
  }

  std::string_view arg_;
  const Errors& errors_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

// Returns the column whose name equals `name` case-insensitively, or -1.
int FindColumn(const std::vector<ColumnDef>& columns, std::string_view name) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (EqualsIgnoreCase(columns[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

// Fills in the key of `schema` from the PRIMARY KEY clauses, and the key
// kind by SQLite's rules.
Status ResolveKey(TableSchema* schema, const std::vector<ColumnExtra>& extras,
                  const std::optional<TablePrimaryKey>& table_key, const Errors& errors) {
  std::vector<ColumnDef>& columns = schema->columns;
  bool from_table_constraint = false;
  int column_key = -1;
  for (size_t i = 0; i < extras.size(); ++i) {
    if (!extras[i].primary_key) continue;
    if (column_key >= 0 || table_key) {
      return errors("more than one PRIMARY KEY in", extras[i].arg, "a table has one primary key");
    }
    column_key = static_cast<int>(i);
  }
  std::vector<SortOrder> orders;
  if (column_key >= 0) {
    schema->key_columns.push_back(column_key);
    orders.push_back(extras[column_key].primary_key_order);
  } else if (table_key) {
    from_table_constraint = true;
    for (const KeyPart& part : table_key->parts) {
      int index = FindColumn(columns, part.name);
      if (index < 0) {
        return errors("PRIMARY KEY names unknown column '" + part.name + "' in", table_key->arg);
      }
      for (int existing : schema->key_columns) {
        if (existing == index) {
          return errors("PRIMARY KEY names column '" + columns[index].name + "' twice in",
                        table_key->arg);
        }
      }
      schema->key_columns.push_back(index);
      orders.push_back(part.order);
    }
  }
  for (size_t k = 0; k < schema->key_columns.size(); ++k) {
    ColumnDef& column = columns[schema->key_columns[k]];
    if (column.collation != "BINARY") {
      return errors(
          "unsupported COLLATE " + column.collation + " on key column '" + column.name + "' in",
          extras[schema->key_columns[k]].arg, "key columns compare as BINARY");
    }
    column.key_position = static_cast<int>(k);
    column.key_order = orders[k];
  }
  for (size_t i = 0; i < extras.size(); ++i) {
    bool sole_key =
        schema->key_columns.size() == 1 && schema->key_columns[0] == static_cast<int>(i);
    if (extras[i].unique && !sole_key) {
      return errors("unsupported UNIQUE on a column that is not the primary key in", extras[i].arg,
                    "only the primary key is unique");
    }
  }

  if (schema->key_columns.empty()) {
    schema->key_kind = KeyKind::kRowid;
  } else if (schema->key_columns.size() == 1) {
    ColumnDef& column = columns[schema->key_columns[0]];
    // SQLite's rule (sqlite3AddPrimaryKey): the declared type is exactly
    // INTEGER and, for a column constraint, the order is not DESC. A table
    // constraint's DESC is ignored, so PRIMARY KEY(a DESC) is still the rowid.
    if (EqualsIgnoreCase(column.declared_type, "INTEGER") &&
        (from_table_constraint || column.key_order == SortOrder::kAsc)) {
      schema->key_kind = KeyKind::kIntegerPrimaryKey;
      column.key_order = SortOrder::kAsc;  // rows are in rowid order either way
    } else {
      schema->key_kind = KeyKind::kSingleKey;
    }
  } else {
    schema->key_kind = KeyKind::kCompositeKey;
  }
  if (schema->key_kind == KeyKind::kSingleKey || schema->key_kind == KeyKind::kCompositeKey) {
    // As in a native WITHOUT ROWID table.
    for (int index : schema->key_columns) columns[index].not_null = true;
  }
  return Status::OK();
}

}  // namespace

// ---------------------------------------------------------------------------

std::string TableSchema::DeclareSql() const {
  std::string sql = "CREATE TABLE x(";
  for (size_t i = 0; i < columns.size(); ++i) {
    const ColumnDef& column = columns[i];
    if (i > 0) sql += ", ";
    sql += QuoteIdentifier(column.name);
    if (!column.declared_type.empty()) {
      sql += ' ';
      sql += IsPlainType(column.declared_type) ? column.declared_type
                                               : QuoteIdentifier(column.declared_type);
    }
    // An INTEGER PRIMARY KEY is declared as the column constraint, with its
    // type exactly INTEGER, so that SQLite makes it the rowid.
    if (key_kind == KeyKind::kIntegerPrimaryKey && column.key_position == 0) {
      sql += " PRIMARY KEY";
    }
    if (column.not_null) sql += " NOT NULL";
    if (column.collation != "BINARY") sql += " COLLATE " + column.collation;
  }
  if (key_kind == KeyKind::kSingleKey || key_kind == KeyKind::kCompositeKey) {
    sql += ", PRIMARY KEY(";
    for (size_t k = 0; k < key_columns.size(); ++k) {
      const ColumnDef& column = columns[key_columns[k]];
      if (k > 0) sql += ", ";
      sql += QuoteIdentifier(column.name);
      if (column.key_order == SortOrder::kDesc) sql += " DESC";
    }
    sql += ")";
  }
  sql += ")";
  // SQLite refuses a writable WITHOUT ROWID virtual table with a composite
  // key, so a composite key is declared on a rowid table (PRAGMA table_info
  // still shows it) and the virtual table maps SQLite's rowid to the key.
  if (key_kind == KeyKind::kSingleKey) sql += " WITHOUT ROWID";
  return sql;
}

std::string TableSchema::Fingerprint() const {
  // Versioned, so that a later format can still read and compare an old one.
  std::string out = "manifold-schema-1 ";
  switch (key_kind) {
    case KeyKind::kRowid:
      out += "rowid";
      break;
    case KeyKind::kIntegerPrimaryKey:
      out += "integer-primary-key";
      break;
    case KeyKind::kSingleKey:
      out += "single-key";
      break;
    case KeyKind::kCompositeKey:
      out += "composite-key";
      break;
  }
  if (raw) out += " raw";
  out += " (";
  for (size_t i = 0; i < columns.size(); ++i) {
    const ColumnDef& column = columns[i];
    if (i > 0) out += ", ";
    out += QuoteIdentifier(column.name) + " " + QuoteIdentifier(column.declared_type);
    static constexpr std::string_view kAffinities[] = {"blob", "text", "numeric", "integer",
                                                       "real"};
    out += " affinity=" + std::string(kAffinities[static_cast<int>(column.affinity)]);
    if (column.not_null) out += " not-null";
    out += " collate=" + column.collation;
  }
  out += ") key(";
  for (size_t k = 0; k < key_columns.size(); ++k) {
    const ColumnDef& column = columns[key_columns[k]];
    if (k > 0) out += ", ";
    out += QuoteIdentifier(column.name);
    out += column.key_order == SortOrder::kDesc ? " desc" : " asc";
  }
  out += ")";
  return out;
}

Result<ParsedTable> ParseTableArguments(std::string_view module, std::string_view table,
                                        const std::vector<std::string_view>& args,
                                        std::string_view default_engine) {
  return ParseTableArguments(module, table, args, default_engine, RegisteredEngines());
}

Result<ParsedTable> ParseTableArguments(std::string_view module, std::string_view table,
                                        const std::vector<std::string_view>& args,
                                        std::string_view default_engine,
                                        const std::vector<EngineInfo>& engines) {
  const Errors errors(module, table);
  const bool generic_module = EqualsIgnoreCase(module, "manifold");
  // SQL text ends at a NUL byte, so SQLite never passes one; a C++ caller
  // might, and no declaration SQLite can read holds one.
  for (std::string_view arg : args) {
    if (arg.find('\0') != std::string_view::npos) {
      return errors("argument holds a NUL byte", arg.substr(0, arg.find('\0')));
    }
  }

  // The engine comes first: it decides which options exist.
  std::string engine_name(generic_module ? default_engine : module);
  for (std::string_view arg : args) {
    std::string name, value;
    bool malformed = false;
    if (generic_module && SplitOption(arg, &name, &value, &malformed) && !malformed &&
        EqualsIgnoreCase(name, "engine")) {
      engine_name = value;
      break;
    }
  }
  Result<const EngineInfo*> engine = FindEngine(engines, engine_name, errors);
  if (!engine.ok()) return engine.status();
  const EngineInfo& info = **engine;

  ParsedTable parsed;
  TableOptions& options = parsed.options;
  options.engine = info.name;
  std::vector<std::string> known(std::begin(kCommonOptions), std::end(kCommonOptions));
  if (generic_module) known.push_back("engine");
  for (const std::string& name : info.option_names) known.push_back(name);

  std::set<std::string> seen;  // lower-case option names
  std::vector<ColumnExtra> extras;
  std::optional<TablePrimaryKey> table_key;
  bool seen_table_constraint = false;
  for (std::string_view arg : args) {
    std::string name, value;
    bool malformed = false;
    if (SplitOption(arg, &name, &value, &malformed)) {
      std::string key = Lower(name);
      bool is_known = false;
      for (const std::string& k : known) is_known = is_known || EqualsIgnoreCase(k, key);
      if (!is_known) {
        if (key == "engine") {
          return errors("unsupported option", name,
                        "engine= belongs to module manifold; module " + std::string(module) +
                            " always uses engine " + info.name);
        }
        return errors("unknown option", name, "known: " + Join(known));
      }
      if (malformed) {
        return errors("malformed option", arg,
                      "the value is a number, a quoted string or a single bare word");
      }
      if (!seen.insert(key).second) {
        return errors("option given twice", arg, "each option may be given once");
      }
      auto invalid = [&](std::string_view allowed) {
        return errors("invalid value for option " + key, value, allowed);
      };
      if (key == "path") {
        if (value.empty()) return invalid("a file or directory name");
        options.path = value;
      } else if (key == "table") {
        // LMDB's unnamed main database is the keyspace ''; no other engine has one.
        if (value.empty() && info.name != "lmdb") return invalid("a keyspace name");
        options.keyspace = value;
        options.keyspace_given = true;
      } else if (key == "readonly") {
        if (!ParseBool(value, &options.read_only)) {
          return invalid("allowed: 0, 1, true, false, on, off");
        }
      } else if (key == "compression") {
        std::string v = Lower(value);
        if (v == "none") {
          options.compression = Compression::kNone;
        } else if (v == "zstd") {
          options.compression = Compression::kZstd;
        } else {
          return invalid("allowed: none, zstd");
        }
      } else if (key == "compression_level") {
        if (!ParseLevel(value, &options.compression_level)) {
          return invalid("allowed: an integer from 1 to 19");
        }
      } else if (key == "sync") {
        std::string v = Lower(value);
        if (v == "full") {
          options.sync = SyncMode::kFull;
        } else if (v == "normal") {
          options.sync = SyncMode::kNormal;
        } else if (v == "off") {
          options.sync = SyncMode::kOff;
        } else {
          return invalid("allowed: full, normal, off");
        }
      } else if (key == "engine") {
        // Resolved above.
      } else {
        for (const std::string& k : info.option_names) {
          if (EqualsIgnoreCase(k, key)) options.engine_options[k] = value;
        }
      }
      continue;
    }

    if (Trim(arg).empty()) {
      return errors("empty argument", arg,
                    "expected a column definition, PRIMARY KEY(...) or name=value");
    }
    DefinitionParser parser(arg, errors);
    MANIFOLD_RETURN_IF_ERROR(parser.Start());
    if (parser.IsTableConstraint()) {
      TablePrimaryKey key;
      MANIFOLD_RETURN_IF_ERROR(parser.ParseTableConstraint(&key));
      if (table_key) {
        return errors("more than one PRIMARY KEY in", arg, "a table has one primary key");
      }
      table_key = std::move(key);
      seen_table_constraint = true;
      continue;
    }
    if (seen_table_constraint) {
      return errors("column definition after a table constraint", arg,
                    "table constraints come after every column, as in CREATE TABLE");
    }
    ColumnDef column;
    ColumnExtra extra;
    MANIFOLD_RETURN_IF_ERROR(parser.ParseColumn(&column, &extra));
    if (FindColumn(parsed.schema.columns, column.name) >= 0) {
      return errors("duplicate column name '" + column.name + "' in", arg,
                    "column names differ ignoring case");
    }
    parsed.schema.columns.push_back(std::move(column));
    extras.push_back(std::move(extra));
  }

  TableSchema& schema = parsed.schema;
  if (schema.columns.empty() && !table_key) {
    // No declaration at all: the store's raw view.
    schema.raw = true;
    ColumnDef key;
    key.name = "key";
    key.declared_type = "BLOB";
    ColumnDef value;
    value.name = "value";
    value.declared_type = "BLOB";
    schema.columns = {key, value};
    ColumnExtra key_extra;
    key_extra.primary_key = true;
    extras = {key_extra, ColumnExtra()};
  }
  MANIFOLD_RETURN_IF_ERROR(ResolveKey(&schema, extras, table_key, errors));
  for (ColumnDef& column : schema.columns) {
    column.affinity = AffinityOfDeclaredType(column.declared_type);
  }
  return parsed;
}

}  // namespace manifold
