#include "connection.h"

#include <utility>

#include "table.h"

namespace manifold {

std::string LowerAscii(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<std::shared_ptr<StoreSession>> Connection::Session(const std::string& engine,
                                                          const Options& options) {
  // Tables that open one store with different access modes get separate
  // handles; the engine's registry still shares the store underneath.
  std::string key = engine + '\0' + options.path + '\0' + (options.read_only ? "ro" : "rw") +
                    '\0' + (options.compression == Compression::kZstd ? "zstd" : "none");
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    if (std::shared_ptr<StoreSession> session = it->second.lock()) return session;
    sessions_.erase(it);
  }
  Result<std::unique_ptr<Engine>> opened = Engine::Open(engine, options);
  if (!opened.ok()) return opened.status();
  auto session = std::make_shared<StoreSession>(engine + " store '" + options.path + "'",
                                                std::move(*opened));
  sessions_[key] = session;
  if (!session->engine().capabilities().persistent) pinned_.push_back(session);
  return session;
}

std::chrono::milliseconds Connection::BusyTimeout() {
  // SQLite has no getter for the busy timeout but the pragma. Not cached: the
  // application may change it between statements.
  sqlite3_stmt* stmt = nullptr;
  int64_t ms = 0;
  if (sqlite3_prepare_v2(db_, "PRAGMA busy_timeout", -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    ms = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return std::chrono::milliseconds(ms < 0 ? 0 : ms);
}

void Connection::AddTable(Table* table) { tables_.emplace(LowerAscii(table->name()), table); }

void Connection::RemoveTable(Table* table) {
  for (auto it = tables_.begin(); it != tables_.end(); ++it) {
    if (it->second == table) {
      tables_.erase(it);
      return;
    }
  }
}

Table* Connection::FindTable(std::string_view name) const {
  auto it = tables_.find(LowerAscii(name));
  return it == tables_.end() ? nullptr : it->second;
}

}  // namespace manifold
