#include "rocksdb/rocksdb_store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>

#include "common/file_util.h"

namespace manifold {

Status FromRocksdb(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return Status::OK();
  std::string message = std::string(context) + ": " + status.ToString();
  if (status.IsNotFound()) return Status::NotFound(message);
  if (status.IsCorruption()) return Status::Corruption(message);
  if (status.IsNoSpace()) return Status::Full(message);
  // RocksDB marks only ENOSPC as NoSpace; a write past the file size limit
  // (EFBIG) or the quota (EDQUOT) is the same condition: nothing is lost and
  // the store must not be poisoned (common/poison.h) for it.
  if (status.IsIOError() && (message.find(std::strerror(EFBIG)) != std::string::npos ||
                             message.find(std::strerror(EDQUOT)) != std::string::npos)) {
    return Status::Full(message);
  }
  if (status.IsIOError()) return Status::IOError(message);
  if (status.IsInvalidArgument()) return Status::InvalidArgument(message);
  if (status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) return Status::Busy(message);
  if (status.IsNotSupported()) return Status::NotSupported(message);
  if (status.IsAborted()) return Status::Aborted(message);
  return Status::IOError(message);
}

namespace {

// The least block cache a store reads ahead into (RocksdbStore::read_ahead).
constexpr uint64_t kReadAheadMinCache = uint64_t{8} << 20;

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The first bytes of a small file (RocksDB's CURRENT names the MANIFEST),
// empty when it is absent or cannot be read. (Plain read(2): libstdc++'s
// stream buffers throw on a read error.)
std::string ReadSmallFile(const std::string& path) {
  char buf[256];
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string();
  ssize_t n = ::read(fd, buf, sizeof(buf));
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// RocksDB reports a LOCK file held by another process (or by another DB
// object of this process, which the registry prevents) as an IOError whose
// text mentions the lock.
bool IsLockError(const rocksdb::Status& status) {
  if (!status.IsIOError()) return false;
  std::string text = status.ToString();
  return text.find("lock") != std::string::npos || text.find("LOCK") != std::string::npos;
}

rocksdb::ColumnFamilyOptions MakeColumnFamilyOptions(const RocksdbStoreSettings& settings,
                                                     std::shared_ptr<rocksdb::Cache> cache) {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = std::move(cache);
  // Point lookups (SQL `key = ?`, uniqueness checks on insert) dominate; a
  // 10 bits/key bloom filter skips ~99% of the SST files that lack the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (settings.compression == Compression::kZstd) {
    // RocksDB's own zstd with a dictionary per SST file: rows of one table
    // look alike, so a dictionary wins much more than per-block zstd. The
    // dictionary is raw sample bytes (zstd_max_train_bytes = 0), not a
    // trained one: Debian's librocksdb decompresses with the dictionary's
    // bytes (ZSTD_decompress_usingDict, no digested ZSTD_DDict), so a trained
    // dictionary's entropy tables are rebuilt at every block read, 4-5 us of
    // a 4-8 KiB block's 6-10 us; raw bytes cost nothing to load, for a file
    // about 6% larger. Blocks keep RocksDB's 4 KiB: a point read
    // decompresses a whole block, and long scans read ahead on a second
    // thread (rocksdb_read_ahead.h).
    rocksdb::CompressionOptions opts;
    opts.level = settings.compression_level;
    opts.max_dict_bytes = 16 * 1024;
    opts.zstd_max_train_bytes = 0;
    opts.enabled = true;
    cf.compression = rocksdb::kZSTD;
    cf.compression_opts = opts;
    cf.bottommost_compression = rocksdb::kZSTD;
    cf.bottommost_compression_opts = opts;
  } else {
    cf.compression = rocksdb::kNoCompression;
    cf.bottommost_compression = rocksdb::kNoCompression;
  }
  return cf;
}

// RocksDB's info log (`LOG` in the store), written with plain write(2) and
// no error state. RocksDB 7.8's own file logger keeps a WritableFileWriter
// that, once an append has failed (a full disk), aborts the process on the
// next message (assertion `sync_without_flush_called_` in
// WritableFileWriter), for example the one DB::Close logs after the failed
// WAL write. Messages are appended; a LOG over 1 MiB at open becomes LOG.old.
class PlainFileLogger : public rocksdb::Logger {
 public:
  PlainFileLogger(const std::string& path, rocksdb::InfoLogLevel level)
      : rocksdb::Logger(level), fd_(OpenLog(path)) {}
  ~PlainFileLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    std::time_t now = std::time(nullptr);
    std::tm tm {};
    ::gmtime_r(&now, &tm);
    size_t used = std::strftime(line, sizeof(line), "%Y/%m/%d-%H:%M:%S ", &tm);
    int n = std::vsnprintf(line + used, sizeof(line) - used - 1, format, ap);
    if (n < 0) return;
    used = std::min(sizeof(line) - 2, used + static_cast<size_t>(n));
    if (used == 0 || line[used - 1] != '\n') line[used++] = '\n';
    // A message that cannot be written (the disk is full) is dropped.
    [[maybe_unused]] ssize_t ignored = ::write(fd_, line, used);
  }

 private:
  static int OpenLog(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > (1 << 20)) {
      ::rename(path.c_str(), (path + ".old").c_str());
    }
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }

  int fd_;
};

}  // namespace

// True when every entry of `dir` has a name RocksDB or manifold gives its
// files (a creation cut short leaves some of them without CURRENT).
static bool HoldsOnlyRocksdbFiles(const std::string& dir) {
  auto ends_with = [](const std::string& s, const char* suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
  };
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == "LOCK" || name == "IDENTITY" || name.rfind("LOG", 0) == 0 ||
        name.rfind("CURRENT", 0) == 0 || name.rfind("MANIFEST-", 0) == 0 ||
        name.rfind("OPTIONS-", 0) == 0 || name.rfind("manifold-", 0) == 0 ||
        ends_with(name, ".log") || ends_with(name, ".sst") || ends_with(name, ".blob") ||
        ends_with(name, ".dbtmp")) {
      continue;
    }
    return false;
  }
  return !ec;
}

Result<std::shared_ptr<RocksdbStore>> RocksdbStore::Open(const std::string& path,
                                                         const RocksdbStoreSettings& settings) {
  const std::string where = "rocksdb store '" + path + "'";
  // Checked before RocksDB runs: even with create_if_missing=false it creates
  // the directory and its LOCK file before noticing the database is absent.
  if (!PathExists(path + "/CURRENT")) {
    if (!settings.create_if_missing || settings.read_only) {
      return Status::NotFound(where + " does not exist");
    }
    // A directory of other files (a home directory, an LMDB environment) is
    // not made into a RocksDB store.
    if (PathExists(path) && !HoldsOnlyRocksdbFiles(path)) {
      return Status::InvalidArgument(where +
                                     " is a directory of other files without a RocksDB store "
                                     "(CURRENT); give a new or empty directory");
    }
  }
  if (settings.compression == Compression::kZstd) {
    std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
    if (std::find(supported.begin(), supported.end(), rocksdb::kZSTD) == supported.end()) {
      return Status::NotSupported(where + ": this librocksdb was built without zstd");
    }
  }

  auto store = std::make_shared<RocksdbStore>();
  store->path = path;
  store->read_only = settings.read_only;
  store->read_ahead = settings.compression == Compression::kZstd &&
                      settings.block_cache_size >= kReadAheadMinCache;
  std::shared_ptr<rocksdb::Cache> cache =
      settings.block_cache_size > 0
          ? rocksdb::NewLRUCache(static_cast<size_t>(settings.block_cache_size))
          : nullptr;
  store->cf_options = MakeColumnFamilyOptions(settings, cache);

  rocksdb::DBOptions db_options;
  store->env = NewIoWatchingEnv(store->io_watch);
  db_options.env = store->env.get();
  db_options.create_if_missing = settings.create_if_missing;
  db_options.create_missing_column_families = false;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  db_options.max_manifest_file_size = 8 << 20;
  // Only a writer can fill the disk; a store that does not exist yet is
  // created here (DB::Open would create it the same way).
  if (!settings.read_only && (PathExists(path) || ::mkdir(path.c_str(), 0755) == 0)) {
    auto logger = std::make_shared<PlainFileLogger>(path + "/LOG", db_options.info_log_level);
    if (logger->ok()) db_options.info_log = std::move(logger);
  }

  // Another process may open or close the store meanwhile: it writes a new
  // MANIFEST, points CURRENT at it and deletes the old one, which the
  // listing (it runs before RocksDB takes the store's lock) may then find
  // gone; or it creates a column family after the listing, which the open
  // then misses. When CURRENT changed under a failed attempt, the attempt is
  // made again, a few times, then the store is reported busy.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    const std::string current = ReadSmallFile(path + "/CURRENT");
    // OK: try again. Otherwise what to return for `failure`.
    auto after_failure = [&](const rocksdb::Status& failure, const std::string& what) {
      if (ReadSmallFile(path + "/CURRENT") == current) return FromRocksdb(failure, what);
      if (attempt == kAttempts) {
        return Status::Busy(where + " was being opened or closed by another process (" +
                            failure.ToString() + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5 * attempt));
      return Status::OK();
    };
    std::vector<std::string> names;
    if (PathExists(path + "/CURRENT")) {
      rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
      if (!s.ok()) {
        Status failed = after_failure(s, "cannot list column families of " + where);
        if (!failed.ok()) return failed;
        continue;
      }
    } else {
      names.push_back(rocksdb::kDefaultColumnFamilyName);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.reserve(names.size());
    for (const std::string& name : names) descriptors.emplace_back(name, store->cf_options);
    rocksdb::Status s =
        settings.read_only
            ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw_db)
            : rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw_db);
    if (s.ok()) break;
    if (IsLockError(s)) {
      return Status::Busy(where + " is open for writing in another process (" + s.ToString() +
                          ")");
    }
    Status failed = after_failure(s, "cannot open " + where);
    if (!failed.ok()) return failed;
  }
  store->db.reset(raw_db);
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    auto cf = std::make_shared<RocksdbColumnFamily>(raw_db, handle);
    if (cf->name() == kDefaultColumnFamilyName) {
      store->default_cf = std::move(cf);
    } else {
      store->keyspaces.emplace(cf->id(), std::move(cf));
    }
  }
  return store;
}

Status RocksdbStore::CheckRoom(uint64_t batch_bytes) const {
  constexpr uint64_t kReserve = 1 << 20;
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return Status::OK();  // the write will tell
  const uint64_t room = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (room >= batch_bytes + kReserve) return Status::OK();
  return Status::Full("rocksdb: commit to '" + path + "' refused: the file system has " +
                      std::to_string(room >> 10) + " KiB free, under the " +
                      std::to_string((batch_bytes + kReserve) >> 10) +
                      " KiB this commit needs with manifold's reserve");
}

RocksdbStore::~RocksdbStore() {
  // Every handle must go before the DB closes; holders of handles also hold
  // the store, so these are the last ones.
  keyspaces.clear();
  default_cf.reset();
  if (db == nullptr) return;
  // Commits under sync=normal or off wrote the log without syncing it: a
  // clean close makes them durable. Not after an I/O error anywhere under
  // the store (rocksdb_io_watch.h): an fsync is never retried.
  uint64_t background_errors = 0;
  if (!read_only && unsynced_log.load() && !io_watch->failed.load() &&
      db->GetIntProperty("rocksdb.background-errors", &background_errors) &&
      background_errors == 0) {
    db->SyncWAL().PermitUncheckedError();
  }
  db->Close().PermitUncheckedError();
}

}  // namespace manifold
