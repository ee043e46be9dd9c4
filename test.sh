#!/usr/bin/env bash
# Builds manifold and runs every test: first the normal build, then the whole
# suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
# MANIFOLD_LONG=1 runs the randomized tests in their long mode.
set -euo pipefail
cd "$(dirname "$0")"
bash .ci/install-deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMANIFOLD_SANITIZE=ON \
      -DMANIFOLD_BUILD_BENCH=OFF
cmake --build build-asan -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2

# libFuzzer targets (clang; skipped with a message where it is missing): each
# replays its corpus and recorded regressions, then fuzzes briefly with a
# fixed seed. MANIFOLD_LONG=1 fuzzes for 10 minutes per target.
sh tests/fuzz/run.sh
