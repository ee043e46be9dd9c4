// The btree engine's file seam: every byte the engine reads or writes goes
// through File, so tests can inject faults (a crash after N operations, torn
// pages, lost unsynced writes) without touching the engine. PosixFile is the
// real one. A File is used by one writer at a time; Map() results are
// immutable views that may be read from any thread.
#ifndef MANIFOLD_ENGINES_BTREE_FILE_H_
#define MANIFOLD_ENGINES_BTREE_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "manifold/status.h"

namespace manifold::btree {

// A read-only view of the first size() bytes of a file. Bytes written to the
// file after the view was made are visible through it (as with MAP_SHARED)
// when they lie inside [0, size()). Kept alive by every snapshot that reads it.
class Mapping {
 public:
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  virtual ~Mapping() = default;
  virtual const uint8_t* data() const = 0;
  virtual uint64_t size() const = 0;
};

class File {
 public:
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  virtual ~File() = default;

  // Reads exactly n bytes at offset; IOError (or Corruption when past the end).
  virtual Status Read(uint64_t offset, size_t n, uint8_t* dst) = 0;
  // Writes all of data at offset, extending the file if needed.
  virtual Status Write(uint64_t offset, std::string_view data) = 0;
  // Writes `parts` back to back from offset, as one Write of their
  // concatenation would. This default joins them and calls Write; PosixFile
  // hands them to pwritev without the copy.
  virtual Status WriteGather(uint64_t offset, std::span<const std::string_view> parts);
  // Writes data at offset and makes it, and every earlier write, durable:
  // Write then Sync. PosixFile writes a whole number of 4 KiB blocks from a
  // 4 KiB-aligned buffer with O_DIRECT | O_DSYNC, one system call that
  // skips the page cache, where the file system allows it.
  virtual Status WriteDurably(uint64_t offset, std::string_view data) {
    MANIFOLD_RETURN_IF_ERROR(Write(offset, data));
    return Sync();
  }
  // Makes every earlier write durable (fdatasync).
  virtual Status Sync() = 0;
  // Sets the file's length.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
  // Returns a view of [0, size); size must not exceed Size().
  virtual Result<std::shared_ptr<const Mapping>> Map(uint64_t size) = 0;
  // Takes the process-level lock: exclusive for writers, shared for read-only
  // opens. Busy if another process holds a conflicting lock.
  virtual Status Lock(bool exclusive) = 0;
};

// Opens `path` (creating it when `create`) for reading, and for writing unless
// `read_only`. NotFound when it does not exist and !create.
Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path, bool read_only, bool create);

}  // namespace manifold::btree

#endif  // MANIFOLD_ENGINES_BTREE_FILE_H_
