#!/usr/bin/env bash
# Every benchmark script's smallest configuration, and the native benchmark's,
# against the mlpcore that bench/which_mlpcore.py picks (after README's install on
# a clean checkout: the installed package), so that none of them rots. Nothing is
# measured: each must run to the end and exit 0. Needs bench/'s extra:
# pip install ".[bench]" (with ".[test]" for scikit-learn and hypothesis).
# Run from .ci/run inside its virtualenv; about a minute on 2 cores (the native
# build about as long again).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo; echo "== bench smoke: $*"; }

python - <<'EOF'
import sys
sys.path.insert(0, "bench")
import which_mlpcore
source = which_mlpcore.select()
import mlpcore
print(f"bench smoke: mlpcore {mlpcore.__version__}, {source}: {mlpcore.__file__}")
EOF

step "bench/compare_training.py --smoke"
python bench/compare_training.py --smoke
step "bench/compare_optimizers.py --smoke"
python bench/compare_optimizers.py --smoke
step "bench/compare_gemm.py --max-n 64"
python bench/compare_gemm.py --max-n 64 --threads 1,2
step "bench/compare_gemm.py --cpu-time"
python bench/compare_gemm.py --max-n 64 --only square --threads 1 --cpu-time
step "bench/compare_sklearn_estimators.py --smoke"
python bench/compare_sklearn_estimators.py --smoke --threads 1 2
step "bench/fuzz.py --seconds 3"
python bench/fuzz.py --seconds 3 --seed 0
step "bench/test_bench_kernels.py --benchmark-disable"
python -m pytest -q -p no:cacheprovider bench/test_bench_kernels.py --benchmark-disable
step "bench/compare_cuda.py --quick --rounds 1 (skips without a CUDA build, a GPU and CUDA PyTorch)"
python bench/compare_cuda.py --quick --rounds 1 --skip-if-unavailable

# The native benchmark, as docs/gemm.md builds it, on its smallest configuration.
step "native benchmark (MLPCORE_BENCH)"
pip install --quiet cmake ninja
build="$(mktemp -d)/bench"
cmake -S . -B "$build" -G Ninja -DMLPCORE_BENCH=ON -DMLPCORE_PYTHON=OFF > "$build.configure.log" ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" > "$build.build.log" || { tail -n 50 "$build.build.log"; exit 1; }
OMP_NUM_THREADS=1 "$build/mlpcore_bench" --max-n 64 --only b32
echo
echo "bench smoke: passed"
