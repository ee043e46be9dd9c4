#!/bin/sh
# Builds manifold's libFuzzer targets with clang (ASan and UBSan on) in their
# own build directory and runs each one: first over its seed corpus and every
# input in regressions/<target>/ (inputs that once crashed it), then fuzzing
# for MANIFOLD_FUZZ_SECONDS seconds (default 20). MANIFOLD_LONG=1 fuzzes for
# 600 seconds per target instead. New inputs go to a scratch corpus in the
# build directory, never into the source tree.
#
# Targets run MANIFOLD_JOBS at a time (default 2: one per core; each
# libFuzzer process is single-threaded).
#
# Usage: tests/fuzz/run.sh [target ...]      (default: every target)
# Environment: MANIFOLD_FUZZ_BUILD (default: <source>/build-fuzz),
#   MANIFOLD_FUZZ_SECONDS, MANIFOLD_LONG, MANIFOLD_SEED (libFuzzer -seed; fixed by default),
#   MANIFOLD_JOBS (build parallelism and targets at a time, default 2).
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

mkdir -p "$build"
if [ -f "$build/CMakeCache.txt" ] && grep -q '^MANIFOLD_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  # A build that already holds the fuzz targets (test.sh's sanitizer build):
  # only brought up to date.
  echo "fuzz: building $targets in $build (configured already)"
else
  echo "fuzz: building $targets in $build"
  # -O1 and line tables only (-g1): what libFuzzer and AddressSanitizer advise,
  # and a third faster to compile than -O2 with full debug information.
  CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DMANIFOLD_FUZZ=ON -DMANIFOLD_SANITIZE=ON -DMANIFOLD_BUILD_TESTS=OFF \
    -DMANIFOLD_BUILD_BENCH=OFF >"$build/cmake.log" 2>&1 || {
    cat "$build/cmake.log"
    exit 1
  }
fi
# shellcheck disable=SC2086
cmake --build "$build" -j"${MANIFOLD_JOBS:-2}" --target $targets

# A fixed seed by default, so that a run is repeatable (MANIFOLD_SEED=0: random).
seed_option="-seed=${MANIFOLD_SEED:-20261205}"

# Replays, then fuzzes, one target; its report goes to $build/$target.report
# and its exit status to $build/$target.status.
fuzz_one() {
  target=$1
  binary=$build/tests/fuzz/$target
  corpus=$here/corpus/$target
  scratch=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target/
  report=$build/$target.report
  mkdir -p "$scratch" "$artifacts"
  : >"$report"
  # Replay: the seeds and every recorded regression, each once.
  replay="" seeds=""
  if [ -d "$corpus" ]; then replay="$corpus" seeds="$corpus"; fi
  if [ -d "$here/regressions/$target" ]; then replay="$replay $here/regressions/$target"; fi
  if [ -n "$replay" ]; then
    echo "fuzz: $target: replayed $replay" >>"$report"
    # shellcheck disable=SC2086
    if ! "$binary" -runs=0 -artifact_prefix="$artifacts" $replay >"$build/$target.replay.log" 2>&1; then
      tail -n 40 "$build/$target.replay.log" >>"$report"
      echo "fuzz: $target: FAILED on a recorded input" >>"$report"
      return 1
    fi
  fi
  echo "fuzz: $target: fuzzed for $seconds s" >>"$report"
  # shellcheck disable=SC2086
  if ! "$binary" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 $seed_option "$scratch" $seeds \
    >"$build/$target.log" 2>&1; then
    tail -n 60 "$build/$target.log" >>"$report"
    echo "fuzz: $target: FAILED; the input is in $artifacts (copy it into tests/fuzz/regressions/$target/)" >>"$report"
    return 1
  fi
  { grep -E '^stat::number_of_executed_units|^Done' "$build/$target.log" | tr '\n' ' '; echo; } >>"$report"
  return 0
}

jobs=${MANIFOLD_JOBS:-2}
status=0
set -- $targets
while [ $# -gt 0 ]; do
  group=""
  i=0
  while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
    echo "fuzz: $1: started"
    (if fuzz_one "$1"; then echo 0; else echo 1; fi) >"$build/$1.status" &
    group="$group $1"
    i=$((i + 1))
    shift
  done
  wait
  for target in $group; do
    cat "$build/$target.report"
    if [ "$(cat "$build/$target.status")" != 0 ]; then status=1; fi
  done
done
exit $status
