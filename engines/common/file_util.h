// Small POSIX helpers shared by the persistent engines. Thread-safe.
#ifndef MANIFOLD_ENGINES_COMMON_FILE_UTIL_H_
#define MANIFOLD_ENGINES_COMMON_FILE_UTIL_H_

#include <chrono>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "manifold/status.h"

namespace manifold {

// A file's identity: device and inode, whatever path reaches it.
struct FileId {
  uint64_t device = 0;
  uint64_t inode = 0;
  auto operator<=>(const FileId&) const = default;
};

// Returns the identity of `path`, or NotFound / IOError.
Result<FileId> GetFileId(const std::string& path);

// Returns an IOError for the current errno: "<what> '<path>': <strerror>".
Status ErrnoStatus(const std::string& what, const std::string& path, int err);

// fsyncs the directory that contains `path`, so a newly created file or
// directory there survives power loss.
Status SyncParentDirectory(const std::string& path);

// Takes an exclusive flock() on `fd`, polling until `wait` has passed; Busy
// (naming `what`) if another process still holds it.
// The deadline is read and the message built only when the lock is taken.
Status LockFileWithTimeout(int fd, std::chrono::milliseconds wait, std::string_view what);

// Drops the flock() on `fd`.
void UnlockFile(int fd);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_FILE_UTIL_H_
