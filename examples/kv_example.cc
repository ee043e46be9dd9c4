// The engines as a plain C++ library: open a store by name, write in a
// transaction, read it back with a cursor. Usage: kv_example [engine] [path]
#include <chrono>
#include <cstdio>
#include <string>

#include "manifold/engine.h"
#include "manifold/registry.h"

int main(int argc, char** argv) {
  std::string engine_name = argc > 1 ? argv[1] : "memory";
  manifold::Options options;
  options.path = argc > 2 ? argv[2] : "";
  options.create_if_missing = true;

  auto engine = manifold::Engine::Open(engine_name, options);
  if (!engine.ok()) {
    std::fprintf(stderr, "open %s: %s\n", engine_name.c_str(), engine.status().ToString().c_str());
    return 1;
  }
  {
    auto txn = (*engine)->BeginWrite(std::chrono::milliseconds(1000));
    if (!txn.ok()) return std::fprintf(stderr, "%s\n", txn.status().ToString().c_str()), 1;
    auto fruit = (*txn)->CreateKeyspace("fruit");
    if (!fruit.ok()) return std::fprintf(stderr, "%s\n", fruit.status().ToString().c_str()), 1;
    for (const char* name : {"cherry", "apple", "banana"}) {
      if (auto s = (*txn)->Put(*fruit, name, std::to_string(std::string(name).size())); !s.ok()) {
        return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
      }
    }
    if (auto s = (*txn)->Commit(); !s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  auto snapshot = (*engine)->BeginRead();
  if (!snapshot.ok()) return std::fprintf(stderr, "%s\n", snapshot.status().ToString().c_str()), 1;
  auto fruit = (*snapshot)->OpenKeyspace("fruit");
  if (!fruit.ok()) return std::fprintf(stderr, "%s\n", fruit.status().ToString().c_str()), 1;
  auto cursor = (*snapshot)->NewCursor(*fruit);
  if (!cursor.ok()) return std::fprintf(stderr, "%s\n", cursor.status().ToString().c_str()), 1;
  std::printf("engine %s, keyspace fruit in key order:\n", engine_name.c_str());
  for ((*cursor)->SeekToFirst(); (*cursor)->Valid(); (*cursor)->Next()) {
    std::string key((*cursor)->key());
    std::string value((*cursor)->value());
    std::printf("  %s = %s\n", key.c_str(), value.c_str());
  }
  return (*cursor)->status().ok() ? 0 : 1;
}
