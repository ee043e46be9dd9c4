#!/usr/bin/env bash
# Builds manifold and runs the demo: the sqlite3 shell with the extension
# loaded, on the default engine, running the tour in sql/demo.sql.
set -euo pipefail
cd "$(dirname "$0")"
bash .ci/install-deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target manifold kv_example >/dev/null
if [ -f sql/demo.sql ]; then
  rm -rf build/demo && mkdir -p build/demo
  sqlite3 build/demo/demo.db -cmd ".load ./build/manifold" < sql/demo.sql
else
  ./build/examples/kv_example memory
fi
