// The compression benchmark: JSON log events (about 400 bytes each, from a
// fixed-seed generator) loaded through SQL into a native SQLite table and into
// a manifold table of each persistent engine, with compression=none and
// compression=zstd. Prints bytes on disk against the native table and the read
// throughput of compressed against uncompressed tables.
//
//   ./build/bench/compression_bench [--rows=1000000] [--engines=btree,lmdb,rocksdb]
//       [--level=3] [--runs=3] [--rounds=5] [--clock=wall|cpu] [--dir=/tmp]
//
// Every table is `events(id INTEGER PRIMARY KEY, body TEXT)`, loaded in
// transactions of 10,000 rows, then compacted (VACUUM for the native table,
// manifold_compact() for manifold tables, which retrains the zstd
// dictionaries and compacts the engine). Bytes on disk are the sum of the
// sizes of every file the database uses: the main database file plus, for
// manifold, the store (file or directory). Read times are medians of --runs.
// Then the two tables of each engine are read again through SQL in turns
// (--rounds rounds, each scanning both and reading the same ids from both),
// for ratios that compare reads taken seconds apart rather than minutes.
// Each manifold store is also opened again through the C++ interface,
// scanned with a cursor (every value read, and decompressed) and read with
// random ReadTxn::Get calls: the same reads without SQL's per-row work, whose
// cost moves a lot between runs here.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "harness.h"
#include "sql_db.h"
#include "manifold/engine.h"
#include "manifold/registry.h"
#include "zstd/zstd_engine.h"

extern "C" int sqlite3_manifold_init(sqlite3* db, char** error, const sqlite3_api_routines* api);

namespace manifold::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kGets = 100000;  // point reads below SQL, per run

double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- Log events ---------------------------------------------------------------
//
// Structured application logs as a service mesh writes them: a timestamp that
// only grows, a level from a skewed set, a service and the pod it runs in,
// trace and span ids (random hex, the part no compressor can shrink), a user
// id from a skewed population, an HTTP method, path and status, a latency
// with a long tail, and a message from per-kind templates with values filled
// in. The same seed always gives the same events.
class EventGenerator {
 public:
  explicit EventGenerator(uint64_t seed) : rng_(seed) {}

  std::string Next() {
    ts_ms_ += 1 + Below(40);
    const Service& svc = kServices[Skewed(std::size(kServices))];
    const int kind = static_cast<int>(Below(100));
    const char* level = kind < 3 ? "ERROR" : kind < 10 ? "WARN" : kind < 25 ? "DEBUG" : "INFO";
    const Route& route = svc.routes[Below(svc.route_count)];
    const uint64_t user = 1000 + Skewed(200000);
    const uint64_t object = 100000 + Below(900000);
    int status = 200;
    if (level[0] == 'E') {
      status = Below(4) == 0 ? 503 : 500;
    } else if (level[0] == 'W') {
      status = kWarnStatus[Below(std::size(kWarnStatus))];
    } else if (route.method[0] == 'P' && route.method[1] == 'O') {
      status = 201;
    }
    // A log-normal-ish latency: mostly tens of ms, sometimes seconds.
    std::lognormal_distribution<double> latency(3.2, 0.9);
    char latency_text[32];
    std::snprintf(latency_text, sizeof(latency_text), "%.1f", latency(rng_));

    std::string e;
    e.reserve(512);
    e += "{\"ts\":\"";
    e += Timestamp();
    e += "\",\"level\":\"";
    e += level;
    e += "\",\"service\":\"";
    e += svc.name;
    e += "\",\"host\":\"";
    e += svc.name;
    e += "-";
    e += kPods[(svc.name[0] + Below(3)) % std::size(kPods)];
    e += "\",\"env\":\"prod\",\"region\":\"";
    e += kRegions[Skewed(std::size(kRegions))];
    e += "\",\"trace_id\":\"";
    e += Hex(16);
    e += "\",\"span_id\":\"";
    e += Hex(8);
    e += "\",\"user_id\":\"u-";
    e += std::to_string(user);
    e += "\",\"method\":\"";
    e += route.method;
    e += "\",\"path\":\"";
    e += Fill(route.path, object, user);
    e += "\",\"status\":";
    e += std::to_string(status);
    e += ",\"latency_ms\":";
    e += latency_text;
    e += ",\"bytes\":";
    e += std::to_string(200 + Skewed(20000));
    e += ",\"client\":\"";
    e += kAgents[Skewed(std::size(kAgents))];
    e += "\",\"msg\":\"";
    const char* const* templates = level[0] == 'E'   ? kErrorMessages
                                   : level[0] == 'W' ? kWarnMessages
                                                     : kInfoMessages;
    e += Fill(templates[Below(kMessagesPerLevel)], object, user);
    e += "\"}";
    return e;
  }

 private:
  struct Route {
    const char* method;
    const char* path;  // {o}: an object id, {u}: the user id
  };
  struct Service {
    const char* name;
    const Route* routes;
    size_t route_count;
  };

  static constexpr Route kCheckout[] = {{"POST", "/api/v2/orders"},
                                        {"GET", "/api/v2/orders/{o}"},
                                        {"POST", "/api/v2/orders/{o}/items"},
                                        {"POST", "/api/v2/orders/{o}/payment"}};
  static constexpr Route kCatalog[] = {{"GET", "/api/v1/products/{o}"},
                                       {"GET", "/api/v1/products?category=shoes&page={o}"},
                                       {"GET", "/api/v1/search?q=running+shoes&limit=20"}};
  static constexpr Route kUsers[] = {{"GET", "/api/v1/users/{u}"},
                                     {"PATCH", "/api/v1/users/{u}/preferences"},
                                     {"POST", "/api/v1/sessions"}};
  static constexpr Route kInventory[] = {{"GET", "/internal/stock/{o}"},
                                         {"PUT", "/internal/stock/{o}/reserve"}};
  static constexpr Route kGateway[] = {{"GET", "/healthz"},
                                       {"GET", "/api/v2/cart/{u}"},
                                       {"DELETE", "/api/v2/cart/{u}/items/{o}"}};
  static constexpr Service kServices[] = {
      {"api-gateway", kGateway, std::size(kGateway)},
      {"catalog-svc", kCatalog, std::size(kCatalog)},
      {"checkout-api", kCheckout, std::size(kCheckout)},
      {"user-profile", kUsers, std::size(kUsers)},
      {"inventory-svc", kInventory, std::size(kInventory)},
  };
  static constexpr const char* kPods[] = {"7d9f8b6c4-x2k9p", "7d9f8b6c4-q8wzt", "5c6b9d7f8-mn4rj",
                                          "5c6b9d7f8-tt2lv", "84bd6f9c5-pk7sd", "84bd6f9c5-zc3hb"};
  static constexpr const char* kRegions[] = {"eu-west-1", "us-east-1", "eu-central-1",
                                             "ap-southeast-2"};
  static constexpr int kWarnStatus[] = {400, 401, 404, 409, 429, 200};
  static constexpr const char* kAgents[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119.0",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Safari/604.1",
      "okhttp/4.12.0", "python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"};
  static constexpr size_t kMessagesPerLevel = 6;
  static constexpr const char* kInfoMessages[kMessagesPerLevel] = {
      "request completed",
      "order {o} created for user u-{u} with 3 items",
      "cache hit for key product:{o}:summary",
      "payment authorized for order {o} via card ending 4242",
      "session refreshed for user u-{u}",
      "stock reserved for sku {o}: 2 units in warehouse FRA-2"};
  static constexpr const char* kWarnMessages[kMessagesPerLevel] = {
      "slow query on orders: 812 rows scanned for order {o}",
      "rate limit close for user u-{u}: 92 of 100 requests this minute",
      "retrying call to inventory-svc (attempt 2 of 3) for sku {o}",
      "cache miss for key product:{o}:summary, loading from database",
      "request validation failed: field 'quantity' must be positive",
      "deprecated API version v1 used by client for user u-{u}"};
  static constexpr const char* kErrorMessages[kMessagesPerLevel] = {
      "upstream timeout after 3000 ms calling payment-provider for order {o}",
      "database connection pool exhausted (max 50), request dropped",
      "unhandled exception: java.lang.IllegalStateException: order {o} already paid",
      "failed to publish event OrderCreated for order {o}: broker unavailable",
      "circuit breaker open for inventory-svc after 5 consecutive failures",
      "authentication failed for user u-{u}: token expired"};

  uint64_t Below(uint64_t n) { return rng_() % n; }
  // A skewed pick in [0, n): small values far more often, as real traffic.
  uint64_t Skewed(uint64_t n) {
    double u = std::uniform_real_distribution<double>(0, 1)(rng_);
    return std::min<uint64_t>(n - 1, static_cast<uint64_t>(u * u * u * static_cast<double>(n)));
  }
  std::string Hex(size_t bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes; ++i) {
      uint64_t b = rng_();
      out += kDigits[b & 15];
      out += kDigits[(b >> 4) & 15];
    }
    return out;
  }
  std::string Timestamp() {
    // 2026-11-25T00:00:00Z plus ts_ms_, as ISO 8601 with milliseconds.
    uint64_t ms = ts_ms_ % 1000, s = ts_ms_ / 1000;
    char out[40];
    std::snprintf(out, sizeof(out), "2026-11-%02" PRIu64 "T%02" PRIu64 ":%02" PRIu64
                  ":%02" PRIu64 ".%03" PRIu64 "Z",
                  25 + s / 86400, s / 3600 % 24, s / 60 % 60, s % 60, ms);
    return out;
  }
  static std::string Fill(const char* pattern, uint64_t object, uint64_t user) {
    std::string out;
    for (const char* p = pattern; *p != '\0'; ++p) {
      if (p[0] == '{' && p[1] != '\0' && p[2] == '}') {
        out += std::to_string(p[1] == 'o' ? object : user);
        p += 2;
      } else {
        out += *p;
      }
    }
    return out;
  }

  std::mt19937_64 rng_;
  uint64_t ts_ms_ = 0;
};

// --- One table ------------------------------------------------------------------

uint64_t TreeBytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

struct Config {
  std::string engine;       // empty: the native SQLite table
  std::string compression;  // "none" or "zstd"
  std::string label() const { return engine.empty() ? "native" : engine + "/" + compression; }
};

struct Measured {
  double load_seconds = 0;
  double compact_seconds = 0;  // VACUUM or manifold_compact, wall time
  uint64_t bytes_loaded = 0;  // before compaction
  uint64_t bytes = 0;         // after compaction
  double scan_seconds = 0;    // median
  double point_seconds = 0;   // median
  // Value bytes of the table's keyspace after compaction (manifold only).
  ValueByteCounts values;
  // A scan of the keyspace through the C++ cursor, below SQL (manifold
  // only): every value read, decompressed when stored compressed. Median.
  double cursor_scan_seconds = 0;
  double get_seconds = 0;  // kGets random ReadTxn::Get calls below SQL
};

// --clock=cpu times reads in process CPU seconds instead of wall seconds:
// steadier on a shared machine, blind to time spent waiting.
bool g_cpu_clock = false;

// Seconds `body` took, by the clock --clock names.
double TimeOnce(const std::function<void()>& body) {
  auto start = Clock::now();
  double cpu_start = ProcessCpuSeconds();
  body();
  return g_cpu_clock ? ProcessCpuSeconds() - cpu_start : Since(start);
}

double MedianOf(int runs, const std::function<void()>& body) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) times.push_back(TimeOnce(body));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The SQL reads timed on every table: a full scan, and point reads by id.
constexpr char kScanSql[] = "SELECT count(*), sum(length(body)) FROM events";
constexpr char kPointSql[] = "SELECT body FROM events WHERE id = ?";
constexpr int kLookups = 10000;

void ScanOnce(Db& db, sqlite3_stmt* scan, int64_t rows, const std::string& label) {
  if (sqlite3_step(scan) != SQLITE_ROW || sqlite3_column_int64(scan, 0) != rows) {
    Fail(label + ": full scan: " + db.ErrorMessage());
  }
  sqlite3_reset(scan);
}

// kLookups reads of random ids drawn from `rng`.
void PointReads(sqlite3_stmt* point, int64_t rows, std::mt19937_64& rng,
                const std::string& label) {
  size_t bytes = 0;
  for (int i = 0; i < kLookups; ++i) {
    sqlite3_bind_int64(point, 1, static_cast<int64_t>(rng() % rows) + 1);
    if (sqlite3_step(point) != SQLITE_ROW) Fail(label + ": point read");
    bytes += std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(point, 0)),
                              sqlite3_column_bytes(point, 0))
                 .size();
    sqlite3_reset(point);
  }
  if (bytes == 0) Fail(label + ": point reads read nothing");
}

std::string ConfigDir(const std::string& base, const std::string& engine,
                      const std::string& compression) {
  return base + "/" + engine + "-" + compression;
}

// Loads, compacts and reads one table. A manifold table's directory is kept
// for ReadInTurns; the caller removes it.
Measured RunConfig(const Config& config, const std::string& base, int64_t rows, int level,
                   int runs) {
  const std::string dir = config.engine.empty()
                              ? base + "/native"
                              : ConfigDir(base, config.engine, config.compression);
  std::filesystem::create_directories(dir);
  Measured m;
  {
    Db db(dir + "/main.db");
    if (config.engine.empty()) {
      db.Exec("CREATE TABLE events(id INTEGER PRIMARY KEY, body TEXT)");
    } else {
      db.Exec("CREATE VIRTUAL TABLE events USING manifold(engine=" + config.engine +
              ", compression=" + config.compression +
              ", compression_level=" + std::to_string(level) +
              ", path='store', id INTEGER PRIMARY KEY, body TEXT)");
    }
    sqlite3_stmt* insert = db.Prepare("INSERT INTO events(id, body) VALUES(?, ?)");
    EventGenerator events(20261125);
    auto start = Clock::now();
    for (int64_t id = 1; id <= rows; ++id) {
      if (id % 10000 == 1) db.Exec("BEGIN");
      std::string body = events.Next();
      sqlite3_bind_int64(insert, 1, id);
      sqlite3_bind_text(insert, 2, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
      db.Run(insert);
      if (id % 10000 == 0 || id == rows) db.Exec("COMMIT");
    }
    m.load_seconds = Since(start);
    sqlite3_finalize(insert);
    m.bytes_loaded = TreeBytes(dir);

    start = Clock::now();
    if (config.engine.empty()) {
      db.Exec("VACUUM");
    } else {
      db.Exec("SELECT manifold_compact('events')");
    }
    m.compact_seconds = Since(start);
    m.bytes = TreeBytes(dir);

    sqlite3_stmt* scan = db.Prepare(kScanSql);
    m.scan_seconds = MedianOf(runs, [&] { ScanOnce(db, scan, rows, config.label()); });
    sqlite3_finalize(scan);

    sqlite3_stmt* point = db.Prepare(kPointSql);
    std::mt19937_64 rng(42);
    m.point_seconds = MedianOf(runs, [&] { PointReads(point, rows, rng, config.label()); });
    sqlite3_finalize(point);
  }
  if (!config.engine.empty()) {
    // The store, opened again through the C++ interface (the SQL connection
    // has closed it), for what the values cost before and after compression.
    Options options;
    options.path = dir + "/store";
    options.compression = config.compression == "zstd" ? Compression::kZstd : Compression::kNone;
    options.compression_level = level;
    Result<std::unique_ptr<Engine>> engine = Engine::Open(config.engine, options);
    if (!engine.ok()) Fail("reopen " + options.path + ": " + engine.status().ToString());
    Result<ValueByteCounts> counts = CountValueBytes(**engine, "events");
    if (!counts.ok()) Fail("count value bytes: " + counts.status().ToString());
    m.values = *counts;
    std::vector<std::string> keys;
    keys.reserve(static_cast<size_t>(rows));
    m.cursor_scan_seconds = MedianOf(runs, [&] {
      Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
      if (!txn.ok()) Fail("cursor scan: " + txn.status().ToString());
      Result<Keyspace> ks = (*txn)->OpenKeyspace("events");
      if (!ks.ok()) Fail("cursor scan: " + ks.status().ToString());
      Result<std::unique_ptr<Cursor>> cursor = (*txn)->NewCursor(*ks);
      if (!cursor.ok()) Fail("cursor scan: " + cursor.status().ToString());
      int64_t n = 0;
      uint64_t bytes = 0;
      Cursor& c = **cursor;
      for (c.SeekToFirst(); c.Valid(); c.Next()) {
        bytes += c.value().size();
        if (keys.size() < static_cast<size_t>(rows)) keys.emplace_back(c.key());
        ++n;
      }
      if (!c.status().ok() || n != rows || bytes == 0) {
        Fail(config.label() + ": cursor scan read " + std::to_string(n) + " rows");
      }
    });
    // Point reads below SQL: the engine's Get of random keys, in one read
    // transaction.
    std::mt19937_64 rng(43);
    m.get_seconds = MedianOf(runs, [&] {
      Result<std::unique_ptr<ReadTxn>> txn = (*engine)->BeginRead();
      if (!txn.ok()) Fail("gets: " + txn.status().ToString());
      Result<Keyspace> ks = (*txn)->OpenKeyspace("events");
      if (!ks.ok()) Fail("gets: " + ks.status().ToString());
      std::string value;
      uint64_t bytes = 0;
      for (int i = 0; i < kGets; ++i) {
        Status s = (*txn)->Get(*ks, keys[rng() % keys.size()], &value);
        if (!s.ok()) Fail(config.label() + ": get: " + s.ToString());
        bytes += value.size();
      }
      if (bytes == 0) Fail(config.label() + ": gets read nothing");
    });
  }
  if (config.engine.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return m;
}

// Per-round ratios (zstd / none) of the interleaved reads.
struct Interleaved {
  std::vector<double> scan;
  std::vector<double> points;
};

// The SQL reads of the two tables of one engine, taken in turns: each round
// scans both and reads the same 10k random ids from both, the table read
// first alternating between rounds. Timed one after the other, minutes
// apart, the two tables' figures also differ by whatever this machine did
// in between; in turns, each round's ratio compares reads taken within a
// second or two of each other.
Interleaved ReadInTurns(const std::string& none_dir, const std::string& zstd_dir, int64_t rows,
                        int rounds) {
  struct Table {
    std::unique_ptr<Db> db;
    sqlite3_stmt* scan = nullptr;
    sqlite3_stmt* point = nullptr;
    std::string label;
  };
  Table tables[2];
  for (int t = 0; t < 2; ++t) {
    tables[t].db = std::make_unique<Db>((t == 0 ? none_dir : zstd_dir) + "/main.db");
    tables[t].scan = tables[t].db->Prepare(kScanSql);
    tables[t].point = tables[t].db->Prepare(kPointSql);
    tables[t].label = t == 0 ? "in turns, none" : "in turns, zstd";
  }
  auto scan = [&](Table& table) {
    return TimeOnce([&] { ScanOnce(*table.db, table.scan, rows, table.label); });
  };
  auto points = [&](Table& table, uint64_t seed) {
    std::mt19937_64 rng(seed);
    return TimeOnce([&] { PointReads(table.point, rows, rng, table.label); });
  };
  Interleaved out;
  for (int round = 0; round < rounds; ++round) {
    const int first = round % 2;
    double scans[2];
    double reads[2];
    scans[first] = scan(tables[first]);
    scans[1 - first] = scan(tables[1 - first]);
    reads[first] = points(tables[first], 1000 + round);
    reads[1 - first] = points(tables[1 - first], 1000 + round);
    out.scan.push_back(scans[1] / scans[0]);
    out.points.push_back(reads[1] / reads[0]);
  }
  for (Table& table : tables) {
    sqlite3_finalize(table.scan);
    sqlite3_finalize(table.point);
  }
  return out;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double MiB(uint64_t bytes) { return static_cast<double>(bytes) / 1048576.0; }

int Main(int argc, char** argv) {
  const int64_t rows = std::stoll(Flag(argc, argv, "rows", "1000000"));
  const int level = std::stoi(Flag(argc, argv, "level", "3"));
  const int runs = std::max(1, std::stoi(Flag(argc, argv, "runs", "3")));
  const int rounds = std::max(1, std::stoi(Flag(argc, argv, "rounds", "5")));
  g_cpu_clock = Flag(argc, argv, "clock", "wall") == "cpu";
  if (rows < 1) Fail("--rows must be at least 1");
  std::vector<std::string> engines = SplitList(Flag(argc, argv, "engines", ""));
  if (engines.empty()) {
    for (const EngineInfo& info : RegisteredEngines()) {
      if (info.available && info.capabilities.persistent) engines.push_back(info.name);
    }
  }
  std::string base = Flag(argc, argv, "dir", "/tmp");
  std::string dir = base + "/manifold-compression-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) Fail("mkdtemp in " + base);
  sqlite3_auto_extension(reinterpret_cast<void (*)()>(sqlite3_manifold_init));

  {
    EventGenerator sample(20261125);
    uint64_t total = 0;
    const int n = 10000;
    for (int i = 0; i < n; ++i) total += sample.Next().size();
    std::printf("compression benchmark: %lld JSON log events (mean %.0f bytes), "
                "events(id INTEGER PRIMARY KEY, body TEXT), 10k rows per transaction, "
                "zstd level %d, SQLite %s; read times are medians of %d runs (%s time)\n",
                static_cast<long long>(rows), static_cast<double>(total) / n, level,
                sqlite3_libversion(), runs, g_cpu_clock ? "process CPU" : "wall");
    std::printf("example event: %s\n", EventGenerator(20261125).Next().c_str());
  }

  std::fprintf(stderr, "native...\n");
  const Measured native = RunConfig(Config{"", "none"}, dir, rows, level, runs);
  std::vector<std::pair<Measured, Measured>> results;  // (none, zstd) per engine
  std::vector<Interleaved> turns;                       // per engine
  for (const std::string& engine : engines) {
    std::fprintf(stderr, "%s...\n", engine.c_str());
    Measured none = RunConfig(Config{engine, "none"}, dir, rows, level, runs);
    Measured zstd = RunConfig(Config{engine, "zstd"}, dir, rows, level, runs);
    results.emplace_back(none, zstd);
    turns.push_back(ReadInTurns(ConfigDir(dir, engine, "none"), ConfigDir(dir, engine, "zstd"),
                                rows, rounds));
    for (const char* compression : {"none", "zstd"}) {
      std::error_code ec;
      std::filesystem::remove_all(ConfigDir(dir, engine, compression), ec);
    }
  }

  std::printf("\nBytes on disk after compaction (MiB; ratio to the native SQLite table):\n\n");
  std::printf("| table | uncompressed | x native | zstd | x native | zstd / uncompressed |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  std::printf("| native SQLite | %.1f | 1.00x | | | |\n", MiB(native.bytes));
  for (size_t i = 0; i < engines.size(); ++i) {
    const auto& [none, zstd] = results[i];
    std::printf("| %s | %.1f | %.2fx | %.1f | %.2fx | %.2fx |\n", engines[i].c_str(),
                MiB(none.bytes), static_cast<double>(none.bytes) / native.bytes, MiB(zstd.bytes),
                static_cast<double>(zstd.bytes) / native.bytes,
                static_cast<double>(zstd.bytes) / none.bytes);
  }

  std::printf("\nReads (ms; full scan of sum(length(body)), 10k random point reads by id):\n\n");
  std::printf("| table | scan | scan zstd | zstd / none | 10k points | 10k points zstd | zstd / none |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| native SQLite | %.1f | | | %.1f | | |\n", native.scan_seconds * 1e3,
              native.point_seconds * 1e3);
  for (size_t i = 0; i < engines.size(); ++i) {
    const auto& [none, zstd] = results[i];
    std::printf("| %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", engines[i].c_str(),
                none.scan_seconds * 1e3, zstd.scan_seconds * 1e3,
                zstd.scan_seconds / none.scan_seconds, none.point_seconds * 1e3,
                zstd.point_seconds * 1e3, zstd.point_seconds / none.point_seconds);
  }

  std::printf("\nThe same SQL reads in turns (zstd / none per round, %d rounds; each round "
              "scans both tables and reads the same 10k ids from both, the first table "
              "alternating):\n\n", rounds);
  std::printf("| table | scan, median | scan, rounds | 10k points, median "
              "| 10k points, rounds |\n");
  std::printf("|---|---:|---|---:|---|\n");
  for (size_t i = 0; i < engines.size(); ++i) {
    auto list = [](const std::vector<double>& ratios) {
      std::string text;
      for (double r : ratios) {
        char one[16];
        std::snprintf(one, sizeof(one), "%s%.2f", text.empty() ? "" : " ", r);
        text += one;
      }
      return text;
    };
    std::printf("| %s | %.2fx | %s | %.2fx | %s |\n", engines[i].c_str(), Median(turns[i].scan),
                list(turns[i].scan).c_str(), Median(turns[i].points),
                list(turns[i].points).c_str());
  }

  std::printf("\nThe same reads below SQL (ns per row; a cursor over the table's keyspace, "
              "every value read and decompressed; %d random ReadTxn::Get):\n\n", kGets);
  std::printf("| table | cursor scan | cursor scan zstd | zstd / none | get | get zstd "
              "| zstd / none |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < engines.size(); ++i) {
    const auto& [none, zstd] = results[i];
    std::printf("| %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx |\n", engines[i].c_str(),
                none.cursor_scan_seconds / static_cast<double>(rows) * 1e9,
                zstd.cursor_scan_seconds / static_cast<double>(rows) * 1e9,
                zstd.cursor_scan_seconds / none.cursor_scan_seconds,
                none.get_seconds / kGets * 1e9, zstd.get_seconds / kGets * 1e9,
                zstd.get_seconds / none.get_seconds);
  }

  std::printf("\nWhere the bytes go (per row; values are the encoded records manifold hands the "
              "engine):\n\n");
  std::printf("| table | load s | compact s | disk before compact | disk after | value logical "
              "| value stored | stored / logical | disk / stored value |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| native SQLite | %.1f | %.1f | %.0f | %.0f | | | | |\n", native.load_seconds,
              native.compact_seconds,
              static_cast<double>(native.bytes_loaded) / rows,
              static_cast<double>(native.bytes) / rows);
  for (size_t i = 0; i < engines.size(); ++i) {
    for (const Measured* m : {&results[i].first, &results[i].second}) {
      const double values = std::max<double>(1, static_cast<double>(m->values.values));
      std::printf("| %s/%s | %.1f | %.1f | %.0f | %.0f | %.1f | %.1f | %.3f | %.2f |\n",
                  engines[i].c_str(), m == &results[i].first ? "none" : "zstd", m->load_seconds,
                  m->compact_seconds,
                  static_cast<double>(m->bytes_loaded) / rows, static_cast<double>(m->bytes) / rows,
                  m->values.logical / values, m->values.stored / values,
                  static_cast<double>(m->values.stored) / std::max<uint64_t>(1, m->values.logical),
                  static_cast<double>(m->bytes) / std::max<uint64_t>(1, m->values.stored));
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

}  // namespace
}  // namespace manifold::bench

int main(int argc, char** argv) { return manifold::bench::Main(argc, argv); }
