#!/usr/bin/env bash
# Everything the CUDA backend needs a GPU for, in one run on a machine with an
# NVIDIA GPU, a CUDA toolkit and PyTorch with CUDA (no network needed):
#   build the CUDA extension, run tests/test_backends.py and the native CUDA tests
#   (cpp/tests/test_optimizers_cuda.cpp), run bench/compare_cuda.py, then a
#   compute-sanitizer memcheck pass over a few kernel tests.
#
#   bash bench/cuda_device_check.sh [LOG_DIR]
#
# MLPCORE_CUDA_ARCH picks the architecture (default: the GPU's own, e.g. 90);
# MLPCORE_BENCH_ARGS is passed to compare_cuda.py (default: --quick --rounds 5).
set -uo pipefail
cd "$(dirname "$0")/.."
log_dir="${1:-${OUT:-/tmp/mlpcore-cuda}}"
mkdir -p "$log_dir"
export PYTHONUNBUFFERED=1
python="$(command -v python3)"
step() { echo; echo "=== $* ($(date +%T))"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
nvcc --version | tail -1
"$python" -c 'import sys, numpy, pybind11, torch; print(sys.version.split()[0], "numpy", numpy.__version__,
"pybind11", pybind11.__version__, "torch", torch.__version__, "cuda", torch.version.cuda)'
arch="${MLPCORE_CUDA_ARCH:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)}"

step "build (sm_$arch)"
build=build/cuda-device
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DMLPCORE_CUDA=ON -DMLPCORE_TESTS=ON \
      -DCMAKE_CUDA_ARCHITECTURES="$arch" -DPython_EXECUTABLE="$python" \
      -Dpybind11_DIR="$("$python" -m pybind11 --cmakedir)" > "$log_dir/configure.log" 2>&1; then
  tail -40 "$log_dir/configure.log"
  "$python" -c 'import sysconfig; print("Python include:", sysconfig.get_paths()["include"])'
  exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" > "$log_dir/build.log" 2>&1; then
  grep -B2 -A8 -m10 'error' "$log_dir/build.log"
  exit 1
fi
grep -h 'registers\|spill' "$log_dir/build.log" | head -20
cp "$build"/_core*.so python/mlpcore/
ldd python/mlpcore/_core*.so | grep -q 'libstdc++' || echo "note: this toolchain linked libstdc++ into the module statically"
export PYTHONPATH="$PWD/python"
"$python" -c 'import mlpcore as mc; print(mc.config()["cuda"], mc.config()["cuda"]["name"])' || exit 1

step "tests/test_backends.py"
# Worker processes (pytest-xdist, where installed): a test that crashes its
# process is reported as failed and the others still run.
workers=()
if "$python" -c 'import xdist' 2> /dev/null; then workers=(-n 4); fi
timeout 300 "$python" -X faulthandler -m pytest tests/test_backends.py tests/test_sparse_input.py tests/test_optimizers.py -q -rf --tb=short -p no:cacheprovider \
  "${workers[@]}" > "$log_dir/test_backends.log" 2>&1
test_rc=$?
grep -E '^(FAILED|ERROR)|passed|failed|crashed|node down' "$log_dir/test_backends.log" | tail -40
if grep -q 'crashed\|node down\|Segmentation' "$log_dir/test_backends.log" && command -v cuda-gdb > /dev/null; then
  crashed="$(grep -o "crashed while running '[^']*'" "$log_dir/test_backends.log" | head -1 | sed 's/.*::\([A-Za-z0-9_]*\).*/\1/')"
  step "backtrace of ${crashed:-the crash}"
  timeout 120 cuda-gdb -q -batch -ex run -ex bt -ex quit --args "$python" -m pytest tests/test_backends.py -q \
    -p no:cacheprovider -k "${crashed:-gather_rows}" > "$log_dir/gdb.log" 2>&1
  grep -A25 'SIG' "$log_dir/gdb.log" | head -40
fi

step "native: test_optimizers_cuda (the CUDA optimizer updates against the CPU ones)"
timeout 300 "$build/test_optimizers_cuda" > "$log_dir/test_optimizers_cuda.log" 2>&1
native_rc=$?
tail -20 "$log_dir/test_optimizers_cuda.log"
if [ "$test_rc" -eq 0 ]; then test_rc=$native_rc; fi

step "bench/compare_cuda.py"
# shellcheck disable=SC2086
timeout 240 "$python" bench/compare_cuda.py ${MLPCORE_BENCH_ARGS:---quick --rounds 5} 2>&1 | tee "$log_dir/bench.log"

step "compute-sanitizer memcheck (kernel tests)"
if command -v compute-sanitizer > /dev/null; then
  timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 "$python" -m pytest tests/test_backends.py -q \
    -p no:cacheprovider -k "sgemm_matches and (33-17-129 or 7-13-5) or softmax or column_sums or losses_match and 77 or gather or training_run" \
    > "$log_dir/memcheck.log" 2>&1
  echo "memcheck rc=$? (0 clean, 9 errors found, 124 timed out)"
  grep -E 'ERROR SUMMARY|Invalid|passed|failed' "$log_dir/memcheck.log" | head -20
fi
exit $test_rc
