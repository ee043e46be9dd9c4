#!/bin/sh
# Installs a built manifold tree into a temporary prefix and uses it as a
# user would. Exit 77 (a CTest skip) when a tool the mode needs is missing.
#
#   install_test.sh MODE BUILD_DIR CONSUMER_DIR CMAKE CXX [EXTRA_FLAGS]
#
#   find_package  builds CONSUMER_DIR with CMake and find_package(manifold)
#   pkg_config    compiles CONSUMER_DIR/main.cc with pkg-config --cflags --libs manifold
#   deb           makes the Debian package with cpack and checks its file list
# Both builds run the consumer, which prints "consumer: memory engine read back
# 'installed'" on success.
set -eu
mode=$1 build=$2 consumer=$3 cmake=$4 cxx=$5 flags=${6:-}

work=$(mktemp -d "${TMPDIR:-/tmp}/manifold-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

case $mode in
  find_package)
    "$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
    "$cmake" -S "$consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_CXX_FLAGS="$flags" \
      -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log" ||
      { cat "$work/configure.log"; exit 1; }
    "$cmake" --build "$work/consumer" >"$work/build.log" || { cat "$work/build.log"; exit 1; }
    "$work/consumer/consumer"
    ;;
  pkg_config)
    command -v pkg-config >/dev/null || { echo "pkg-config not installed: skipped"; exit 77; }
    "$cmake" --install "$build" --prefix "$prefix" >"$work/install.log"
    PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name manifold.pc)")
    export PKG_CONFIG_PATH
    echo "pkg-config --cflags --libs manifold: $(pkg-config --cflags --libs manifold)"
    # shellcheck disable=SC2046,SC2086  # the flags are words by design
    "$cxx" -std=c++20 $flags "$consumer/main.cc" -o "$work/consumer" \
      $(pkg-config --cflags --libs manifold)
    "$work/consumer"
    ;;
  deb)
    command -v dpkg-deb >/dev/null || { echo "dpkg-deb not installed: skipped"; exit 77; }
    cpack=$(dirname "$cmake")/cpack
    [ -x "$cpack" ] || cpack=cpack
    (cd "$work" && "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb" \
      >"$work/cpack.log") || { cat "$work/cpack.log"; exit 1; }
    deb=$(find "$work/deb" -maxdepth 1 -name 'manifold_*.deb')
    [ -n "$deb" ] || { echo "cpack made no manifold_*.deb"; cat "$work/cpack.log"; exit 1; }
    dpkg-deb -c "$deb" >"$work/contents"
    cat "$work/contents"
    for path in ./usr/lib/manifold.so ./usr/lib/libmanifold_engines.a \
                ./usr/include/manifold/engine.h ./usr/lib/cmake/manifold/manifoldConfig.cmake \
                ./usr/lib/pkgconfig/manifold.pc; do
      grep -q " $path\$" "$work/contents" || { echo "missing from the package: $path"; exit 1; }
    done
    dpkg-deb -f "$deb" Package Version Depends
    # The packaged extension loads in the sqlite3 shell by its plain name once
    # its directory is on the loader's path (in /usr/lib, with no setting).
    if command -v sqlite3 >/dev/null; then
      dpkg-deb -x "$deb" "$work/root"
      out=$(LD_LIBRARY_PATH="$work/root/usr/lib" sqlite3 :memory: \
              ".load manifold" "SELECT 'loaded ' || manifold_version();")
      echo "$out"
      case $out in "loaded "*) ;; *) echo ".load manifold failed"; exit 1 ;; esac
    fi
    echo "deb: ok"
    ;;
  *)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
