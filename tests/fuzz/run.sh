#!/bin/sh
# Builds manifold's libFuzzer targets with clang (ASan and UBSan on) in their
# own build directory and runs each one: first over its seed corpus and every
# input in regressions/<target>/ (inputs that once crashed it), then fuzzing
# for MANIFOLD_FUZZ_SECONDS seconds (default 20). MANIFOLD_LONG=1 fuzzes for
# 600 seconds per target instead. New inputs go to a scratch corpus in the
# build directory, never into the source tree.
#
# Usage: tests/fuzz/run.sh [target ...]      (default: every target)
# Environment: MANIFOLD_FUZZ_BUILD (default: <source>/build-fuzz),
#   MANIFOLD_FUZZ_SECONDS, MANIFOLD_LONG, MANIFOLD_SEED (libFuzzer -seed; fixed by default),
#   MANIFOLD_JOBS (build parallelism, default 2).
# Exits 0 with a message when clang or libFuzzer is missing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=${MANIFOLD_FUZZ_BUILD:-$source_dir/build-fuzz}
seconds=${MANIFOLD_FUZZ_SECONDS:-20}
if [ "${MANIFOLD_LONG:-0}" = 1 ]; then seconds=600; fi
targets=${*:-btree_file_fuzz key_codec_fuzz record_codec_fuzz arguments_fuzz sql_differential_fuzz}

if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz: skipped: clang is not installed (apt-get install clang)"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  >"$probe/probe.cc"
if ! clang++ -fsanitize=fuzzer "$probe/probe.cc" -o "$probe/probe" >/dev/null 2>&1; then
  echo "fuzz: skipped: clang cannot link libFuzzer (-fsanitize=fuzzer; apt-get install libclang-rt-dev or a clang with compiler-rt)"
  exit 0
fi

echo "fuzz: building $targets in $build"
mkdir -p "$build"
CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMANIFOLD_FUZZ=ON -DMANIFOLD_SANITIZE=ON -DMANIFOLD_BUILD_TESTS=OFF \
  -DMANIFOLD_BUILD_BENCH=OFF >"$build/cmake.log" 2>&1 || {
  cat "$build/cmake.log"
  exit 1
}
# shellcheck disable=SC2086
cmake --build "$build" -j"${MANIFOLD_JOBS:-2}" --target $targets

# A fixed seed by default, so that a run is repeatable (MANIFOLD_SEED=0: random).
seed_option="-seed=${MANIFOLD_SEED:-20261205}"
status=0
for target in $targets; do
  binary=$build/tests/fuzz/$target
  corpus=$here/corpus/$target
  scratch=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target/
  mkdir -p "$scratch" "$artifacts"
  # Replay: the seeds and every recorded regression, each once.
  replay="" seeds=""
  if [ -d "$corpus" ]; then replay="$corpus" seeds="$corpus"; fi
  if [ -d "$here/regressions/$target" ]; then replay="$replay $here/regressions/$target"; fi
  if [ -n "$replay" ]; then
    echo "fuzz: $target: replaying $replay"
    # shellcheck disable=SC2086
    if ! "$binary" -runs=0 -artifact_prefix="$artifacts" $replay >"$build/$target.replay.log" 2>&1; then
      tail -n 40 "$build/$target.replay.log"
      echo "fuzz: $target: FAILED on a recorded input"
      status=1
      continue
    fi
  fi
  echo "fuzz: $target: fuzzing for $seconds s"
  # shellcheck disable=SC2086
  if ! "$binary" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 $seed_option "$scratch" $seeds \
    >"$build/$target.log" 2>&1; then
    tail -n 60 "$build/$target.log"
    echo "fuzz: $target: FAILED; the input is in $artifacts (copy it into tests/fuzz/regressions/$target/)"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$build/$target.log" | tr '\n' ' '
    echo
  fi
done
exit $status
