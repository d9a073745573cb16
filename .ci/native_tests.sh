#!/usr/bin/env bash
# The native C++ tests (no Python): configure a build of the core with
# -DMLPCORE_PYTHON=OFF -DMLPCORE_TESTS=ON, build it and run CTest. Each test
# runs every ISA this CPU supports, on 1 and 2 threads.
#   .ci/native_tests.sh                          # a fresh build dir under mktemp
#   .ci/native_tests.sh -DMLPCORE_SANITIZE=ON    # extra arguments go to cmake
# MLPCORE_NATIVE_TESTS_BUILD_DIR picks the build dir (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${MLPCORE_NATIVE_TESTS_BUILD_DIR:-$(mktemp -d)/build}"
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
mkdir -p "$build_dir"
jobs="$( (command -v nproc > /dev/null && nproc) || sysctl -n hw.ncpu 2> /dev/null || echo 2)"

cmake -S . -B "$build_dir" "${generator[@]}" -DMLPCORE_PYTHON=OFF -DMLPCORE_TESTS=ON "$@" > "$build_dir/configure.log" \
  || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" -j "$jobs"
cd "$build_dir"
ctest --output-on-failure
