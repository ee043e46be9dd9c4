// Column affinity, applied exactly as a native SQLite table applies it.
// SQLite applies no affinity to values reaching a virtual table (inserted
// values, and the right-hand side of =/range constraints), so manifold does.
// Pure functions; thread-safe.
#ifndef MANIFOLD_EXTENSION_AFFINITY_H_
#define MANIFOLD_EXTENSION_AFFINITY_H_

#include <string>
#include <string_view>

#include "value.h"

namespace manifold {

enum class Affinity { kBlob, kText, kNumeric, kInteger, kReal };

// Returns the affinity of a declared column type by SQLite's rules
// (datatype3.html 3.1: INT -> INTEGER; CHAR, CLOB, TEXT -> TEXT; BLOB or no
// type -> BLOB; REAL, FLOA, DOUB -> REAL; otherwise NUMERIC).
Affinity AffinityOfDeclaredType(std::string_view declared_type);

// Returns `value` converted as storing it in a column of `affinity` would:
// TEXT that looks like a number becomes INTEGER or REAL under NUMERIC/INTEGER/
// REAL, numbers become TEXT under TEXT, REAL affinity turns integers into
// reals, and so on, matching SQLite 3.40 bit for bit (including typeof()).
// Text and blob bytes of the result live in *scratch when converted, else
// they are those of `value`.
ValueRef ApplyAffinity(Affinity affinity, const ValueRef& value, std::string* scratch);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_AFFINITY_H_
