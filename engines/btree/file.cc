// PosixFile: pread/pwrite/fdatasync on a descriptor, and read-only mmap views.
#include "btree/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "common/file_util.h"

namespace manifold::btree {
namespace {

class PosixMapping final : public Mapping {
 public:
  PosixMapping(void* base, uint64_t size) : base_(base), size_(size) {}
  ~PosixMapping() override {
    if (base_ != nullptr) ::munmap(base_, size_);
  }
  const uint8_t* data() const override { return static_cast<const uint8_t*>(base_); }
  uint64_t size() const override { return size_; }

 private:
  void* base_;
  uint64_t size_;
};

// A zero-length file cannot be mapped; snapshots of it read nothing.
class EmptyMapping final : public Mapping {
 public:
  const uint8_t* data() const override { return nullptr; }
  uint64_t size() const override { return 0; }
};

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override {
    if (direct_fd_ >= 0) ::close(direct_fd_);
    ::close(fd_);
  }

  Status Read(uint64_t offset, size_t n, uint8_t* dst) override {
    while (n > 0) {
      ssize_t r = ::pread(fd_, dst, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("read", path_, errno);
      }
      if (r == 0) return Status::Corruption(path_ + ": file is shorter than its meta page says");
      dst += r;
      n -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  Status Write(uint64_t offset, std::string_view data) override {
    buffered_unsynced_ = true;
    return WriteAll(fd_, offset, data);
  }

  Status WriteGather(uint64_t offset, std::span<const std::string_view> parts) override {
    buffered_unsynced_ = true;
    std::vector<iovec> iov;
    iov.reserve(parts.size());
    for (std::string_view part : parts) {
      if (!part.empty()) iov.push_back({const_cast<char*>(part.data()), part.size()});
    }
    size_t first = 0;  // iov[first..] is what is left to write
    while (first < iov.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
      ssize_t w = ::pwritev(fd_, iov.data() + first, count, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      offset += static_cast<uint64_t>(w);
      // Drop what was written: whole parts, then the front of a partial one.
      auto done = static_cast<size_t>(w);
      while (first < iov.size() && done >= iov[first].iov_len) done -= iov[first++].iov_len;
      if (done > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
        iov[first].iov_len -= done;
      }
    }
    return Status::OK();
  }

  Status WriteDurably(uint64_t offset, std::string_view data) override {
    constexpr uint64_t kBlock = 4096;
    const bool aligned = offset % kBlock == 0 && data.size() % kBlock == 0 && !data.empty() &&
                         reinterpret_cast<uintptr_t>(data.data()) % kBlock == 0;
    if (aligned && direct_fd_ == -1) {
      direct_fd_ = ::open(path_.c_str(), O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
      if (direct_fd_ < 0) direct_fd_ = -2;  // not here (tmpfs): write and sync
    }
    if (!aligned || direct_fd_ < 0) {
      MANIFOLD_RETURN_IF_ERROR(Write(offset, data));
      return Sync();
    }
    // Writes through fd_ since the last sync (zeros that grew the file)
    // must be durable first: O_DSYNC covers only this write.
    if (buffered_unsynced_) MANIFOLD_RETURN_IF_ERROR(Sync());
    return WriteAll(direct_fd_, offset, data);
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return ErrnoStatus("fdatasync", path_, errno);
    buffered_unsynced_ = false;
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    buffered_unsynced_ = true;  // no page of the mapping past the end
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus("ftruncate", path_, errno);
    }
    return Status::OK();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::shared_ptr<const Mapping>> Map(uint64_t size) override {
    if (size == 0) return std::shared_ptr<const Mapping>(std::make_shared<EmptyMapping>());
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd_, 0);
    if (base == MAP_FAILED) return ErrnoStatus("mmap", path_, errno);
    return std::shared_ptr<const Mapping>(std::make_shared<PosixMapping>(base, size));
  }

  Status Lock(bool exclusive) override {
    if (exclusive) return LockFileWithTimeout(fd_, std::chrono::milliseconds(0), path_);
    if (::flock(fd_, LOCK_SH | LOCK_NB) == 0) return Status::OK();
    if (errno == EWOULDBLOCK) {
      return Status::Busy(path_ + ": another process has the store open for writing");
    }
    return ErrnoStatus("flock", path_, errno);
  }

 private:
  // pwrite until all of data is written (a write may be short).
  Status WriteAll(int fd, uint64_t offset, std::string_view data) const {
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      p += w;
      n -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  int fd_;
  std::string path_;
  int direct_fd_ = -1;        // O_DIRECT | O_DSYNC; -1: not opened yet, -2: not possible
  bool buffered_unsynced_ = true;  // written through fd_ since the last Sync
};

}  // namespace

Status File::WriteGather(uint64_t offset, std::span<const std::string_view> parts) {
  std::string joined;
  for (std::string_view part : parts) joined.append(part);
  return Write(offset, joined);
}

Result<std::unique_ptr<File>> OpenPosixFile(const std::string& path, bool read_only, bool create) {
  int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  if (create && !read_only) flags |= O_CREAT;
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound("btree store '" + path + "' does not exist");
    return ErrnoStatus("open", path, errno);
  }
  return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
}

}  // namespace manifold::btree
