#include "rocksdb/rocksdb_read_ahead.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace manifold {
namespace {

constexpr std::chrono::milliseconds kLongestWait(64);

}  // namespace

RocksdbReadAhead::RocksdbReadAhead(IteratorMaker make, std::string from, bool reverse)
    : reverse_(reverse) {
  thread_ = std::thread([this, make = std::move(make), from = std::move(from)] {
    try {
      Run(make, from);
    } catch (...) {  // std::bad_alloc: the scan goes on reading alone
    }
  });
}

RocksdbReadAhead::~RocksdbReadAhead() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_.store(true);
  }
  cv_.notify_all();
  thread_.join();
}

void RocksdbReadAhead::Wake() {
  { std::lock_guard<std::mutex> lock(mu_); }
  cv_.notify_one();
}

void RocksdbReadAhead::Run(const IteratorMaker& make, const std::string& from) {
  std::unique_ptr<rocksdb::Iterator> it = make();
  if (it == nullptr) return;
  const rocksdb::Slice start(from);
  if (reverse_) {
    it->SeekForPrev(start);
  } else {
    it->Seek(start);
  }
  uint64_t taken = 0;
  // The scan wakes the thread every half window while it waits; the timeout
  // bounds a wake-up missed between the thread's check and its wait, and
  // doubles while the scan stands still (a cursor left open mid-scan).
  std::chrono::milliseconds timeout(1);
  while (it->Valid() && !quit_.load(std::memory_order_relaxed)) {
    if (taken >= steps_.load(std::memory_order_relaxed) + kWindow) {
      std::unique_lock<std::mutex> lock(mu_);
      waiting_.store(true);
      const bool woken = cv_.wait_for(lock, timeout, [&] {
        return quit_.load() || taken < steps_.load(std::memory_order_relaxed) + kWindow / 2;
      });
      waiting_.store(false);
      timeout = woken ? std::chrono::milliseconds(1) : std::min(timeout * 2, kLongestWait);
      continue;
    }
    // Each step past a block's last entry reads and decompresses the next
    // block into the cache; the values are not copied.
    if (reverse_) {
      it->Prev();
    } else {
      it->Next();
    }
    ++taken;
  }
}

}  // namespace manifold
