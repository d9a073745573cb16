#!/usr/bin/env bash
# Builds the native module with the given CMake options into DIR/build and puts
# the package, python/mlpcore with that module, in DIR/pkg (for PYTHONPATH).
#   .ci/build_package.sh DIR [cmake options...]
# Needs CMake, Ninja and pybind11 (the callers pip-install them);
# CMAKE_BUILD_PARALLEL_LEVEL sets the build's jobs (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"
shift
cmake -S . -B "$dir/build" -G Ninja -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" "$@" > "$dir/configure.log"
cmake --build "$dir/build" -j "${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
mkdir "$dir/pkg"
cp -r python/mlpcore "$dir/pkg/"
rm -f "$dir"/pkg/mlpcore/_core*.so
cp "$dir"/build/_core*.so "$dir/pkg/mlpcore/"
