#include "layout_functions.h"

#include <cstdint>
#include <new>
#include <string>
#include <string_view>

namespace manifold {
namespace {

// The bytes of a BLOB or TEXT argument (TEXT as its UTF-8 bytes), or null
// for SQL NULL.
bool ArgumentBytes(sqlite3_value* value, std::string_view* out) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return false;
  const void* data = sqlite3_value_blob(value);
  int n = sqlite3_value_bytes(value);
  *out = std::string_view(data == nullptr ? "" : static_cast<const char*>(data),
                          static_cast<size_t>(n));
  return true;
}

void Error(sqlite3_context* context, const std::string& message) {
  sqlite3_result_error(context, message.c_str(), -1);
}

// Runs a function body; no exception (std::bad_alloc from building a
// message) may cross into SQLite.
template <void (*Body)(sqlite3_context*, int, sqlite3_value**)>
void Guarded(sqlite3_context* context, int argc, sqlite3_value** argv) noexcept {
  try {
    Body(context, argc, argv);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(context);
  } catch (...) {
    sqlite3_result_error(context, "internal error: unexpected exception", -1);
  }
}

// manifold_decode_be(bytes): see layout_functions.h.
void DecodeBe(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  std::string_view bytes;
  if (!ArgumentBytes(argv[0], &bytes)) return sqlite3_result_null(context);
  if (bytes.empty() || bytes.size() > 8) {
    return Error(context,
                 "manifold_decode_be: expects 1 to 8 bytes, got " + std::to_string(bytes.size()));
  }
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  sqlite3_result_int64(context, static_cast<sqlite3_int64>(v));
}

// manifold_encode_be(integer [, n]): see layout_functions.h.
void EncodeBe(sqlite3_context* context, int argc, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return sqlite3_result_null(context);
  if (sqlite3_value_numeric_type(argv[0]) != SQLITE_INTEGER) {
    return Error(context, "manifold_encode_be: expects an integer");
  }
  int64_t n = 8;
  if (argc > 1) {
    if (sqlite3_value_numeric_type(argv[1]) != SQLITE_INTEGER) {
      return Error(context, "manifold_encode_be: the width must be an integer from 1 to 8");
    }
    n = sqlite3_value_int64(argv[1]);
    if (n < 1 || n > 8) {
      return Error(context, "manifold_encode_be: the width must be an integer from 1 to 8, not " +
                                std::to_string(n));
    }
  }
  const int64_t value = sqlite3_value_int64(argv[0]);
  if (n < 8 && (value < 0 || static_cast<uint64_t>(value) >> (8 * n) != 0)) {
    return Error(context, "manifold_encode_be: " + std::to_string(value) + " does not fit in " +
                              std::to_string(n) + " unsigned bytes");
  }
  unsigned char out[8];
  uint64_t bits = static_cast<uint64_t>(value);
  for (int64_t i = n - 1; i >= 0; --i) {
    out[i] = static_cast<unsigned char>(bits & 0xff);
    bits >>= 8;
  }
  sqlite3_result_blob(context, out, static_cast<int>(n), SQLITE_TRANSIENT);
}

// Reads one length prefix from the front of *rest; false if malformed.
bool ReadLength(std::string_view* rest, int width, uint64_t* length) {
  *length = 0;
  if (width == 0) {  // unsigned LEB128, at most 10 bytes for 64 bits
    for (int shift = 0, i = 0; i < 10; ++i, shift += 7) {
      if (rest->empty()) return false;
      unsigned char c = static_cast<unsigned char>(rest->front());
      rest->remove_prefix(1);
      if (i == 9 && c > 1) return false;  // beyond 64 bits
      *length |= static_cast<uint64_t>(c & 0x7f) << shift;
      if ((c & 0x80) == 0) return true;
    }
    return false;
  }
  if (rest->size() < static_cast<size_t>(width)) return false;
  for (int i = 0; i < width; ++i) *length = (*length << 8) | static_cast<unsigned char>((*rest)[i]);
  rest->remove_prefix(static_cast<size_t>(width));
  return true;
}

// manifold_decode_lp(bytes, n [, prefix]): see layout_functions.h.
void DecodeLp(sqlite3_context* context, int argc, sqlite3_value** argv) {
  int width = 0;
  if (argc > 2) {
    sqlite3_value* prefix = argv[2];
    const unsigned char* text = sqlite3_value_text(prefix);
    std::string spelled = text == nullptr ? "" : reinterpret_cast<const char*>(text);
    if (sqlite3_value_type(prefix) == SQLITE_TEXT && spelled == "varint") {
      width = 0;
    } else if (sqlite3_value_numeric_type(prefix) == SQLITE_INTEGER &&
               (sqlite3_value_int64(prefix) == 1 || sqlite3_value_int64(prefix) == 2 ||
                sqlite3_value_int64(prefix) == 4 || sqlite3_value_int64(prefix) == 8)) {
      width = static_cast<int>(sqlite3_value_int64(prefix));
    } else {
      return Error(context, "manifold_decode_lp: unknown length prefix '" + spelled +
                                "' (allowed: 'varint', 1, 2, 4, 8)");
    }
  }
  if (sqlite3_value_numeric_type(argv[1]) != SQLITE_INTEGER || sqlite3_value_int64(argv[1]) < 1) {
    return Error(context, "manifold_decode_lp: the field number counts from 1");
  }
  std::string_view rest;
  if (!ArgumentBytes(argv[0], &rest)) return sqlite3_result_null(context);
  const int64_t wanted = sqlite3_value_int64(argv[1]);
  for (int64_t field = 1;; ++field) {
    uint64_t length = 0;
    if (!ReadLength(&rest, width, &length) || length > rest.size()) {
      return sqlite3_result_null(context);
    }
    if (field == wanted) {
      return sqlite3_result_blob(context, rest.data(), static_cast<int>(length), SQLITE_TRANSIENT);
    }
    rest.remove_prefix(static_cast<size_t>(length));
  }
}

}  // namespace

int RegisterLayoutFunctions(sqlite3* db) {
  // Pure: the same bytes give the same answer, and they read nothing else,
  // so views and triggers may use them even under trusted_schema=OFF.
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Entry {
    const char* name;
    int argc;
    void (*function)(sqlite3_context*, int, sqlite3_value**);
  };
  const Entry entries[] = {
      {"manifold_decode_be", 1, &Guarded<DecodeBe>}, {"manifold_encode_be", 1, &Guarded<EncodeBe>},
      {"manifold_encode_be", 2, &Guarded<EncodeBe>}, {"manifold_decode_lp", 2, &Guarded<DecodeLp>},
      {"manifold_decode_lp", 3, &Guarded<DecodeLp>},
  };
  for (const Entry& e : entries) {
    int rc = sqlite3_create_function_v2(db, e.name, e.argc, flags, nullptr, e.function, nullptr,
                                        nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

}  // namespace manifold
