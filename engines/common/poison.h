// Poisoning after an I/O error. Once any operation on a persistent store
// returns IOError (a failed write, fsync or read), the state of the store in
// this process can no longer be trusted: the page cache may have dropped the
// pages whose writeback failed, so a second fsync that succeeds proves
// nothing. Every handle of that store then fails each later operation with
// IOError, naming the first error, without calling the engine again (so no
// fsync is ever retried), until every handle has been closed and the store
// is opened again, which recovers it from what is on disk. Full (no space)
// does not poison: nothing was lost, the write can be tried again once space
// returns. Thread-safe.
#ifndef MANIFOLD_ENGINES_COMMON_POISON_H_
#define MANIFOLD_ENGINES_COMMON_POISON_H_

#include <memory>
#include <string>

#include "manifold/engine.h"

namespace manifold {

// Wraps `engine`, opened by this process on `path`, with the two guards a
// store on disk needs, in one layer (one virtual call and one check of each
// per operation):
// - the poison above: handles of one store (same device and inode) share one
//   poisoned flag that lives as long as any of them;
// - ownership (fork_guard.h): in a forked child every call is
//   OwnerProcess::Check's error naming `what`, and destroying the handle or
//   its transactions closes and ends nothing.
std::unique_ptr<Engine> GuardStore(std::unique_ptr<Engine> engine, const std::string& path,
                                   std::string what);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_COMMON_POISON_H_
