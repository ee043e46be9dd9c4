// The file system under a RocksDB store: RocksDB's own, watched for I/O
// errors. RocksDB handles some failures itself without telling its caller
// (an fsync of the store's directory that fails while it opens the store is
// logged and ignored), and a background flush can fail between two commits.
// Once the store has seen any of them, no fsync of its files or directory
// reaches the kernel again (each fails), and it is closed without syncing
// its log: an fsync that follows a failed write or fsync proves nothing (the
// kernel may have dropped the pages whose writeback failed), RocksDB syncs
// again on its own after some failures (a background flush, its error
// recovery), and RocksDB 7.8 asserts, aborting the process, when a log whose
// append failed is synced.
#ifndef MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_IO_WATCH_H_
#define MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_IO_WATCH_H_

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <memory>

namespace manifold {

// Set once any read, write, sync or directory sync of the store has failed
// with an I/O error (not a missing file, which RocksDB probes for).
struct IoWatch {
  std::atomic<bool> failed{false};
};

// An Env whose file system forwards to RocksDB's default one, sets
// `watch->failed` on every I/O error and from then on fails every fsync.
// The Env must outlive the DB that uses it.
std::unique_ptr<rocksdb::Env> NewIoWatchingEnv(std::shared_ptr<IoWatch> watch);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_ROCKSDB_ROCKSDB_IO_WATCH_H_
