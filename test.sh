#!/usr/bin/env bash
# Builds manifold and runs every test: first the normal build, then the whole
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# MANIFOLD_LONG=1 runs the randomized tests in their long mode.
set -euo pipefail
cd "$(dirname "$0")"
started=$SECONDS
phase() { echo "== test.sh: $1 (at $((SECONDS - started)) s)"; }
phase "dependencies"
bash .ci/install-deps

# Debug information is line tables only (-g1): backtraces and sanitizer
# reports keep their file:line, and the test files compile in about 60% of
# the time that full debug information takes. (For gdb with variables, a
# build of your own: cmake -B build-debug -DCMAKE_BUILD_TYPE=Debug.)
flags() {
  echo "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$1 -g1 -DNDEBUG"
  echo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$1 -g1 -DNDEBUG"
}
mapfile -t optimized < <(flags -O2)
# The sanitizer builds: the library at -O1 (AddressSanitizer's advice: fast
# enough, and reports point at the right line) and the test files unoptimized
# (MANIFOLD_TEST_COMPILE_OPTIONS), which compiles them three times faster.
mapfile -t sanitized < <(flags -O1)

phase "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${optimized[@]}"
cmake --build build -j2
phase "tests"
ctest --test-dir build --output-on-failure -j2

# The sanitizer build uses clang when it can link the sanitizers: it compiles
# instrumented C++ three to four times faster than GCC. Each test binary runs
# once there (MANIFOLD_TESTS_PER_BINARY) rather than once per test case.
# Where clang also links libFuzzer, this build holds the fuzz targets too
# (MANIFOLD_FUZZ: the library gets coverage instrumentation, which the tests
# do not notice), so that the fuzzing phase compiles nothing again.
phase "build with AddressSanitizer + UndefinedBehaviorSanitizer"
asan_compiler=()
fuzz_targets=()
if printf 'int main() { return 0; }\n' |
     clang++ -x c++ -fsanitize=address,undefined -o /dev/null - >/dev/null 2>&1; then
  asan_compiler=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
  if printf 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }\n' |
       clang++ -x c++ -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1; then
    fuzz_targets=(-DMANIFOLD_FUZZ=ON)
  fi
fi
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo "${sanitized[@]}" \
      -DMANIFOLD_TEST_COMPILE_OPTIONS=-O0 -DMANIFOLD_SANITIZE=ON \
      -DMANIFOLD_BUILD_BENCH=OFF -DMANIFOLD_TESTS_PER_BINARY=ON "${asan_compiler[@]}" \
      "${fuzz_targets[@]}"
cmake --build build-asan -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
phase "tests with AddressSanitizer + UndefinedBehaviorSanitizer"
ctest --test-dir build-asan --output-on-failure -j2

# ThreadSanitizer on the threads-and-processes test (it is the one that runs
# manifold on many threads), on the zstd layer's tests of scans that decode on
# a thread of their own and on RocksDB's scans that read ahead on one;
# building the rest would cost minutes.
# tests/tsan.supp silences third-party libraries only, each entry explained.
# Built with clang where it links ThreadSanitizer: it compiles the
# instrumented code in about 70% of GCC's time.
phase "build concurrency_test, zstd_layer_test and rocksdb_engine_test with ThreadSanitizer"
tsan_compiler=()
if printf 'int main() { return 0; }\n' |
     clang++ -x c++ -fsanitize=thread -o /dev/null - >/dev/null 2>&1; then
  tsan_compiler=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
fi
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo "${sanitized[@]}" \
      -DMANIFOLD_TEST_COMPILE_OPTIONS=-O0 -DMANIFOLD_TSAN=ON \
      -DMANIFOLD_BUILD_BENCH=OFF "${tsan_compiler[@]}"
cmake --build build-tsan -j2 --target concurrency_test zstd_layer_test rocksdb_engine_test
phase "concurrency_test, zstd_layer_test and rocksdb_engine_test with ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ./build-tsan/tests/concurrency_test
# The zstd layer's scans that decode ahead on a thread of their own, and its
# model test (which also compacts LMDB while handles refresh).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ./build-tsan/tests/zstd_layer_test \
  --gtest_filter='*Ahead*:*Damaged*:*ManyReaders*:*RandomOperations*'
# RocksDB's scans of compressed stores that read ahead on a thread of their own.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ./build-tsan/tests/rocksdb_engine_test --gtest_filter='*ReadAhead*'

# libFuzzer targets (clang; skipped with a message where it is missing): each
# replays its corpus and recorded regressions, then fuzzes briefly with a
# fixed seed. MANIFOLD_LONG=1 fuzzes for 10 minutes per target.
phase "fuzzing"
if [ ${#fuzz_targets[@]} -gt 0 ]; then
  MANIFOLD_FUZZ_BUILD=$PWD/build-asan sh tests/fuzz/run.sh
else
  sh tests/fuzz/run.sh
fi
phase "done"
