// The memory engine: an ordered in-memory store with snapshot reads.
//
// Named stores (Options::path) live in a process-wide registry of weak
// references, so every opener of one name shares the store and the store goes
// away with its last handle; path "" is a private store of that opener.
#include "memory/memory_engine.h"

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "memory/memory_store.h"
#include "memory/memory_txn.h"

namespace manifold {
namespace {

Capabilities MemoryCapabilities() {
  Capabilities caps;
  caps.persistent = false;
  caps.multi_process = false;
  caps.native_compression = false;
  caps.empty_keys = true;
  caps.max_key_size = 0;
  return caps;
}

// The process's named memory stores. Thread-safe.
class MemoryStoreRegistry {
 public:
  static MemoryStoreRegistry& Get() {
    // Holds weak references only, so a store released after this is destroyed
    // (by another static destructor) never touches it.
    static MemoryStoreRegistry registry;
    return registry;
  }

  // Returns the live store named `path`, or a new one if `create`, else NotFound.
  Result<std::shared_ptr<MemoryStore>> GetOrCreate(const std::string& path, bool create) {
    std::lock_guard<std::mutex> lock(mu_);
    // Forget stores whose last handle is gone, so the map tracks live stores only.
    std::erase_if(stores_, [](const auto& item) { return item.second.expired(); });
    auto it = stores_.find(path);
    if (it != stores_.end()) {
      if (std::shared_ptr<MemoryStore> store = it->second.lock()) return store;
    }
    if (!create) {
      return Status::NotFound("memory store '" + path +
                              "' does not exist in this process (create_if_missing is off)");
    }
    auto store = std::make_shared<MemoryStore>("memory store '" + path + "'");
    stores_[path] = store;
    return store;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<MemoryStore>> stores_;
};

class MemoryEngine final : public Engine {
 public:
  MemoryEngine(std::shared_ptr<MemoryStore> store, bool read_only)
      : store_(std::move(store)), read_only_(read_only) {}

  std::string_view name() const override { return "memory"; }
  Capabilities capabilities() const override { return MemoryCapabilities(); }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override {
    return std::unique_ptr<ReadTxn>(std::make_unique<MemoryReadTxn>(store_, store_->Snapshot()));
  }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    if (read_only_) return Status::ReadOnly(store_->label() + " is open read-only");
    MANIFOLD_RETURN_IF_ERROR(store_->gate().Acquire(wait, store_->label()));
    WriteGateHold hold(&store_->gate());
    return std::unique_ptr<WriteTxn>(std::make_unique<MemoryWriteTxn>(store_, std::move(hold)));
  }

  Result<uint64_t> EstimatedSize() override {
    std::shared_ptr<const MemoryCatalog> catalog = store_->Snapshot();
    uint64_t bytes = 0;
    for (const auto& [name, keyspace] : *catalog) {
      bytes += name.size() + sizeof(MemoryKeyspace) + keyspace.tree.payload_bytes() +
               keyspace.tree.size() * PersistentTree::kEntryOverhead;
    }
    return bytes;
  }

  // Nothing to give back: freed versions are released as soon as no snapshot
  // holds them.
  Status Compact() override { return Status::OK(); }

 private:
  const std::shared_ptr<MemoryStore> store_;
  const bool read_only_;
};

}  // namespace

EngineInfo MemoryEngineInfo() {
  return EngineInfo{"memory", std::string(Version()), MemoryCapabilities(), true, {}};
}

Result<std::unique_ptr<Engine>> OpenMemoryEngine(const Options& options) {
  if (!options.engine_options.empty()) {
    return Status::InvalidArgument("memory: unknown engine option '" +
                                   options.engine_options.begin()->first +
                                   "' (the memory engine has no options of its own)");
  }
  std::shared_ptr<MemoryStore> store;
  if (options.path.empty()) {
    // A private store: nothing else can name it, so there is nothing to find.
    store = std::make_shared<MemoryStore>("private memory store");
  } else {
    // A read-only opener cannot fill a new store, so it never creates one.
    Result<std::shared_ptr<MemoryStore>> named = MemoryStoreRegistry::Get().GetOrCreate(
        options.path, options.create_if_missing && !options.read_only);
    if (!named.ok()) return named.status();
    store = std::move(*named);
  }
  return std::unique_ptr<Engine>(std::make_unique<MemoryEngine>(std::move(store),
                                                                options.read_only));
}

}  // namespace manifold
