#include "cursor.h"

#include <cstring>
#include <utility>

#include "key_codec.h"
#include "table.h"

namespace manifold {

TableCursor::TableCursor(Table* table) : table_(table) {
  memset(static_cast<sqlite3_vtab_cursor*>(this), 0, sizeof(sqlite3_vtab_cursor));
  table_->CursorOpened();
}

TableCursor::~TableCursor() {
  Release();
  table_->CursorClosed();
}

void TableCursor::Release() {
  cursor_.reset();
  if (via_write_) table_->session().RemoveReader(this);
  via_write_ = false;
  reader_ = nullptr;
}

void TableCursor::DetachFromWriteTxn() noexcept {
  // The session forgets its readers itself after this call.
  cursor_.reset();
  via_write_ = false;
  reader_ = nullptr;
  detached_ = !eof_;
}

Status TableCursor::Acquire() {
  StoreSession& session = table_->session();
  if (WriteTxn* write = session.write_txn()) {
    if (!via_write_) session.AddReader(this);
    via_write_ = true;
    reader_ = write;
    return Status::OK();
  }
  if (snapshot_ == nullptr) {
    Result<std::shared_ptr<ReadTxn>> snapshot = session.Snapshot();
    if (!snapshot.ok()) return snapshot.status();
    snapshot_ = std::move(*snapshot);
  }
  reader_ = snapshot_.get();
  return Status::OK();
}

Status TableCursor::Filter(const char* idx_str, int argc, sqlite3_value** argv) {
  MANIFOLD_RETURN_IF_ERROR(table_->EnsureOpen());
  table_->StartStatement();
  Release();
  detached_ = false;
  eof_ = true;
  returned_ = 0;
  lookup_index_ = 0;
  MANIFOLD_RETURN_IF_ERROR(BuildScan(*table_, idx_str, argc, argv, &scan_));
  record_slots_ = table_->RecordSlotsFor(scan_.columns_used);
  if (scan_.empty) return Status::OK();
  MANIFOLD_RETURN_IF_ERROR(Acquire());
  eof_ = false;
  if (scan_.lookup) {
    MANIFOLD_RETURN_IF_ERROR(SettleLookup());
  } else {
    Result<std::unique_ptr<Cursor>> cursor = reader_->NewCursor(table_->keyspace());
    if (!cursor.ok()) return cursor.status();
    cursor_ = std::move(*cursor);
    if (!scan_.reverse) {
      if (scan_.has_start) {
        cursor_->Seek(scan_.start);
      } else {
        cursor_->SeekToFirst();
      }
    } else if (scan_.has_stop) {
      cursor_->SeekForPrev(scan_.stop);
      if (cursor_->Valid() && cursor_->key() == Bytes(scan_.stop)) cursor_->Prev();
    } else {
      cursor_->SeekToLast();
    }
    MANIFOLD_RETURN_IF_ERROR(SettleRange());
  }
  for (int64_t skipped = 0; skipped < scan_.offset && !eof_; ++skipped) {
    MANIFOLD_RETURN_IF_ERROR(Advance());
  }
  return Status::OK();
}

Status TableCursor::SettleLookup() {
  record_open_ = key_decoded_ = false;
  for (; lookup_index_ < scan_.keys.size(); ++lookup_index_) {
    Status s = reader_->Get(table_->keyspace(), scan_.keys[lookup_index_], &value_);
    if (s.ok()) {
      key_view_ = scan_.keys[lookup_index_];
      value_view_ = value_;
      return Status::OK();
    }
    if (!s.IsNotFound()) return s;
  }
  eof_ = true;
  return Status::OK();
}

Status TableCursor::SettleRange() {
  record_open_ = key_decoded_ = false;
  if (!cursor_->Valid()) {
    eof_ = true;
    return cursor_->status();
  }
  Bytes key = cursor_->key();
  if ((!scan_.reverse && scan_.has_stop && key >= Bytes(scan_.stop)) ||
      (scan_.reverse && scan_.has_start && key < Bytes(scan_.start))) {
    eof_ = true;
    return Status::OK();
  }
  Bytes value = cursor_->value();
  if (value.empty() && !cursor_->Valid()) {  // a value that failed is empty
    eof_ = true;
    Status s = cursor_->status();
    return s.ok() ? Status::Internal("cursor lost its place reading a value") : s;
  }
  Land(key, value);
  return Status::OK();
}

void TableCursor::Land(Bytes key, Bytes value) {
  if (via_write_) {
    key_.assign(key);
    value_.assign(value);
    key_view_ = key_;
    value_view_ = value_;
  } else {
    key_view_ = key;
    value_view_ = value;
  }
}

Status TableCursor::Advance() {
  if (scan_.lookup) {
    if (detached_) {
      MANIFOLD_RETURN_IF_ERROR(Acquire());
      detached_ = false;
    }
    ++lookup_index_;
    return SettleLookup();
  }
  if (detached_) {
    // The transaction we read through ended: continue after the current key
    // in whatever the connection now reads.
    MANIFOLD_RETURN_IF_ERROR(Acquire());
    Result<std::unique_ptr<Cursor>> cursor = reader_->NewCursor(table_->keyspace());
    if (!cursor.ok()) return cursor.status();
    cursor_ = std::move(*cursor);
    detached_ = false;
    if (!scan_.reverse) {
      cursor_->Seek(key_);
      if (cursor_->Valid() && cursor_->key() == Bytes(key_)) cursor_->Next();
    } else {
      cursor_->SeekForPrev(key_);
      if (cursor_->Valid() && cursor_->key() == Bytes(key_)) cursor_->Prev();
    }
    return SettleRange();
  }
  if (!(scan_.reverse ? scan_.has_start : scan_.has_stop)) {
    // No bound ahead: the step and its entry in one call to the cursor. (A
    // bounded step checks the key before it reads the value, so that the
    // entry past the range is never decoded.)
    record_open_ = key_decoded_ = false;
    Bytes key;
    Bytes value;
    if (scan_.reverse ? cursor_->PrevEntry(&key, &value) : cursor_->NextEntry(&key, &value)) {
      Land(key, value);
      return Status::OK();
    }
    eof_ = true;
    return cursor_->status();
  }
  if (scan_.reverse) {
    cursor_->Prev();
  } else {
    cursor_->Next();
  }
  return SettleRange();
}

Status TableCursor::Next() {
  ++returned_;
  if (scan_.limit >= 0 && returned_ >= scan_.limit) {
    eof_ = true;
    return Status::OK();
  }
  return Advance();
}

Status TableCursor::KeyComponent(int position, ValueRef* value) {
  if (!key_decoded_) {
    const TableSchema& schema = table_->schema();
    key_values_.resize(schema.key_columns.size());
    std::string_view in = key_view_;
    for (size_t p = 0; p < schema.key_columns.size(); ++p) {
      MANIFOLD_RETURN_IF_ERROR(
          KeyCodec::Decode(&in, schema.columns[schema.key_columns[p]].key_order, &key_values_[p]));
    }
    key_decoded_ = true;
  }
  *value = key_values_[position].ref();
  return Status::OK();
}

Status TableCursor::Column(sqlite3_context* context, int column) {
  const TableSchema& schema = table_->schema();
  if (schema.raw) {
    ResultValue(context, ValueRef::Blob(column == 0 ? key_view_ : value_view_));
    return Status::OK();
  }
  if (column == table_->ipk_column()) {
    int64_t rowid = 0;
    MANIFOLD_RETURN_IF_ERROR(KeyCodec::DecodeRowid(key_view_, &rowid));
    sqlite3_result_int64(context, rowid);
    return Status::OK();
  }
  if (!record_open_) {
    MANIFOLD_RETURN_IF_ERROR(record_.OpenPrefix(value_view_, record_slots_));
    record_open_ = true;
  }
  ValueRef value;
  int slot = table_->record_slot(column);
  if (slot >= 0) {
    MANIFOLD_RETURN_IF_ERROR(record_.Column(slot, &value));
  } else {
    int position = table_->key_position(column);
    MANIFOLD_RETURN_IF_ERROR(record_.Column(table_->hint_slot(position), &value));
    if (value.type == ValueType::kNull) MANIFOLD_RETURN_IF_ERROR(KeyComponent(position, &value));
  }
  ResultValue(context, value, &text_scratch_);
  return Status::OK();
}

Status TableCursor::Rowid(sqlite3_int64* rowid) {
  if (table_->rowid_keyed()) {
    int64_t decoded = 0;
    MANIFOLD_RETURN_IF_ERROR(KeyCodec::DecodeRowid(key_view_, &decoded));
    *rowid = decoded;
  } else {
    *rowid = table_->HandleForKey(key_view_);
  }
  return Status::OK();
}

}  // namespace manifold
