// How a randomized test picks its seed and its length: MANIFOLD_SEED=<n>
// repeats a run, MANIFOLD_LONG=1 asks for many more iterations.
#ifndef MANIFOLD_TESTS_TEST_ENV_H_
#define MANIFOLD_TESTS_TEST_ENV_H_

#include <cstdint>
#include <cstdlib>
#include <string>

namespace manifold::testing {

// The seed of a randomized test: MANIFOLD_SEED if set, else `fallback`.
inline uint64_t TestSeed(uint64_t fallback) {
  const char* env = std::getenv("MANIFOLD_SEED");
  if (env == nullptr || *env == '\0') return fallback;
  return std::strtoull(env, nullptr, 10);
}

// True when MANIFOLD_LONG=1 asks randomized tests for many more iterations.
inline bool LongMode() {
  const char* env = std::getenv("MANIFOLD_LONG");
  return env != nullptr && std::string(env) == "1";
}

// `normal` iterations, or `long_mode` ones under MANIFOLD_LONG=1.
inline int Iterations(int normal, int long_mode) { return LongMode() ? long_mode : normal; }

}  // namespace manifold::testing

#endif  // MANIFOLD_TESTS_TEST_ENV_H_
