// CommitLog: the btree's row log (`<store>-log`, FORMAT.md "The commit log").
// Under sync=full a small commit appends its rows here and syncs this file
// only; its pages go to the store file unsynced. A checkpoint syncs the
// store file and starts the log over. Recovery replays, onto the last
// checkpointed commit, the records that follow it.
//
// The log is a header block and then records, each starting on a block
// boundary, so a write never touches a block that holds an earlier record.
// Used by the store's one writer at a time; not thread-safe on its own.
#ifndef MANIFOLD_ENGINES_BTREE_LOG_H_
#define MANIFOLD_ENGINES_BTREE_LOG_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "btree/file.h"
#include "manifold/status.h"

namespace manifold::btree {

class CommitLog {
 public:
  static constexpr uint64_t kBlockSize = 4096;
  // The log starts over (a checkpoint) before it would pass its capacity.
  static constexpr uint64_t kDefaultCapacity = 8 << 20;
  static constexpr uint64_t kMinCapacity = 2 * kBlockSize;
  static constexpr uint64_t kMaxCapacity = uint64_t{1} << 30;
  // Records larger than this are not logged: such a commit syncs the store.
  static constexpr uint64_t kMaxRecord = 1 << 20;

  // What the header says: the checkpointed commit the records follow.
  struct Header {
    uint64_t base_txn = 0;
    uint32_t base_meta_checksum = 0;  // bytes [0, 4) of that commit's meta slot
    uint32_t salt = 0;                // every record of this generation carries it
  };

  // `capacity`: bytes, a multiple of kBlockSize in [kMinCapacity, kMaxCapacity].
  CommitLog(std::unique_ptr<File> file, std::string path, uint64_t capacity)
      : file_(std::move(file)), path_(std::move(path)), capacity_(capacity) {}

  const std::string& path() const { return path_; }
  // The largest record an empty log takes.
  uint64_t max_record() const {
    return std::min<uint64_t>(kMaxRecord, capacity_ - kBlockSize - kRecordHeader);
  }

  // Reads the header and the records that follow it: valid checksum, this
  // generation's salt and transaction ids base_txn + 1, + 2, ... The first
  // block that is not such a record ends the log. False when the file has
  // no valid header (new, empty, or not a log).
  Result<bool> Read(Header* header, std::vector<std::string>* records);

  // Starts a new generation after `base_txn` (durable in the store file):
  // writes the header with a new salt and syncs. Later appends go after it.
  Status Reset(uint64_t base_txn, uint32_t base_meta_checksum);

  // Whether a record of `bytes` fits before kCapacity.
  bool Fits(size_t bytes) const { return next_ + Blocks(bytes) * kBlockSize <= capacity_; }

  // Appends the record of commit `txn` and syncs the log. On error nothing
  // was appended (the next record goes to the same place).
  Status Append(uint64_t txn, std::string_view record);

  // After a failed Append: whether the record may still be on the disk.
  bool unsure() const { return unsure_; }

  // Empties the file (a store that no longer logs). Call Reset first, so
  // that a power loss that undoes the truncation leaves no record to replay.
  Status Clear();

 private:
  static uint64_t Blocks(size_t bytes) {
    return (kRecordHeader + bytes + kBlockSize - 1) / kBlockSize;
  }
  static constexpr size_t kRecordHeader = 32;

  std::unique_ptr<File> file_;
  std::string path_;
  uint64_t capacity_;
  Header header_;
  uint64_t next_ = kBlockSize;  // offset of the next record
  uint64_t written_ = 0;        // bytes of the file written at least once
  // The record being appended: 4 KiB-aligned, for O_DIRECT.
  struct FreeAligned {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{kBlockSize}); }
  };
  std::unique_ptr<uint8_t[], FreeAligned> buffer_;
  uint64_t buffer_size_ = 0;
  bool unsure_ = false;
};

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_LOG_H_
