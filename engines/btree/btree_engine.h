// The btree engine: manifold's own copy-on-write B+tree in one file (see
// FORMAT.md). Entry points for the registry, an integrity check, and a seam
// for tests that inject file faults.
#ifndef MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_
#define MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_

#include <memory>
#include <string>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace manifold {

namespace btree {
class File;
class Store;
}

// Returns the btree engine's row of manifold_engines.
EngineInfo BtreeEngineInfo();

// Opens (or joins, if this process has it open) the btree store at options.path.
// Engine options: page_size (bytes, a power of two 512..65536, for a new
// file; default 4096) and verify_checksums (true/false, default false: check
// every page's CRC32C when it is read, not only at open and in the check).
Result<std::unique_ptr<Engine>> OpenBtreeEngine(const Options& options);

// Opens a private store over `file` and its commit log `log` (null: none;
// small commits then sync the store file), outside the per-process
// registry, for tests that route I/O through a fault-injecting File.
// options.path is used in messages only.
Result<std::unique_ptr<Engine>> OpenBtreeEngineOnFile(const Options& options,
                                                      std::unique_ptr<btree::File> file,
                                                      std::unique_ptr<btree::File> log = nullptr);

// For tests that route the I/O of stores opened by name (through SQL, say)
// through a fault-injecting File: OpenBtreeEngine opens its files with
// `opener` instead of btree::OpenPosixFile; null restores the default. Set it
// before any store is opened, not while other threads open stores.
using BtreeFileOpener = Result<std::unique_ptr<btree::File>> (*)(const std::string& path,
                                                                 bool read_only, bool create);
void SetBtreeFileOpenerForTesting(BtreeFileOpener opener);

// Walks the whole btree file at `path` read-only: both meta slots, the
// catalog, every keyspace tree (key order, node structure, counts), every
// overflow chain and the freelist, verifying every page checksum and that no
// page is used twice or lost. OK, or Corruption describing the first problem.
Status CheckBtreeFile(const std::string& path);

// As CheckBtreeFile, on a store this process has open (Engine::Check): walks
// the committed state as of now from a read snapshot, so writers may go on.
Status CheckBtreeStore(btree::Store& store);

}  // namespace manifold

#endif  // MANIFOLD_ENGINES_BTREE_BTREE_ENGINE_H_
