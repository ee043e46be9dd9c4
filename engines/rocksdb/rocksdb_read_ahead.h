// RocksdbReadAhead: a thread that reads a long scan's blocks ahead of it, so
// that the scan finds them decompressed in the block cache.
//
// A scan of a zstd-compressed store decompresses every data block it enters,
// on its own thread, as long as the rest of its work per row takes. The
// read-ahead thread walks the same keyspace at the same snapshot with an
// iterator of its own, a window of entries ahead of the scan; RocksDB puts
// each block it decompresses into the store's block cache, where the scan's
// iterator then finds it. The thread hands nothing to the scan and the scan
// reads nothing from it: what the scan returns is what its own iterator reads,
// so the thread changes how long a scan takes, never what it gives. When the
// scan is faster than the thread, both decompress the blocks the thread has
// not reached, as without it.
//
// Thread-safety: Stepped() is called by the one thread that owns the scan;
// the thread started touches only its own iterator.
//
// fork(): the thread does not come along into a child. The owner must not
// destroy the object there (inherited() says when): its destructor would join
// a thread that is not there and take a mutex whose state was copied from the
// parent.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_READ_AHEAD_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_READ_AHEAD_H_

#include <rocksdb/iterator.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/fork_guard.h"

namespace manifold {

class RocksdbReadAhead {
 public:
  // Entries the thread may be ahead of the scan: about 450 KiB of 450-byte
  // rows, little against a block cache of 8 MiB or more (the least a store
  // reads ahead with), so the blocks are still cached when the scan arrives.
  static constexpr uint64_t kWindow = 1024;

  // Returns a new iterator at the scan's snapshot, or null if there is none.
  using IteratorMaker = std::function<std::unique_ptr<rocksdb::Iterator>()>;

  // Starts the thread at `from` (the scan's current key), stepping forward,
  // or backward when `reverse`. Whatever `make` and its iterators use must
  // outlive this object. Throws std::system_error when no thread can be
  // started.
  RocksdbReadAhead(IteratorMaker make, std::string from, bool reverse);
  RocksdbReadAhead(const RocksdbReadAhead&) = delete;
  RocksdbReadAhead& operator=(const RocksdbReadAhead&) = delete;
  // Stops the thread (after the step it is taking) and waits for it.
  ~RocksdbReadAhead();

  bool reverse() const { return reverse_; }
  // True in a process forked after this object started its thread.
  bool inherited() const { return owner_.inherited(); }

  // The scan took one more step in the thread's direction.
  void Stepped() {
    const uint64_t steps = steps_.load(std::memory_order_relaxed) + 1;
    steps_.store(steps, std::memory_order_relaxed);
    // The thread waits once a window ahead; wake it half a window later.
    if (waiting_.load(std::memory_order_relaxed) && steps % (kWindow / 2) == 0) Wake();
  }

 private:
  void Run(const IteratorMaker& make, const std::string& from);
  void Wake();

  OwnerProcess owner_;
  const bool reverse_;
  std::atomic<uint64_t> steps_{0};  // the scan's steps since the start
  std::atomic<bool> waiting_{false};
  std::atomic<bool> quit_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_READ_AHEAD_H_
