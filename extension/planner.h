// The planner: xBestIndex turns a query's constraints and ORDER BY on a
// manifold table into a plan, and xFilter turns the plan plus the constraint
// values into a Scan (point lookups, or one bounded key range) in the engine's
// key order.
//
// Plan encoding (idxStr): one letter per step, each taking the next argv of
// xFilter except 'r':
//   'e'  key component = value          'i'  key component IN (list)
//   '>' '}' lower bound: >, >=          '<' '{' upper bound: <, <=
//   'L'  LIMIT n                        'O'  OFFSET n
//   'r'  scan in reverse key order (ORDER BY ... DESC on an ASC key, ...)
//   '#'  ends the steps; the rest is SQLite's colUsed in hex (bit c: column
//        c is used; bit 63: some column from 63 on), so that a cursor
//        decodes only what the statement reads. Never changes the plan.
// 'e'/'i' steps cover key components from the first; the bounds apply to the
// component after them. A plan claims (omit=1) exactly the constraints its
// Scan honours, ORDER BY only when the scan order gives it, and LIMIT/OFFSET
// only when both of those cover the whole query.
// Pure functions of their inputs; thread-safe.
#ifndef MANIFOLD_EXTENSION_PLANNER_H_
#define MANIFOLD_EXTENSION_PLANNER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "manifold/status.h"
#include "sqlite_api.h"

namespace manifold {

class Table;

// What a cursor reads. Keys are in scan order.
struct Scan {
  bool empty = false;             // no row can match
  bool lookup = false;            // read exactly `keys`
  std::vector<std::string> keys;  // lookup: sorted in scan order, unique
  bool has_start = false;         // range: first key >= start
  std::string start;
  bool has_stop = false;          // range: keys < stop
  std::string stop;
  bool reverse = false;
  int64_t limit = -1;  // rows to return at most; <0: no limit
  int64_t offset = 0;  // rows to skip first
  // Columns the statement uses (sqlite3_index_info::colUsed): bit c for
  // column c < 63, bit 63 for every column from 63 on. A hint: a cursor still
  // answers xColumn for any column.
  uint64_t columns_used = ~uint64_t{0};
};

// xBestIndex. Returns a SQLite result code.
int BestIndex(const Table& table, sqlite3_index_info* info);

// xFilter's half: builds the scan for plan `idx_str` and its values.
Status BuildScan(const Table& table, const char* idx_str, int argc, sqlite3_value** argv,
                 Scan* scan);

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_PLANNER_H_
