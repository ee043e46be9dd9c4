// WriteGate: the per-store, in-process write lock, taken before any engine
// lock. It belongs to a transaction object, not to a thread, so a second
// writer on the same thread waits out its timeout and gets Busy instead of
// deadlocking. Thread-safe.
#ifndef MANIFOLD_ENGINES_COMMON_WRITE_GATE_H_
#define MANIFOLD_ENGINES_COMMON_WRITE_GATE_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "manifold/status.h"

namespace manifold {

class WriteGate {
 public:
  // Waits up to `wait` for the gate; Busy (naming `store`) if still held.
  Status Acquire(std::chrono::milliseconds wait, std::string_view store) {
    std::unique_lock<std::mutex> lock(mu_);
    // A free gate is taken without reading the clock.
    if (held_ && !cv_.wait_for(lock, wait, [this] { return !held_; })) {
      return Status::Busy(std::string(store) + ": another write transaction is active (waited " +
                          std::to_string(wait.count()) + " ms)");
    }
    held_ = true;
    return Status::OK();
  }

  // REQUIRES: held by the caller.
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ = false;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

// Holds a WriteGate for its lifetime.
class WriteGateHold {
 public:
  WriteGateHold() = default;
  explicit WriteGateHold(WriteGate* gate) : gate_(gate) {}
  WriteGateHold(WriteGateHold&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
  WriteGateHold& operator=(WriteGateHold&& other) noexcept {
    if (this != &other) {
      Reset();
      gate_ = std::exchange(other.gate_, nullptr);
    }
    return *this;
  }
  ~WriteGateHold() { Reset(); }
  void Reset() {
    if (gate_ != nullptr) std::exchange(gate_, nullptr)->Release();
  }

 private:
  WriteGate* gate_ = nullptr;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_WRITE_GATE_H_
