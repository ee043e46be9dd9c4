#!/usr/bin/env bash
# Runs examples/node_example.js against a built manifold, installing
# better-sqlite3@12 (the version for Node.js 20) into a folder of the build
# tree first if it is not there yet.
#
#   run_node_example.sh <node_example.js> <path/to/manifold> <install folder>
#
# Exits 77 (a CTest skip) with the reason when node or npm is missing or the
# npm registry cannot be reached; any other failure is a failure.
set -uo pipefail
example=$1
extension=$2
prefix=$3

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node and npm are needed for the Node.js example (not found on PATH)"
  exit 77
fi
echo "node $(node --version), npm $(npm --version)"

module="$prefix/node_modules/better-sqlite3"
if ! (cd "$prefix" 2>/dev/null && node -e "require('better-sqlite3')") >/dev/null 2>&1; then
  mkdir -p "$prefix"
  if ! npm view --fetch-retries=1 --fetch-timeout=30000 better-sqlite3@12 version >/dev/null 2>&1; then
    echo "SKIP: the npm registry cannot be reached to install better-sqlite3@12"
    exit 77
  fi
  # better-sqlite3 has no prebuilt binary it could download here: node-gyp
  # builds it, from the headers the nodejs package ships under /usr when present.
  nodedir=()
  [ -f /usr/include/node/node.h ] && nodedir=(--nodedir=/usr)
  # Its native module bundles SQLite's amalgamation, one large C file that
  # takes most of the build; -O0 (appended after the package's own -O3) builds
  # it in a fraction of the time, and this test is about loading manifold, not
  # about the speed of the SQLite inside node. MANIFOLD_NODE_CFLAGS overrides.
  echo "installing better-sqlite3@12 into $prefix (builds its native module: minutes)"
  if ! CFLAGS="${MANIFOLD_NODE_CFLAGS:--O0}" CXXFLAGS="${MANIFOLD_NODE_CFLAGS:--O0}" npm install --prefix "$prefix" --no-audit --no-fund --no-save "${nodedir[@]}" \
         better-sqlite3@12 > "$prefix/npm-install.log" 2>&1; then
    tail -n 40 "$prefix/npm-install.log"
    echo "FAIL: npm install better-sqlite3@12 failed (full log: $prefix/npm-install.log)"
    exit 1
  fi
fi
echo "better-sqlite3 $(cd "$prefix" && node -p "require('better-sqlite3/package.json').version")"

NODE_PATH="$prefix/node_modules" exec node "$example" "$extension"
