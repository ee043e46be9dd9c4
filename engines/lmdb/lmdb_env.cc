#include "lmdb/lmdb_env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>

#include "common/file_util.h"
#include "common/store_registry.h"

namespace manifold {
namespace {

// LMDB's record of a named database in the main database is an MDB_db: six
// 8-byte fields on 64-bit builds. A value of another size is a plain key.
constexpr size_t kNamedDbRecordSize = 48;

StoreRegistry<LmdbEnv>& Registry() {
  static StoreRegistry<LmdbEnv> registry;
  return registry;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// True when `dir` holds nothing but files an LMDB environment of manifold's
// leaves without data.mdb (its lock file and manifold's side files): a
// directory with anything else is not for a new store.
bool HoldsOnlyLmdbSideFiles(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name != "lock.mdb" && name != "manifold-open.lock" && name != "manifold-write.lock") {
      return false;
    }
  }
  return !ec;
}

// LMDB maps data.mdb and trusts it: a file shorter than the pages its newest
// meta page names makes the first read past the end fault with SIGBUS. Both
// meta pages (MDB_meta, lmdb.h of liblmdb 0.9 on 64-bit: magic at byte 16,
// page size in the free database's md_pad at byte 40, mm_last_pg at byte
// 136, mm_txnid at byte 144 of the page) are read here; a file too short for
// the newer one is Corruption. An empty or unreadable file is left to LMDB.
Status CheckDataFileLength(const std::string& file) {
  constexpr uint32_t kMagic = 0xBEEFC0DE;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::OK();
  struct stat st {};
  uint64_t needed = 0;
  uint64_t newest_txn = 0;
  bool any = false;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    unsigned char meta[152];
    uint32_t page_size = 0;
    for (int slot = 0; slot < 2; ++slot) {
      const off_t at = slot == 0 ? 0 : static_cast<off_t>(page_size);
      if (slot == 1 && page_size == 0) break;
      if (::pread(fd, meta, sizeof(meta), at) != static_cast<ssize_t>(sizeof(meta))) break;
      uint32_t magic, psize;
      uint64_t last_pg, txnid;
      std::memcpy(&magic, meta + 16, 4);
      std::memcpy(&psize, meta + 40, 4);
      std::memcpy(&last_pg, meta + 136, 8);
      std::memcpy(&txnid, meta + 144, 8);
      if (magic != kMagic || psize < 512 || psize > (1u << 16) || (psize & (psize - 1)) != 0) {
        break;  // not a meta page LMDB would take: its own error follows
      }
      if (slot == 0) page_size = psize;
      if (!any || txnid > newest_txn) {
        newest_txn = txnid;
        needed = (last_pg + 1) * static_cast<uint64_t>(psize);
        any = true;
      }
    }
  }
  ::close(fd);
  if (any && static_cast<uint64_t>(st.st_size) < needed) {
    return Status::Corruption("lmdb '" + file + "' is truncated: " + std::to_string(st.st_size) +
                              " bytes, its newest meta page needs " + std::to_string(needed));
  }
  return Status::OK();
}

// Takes a shared flock on `fd`, waiting out a compaction in another process.
Status LockShared(int fd, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (::flock(fd, LOCK_SH | LOCK_NB) == 0) return Status::OK();
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return ErrnoStatus("cannot lock", what, errno);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Busy(what + ": another process is compacting the store");
    }
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::milliseconds(10)) pause *= 2;
  }
}

}  // namespace

Result<std::shared_ptr<LmdbEnv>> LmdbEnv::Get(const std::string& path,
                                              const LmdbEnvOptions& options) {
  if (path.empty()) return Status::InvalidArgument("lmdb: a path (directory) is required");
  return Registry().GetOrOpen(path, [&]() -> Result<std::shared_ptr<LmdbEnv>> {
    std::shared_ptr<LmdbEnv> env(new LmdbEnv(path, options));
    MANIFOLD_RETURN_IF_ERROR(env->Open(options));
    return env;
  });
}

LmdbEnv::LmdbEnv(std::string path, const LmdbEnvOptions& options)
    : path_(std::move(path)),
      label_("lmdb store '" + path_ + "'"),
      read_only_(options.read_only),
      sync_(options.sync),
      options_(options) {}

LmdbEnv::~LmdbEnv() {
  {
    std::lock_guard<std::mutex> lock(txn_mu_);
    FreeIdleReadersLocked();
  }
  if (env_ != nullptr) mdb_env_close(env_);
  // Closing these fds drops only our own flocks; LMDB's POSIX locks live on
  // lock.mdb and data.mdb, whose fds we never touch.
  if (write_lock_fd_ >= 0) ::close(write_lock_fd_);
  if (open_lock_fd_ >= 0) ::close(open_lock_fd_);
}

Status LmdbEnv::Error(int rc, std::string_view what) const {
  std::string message =
      "lmdb '" + path_ + "': " + std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_NOTFOUND:
    case ENOENT:
      return Status::NotFound(message);
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
    case MDB_TLS_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
    case ENOSPC:
    case EDQUOT:
    case EFBIG:  // past RLIMIT_FSIZE or the file system's largest file
    case ENOMEM:
      return Status::Full(message);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status::Corruption(message);
    case MDB_BAD_VALSIZE:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
    case EINVAL:
      return Status::InvalidArgument(message);
    case MDB_BAD_TXN:
      return Status::Aborted(message);
    case MDB_MAP_RESIZED:
    case EAGAIN:
    case EBUSY:
      return Status::Busy(message);
    case EACCES:
    case EROFS:
    case EPERM:
      return Status::ReadOnly(message);
    default:
      return Status::IOError(message);
  }
}

bool LmdbEnv::OutOfRoom() const {
  constexpr uint64_t kRoom = 1 << 20;
  struct statvfs fs {};
  if (::statvfs(path_.c_str(), &fs) == 0 &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < kRoom) {
    return true;
  }
  struct rlimit limit {};
  struct stat st {};
  return ::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
         ::stat((path_ + "/data.mdb").c_str(), &st) == 0 &&
         static_cast<uint64_t>(st.st_size) + kRoom > limit.rlim_cur;
}

Status LmdbEnv::Open(const LmdbEnvOptions& options) {
  if (!Exists(path_)) {
    if (!options.create_if_missing || options.read_only) {
      return Status::NotFound(label_ + " does not exist");
    }
    if (::mkdir(path_.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus("lmdb: cannot create directory", path_, errno);
    }
    MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(path_));
  }
  if (!IsDirectory(path_)) {
    return Status::InvalidArgument(label_ +
                                   " is not a directory (an LMDB environment is a directory)");
  }
  if (!options.create_if_missing && !Exists(path_ + "/data.mdb")) {
    // An existing directory without data.mdb is not a store; opening would
    // create one, which only create_if_missing allows.
    return Status::NotFound(label_ + " has no data.mdb");
  }
  if (!Exists(path_ + "/data.mdb") && !HoldsOnlyLmdbSideFiles(path_)) {
    // A directory of other files (a home directory, a RocksDB store) is not
    // made into an LMDB environment.
    return Status::InvalidArgument(label_ +
                                   " is a directory of other files without an LMDB "
                                   "environment (data.mdb); give a new or empty directory");
  }
  MANIFOLD_RETURN_IF_ERROR(CheckDataFileLength(path_ + "/data.mdb"));

  // Side files for manifold's own locks. A read-only store may sit in a
  // directory we cannot write: then it gets no side files and is never compacted.
  int open_flags = read_only_ ? O_RDONLY : O_RDWR | O_CREAT;
  open_lock_fd_ = ::open((path_ + "/manifold-open.lock").c_str(), open_flags | O_CLOEXEC, 0644);
  if (open_lock_fd_ < 0 && !read_only_) {
    return ErrnoStatus("lmdb: cannot open lock file", path_ + "/manifold-open.lock", errno);
  }
  if (open_lock_fd_ >= 0) MANIFOLD_RETURN_IF_ERROR(LockShared(open_lock_fd_, path_));
  if (!read_only_) {
    write_lock_fd_ = ::open((path_ + "/manifold-write.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                            0644);
    if (write_lock_fd_ < 0) {
      return ErrnoStatus("lmdb: cannot open lock file", path_ + "/manifold-write.lock", errno);
    }
  }
  return OpenEnv();
}

Status LmdbEnv::OpenEnv() {
  idle_readers_.reserve(idle_reader_limit());  // EndRead never allocates
  int rc = mdb_env_create(&env_);
  if (rc != 0) return Error(rc, "cannot create environment");
  if ((rc = mdb_env_set_maxdbs(env_, options_.max_keyspaces)) != 0 ||
      (rc = mdb_env_set_maxreaders(env_, options_.max_readers)) != 0 ||
      (rc = mdb_env_set_mapsize(env_, options_.map_size)) != 0) {
    mdb_env_close(std::exchange(env_, nullptr));
    return Error(rc, "cannot configure environment");
  }
  // MDB_NOTLS: a read transaction belongs to its object, not to its thread.
  unsigned flags = MDB_NOTLS;
  if (read_only_) flags |= MDB_RDONLY;
  if (sync_ == SyncMode::kNormal) flags |= MDB_NOMETASYNC;
  if (sync_ == SyncMode::kOff) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, path_.c_str(), flags, 0644);
  if (rc != 0) {
    mdb_env_close(std::exchange(env_, nullptr));
    return Error(rc, "cannot open environment");
  }
  int dead = 0;
  mdb_reader_check(env_, &dead);  // readers left by processes that died
  max_key_size_ = static_cast<size_t>(mdb_env_get_maxkeysize(env_));

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(env_, 0);
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) {
    mdb_env_close(std::exchange(env_, nullptr));
    return Error(rc, "cannot begin a read transaction");
  }
  rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi_);  // the unnamed database; opens no slot
  mdb_txn_abort(txn);
  if (rc != 0) {
    mdb_env_close(std::exchange(env_, nullptr));
    return Error(rc, "cannot open the main database");
  }
  known_txnid_.store(kUnknownTxnid);
  return Status::OK();
}

bool LmdbEnv::WaitForNoTxns(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds wait) {
  return txn_cv_.wait_for(lock, wait, [this] { return live_txns_ == 0; });
}

Status LmdbEnv::SetMapSizeLocked(size_t size) {
  // LMDB resizes the map only with no transaction of this process active;
  // a reset handle is not one in LMDB's code, but its documentation does
  // not promise that, so kept handles go first (resizes are rare).
  FreeIdleReadersLocked();
  int rc = mdb_env_set_mapsize(env_, size);
  if (rc != 0) return Error(rc, "cannot resize the map");
  return Status::OK();
}

Status LmdbEnv::BeginTxn(MDB_txn* parent, unsigned flags, std::chrono::milliseconds wait,
                         MDB_txn** txn) {
  if (parent != nullptr) {
    int rc = mdb_txn_begin(env_, parent, flags, txn);
    if (rc != 0) return Error(rc, "cannot begin a savepoint");
    return Status::OK();
  }
  bool checked_readers = false;
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard<std::mutex> lock(txn_mu_);
      ++live_txns_;
    }
    int rc = mdb_txn_begin(env_, nullptr, flags, txn);
    if (rc == 0) return Status::OK();
    EndTxn();
    if (rc == MDB_READERS_FULL && !checked_readers) {
      // Slots held by processes that died are reclaimed; live ones are not,
      // but this process gives back the slots of its kept read handles.
      checked_readers = true;
      {
        std::lock_guard<std::mutex> lock(txn_mu_);
        FreeIdleReadersLocked();
      }
      int dead = 0;
      mdb_reader_check(env_, &dead);
      continue;
    }
    if (rc == MDB_MAP_RESIZED && attempt < 3) {
      // Another process grew the map past ours. Adopting its size needs every
      // transaction of this process to have ended.
      std::unique_lock<std::mutex> lock(txn_mu_);
      if (!WaitForNoTxns(lock, wait)) {
        return Status::Busy("lmdb '" + path_ +
                            "': another process grew the map; cannot adopt it while "
                            "transactions of this process are live (waited " +
                            std::to_string(wait.count()) + " ms)");
      }
      MANIFOLD_RETURN_IF_ERROR(SetMapSizeLocked(0));
      continue;
    }
    return Error(rc, (flags & MDB_RDONLY) ? "cannot begin a read transaction"
                                          : "cannot begin a write transaction");
  }
}

Status LmdbEnv::BeginRead(std::chrono::milliseconds wait, MDB_txn** txn) {
  MDB_txn* idle = nullptr;
  {
    std::lock_guard<std::mutex> lock(txn_mu_);
    if (!idle_readers_.empty()) {
      idle = idle_readers_.back();
      idle_readers_.pop_back();
      ++live_txns_;
    }
  }
  if (idle != nullptr) {
    if (mdb_txn_renew(idle) == 0) {
      *txn = idle;
      return Status::OK();
    }
    // MDB_MAP_RESIZED and the like: BeginTxn knows what to do about them.
    mdb_txn_abort(idle);
    EndTxn();
  }
  return BeginTxn(nullptr, MDB_RDONLY, wait, txn);
}

void LmdbEnv::EndRead(MDB_txn* txn) {
  mdb_txn_reset(txn);
  bool idle;
  {
    std::lock_guard<std::mutex> lock(txn_mu_);
    // Within the room OpenEnv reserved: this runs in destructors, and a
    // push_back that throws would also leave live_txns_ counted.
    if (idle_readers_.size() < idle_reader_limit() &&
        idle_readers_.size() < idle_readers_.capacity()) {
      idle_readers_.push_back(std::exchange(txn, nullptr));
    }
    idle = --live_txns_ == 0;
  }
  if (txn != nullptr) mdb_txn_abort(txn);
  if (idle) txn_cv_.notify_all();
}

void LmdbEnv::FreeIdleReadersLocked() {
  for (MDB_txn* txn : idle_readers_) mdb_txn_abort(txn);
  idle_readers_.clear();
}

void LmdbEnv::EndTxn() {
  bool idle;
  {
    std::lock_guard<std::mutex> lock(txn_mu_);
    idle = --live_txns_ == 0;
  }
  if (idle) txn_cv_.notify_all();
}

Status LmdbEnv::GrowMapIfNeeded(std::chrono::milliseconds wait) {
  MDB_envinfo info;
  MDB_stat stat;
  int rc = mdb_env_info(env_, &info);
  if (rc == 0) rc = mdb_env_stat(env_, &stat);
  if (rc != 0) return Error(rc, "cannot read the map size");
  size_t used = (info.me_last_pgno + 1) * static_cast<size_t>(stat.ms_psize);
  size_t size = info.me_mapsize;
  auto short_of_space = [&](size_t map) { return map - used < map / 2 || map - used < kMinFreeBytes; };
  if (!short_of_space(size)) return Status::OK();
  size_t target = size;
  while (short_of_space(target)) target *= 2;
  target = (target + (size_t{1} << 20) - 1) & ~((size_t{1} << 20) - 1);

  // Readers of this process would keep an old mapping: wait for them only
  // when space is really short, else grow at a later, quieter BeginWrite.
  bool critical = size - used < size / 4 || size - used < kMinFreeBytes / 2;
  std::unique_lock<std::mutex> lock(txn_mu_);
  if (!WaitForNoTxns(lock, critical ? wait : std::chrono::milliseconds(0))) return Status::OK();
  return SetMapSizeLocked(target);
}

Status LmdbEnv::LockWriters(std::chrono::milliseconds wait) {
  if (write_lock_fd_ < 0) return Status::ReadOnly(label_ + " is read-only");
  return LockFileWithTimeout(write_lock_fd_, wait, label_);
}

void LmdbEnv::UnlockWriters() {
  if (write_lock_fd_ >= 0) UnlockFile(write_lock_fd_);
}

uint64_t LmdbEnv::LastTxnid() {
  // mdb_env_info reads the meta pages through the map: counted as a live
  // transaction, so that a map resize (which waits for none) cannot unmap
  // them under it. Found by ThreadSanitizer as a SEGV in mdb_env_info.
  {
    std::lock_guard<std::mutex> lock(txn_mu_);
    ++live_txns_;
  }
  MDB_envinfo info;
  int rc = mdb_env_info(env_, &info);
  EndTxn();
  if (rc != 0) return kUnknownTxnid;
  return info.me_last_txnid;
}

std::optional<MDB_dbi> LmdbEnv::FindHandle(std::string_view name) {
  std::shared_lock<std::shared_mutex> lock(handle_mu_);
  auto it = handles_.find(name);
  if (it == handles_.end()) return std::nullopt;
  return it->second;
}

bool LmdbEnv::HandleIs(MDB_dbi dbi, std::string_view name) {
  std::shared_lock<std::shared_mutex> lock(handle_mu_);
  return HandleIsLocked(dbi, name);
}

bool LmdbEnv::HandleIsLocked(MDB_dbi dbi, std::string_view name) const {
  return dbi < slot_names_.size() && !name.empty() && slot_names_[dbi] == name;
}

void LmdbEnv::SetHandleLocked(const std::string& name, MDB_dbi dbi) {
  handles_[name] = dbi;
  if (slot_names_.size() <= dbi) slot_names_.resize(dbi + 1);
  if (slot_names_[dbi] == name) return;
  slot_names_[dbi] = name;
  handle_generation_.fetch_add(1, std::memory_order_release);
}

void LmdbEnv::AddHandles(const std::map<std::string, MDB_dbi>& handles) {
  std::unique_lock<std::shared_mutex> lock(handle_mu_);
  for (const auto& [name, dbi] : handles) {
    SetHandleLocked(name, dbi);
  }
}

void LmdbEnv::RemoveHandleLocked(std::string_view name) {
  auto it = handles_.find(name);
  if (it == handles_.end()) return;
  if (it->second < slot_names_.size()) slot_names_[it->second].clear();
  handles_.erase(it);
  handle_generation_.fetch_add(1, std::memory_order_release);
}

void LmdbEnv::set_writer_live(bool live) {
  std::unique_lock<std::shared_mutex> lock(handle_mu_);
  writer_live_ = live;
}

Status LmdbEnv::RefreshHandlesIfStale(bool by_writer) {
  uint64_t last = LastTxnid();
  if (last != kUnknownTxnid && last == known_txnid_.load()) return Status::OK();
  return RefreshHandles(by_writer);
}

Status LmdbEnv::RefreshHandles(bool by_writer) {
  MDB_txn* txn = nullptr;
  MANIFOLD_RETURN_IF_ERROR(BeginTxn(nullptr, MDB_RDONLY, std::chrono::milliseconds(0), &txn));
  // The transaction stops counting as live once handle_mu_ is released
  // (declared before the lock, so destroyed after it): EndTxn takes txn_mu_,
  // and Compact() takes handle_mu_ while it holds txn_mu_.
  struct Counted {
    LmdbEnv* env;
    ~Counted() { env->EndTxn(); }
  } counted{this};
  std::unique_lock<std::shared_mutex> lock(handle_mu_);
  if (writer_live_ && !by_writer) {
    // The writer may be opening slots; its view of the table must stay ours.
    mdb_txn_abort(txn);
    return Status::OK();
  }
  uint64_t txnid = mdb_txn_id(txn);
  std::map<std::string, MDB_dbi> opened;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, main_dbi_, &cursor);
  MDB_val key, data;
  try {
    if (rc == 0) rc = mdb_cursor_get(cursor, &key, &data, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)) {
      std::string name(static_cast<const char*>(key.mv_data), key.mv_size);
      if (data.mv_size != kNamedDbRecordSize || name.empty() ||
          name.find('\0') != std::string::npos || handles_.count(name) != 0) {
        continue;
      }
      MDB_dbi dbi = 0;
      int open_rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi);
      if (open_rc == MDB_INCOMPATIBLE) continue;  // a plain key that happens to be 48 bytes
      if (open_rc != 0) {
        rc = open_rc;
        break;
      }
      opened[name] = dbi;
    }
  } catch (...) {
    // Out of memory: a read transaction left live would pin its snapshot (no
    // page freed after it reused again) and keep the map from growing.
    if (cursor != nullptr) mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    throw;
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);  // closes the slots it opened
    return Error(rc, "cannot list named databases");
  }
  rc = mdb_txn_commit(txn);  // a committed read transaction shares its slots
  if (rc != 0) return Error(rc, "cannot open named databases");
  for (const auto& [name, dbi] : opened) {
    SetHandleLocked(name, dbi);
  }
  known_txnid_.store(txnid);
  return Status::OK();
}

Result<uint64_t> LmdbEnv::DataFileSize() const {
  struct stat st {};
  std::string file = path_ + "/data.mdb";
  if (::stat(file.c_str(), &st) != 0) return ErrnoStatus("lmdb: cannot stat", file, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status LmdbEnv::Backup(const std::string& path) {
  // A read transaction of our own, counted as live, keeps the map size fixed
  // while mdb_env_copyfd2 reads through its own read transaction.
  MDB_txn* pin = nullptr;
  MANIFOLD_RETURN_IF_ERROR(BeginTxn(nullptr, MDB_RDONLY, std::chrono::milliseconds(0), &pin));
  struct Unpin {
    LmdbEnv* env;
    MDB_txn* txn;
    ~Unpin() {
      mdb_txn_abort(txn);
      env->EndTxn();
    }
  } unpin{this, pin};
  if (::mkdir(path.c_str(), 0755) != 0) {
    return ErrnoStatus("lmdb: cannot create the backup directory", path, errno);
  }
  const std::string file = path + "/data.mdb";
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    Status s = ErrnoStatus("lmdb: cannot create", file, errno);
    ::rmdir(path.c_str());
    return s;
  }
  int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  int sync_rc = rc == 0 ? ::fsync(fd) : 0;
  int sync_err = errno;
  ::close(fd);
  if (rc != 0 || sync_rc != 0) {
    ::unlink(file.c_str());
    ::rmdir(path.c_str());
    return rc != 0 ? Error(rc, "cannot copy the store to '" + path + "'")
                   : ErrnoStatus("lmdb: cannot fsync", file, sync_err);
  }
  MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(file));
  return SyncParentDirectory(path);
}

Status LmdbEnv::Compact(bool sole_handle, bool* swapped) {
  *swapped = false;
  if (read_only_) return Status::ReadOnly(label_ + " is opened read-only");
  if (!sole_handle || open_lock_fd_ < 0) return Status::OK();

  std::unique_lock<std::mutex> lock(txn_mu_);
  if (live_txns_ != 0) return Status::OK();
  // Converting our shared lock to exclusive succeeds only when no other
  // process has the store open through manifold.
  if (::flock(open_lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return LockShared(open_lock_fd_, path_);  // the conversion may have dropped it
  }
  auto restore_shared = [&]() -> Status {
    if (::flock(open_lock_fd_, LOCK_SH) != 0) return ErrnoStatus("cannot lock", path_, errno);
    return Status::OK();
  };
  // Slots must come back with the same numbers, which holds when they are
  // dense (no dropped slot in the middle) and reopened in slot order.
  std::vector<std::string> slots;
  {
    std::shared_lock<std::shared_mutex> handles(handle_mu_);
    for (size_t dbi = 2; dbi < slot_names_.size(); ++dbi) {
      if (slot_names_[dbi].empty()) {
        MANIFOLD_RETURN_IF_ERROR(restore_shared());
        return Status::OK();
      }
      slots.push_back(slot_names_[dbi]);
    }
  }

  std::string copy = path_ + "/data.mdb.compact";
  int fd = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    Status s = ErrnoStatus("lmdb: cannot create", copy, errno);
    restore_shared().IgnoreError();
    return s;
  }
  int rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  int sync_rc = rc == 0 ? ::fsync(fd) : 0;
  int sync_err = errno;
  ::close(fd);
  if (rc != 0 || sync_rc != 0) {
    ::unlink(copy.c_str());
    restore_shared().IgnoreError();
    return rc != 0 ? Error(rc, "cannot copy the store") : ErrnoStatus("cannot fsync", copy, sync_err);
  }
  FreeIdleReadersLocked();  // their handles belong to the environment closed here
  mdb_env_close(std::exchange(env_, nullptr));
  if (::rename(copy.c_str(), (path_ + "/data.mdb").c_str()) != 0) {
    Status s = ErrnoStatus("lmdb: cannot replace data.mdb with", copy, errno);
    ::unlink(copy.c_str());
    Status reopened = OpenEnv();
    restore_shared().IgnoreError();
    return reopened.ok() ? s : reopened;
  }
  *swapped = true;
  MANIFOLD_RETURN_IF_ERROR(SyncParentDirectory(path_ + "/data.mdb"));
  Status s = OpenEnv();
  if (s.ok()) {
    std::unique_lock<std::shared_mutex> handles(handle_mu_);
    handles_.clear();
    slot_names_.clear();
    handle_generation_.fetch_add(1, std::memory_order_release);
    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
    try {
      for (const std::string& name : slots) {
        MDB_dbi dbi = 0;
        if (rc == 0) rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi);
        if (rc != 0) break;
        SetHandleLocked(name, dbi);
      }
    } catch (...) {
      if (txn != nullptr) mdb_txn_abort(txn);  // never left live (see RefreshHandles)
      throw;
    }
    if (txn != nullptr) {
      if (rc == 0) {
        rc = mdb_txn_commit(txn);
      } else {
        mdb_txn_abort(txn);
      }
    }
    if (rc != 0) s = Error(rc, "cannot reopen named databases after compaction");
  }
  Status relock = restore_shared();
  return s.ok() ? relock : s;
}

}  // namespace manifold
