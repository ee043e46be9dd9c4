#include "common/file_util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

namespace manifold {

Result<FileId> GetFileId(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound("'" + path + "' does not exist");
    return ErrnoStatus("cannot stat", path, err);
  }
  return FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string message = what + " '" + path + "': " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(message);
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) return Status::Full(message);
  if (err == EROFS || err == EACCES || err == EPERM) return Status::ReadOnly(message);
  return Status::IOError(message);
}

Status SyncParentDirectory(const std::string& path) {
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  size_t slash = dir.rfind('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("cannot fsync directory", dir, err);
  return Status::OK();
}

Status LockFileWithTimeout(int fd, std::chrono::milliseconds wait, std::string_view what) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::OK();
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return ErrnoStatus("cannot lock", std::string(what), errno);
    const auto now = std::chrono::steady_clock::now();
    if (!deadline) deadline = now + wait;
    if (now >= *deadline) {
      return Status::Busy(std::string(what) + ": another process is writing (waited " +
                          std::to_string(wait.count()) + " ms)");
    }
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(10)) pause *= 2;
  }
}

void UnlockFile(int fd) { ::flock(fd, LOCK_UN); }

}  // namespace manifold
