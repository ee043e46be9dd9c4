// The lmdb engine: LmdbEngine is one opener's handle on a shared LmdbEnv.
#include "lmdb/lmdb_engine.h"

#include <lmdb.h>

#include <charconv>
#include <limits>
#include <utility>

#include "lmdb/lmdb_env.h"
#include "lmdb/lmdb_txn.h"

namespace manifold {
namespace {

constexpr const char* kOptionNames[] = {"map_size", "max_readers", "max_keyspaces"};

Capabilities LmdbCapabilities() {
  Capabilities caps;
  caps.persistent = true;
  caps.multi_process = true;
  caps.native_compression = false;
  caps.empty_keys = false;
  caps.max_key_size = 511;  // MDB_MAXKEYSIZE of Debian's liblmdb; checked at open
  return caps;
}

Result<uint64_t> ParseCount(const std::string& name, const std::string& text, uint64_t min,
                            uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Status::InvalidArgument("lmdb: option " + name + "='" + text +
                                   "' must be an integer in " + std::to_string(min) + ".." +
                                   std::to_string(max));
  }
  return value;
}

Result<LmdbEnvOptions> ParseOptions(const Options& options) {
  LmdbEnvOptions env;
  env.create_if_missing = options.create_if_missing;
  env.read_only = options.read_only;
  env.sync = options.sync;
  for (const auto& [name, text] : options.engine_options) {
    if (name == "map_size") {
      Result<uint64_t> v = ParseCount(name, text, 4096, std::numeric_limits<size_t>::max() / 4);
      if (!v.ok()) return v.status();
      env.map_size = static_cast<size_t>(*v);
    } else if (name == "max_readers") {
      Result<uint64_t> v = ParseCount(name, text, 1, 1u << 20);
      if (!v.ok()) return v.status();
      env.max_readers = static_cast<unsigned>(*v);
    } else if (name == "max_keyspaces") {
      Result<uint64_t> v = ParseCount(name, text, 1, 32000);
      if (!v.ok()) return v.status();
      env.max_keyspaces = static_cast<unsigned>(*v);
    } else {
      std::string known;
      for (const char* option : kOptionNames) known += (known.empty() ? "" : ", ") + std::string(option);
      return Status::InvalidArgument("lmdb: unknown option '" + name + "' (known: " + known + ")");
    }
  }
  return env;
}

class LmdbEngine final : public Engine {
 public:
  LmdbEngine(std::shared_ptr<LmdbEnv> env, const Options& options)
      : env_(std::move(env)), read_only_(options.read_only), sync_(options.sync) {}

  std::string_view name() const override { return "lmdb"; }

  Capabilities capabilities() const override {
    Capabilities caps = LmdbCapabilities();
    caps.max_key_size = env_->max_key_size();
    return caps;
  }

  Result<std::unique_ptr<ReadTxn>> BeginRead() override { return LmdbReadTxn::Begin(env_); }

  Result<std::unique_ptr<WriteTxn>> BeginWrite(std::chrono::milliseconds wait) override {
    if (read_only_) {
      return Status::ReadOnly(env_->label() +
                              " is opened read-only: writes are not allowed");
    }
    return LmdbWriteTxn::Begin(env_, sync_, wait);
  }

  Result<uint64_t> EstimatedSize() override { return env_->DataFileSize(); }

  Status Backup(const std::string& path) override { return env_->Backup(path); }

  Status Compact() override {
    if (read_only_) {
      return Status::ReadOnly(env_->label() + " is opened read-only");
    }
    bool swapped = false;
    // use_count: this handle's reference plus one per other handle or live
    // transaction of this process.
    return env_->Compact(env_.use_count() == 1, &swapped);
  }

 private:
  std::shared_ptr<LmdbEnv> env_;
  const bool read_only_;
  const SyncMode sync_;
};

}  // namespace

EngineInfo LmdbEngineInfo() {
  int major = 0, minor = 0, patch = 0;
  mdb_version(&major, &minor, &patch);
  EngineInfo info;
  info.name = "lmdb";
  info.library_version =
      std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  info.capabilities = LmdbCapabilities();
  info.available = true;
  for (const char* option : kOptionNames) info.option_names.emplace_back(option);
  return info;
}

Result<std::unique_ptr<Engine>> OpenLmdbEngine(const Options& options) {
  Result<LmdbEnvOptions> env_options = ParseOptions(options);
  if (!env_options.ok()) return env_options.status();
  Result<std::shared_ptr<LmdbEnv>> env = LmdbEnv::Get(options.path, *env_options);
  if (!env.ok()) return env.status();
  return std::unique_ptr<Engine>(std::make_unique<LmdbEngine>(std::move(*env), options));
}

}  // namespace manifold
