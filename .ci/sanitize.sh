#!/usr/bin/env bash
# Memory safety: build the native module with AddressSanitizer + UndefinedBehavior-
# Sanitizer (cmake -DMLPCORE_SANITIZE=ON) and run, with leak detection, the test
# suite except tests/test_sklearn.py (scikit-learn's estimator checks: Python-level
# checks over the same native calls the other files make, and the slowest file),
# and the training step's no-allocation check (see below), then bench/fuzz.py for
# a short while. Any sanitizer report fails the run.
# Run from .ci/run inside its virtualenv; needs Linux and GCC or Clang.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -s)" != Linux ] || ! command -v c++ >/dev/null; then
  echo "sanitizers: skipped (they need Linux and GCC or Clang)"
  exit 0
fi
pip install --quiet cmake ninja "pybind11>=2.12"
work="$(mktemp -d)"
# The package with the sanitized extension, in $work/pkg: ahead of the installed one on sys.path.
.ci/build_package.sh "$work" -DMLPCORE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo

# CPython is not instrumented: the ASan runtime must come first (LD_PRELOAD), with
# libstdc++ loaded before it so that C++ exceptions can be intercepted. Memory
# errors and undefined behaviour stop the run at once; leaks are reported at exit
# and .ci/leaks_in_mlpcore.py fails the run if any of them went through mlpcore
# (CPython and other extension modules keep objects until exit: those are not ours).
python_bin="$(python -c 'import sys; print(sys.executable)')"
export LD_PRELOAD="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:malloc_context_size=8"
export LSAN_OPTIONS="exitcode=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONPATH="$work/pkg"
"$python_bin" -c 'import mlpcore, sys; assert mlpcore.__file__.startswith(sys.argv[1]), mlpcore.__file__' \
  "$work/pkg" 2> "$work/import.stderr" || { cat "$work/import.stderr"; exit 1; }
# Left out as well: the no-allocation test (it preloads its own malloc counter in
# a child process, in place of the ASan runtime) and the PyTorch parity tests
# (importing torch under ASan takes minutes and leaves ~70,000 blocks to report at exit),
# and the recompile peak-memory test: its resident-memory peak counts the old network's
# blocks, which ASan keeps in its quarantine after they are freed (5.9 x params with
# it, 2.1 without, against a bound of 2.5).
"$python_bin" -m pytest -q -p no:cacheprovider tests --ignore=tests/test_sklearn.py \
  --deselect tests/test_training_step.py::test_training_steps_allocate_nothing \
  --deselect tests/test_training_step.py::test_fifty_steps_match_pytorch \
  --deselect tests/test_optimizer_kernels.py::test_every_isa_matches_torch_optim \
  --deselect tests/test_optimizer_kernels.py::test_large_lerp_weight_matches_torch \
  --deselect tests/test_memory.py::test_compile_of_a_built_model_holds_at_most_one_extra_parameter_copy \
  2> "$work/tests.stderr" ||
  { tail -n 100 "$work/tests.stderr"; exit 1; }
"$python_bin" bench/fuzz.py --seconds 30 --seed 0 2> "$work/fuzz.stderr" || { tail -n 100 "$work/fuzz.stderr"; exit 1; }
unset LD_PRELOAD
python .ci/leaks_in_mlpcore.py "$work/import.stderr" "$work/tests.stderr" "$work/fuzz.stderr"
echo "sanitizers: clean"
