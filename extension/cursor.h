// TableCursor: a scan of one manifold table (xOpen .. xClose).
//
// Reads through the connection's write transaction on the store when one is
// live (a transaction sees its own writes), else through a snapshot shared by
// the connection's cursors on that store. The current row's key and value are
// copied, so writes through the transaction (one-pass UPDATE/DELETE) and a
// COMMIT while the statement still steps never leave it dangling.
// Not thread-safe: SQLite serializes calls on one connection.
#ifndef MANIFOLD_EXTENSION_CURSOR_H_
#define MANIFOLD_EXTENSION_CURSOR_H_

#include <memory>
#include <string>
#include <vector>

#include "manifold/engine.h"
#include "planner.h"
#include "record_codec.h"
#include "sqlite_api.h"
#include "store_session.h"
#include "value.h"

namespace manifold {

class Table;

class TableCursor : public sqlite3_vtab_cursor, public WriteTxnReader {
 public:
  explicit TableCursor(Table* table);
  ~TableCursor() override;

  Table& table() { return *table_; }

  // xFilter: starts the scan described by plan `idx_str` and its values.
  Status Filter(const char* idx_str, int argc, sqlite3_value** argv);
  // xNext. REQUIRES: !Eof().
  Status Next();
  bool Eof() const { return eof_; }
  // xColumn: sets the result to column `column` of the current row.
  Status Column(sqlite3_context* context, int column);
  // xRowid.
  Status Rowid(sqlite3_int64* rowid);

  void DetachFromWriteTxn() noexcept override;

 private:
  Status Acquire();
  void Release();
  Status SettleLookup();
  Status SettleRange();
  // Makes (key, value) the current row: views into the engine's bytes, or
  // copies of them while reading through a write transaction.
  void Land(Bytes key, Bytes value);
  Status Advance();
  Status KeyComponent(int position, ValueRef* value);

  Table* table_;
  Scan scan_;
  std::shared_ptr<ReadTxn> snapshot_;
  ReadTxn* reader_ = nullptr;
  bool via_write_ = false;
  std::unique_ptr<Cursor> cursor_;
  bool detached_ = false;  // cursor_ dropped mid-scan; reposition after key_
  size_t lookup_index_ = 0;
  int64_t returned_ = 0;
  bool eof_ = true;

  // The current row. A cursor reading a snapshot uses the engine cursor's
  // views, stable until its next move; one reading through the write
  // transaction copies them into key_/value_, since the same statement may
  // write the table under it.
  std::string key_;
  std::string value_;
  Bytes key_view_;
  Bytes value_view_;
  bool record_open_ = false;
  RecordReader record_;
  // Leading record slots the statement reads (from colUsed): the header
  // after them is parsed only if SQLite asks for a column there after all.
  int record_slots_ = -1;
  bool key_decoded_ = false;
  std::vector<Value> key_values_;
  std::string text_scratch_;  // for ResultValue
};

}  // namespace manifold

#endif  // MANIFOLD_EXTENSION_CURSOR_H_
