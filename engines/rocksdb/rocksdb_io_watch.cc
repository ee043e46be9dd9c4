#include "rocksdb/rocksdb_io_watch.h"

#include <string>
#include <utility>

namespace manifold {
namespace {

using rocksdb::DataVerificationInfo;
using rocksdb::DirFsyncOptions;
using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSRandomAccessFile;
using rocksdb::FSRandomRWFile;
using rocksdb::FSReadRequest;
using rocksdb::FSSequentialFile;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// Every file and directory of the store reports to one Note.
class Note {
 public:
  explicit Note(std::shared_ptr<IoWatch> watch) : watch_(std::move(watch)) {}
  // Returns `s`, marking the store when it is an I/O error. A missing path is
  // RocksDB probing, not a failure.
  IOStatus operator()(IOStatus s) const {
    if (s.IsIOError() && !s.IsPathNotFound()) watch_->failed.store(true);
    return s;
  }
  // Runs `sync` unless an I/O error was seen: an fsync after a failed write
  // or a failed fsync would report success over pages the kernel may have
  // dropped. RocksDB syncs again on its own after some failures (a
  // background flush, its error recovery); those fail here instead.
  template <typename F>
  IOStatus Sync(F&& sync) const {
    if (watch_->failed.load()) {
      return IOStatus::IOError("manifold: no fsync after an earlier I/O error under this store");
    }
    return (*this)(sync());
  }

 private:
  std::shared_ptr<IoWatch> watch_;
};

class WatchedSequentialFile final : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  WatchedSequentialFile(std::unique_ptr<FSSequentialFile> t, Note note)
      : FSSequentialFileOwnerWrapper(std::move(t)), note_(std::move(note)) {}
  IOStatus Read(size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* dbg) override {
    return note_(target()->Read(n, o, result, scratch, dbg));
  }
  IOStatus PositionedRead(uint64_t offset, size_t n, const IOOptions& o, Slice* result,
                          char* scratch, IODebugContext* dbg) override {
    return note_(target()->PositionedRead(offset, n, o, result, scratch, dbg));
  }

 private:
  Note note_;
};

class WatchedRandomAccessFile final : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  WatchedRandomAccessFile(std::unique_ptr<FSRandomAccessFile> t, Note note)
      : FSRandomAccessFileOwnerWrapper(std::move(t)), note_(std::move(note)) {}
  IOStatus Read(uint64_t offset, size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    return note_(target()->Read(offset, n, o, result, scratch, dbg));
  }
  IOStatus MultiRead(FSReadRequest* reqs, size_t num_reqs, const IOOptions& o,
                     IODebugContext* dbg) override {
    IOStatus s = note_(target()->MultiRead(reqs, num_reqs, o, dbg));
    for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = note_(reqs[i].status);
    return s;
  }
  // An asynchronous read would finish where this wrapper does not see it:
  // it is served by the watched synchronous Read (what FSRandomAccessFile
  // does by default), and the callback runs before returning.
  IOStatus ReadAsync(FSReadRequest& req, const IOOptions& o,
                     std::function<void(const FSReadRequest&, void*)> cb, void* cb_arg,
                     void** /*io_handle*/, rocksdb::IOHandleDeleter* /*del_fn*/,
                     IODebugContext* dbg) override {
    req.status = Read(req.offset, req.len, o, &req.result, req.scratch, dbg);
    cb(req, cb_arg);
    return IOStatus::OK();
  }

 private:
  Note note_;
};

class WatchedWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  WatchedWritableFile(std::unique_ptr<FSWritableFile> t, Note note)
      : FSWritableFileOwnerWrapper(std::move(t)), note_(std::move(note)) {}
  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Append(data, o, dbg));
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    return note_(target()->Append(data, o, info, dbg));
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    return note_(target()->PositionedAppend(data, offset, o, dbg));
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const DataVerificationInfo& info, IODebugContext* dbg) override {
    return note_(target()->PositionedAppend(data, offset, o, info, dbg));
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Truncate(size, o, dbg));
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Close(o, dbg));
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Flush(o, dbg));
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return note_.Sync([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return note_.Sync([&] { return target()->Fsync(o, dbg); });
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& o,
                     IODebugContext* dbg) override {
    return note_(target()->RangeSync(offset, nbytes, o, dbg));
  }
  IOStatus Allocate(uint64_t offset, uint64_t len, const IOOptions& o,
                    IODebugContext* dbg) override {
    return note_(target()->Allocate(offset, len, o, dbg));
  }

 private:
  Note note_;
};

class WatchedRandomRWFile final : public rocksdb::FSRandomRWFileOwnerWrapper {
 public:
  WatchedRandomRWFile(std::unique_ptr<FSRandomRWFile> t, Note note)
      : FSRandomRWFileOwnerWrapper(std::move(t)), note_(std::move(note)) {}
  IOStatus Write(uint64_t offset, const Slice& data, const IOOptions& o,
                 IODebugContext* dbg) override {
    return note_(target()->Write(offset, data, o, dbg));
  }
  IOStatus Read(uint64_t offset, size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    return note_(target()->Read(offset, n, o, result, scratch, dbg));
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Flush(o, dbg));
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return note_.Sync([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return note_.Sync([&] { return target()->Fsync(o, dbg); });
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->Close(o, dbg));
  }

 private:
  Note note_;
};

class WatchedDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  WatchedDirectory(std::unique_ptr<FSDirectory> t, Note note)
      : FSDirectoryWrapper(std::move(t)), note_(std::move(note)) {}
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return note_.Sync([&] { return FSDirectoryWrapper::Fsync(o, dbg); });
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const DirFsyncOptions& options) override {
    return note_.Sync([&] { return FSDirectoryWrapper::FsyncWithDirOptions(o, dbg, options); });
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return note_(FSDirectoryWrapper::Close(o, dbg));
  }

 private:
  Note note_;
};

// Wraps each file and directory RocksDB opens; renames and deletions report
// to the same note.
class WatchedFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  WatchedFileSystem(const std::shared_ptr<FileSystem>& target, Note note)
      : FileSystemWrapper(target), note_(std::move(note)) {}
  const char* Name() const override { return "ManifoldIoWatch"; }

  IOStatus NewSequentialFile(const std::string& f, const FileOptions& o,
                             std::unique_ptr<FSSequentialFile>* r,
                             IODebugContext* dbg) override {
    return Wrap<WatchedSequentialFile>(target()->NewSequentialFile(f, o, r, dbg), r);
  }
  IOStatus NewRandomAccessFile(const std::string& f, const FileOptions& o,
                               std::unique_ptr<FSRandomAccessFile>* r,
                               IODebugContext* dbg) override {
    return Wrap<WatchedRandomAccessFile>(target()->NewRandomAccessFile(f, o, r, dbg), r);
  }
  IOStatus NewWritableFile(const std::string& f, const FileOptions& o,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap<WatchedWritableFile>(target()->NewWritableFile(f, o, r, dbg), r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& o,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap<WatchedWritableFile>(target()->ReopenWritableFile(f, o, r, dbg), r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const FileOptions& o,
                             std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap<WatchedWritableFile>(target()->ReuseWritableFile(f, old, o, r, dbg), r);
  }
  IOStatus NewRandomRWFile(const std::string& f, const FileOptions& o,
                           std::unique_ptr<FSRandomRWFile>* r, IODebugContext* dbg) override {
    return Wrap<WatchedRandomRWFile>(target()->NewRandomRWFile(f, o, r, dbg), r);
  }
  IOStatus NewDirectory(const std::string& name, const IOOptions& o,
                        std::unique_ptr<FSDirectory>* r, IODebugContext* dbg) override {
    return Wrap<WatchedDirectory>(target()->NewDirectory(name, o, r, dbg), r);
  }
  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions& o,
                      IODebugContext* dbg) override {
    return note_(target()->RenameFile(from, to, o, dbg));
  }
  IOStatus DeleteFile(const std::string& f, const IOOptions& o, IODebugContext* dbg) override {
    return note_(target()->DeleteFile(f, o, dbg));
  }

 private:
  template <typename Watched, typename T>
  IOStatus Wrap(IOStatus s, std::unique_ptr<T>* r) {
    if (s.ok() && *r) *r = std::make_unique<Watched>(std::move(*r), note_);
    return note_(std::move(s));
  }

  Note note_;
};

}  // namespace

std::unique_ptr<rocksdb::Env> NewIoWatchingEnv(std::shared_ptr<IoWatch> watch) {
  auto fs = std::make_shared<WatchedFileSystem>(rocksdb::FileSystem::Default(),
                                                Note(std::move(watch)));
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace manifold
