#include "planner.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include "affinity.h"
#include "key_codec.h"
#include "table.h"

namespace manifold {
namespace {

// Number of key components: the rowid, or the declared key columns.
int ComponentCount(const Table& table) {
  return table.rowid_keyed() ? 1 : static_cast<int>(table.schema().key_columns.size());
}

// Returns the key component that column `column` (-1: rowid) is, or -1.
int ComponentOf(const Table& table, int column) {
  if (table.rowid_keyed()) return (column == -1 || column == table.ipk_column()) ? 0 : -1;
  if (column < 0) return -1;  // the rowid handle of a composite key is no key
  return table.key_position(column);
}

bool ComponentDesc(const Table& table, int component) {
  if (table.rowid_keyed()) return false;
  const TableSchema& schema = table.schema();
  return schema.columns[schema.key_columns[component]].key_order == SortOrder::kDesc;
}

// A comparison of a TEXT column with a number means different things
// depending on the other operand's affinity, which SQLite does not tell a
// virtual table: a literal or parameter (no affinity) is turned into text; a
// column of BLOB affinity is compared as it is; a numeric one makes both sides
// numeric, so '2.0' and ' 2' would equal 2. When the operand is not a constant
// known at planning time, such a constraint is only advisory (omit=0): the
// scan may return more rows and SQLite itself applies the exact comparison.
bool TextComponent(const Table& table, int component) {
  if (table.rowid_keyed() || table.schema().raw) return false;
  const TableSchema& schema = table.schema();
  return schema.columns[schema.key_columns[component]].affinity == Affinity::kText;
}

// True when a value reaching a TEXT key column is one of those numbers.
bool AmbiguousForText(sqlite3_value* value) {
  int type = sqlite3_value_type(value);
  return type == SQLITE_INTEGER || type == SQLITE_FLOAT;
}

bool BinaryCollation(sqlite3_index_info* info, int constraint) {
  const char* collation = sqlite3_vtab_collation(info, constraint);
  return collation == nullptr || strcasecmp(collation, "BINARY") == 0;
}

bool IsLower(unsigned char op) {
  return op == SQLITE_INDEX_CONSTRAINT_GT || op == SQLITE_INDEX_CONSTRAINT_GE;
}
bool IsUpper(unsigned char op) {
  return op == SQLITE_INDEX_CONSTRAINT_LT || op == SQLITE_INDEX_CONSTRAINT_LE;
}

// One constraint value turned into key bytes for one component.
enum class Bound { kEmpty, kUnbounded, kValue };

// How a comparison `component <op> rhs` narrows the key space. op is one of
// '=', '>', '}' (>=), '<', '{' (<=); on kValue, *encoded is the component's
// encoding and *op may be adjusted (rowid: `> 1.5` becomes `}` 2).
Bound Encode(const Table& table, int component, char* op, sqlite3_value* rhs,
             std::string* encoded) {
  ValueRef v = RefOf(rhs);
  if (v.type == ValueType::kNull) return Bound::kEmpty;  // comparisons with NULL are never true
  const bool greater = *op == '>' || *op == '}';
  const bool less = *op == '<' || *op == '{';
  if (table.schema().raw) {
    // Keys are BLOBs; every other storage class sorts below BLOB.
    if (v.type != ValueType::kBlob) return greater ? Bound::kUnbounded : Bound::kEmpty;
    encoded->assign(v.bytes);
    return Bound::kValue;
  }
  std::string scratch;
  if (table.rowid_keyed()) {
    ValueRef n = ApplyAffinity(Affinity::kNumeric, v, &scratch);
    if (n.type == ValueType::kText || n.type == ValueType::kBlob) {
      return greater ? Bound::kEmpty : (less ? Bound::kUnbounded : Bound::kEmpty);
    }
    int64_t rowid = 0;
    if (n.type == ValueType::kInteger) {
      rowid = n.i;
    } else {
      double r = n.r;
      if (std::isnan(r)) return Bound::kEmpty;
      constexpr double kTwo63 = 9223372036854775808.0;
      if (r >= kTwo63) return less ? Bound::kUnbounded : Bound::kEmpty;
      if (r < -kTwo63) return greater ? Bound::kUnbounded : Bound::kEmpty;
      double f = std::floor(r);
      if (f == r) {
        rowid = static_cast<int64_t>(r);
      } else if (*op == '=') {
        return Bound::kEmpty;
      } else if (greater) {  // rowid > 1.5  <=>  rowid >= 2
        rowid = static_cast<int64_t>(f) + 1;
        *op = '}';
      } else {  // rowid < 1.5  <=>  rowid <= 1
        rowid = static_cast<int64_t>(f);
        *op = '{';
      }
    }
    KeyCodec::AppendRowid(rowid, encoded);
    return Bound::kValue;
  }
  const ColumnDef& column = table.schema().columns[table.schema().key_columns[component]];
  // A comparison with a numeric column applies NUMERIC affinity to the other
  // operand, not the column's own: `real_col <= 9223372036854775807` compares
  // with that exact integer, which a REAL conversion would round up to 2^63.
  const Affinity comparison =
      column.affinity == Affinity::kText || column.affinity == Affinity::kBlob
          ? column.affinity
          : Affinity::kNumeric;
  ValueRef converted = ApplyAffinity(comparison, v, &scratch);
  KeyCodec::Append(converted, column.key_order, encoded);
  return Bound::kValue;
}

// Returns the smallest key greater than every key whose component(s) end at
// `prefix`: self-delimiting components skip all extensions; raw and rowid
// keys (single component, not self-delimiting or fixed width) the next string.
std::string After(const Table& table, const std::string& prefix) {
  if (table.schema().raw || table.rowid_keyed()) return prefix + '\0';
  return KeyCodec::PrefixSuccessor(prefix);
}

}  // namespace

int BestIndex(const Table& table, sqlite3_index_info* info) {
  const int components = ComponentCount(table);
  std::string plan;
  std::vector<int> used;  // constraint index per argv, in plan order
  auto usable = [&](int i) {
    const auto& c = info->aConstraint[i];
    return c.usable && ComponentOf(table, c.iColumn) >= 0 && BinaryCollation(info, i);
  };

  // Equality on a prefix of the key.
  int eq = 0;
  for (; eq < components; ++eq) {
    int found = -1;
    for (int i = 0; i < info->nConstraint && found < 0; ++i) {
      if (usable(i) && info->aConstraint[i].op == SQLITE_INDEX_CONSTRAINT_EQ &&
          ComponentOf(table, info->aConstraint[i].iColumn) == eq) {
        found = i;
      }
    }
    if (found < 0) break;
    used.push_back(found);
    plan += 'e';
  }
  const bool full_key = eq == components;
  if (!full_key) {
    // An IN on a key prefix is not taken all at once: SQLite calls xFilter
    // once per value, in ascending value order. On a DESC component that
    // visits the rows against key order, while a native table visits them in
    // key order, and what UPDATE OR IGNORE, OR FAIL and OR REPLACE leave
    // depends on that order. Such an IN ends the prefix; SQLite checks it on
    // every row of the key-ordered scan.
    for (int k = 0; k < eq; ++k) {
      if (ComponentDesc(table, k) && sqlite3_vtab_in(info, used[k], -1)) {
        eq = k;
        used.resize(k);
        plan.resize(k);
        break;
      }
    }
  }
  int in_lists = 0;
  if (full_key) {
    // IN on a full key: all values at once, as sorted lookups.
    for (size_t k = 0; k < used.size(); ++k) {
      if (sqlite3_vtab_in(info, used[k], -1) && sqlite3_vtab_in(info, used[k], 1)) {
        plan[k] = 'i';
        ++in_lists;
      }
    }
  } else {
    int lower = -1, upper = -1;
    for (int i = 0; i < info->nConstraint; ++i) {
      if (!usable(i) || ComponentOf(table, info->aConstraint[i].iColumn) != eq) continue;
      unsigned char op = info->aConstraint[i].op;
      if (lower < 0 && IsLower(op)) lower = i;
      if (upper < 0 && IsUpper(op)) upper = i;
    }
    if (lower >= 0) {
      used.push_back(lower);
      plan += info->aConstraint[lower].op == SQLITE_INDEX_CONSTRAINT_GT ? '>' : '}';
    }
    if (upper >= 0) {
      used.push_back(upper);
      plan += info->aConstraint[upper].op == SQLITE_INDEX_CONSTRAINT_LT ? '<' : '{';
    }
  }

  // ORDER BY: consumed when its terms are consecutive key components, starting
  // after components pinned by a single '=' value, all in key order or all
  // against it (a reverse scan).
  bool order_consumed = info->nOrderBy == 0;
  bool reverse = false;
  if (info->nOrderBy > 0) {
    int pinned = 0;
    while (pinned < static_cast<int>(plan.size()) && plan[pinned] == 'e') ++pinned;
    for (int start = 0; start <= pinned && !order_consumed; ++start) {
      if (start + info->nOrderBy > components) break;
      bool forward_ok = true, backward_ok = true;
      for (int k = 0; k < info->nOrderBy; ++k) {
        const auto& term = info->aOrderBy[k];
        if (ComponentOf(table, term.iColumn) != start + k) {
          forward_ok = backward_ok = false;
          break;
        }
        bool desc = ComponentDesc(table, start + k);
        if (term.desc != desc) forward_ok = false;
        if (term.desc == desc) backward_ok = false;
      }
      if (forward_ok || backward_ok) {
        order_consumed = true;
        reverse = !forward_ok;
      }
    }
  }

  // LIMIT/OFFSET only when every other constraint is ours and the order too.
  bool all_ours = order_consumed;
  int limit = -1, offset = -1;
  for (int i = 0; i < info->nConstraint && all_ours; ++i) {
    unsigned char op = info->aConstraint[i].op;
    if (op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
      if (info->aConstraint[i].usable) limit = i;
    } else if (op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
      if (info->aConstraint[i].usable) offset = i;
    } else if (std::find(used.begin(), used.end(), i) == used.end()) {
      all_ours = false;
    }
  }
  if (all_ours && limit >= 0) {
    used.push_back(limit);
    plan += 'L';
    if (offset >= 0) {
      used.push_back(offset);
      plan += 'O';
    }
  }
  // Key constraints on a TEXT column whose operand is not a known constant
  // make the plan advisory: every key step is then marked '?' and left to
  // SQLite to check again (omit=0), since a widened scan ignores them.
  bool advisory = false;
  for (size_t k = 0; k < used.size() && k < plan.size(); ++k) {
    const int constraint = used[k];
    const unsigned char op = info->aConstraint[constraint].op;
    if (op == SQLITE_INDEX_CONSTRAINT_LIMIT || op == SQLITE_INDEX_CONSTRAINT_OFFSET) continue;
    int component = ComponentOf(table, info->aConstraint[constraint].iColumn);
    sqlite3_value* constant = nullptr;
    if (TextComponent(table, component) &&
        (plan[k] == 'i' || sqlite3_vtab_rhs_value(info, constraint, &constant) != SQLITE_OK)) {
      advisory = true;
    }
  }
  std::string marked;
  if (advisory) {
    // SQLite re-checks advisory terms on every row, so LIMIT/OFFSET and a
    // one-row promise no longer hold.
    while (!used.empty()) {
      unsigned char op = info->aConstraint[used.back()].op;
      if (op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET) break;
      used.pop_back();
    }
    for (char c : plan) {
      if (c != 'L' && c != 'O') marked += std::string("?") + c;
    }
  } else {
    marked = plan;
  }
  plan = std::move(marked);
  if (reverse) plan += 'r';

  bool next_advisory = false;
  size_t argv_index = 0;
  for (char c : plan) {
    if (c == '?') {
      next_advisory = true;
      continue;
    }
    if (c == 'r') continue;
    const int constraint = used[argv_index++];
    info->aConstraintUsage[constraint].argvIndex = static_cast<int>(argv_index);
    info->aConstraintUsage[constraint].omit = next_advisory ? 0 : 1;
    next_advisory = false;
  }
  info->orderByConsumed = order_consumed && info->nOrderBy > 0;

  // Costs: a full scan is assumed to read a million rows, a point lookup one.
  double rows = 1e6;
  if (full_key) {
    rows = in_lists > 0 ? 10.0 * in_lists : 1;
    info->estimatedCost = 10.0 * rows;
    if (in_lists == 0 && !advisory) info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  } else {
    for (int k = 0; k < eq; ++k) rows /= 100;
    for (char c : plan) {
      if (c == '>' || c == '}' || c == '<' || c == '{') rows /= 4;
    }
    if (rows < 2) rows = 2;
    info->estimatedCost = 10.0 + rows;
  }
  info->estimatedRows = static_cast<sqlite3_int64>(rows);
  info->idxNum = eq;
  // colUsed rides along after the steps; it never changes the choice above.
  info->idxStr = sqlite3_mprintf("%s#%llx", plan.c_str(),
                                 static_cast<unsigned long long>(info->colUsed));
  if (info->idxStr == nullptr) return SQLITE_NOMEM;
  info->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

Status BuildScan(const Table& table, const char* idx_str, int argc, sqlite3_value** argv,
                 Scan* scan) {
  *scan = Scan();
  std::string plan = idx_str == nullptr ? "" : idx_str;
  std::vector<std::string> prefixes{""};  // one per IN combination
  bool has_range = false;
  std::string lower, upper;
  char lower_op = 0, upper_op = 0;
  int component = 0;
  int arg = 0;
  bool advisory = false;  // the next step is advisory ('?')
  bool widened = false;   // an advisory step met an ambiguous value: ignore the rest
  if (size_t mark = plan.find('#'); mark != std::string::npos) {
    scan->columns_used = std::strtoull(plan.c_str() + mark + 1, nullptr, 16);
    plan.resize(mark);
  }
  for (char step : plan) {
    if (step == 'r') {
      scan->reverse = true;
      continue;
    }
    if (step == '?') {
      advisory = true;
      continue;
    }
    if (arg >= argc) return Status::Internal("plan '" + plan + "' is missing constraint values");
    sqlite3_value* value = argv[arg++];
    if (advisory && !widened && TextComponent(table, component)) {
      if (step == 'i') {
        sqlite3_value* item = nullptr;
        for (int rc = sqlite3_vtab_in_first(value, &item); rc == SQLITE_OK && item != nullptr;
             rc = sqlite3_vtab_in_next(value, &item)) {
          if (AmbiguousForText(item)) widened = true;
        }
      } else {
        widened = AmbiguousForText(value);
      }
    }
    advisory = false;
    if (widened) continue;  // SQLite applies this and every later term itself
    switch (step) {
      case 'e': {
        char op = '=';
        std::string encoded;
        if (Encode(table, component, &op, value, &encoded) != Bound::kValue) {
          scan->empty = true;
          return Status::OK();
        }
        for (std::string& p : prefixes) p += encoded;
        ++component;
        break;
      }
      case 'i': {
        std::vector<std::string> values;
        sqlite3_value* item = nullptr;
        int rc = sqlite3_vtab_in_first(value, &item);
        while (rc == SQLITE_OK && item != nullptr) {
          char op = '=';
          std::string encoded;
          if (Encode(table, component, &op, item, &encoded) == Bound::kValue) {
            values.push_back(std::move(encoded));
          }
          rc = sqlite3_vtab_in_next(value, &item);
        }
        if (rc != SQLITE_OK && rc != SQLITE_DONE) {
          return Status::Internal("cannot read the IN list (SQLite code " + std::to_string(rc) +
                                  ")");
        }
        std::vector<std::string> next;
        for (const std::string& p : prefixes) {
          for (const std::string& v : values) next.push_back(p + v);
        }
        prefixes = std::move(next);
        if (prefixes.empty()) {
          scan->empty = true;
          return Status::OK();
        }
        ++component;
        break;
      }
      case '>':
      case '}':
      case '<':
      case '{': {
        char op = step;
        std::string encoded;
        Bound bound = Encode(table, component, &op, value, &encoded);
        if (bound == Bound::kEmpty) {
          scan->empty = true;
          return Status::OK();
        }
        has_range = true;
        if (bound == Bound::kUnbounded) break;
        if (op == '>' || op == '}') {
          lower = std::move(encoded);
          lower_op = op;
        } else {
          upper = std::move(encoded);
          upper_op = op;
        }
        break;
      }
      case 'L': {
        scan->limit = sqlite3_value_int64(value);
        break;
      }
      case 'O': {
        int64_t offset = sqlite3_value_int64(value);
        scan->offset = offset < 0 ? 0 : offset;
        break;
      }
      default:
        return Status::Internal("unknown plan step in '" + plan + "'");
    }
  }
  // A widened scan after IN lists covers every prefix: read them all.
  if (widened && prefixes.size() > 1) prefixes = {""};
  if (scan->limit == 0) {
    scan->empty = true;
    return Status::OK();
  }

  const int components = ComponentCount(table);
  if (component == components) {
    std::sort(prefixes.begin(), prefixes.end());
    prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
    if (scan->reverse) std::reverse(prefixes.begin(), prefixes.end());
    scan->lookup = true;
    scan->keys = std::move(prefixes);
    return Status::OK();
  }

  // A range over the keys that start with `prefix`, narrowed on the next
  // component by the bounds. Bounds on a DESC component swap ends.
  const std::string& prefix = prefixes[0];
  const bool desc = ComponentDesc(table, component);
  std::string start, stop;
  bool has_start = false, has_stop = false;
  if (!prefix.empty()) {
    start = prefix;
    has_start = true;
    stop = KeyCodec::PrefixSuccessor(prefix);
    has_stop = !stop.empty();
  }
  auto narrow_start = [&](std::string s) {
    if (!has_start || s > start) start = std::move(s);
    has_start = true;
  };
  auto narrow_stop = [&](std::string s) {
    if (s.empty()) return;  // no successor: unbounded
    if (!has_stop || s < stop) stop = std::move(s);
    has_stop = true;
  };
  if (has_range && !table.rowid_keyed() && !table.schema().raw) {
    // NULL satisfies no comparison: keep NULL keys out of a range.
    std::string null_key = prefix;
    KeyCodec::Append(ValueRef::Null(), desc ? SortOrder::kDesc : SortOrder::kAsc, &null_key);
    if (desc) {
      narrow_stop(null_key);
    } else {
      std::string after_null = KeyCodec::PrefixSuccessor(null_key);
      if (after_null.empty()) {
        scan->empty = true;
        return Status::OK();
      }
      narrow_start(after_null);
    }
  }
  // In key space a lower value bound is a start on ASC and a stop on DESC.
  auto apply = [&](const std::string& encoded, char op) {
    std::string key = prefix + encoded;
    bool value_lower = op == '>' || op == '}';
    bool key_lower = value_lower != desc;
    bool inclusive = op == '}' || op == '{';
    if (key_lower) {
      if (inclusive) {
        narrow_start(key);
      } else {
        std::string after = After(table, key);
        if (after.empty()) {
          scan->empty = true;
          return;
        }
        narrow_start(after);
      }
    } else {
      narrow_stop(inclusive ? After(table, key) : key);
    }
  };
  if (lower_op != 0) apply(lower, lower_op);
  if (upper_op != 0) apply(upper, upper_op);
  if (scan->empty) return Status::OK();
  if (has_start && has_stop && start >= stop) {
    scan->empty = true;
    return Status::OK();
  }
  scan->has_start = has_start;
  scan->start = std::move(start);
  scan->has_stop = has_stop;
  scan->stop = std::move(stop);
  return Status::OK();
}

}  // namespace manifold
