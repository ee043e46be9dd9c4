// RocksdbCursor: manifold's Cursor over a RocksDB iterator, either a snapshot
// iterator (read transactions) or a WriteBatchWithIndex iterator layered over
// the database (write transactions, read-your-writes).
//
// On a read snapshot of a compressed store, a scan that has gone on for
// kReadAheadAfter steps in one direction starts a RocksdbReadAhead, which
// decompresses the blocks ahead of it on another thread, until the cursor
// moves any other way (rocksdb_read_ahead.h).
//
// Thread-safety: none; owned by the thread using its transaction.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_CURSOR_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_CURSOR_H_

#include <rocksdb/iterator.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "manifold/engine.h"
#include "rocksdb/rocksdb_read_ahead.h"
#include "rocksdb/rocksdb_store.h"

namespace manifold {

class RocksdbCursor final : public Cursor {
 public:
  // Returns a new iterator, or the error the cursor fails with (its
  // keyspace was dropped by the owning transaction).
  using IteratorFactory = std::function<Result<std::unique_ptr<rocksdb::Iterator>>()>;

  // `make` builds a fresh iterator positioned nowhere. `generation`, when not
  // null, is the owning write transaction's change counter: a RocksDB
  // iterator over a batch is undefined once the batch changes, so when the
  // counter moved, the next move rebuilds the iterator and re-finds its place
  // from the saved key. `cf` keeps the column family alive. REQUIRES:
  // *generation outlives the cursor.
  // `read_ahead`: long scans read ahead (only with a null `generation`).
  RocksdbCursor(std::shared_ptr<RocksdbColumnFamily> cf, IteratorFactory make,
                const uint64_t* generation, bool read_ahead = false)
      : cf_(std::move(cf)),
        make_(std::move(make)),
        generation_(generation),
        read_ahead_(read_ahead && generation == nullptr) {}
  RocksdbCursor(const RocksdbCursor&) = delete;
  RocksdbCursor& operator=(const RocksdbCursor&) = delete;
  ~RocksdbCursor() override { DropAhead(); }

  // Steps in one direction after which a scan reads ahead.
  static constexpr size_t kReadAheadAfter = 256;

  bool Valid() const override { return valid_; }
  void SeekToFirst() override;
  void SeekToLast() override;
  void Seek(Bytes target) override;
  void SeekForPrev(Bytes target) override;
  void Next() override;
  void Prev() override;
  Bytes key() const override;
  Bytes value() override;
  Status status() const override { return status_; }
  // On a read snapshot: the iterator's own seek and steps, settling once at
  // the end (else the steps of Cursor::ReadFrom).
  size_t ReadFrom(Bytes target, size_t limit, EntryVisitor visit) override;

 private:
  bool Stale() const { return it_ == nullptr || (generation_ && seen_ != *generation_); }
  // Replaces the iterator; false (and the cursor failed) if it cannot.
  bool Rebuild();
  // Records validity, status and (for write transactions) the current key.
  void Settle();
  // A move other than a step: a scan reading ahead is over.
  void Jumped();
  // After a step that left the cursor on an entry: counts the scan's steps,
  // and starts or feeds its read-ahead.
  void Stepped(bool reverse);
  // Stops the read-ahead. In a forked child its thread did not come along:
  // it is left as it is (rocksdb_read_ahead.h).
  void DropAhead();

  std::shared_ptr<RocksdbColumnFamily> cf_;
  IteratorFactory make_;
  const uint64_t* generation_;
  uint64_t seen_ = 0;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool valid_ = false;
  Status status_;
  std::string key_;  // the current key, kept only when generation_ is set
  bool read_ahead_;
  size_t run_ = 0;  // steps in one direction since the last other move
  bool run_reverse_ = false;
  std::unique_ptr<RocksdbReadAhead> ahead_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_CURSOR_H_
