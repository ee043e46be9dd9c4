#include "rocksdb/rocksdb_cursor.h"

#include <system_error>
#include <thread>

namespace manifold {
namespace {

rocksdb::Slice ToSlice(Bytes bytes) { return rocksdb::Slice(bytes.data(), bytes.size()); }
Bytes ToBytes(const rocksdb::Slice& slice) { return Bytes(slice.data(), slice.size()); }

}  // namespace

bool RocksdbCursor::Rebuild() {
  it_.reset();  // the old iterator may point into a batch that has changed
  if (generation_ != nullptr) seen_ = *generation_;
  Result<std::unique_ptr<rocksdb::Iterator>> made = make_();
  if (!made.ok()) {
    // The keyspace was dropped: the cursor fails at this move and every later one.
    valid_ = false;
    status_ = made.status();
    return false;
  }
  it_ = std::move(*made);
  return true;
}

void RocksdbCursor::Settle() {
  valid_ = it_->Valid();
  status_ = valid_ ? Status::OK() : FromRocksdb(it_->status(), "rocksdb cursor");
  if (valid_ && generation_ != nullptr) {
    rocksdb::Slice key = it_->key();
    key_.assign(key.data(), key.size());
  }
}

void RocksdbCursor::SeekToFirst() {
  Jumped();
  if (Stale() && !Rebuild()) return;
  it_->SeekToFirst();
  Settle();
}

void RocksdbCursor::SeekToLast() {
  Jumped();
  if (Stale() && !Rebuild()) return;
  it_->SeekToLast();
  Settle();
}

void RocksdbCursor::Seek(Bytes target) {
  Jumped();
  if (Stale() && !Rebuild()) return;
  it_->Seek(ToSlice(target));
  Settle();
}

void RocksdbCursor::SeekForPrev(Bytes target) {
  Jumped();
  if (Stale() && !Rebuild()) return;
  it_->SeekForPrev(ToSlice(target));
  Settle();
}

void RocksdbCursor::Next() {
  if (!valid_) return;
  if (Stale()) {
    // The transaction wrote since the last move: the first key after the
    // current one in the transaction's current state.
    if (!Rebuild()) return;
    it_->Seek(ToSlice(key_));
    if (it_->Valid() && ToBytes(it_->key()) == Bytes(key_)) it_->Next();
  } else {
    it_->Next();
  }
  Settle();
  Stepped(false);
}

void RocksdbCursor::Prev() {
  if (!valid_) return;
  if (Stale()) {
    if (!Rebuild()) return;
    it_->SeekForPrev(ToSlice(key_));
    if (it_->Valid() && ToBytes(it_->key()) == Bytes(key_)) it_->Prev();
  } else {
    it_->Prev();
  }
  Settle();
  Stepped(true);
}

size_t RocksdbCursor::ReadFrom(Bytes target, size_t limit, EntryVisitor visit) {
  // A write transaction's cursor keeps a copy of its key per move.
  if (generation_ != nullptr) return Cursor::ReadFrom(target, limit, visit);
  Jumped();
  if (Stale() && !Rebuild()) return 0;
  it_->Seek(ToSlice(target));
  size_t n = 0;
  if (limit > 0) {
    while (it_->Valid()) {
      ++n;
      if (!visit(ToBytes(it_->key()), ToBytes(it_->value())) || n == limit) break;
      it_->Next();
    }
  }
  Settle();  // on the last entry visited, or past the end
  return n;
}

void RocksdbCursor::Jumped() {
  DropAhead();
  run_ = 0;
}

void RocksdbCursor::Stepped(bool reverse) {
  if (!read_ahead_ || !valid_) return;
  if (ahead_ != nullptr && ahead_->inherited()) {  // a forked child: leave it be
    DropAhead();
    read_ahead_ = false;
    return;
  }
  if (ahead_ != nullptr) {
    if (ahead_->reverse() == reverse) {
      ahead_->Stepped();
      return;
    }
    DropAhead();
  }
  if (reverse != run_reverse_) {
    run_reverse_ = reverse;
    run_ = 0;
  }
  if (++run_ <= kReadAheadAfter) return;
  // On one core the thread would only take turns with the scan.
  static const bool kSpareCore = std::thread::hardware_concurrency() >= 2;
  if (!kSpareCore) {
    read_ahead_ = false;
    return;
  }
  rocksdb::Slice at = it_->key();
  RocksdbReadAhead::IteratorMaker maker = [make = make_]() -> std::unique_ptr<rocksdb::Iterator> {
    Result<std::unique_ptr<rocksdb::Iterator>> made = make();
    return made.ok() ? std::move(*made) : nullptr;
  };
  try {
    ahead_ = std::make_unique<RocksdbReadAhead>(std::move(maker), at.ToString(), reverse);
  } catch (const std::system_error&) {  // no thread to be had: the scan reads alone
    read_ahead_ = false;
  }
}

void RocksdbCursor::DropAhead() {
  if (ahead_ != nullptr && ahead_->inherited()) (void)ahead_.release();
  ahead_.reset();
}

Bytes RocksdbCursor::key() const {
  if (generation_ != nullptr) return key_;
  return ToBytes(it_->key());
}

Bytes RocksdbCursor::value() {
  if (Stale()) {
    // A write since the last move: the cursor still names key_, and reads
    // its value in the transaction's current state.
    if (!Rebuild()) return Bytes();
    it_->Seek(ToSlice(key_));
    if (!it_->Valid() || ToBytes(it_->key()) != Bytes(key_)) {
      // The write deleted the current key: it has no value any more. Drop
      // the iterator so the next move re-finds its place from key_.
      it_.reset();
      return Bytes();
    }
  }
  return ToBytes(it_->value());
}

}  // namespace manifold
