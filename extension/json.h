// The JSON text manifold's SQL functions return: one helper, so that every
// function quotes strings the same way.
#ifndef MANIFOLD_EXTENSION_JSON_H_
#define MANIFOLD_EXTENSION_JSON_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace manifold {

// Returns `text` as a JSON string literal: quotes and backslashes escaped,
// control characters as \uXXXX, other bytes as they are.
inline std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_JSON_H_
