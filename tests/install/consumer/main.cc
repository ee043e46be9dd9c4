// Opens the memory engine by name through the installed library, writes a key
// and reads it back. Exits non-zero with a message on any failure.
#include <chrono>
#include <cstdio>
#include <string>

#include "manifold/engine.h"
#include "manifold/registry.h"

namespace {

int Fail(const char* what, const manifold::Status& status) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main() {
  manifold::Options options;
  options.create_if_missing = true;
  auto engine = manifold::Engine::Open("memory", options);
  if (!engine.ok()) return Fail("open", engine.status());

  auto writer = (*engine)->BeginWrite(std::chrono::milliseconds(1000));
  if (!writer.ok()) return Fail("begin write", writer.status());
  auto keyspace = (*writer)->CreateKeyspace("greetings");
  if (!keyspace.ok()) return Fail("create keyspace", keyspace.status());
  manifold::Status s = (*writer)->Put(*keyspace, "hello", "installed");
  if (!s.ok()) return Fail("put", s);
  s = (*writer)->Commit();
  if (!s.ok()) return Fail("commit", s);

  auto reader = (*engine)->BeginRead();
  if (!reader.ok()) return Fail("begin read", reader.status());
  auto opened = (*reader)->OpenKeyspace("greetings");
  if (!opened.ok()) return Fail("open keyspace", opened.status());
  std::string value;
  s = (*reader)->Get(*opened, "hello", &value);
  if (!s.ok()) return Fail("get", s);
  if (value != "installed") {
    std::fprintf(stderr, "consumer: read back '%s', wrote 'installed'\n", value.c_str());
    return 1;
  }
  std::printf("consumer: memory engine read back '%s'\n", value.c_str());
  return 0;
}
