// ScanAhead: the values of a long scan of a read snapshot, decoded on a
// thread of its own a batch ahead of the caller (and by the caller too, when
// it would otherwise wait).
//
// A scan of a compressed table spends about as long in zstd as in everything
// else it does per row (SQLite's own work included). ScanAhead reads the
// next batch of entries from the inner cursor, copies their keys and stored
// values, and hands the batch to its thread, which decodes it while the
// caller works through the batch before. When the caller reaches a batch the
// thread has not finished, it decodes the rest of it alongside the thread:
// both claim runs of kClaim values from the batch. With a core to spare the
// scan takes about as long as an uncompressed one.
//
// Only for cursors of read transactions: the snapshot does not change under
// them, so the entries read ahead are the ones the inner cursor would give
// one at a time, and the inner cursor can be put back on the current entry
// with one Seek.
//
// Thread-safety: used by one thread; the thread it starts touches only the
// batches it was handed and the codec it was given, never the inner cursor
// or the transaction. Each value of a batch is decoded by the one thread that
// claimed it.
//
// fork(): the thread does not come along into a child, and the child's copies
// of the mutex and condition variable may show it holding or waiting on them.
// In a child, Step() fails at once (it would serve the parent's rows, or wait
// for a batch no thread decodes), and the owner must not destroy the object
// (inherited() says when): its destructor would join a thread that is not
// there and destroy a condition variable that thread may be waiting on.
#ifndef MANIFOLD_ENGINES_ZSTD_ZSTD_SCAN_AHEAD_H_
#define MANIFOLD_ENGINES_ZSTD_ZSTD_SCAN_AHEAD_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fork_guard.h"
#include "manifold/engine.h"
#include "zstd/zstd_codec.h"

namespace manifold {

class ScanAhead {
 public:
  // A batch ends after this many entries or this many decoded bytes,
  // whichever comes first (a single larger value is a batch of its own).
  static constexpr size_t kBatchEntries = 256;
  static constexpr size_t kBatchBytes = size_t{1} << 20;
  // Batches in the ring: the one the caller reads and two for the thread,
  // so that it has the next one while the caller fills the one after.
  static constexpr size_t kDepth = 3;
  static constexpr size_t kClaim = 16;  // values claimed at a time
  static constexpr int kSpins = 500;  // pauses before a wait sleeps

  // Reads ahead of `inner` (which must be Valid(): the scan continues after
  // its entry) in the direction `reverse` says, finding dictionaries with
  // `lookup` on the caller's thread. The thread decodes with `codec`, the
  // caller with `caller_codec`. `inner`, both codecs and what `lookup` reads
  // must outlive this object. Throws std::system_error when no thread can be
  // started.
  ScanAhead(Cursor* inner, bool reverse, DictionaryLookup lookup, ZstdCodec* codec,
            ZstdCodec* caller_codec);
  ScanAhead(const ScanAhead&) = delete;
  ScanAhead& operator=(const ScanAhead&) = delete;
  // Stops the thread (after the value it is decoding) and waits for it.
  ~ScanAhead();

  bool reverse() const { return reverse_; }
  // True in a process forked after this object started its thread.
  bool inherited() const { return owner_.inherited(); }

  // Moves to the next entry of the scan. False at the end of the keyspace or
  // on an entry whose value failed; status() says which. Rethrows on the
  // caller's thread an exception (std::bad_alloc) the decoding thread met;
  // after one thrown while reading ahead, the scan is !Valid() for good.
  bool Step();

  bool Valid() const { return on_entry_ && entry().status.ok(); }
  // REQUIRES: Valid(). The bytes live until the next Step() or destruction.
  Bytes key() const;
  Bytes value() const;
  // Why the scan is !Valid(): OK at the end, else the error.
  Status status() const { return on_entry_ ? entry().status : end_; }

 private:
  struct Entry {
    size_t key_offset = 0;
    size_t key_size = 0;
    ZstdStoredHeader header;     // read when filled; its payload is set when decoded
    size_t payload_offset = 0;   // the payload's place in Batch::payloads
    size_t payload_size = 0;
    const ZstdDictionary* dict = nullptr;
    Status status;               // a damaged value or a missing dictionary
    std::exception_ptr thrown;   // what decoding threw
  };
  struct Batch {
    std::string keys;                  // every entry's key, one after another
    std::string payloads;              // every entry's raw value or zstd frame
    std::vector<Entry> entries;
    std::vector<std::string> values;   // decoded, one per entry (kept for reuse)
    std::vector<DictionaryPtr> held;   // the dictionaries the entries name
    bool ended = false;                // the inner cursor ended after the entries
    Status end;                        // and why (OK at the end of the keyspace)
    std::atomic<size_t> next{0};       // the first entry no thread has claimed
  };

  const Batch& serving() const { return batches_[served_ % kDepth]; }
  const Entry& entry() const { return serving().entries[index_]; }
  // Puts the caller on entry index_ of the batch served; false if it failed.
  bool Land();
  // Fills the next batch from the inner cursor, on the caller's thread, and
  // hands it to the thread.
  void FillNext();
  // Returns once batch number `n` (counted from 0) is decoded, decoding what
  // the thread has not claimed of it.
  void WaitFor(size_t n);
  // Returns once ready() holds (it is true once it holds: a count grows).
  template <typename Ready>
  void Await(Ready ready);
  void Run();
  // Claims and decodes runs of `batch` with `codec` until none is left (or,
  // on the thread, until it is told to quit).
  void Decode(Batch* batch, ZstdCodec* codec, bool on_thread);

  OwnerProcess owner_;
  Cursor* inner_;
  const bool reverse_;
  DictionaryLookup lookup_;
  ZstdCodec* codec_;
  ZstdCodec* caller_codec_;

  // Batch number n lives in batches_[n % kDepth].
  std::array<Batch, kDepth> batches_;
  size_t served_ = 0;     // the number of the batch the caller reads
  size_t index_ = 0;      // its entry the caller is on
  bool on_entry_ = false;
  bool started_ = false;  // batch 0 has been served
  bool ended_ = false;    // the inner cursor has ended: no batch is filled after
  bool failed_ = false;   // a step threw: status() says so, and the scan is over
  Status end_;            // status() once past the last entry

  // Batches filled, and batches the thread is done with (it claims nothing
  // more of them). Each is written under mu_ and read either under it or,
  // while spinning before a wait, without it.
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<size_t> filled_{0};
  std::atomic<size_t> decoded_{0};
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ZSTD_ZSTD_SCAN_AHEAD_H_
