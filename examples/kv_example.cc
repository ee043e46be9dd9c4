// The engines as a plain C++ library: open a store by name, write in a
// transaction, read it back in key order with a cursor.
//
//   kv_example [engine] [path]      e.g. kv_example lmdb /tmp/fruit.lmdb
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace {

// Every fallible call returns a Status or a Result<T>; this example stops at
// the first error and prints it.
void Check(const manifold::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "kv_example: %s\n", status.ToString().c_str());
    std::exit(1);
  }
}

template <typename T>
T Take(manifold::Result<T> result) {
  Check(result.status());
  return std::move(result).value();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string engine_name(argc > 1 ? std::string_view(argv[1])
                                         : manifold::DefaultEngineName());
  manifold::Options options;
  options.path = argc > 2 ? argv[2] : "";
  options.create_if_missing = true;
  auto engine = Take(manifold::Engine::Open(engine_name, options));

  // A write transaction: every change is invisible to others until Commit();
  // destroying it uncommitted rolls it back.
  {
    auto txn = Take(engine->BeginWrite(std::chrono::milliseconds(1000)));
    manifold::Keyspace fruit = Take(txn->CreateKeyspace("fruit"));
    for (std::string name : {"cherry", "apple", "banana"}) {
      Check(txn->Put(fruit, name, std::to_string(name.size())));
    }
    Check(txn->Commit());
  }

  // A read transaction is a consistent snapshot; its cursor walks keys in
  // unsigned byte order.
  auto snapshot = Take(engine->BeginRead());
  manifold::Keyspace fruit = Take(snapshot->OpenKeyspace("fruit"));
  auto cursor = Take(snapshot->NewCursor(fruit));
  std::printf("engine %s, keyspace fruit in key order:\n", std::string(engine->name()).c_str());
  for (cursor->SeekToFirst(); cursor->Valid(); cursor->Next()) {
    std::printf("  %.*s = %.*s\n", static_cast<int>(cursor->key().size()), cursor->key().data(),
                static_cast<int>(cursor->value().size()), cursor->value().data());
  }
  Check(cursor->status());

  // A scan can also step with one call that returns the entry it lands on.
  std::printf("backwards:");
  cursor->SeekToLast();
  if (cursor->Valid()) {
    manifold::Bytes key = cursor->key();
    manifold::Bytes value = cursor->value();
    do {
      std::printf(" %.*s", static_cast<int>(key.size()), key.data());
    } while (cursor->PrevEntry(&key, &value));
  }
  std::printf("\n");
  Check(cursor->status());

  // A range read in one call: the first two keys from "b" on.
  std::printf("two from b:");
  size_t read = cursor->ReadFrom("b", 2, [](manifold::Bytes key, manifold::Bytes value) {
    std::printf(" %.*s=%.*s", static_cast<int>(key.size()), key.data(),
                static_cast<int>(value.size()), value.data());
    return true;  // false stops the read at this entry
  });
  std::printf(" (%zu)\n", read);
  Check(cursor->status());
  return 0;
}
