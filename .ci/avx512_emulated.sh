#!/usr/bin/env bash
# The AVX-512 kernels on any x86-64: build the native module with
# -DMLPCORE_EMULATE_AVX512=ON (the AVX-512 files compiled against SIMDe, see
# cpp/src/kernels/emulation/immintrin.h) and with AddressSanitizer + UBSan, then
# run the tests on the emulated avx512 table: every ISA-parametrised test for
# avx512, and the network, training-step and property tests with avx512 as the
# active ISA. The emulated masked loads and stores touch only the lanes the mask
# selects, as the hardware does, so the sanitizer catches any access a mask
# should have kept inside a buffer and did not.
# Run from .ci/run inside its virtualenv. Measured: 4.5 minutes on a 2-core Zen 3
# with one build job (build 2.7, tests 1.8); CMAKE_BUILD_PARALLEL_LEVEL sets the jobs.
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "emulated AVX-512: skipped (needs Linux on x86-64)"; exit 0 ;;
esac
if ! command -v c++ > /dev/null; then
  echo "emulated AVX-512: skipped (needs GCC or Clang)"
  exit 0
fi
# SIMDe is required here: without it the AVX-512 kernels would go untested on a CPU
# without AVX-512, so that fails the run (.ci/run installs it first).
if [ ! -d /usr/include/simde ]; then
  echo "emulated AVX-512: FAILED, no SIMDe headers in /usr/include/simde: the AVX-512 kernels cannot" \
       "be tested. Install them (as root, on Debian or Ubuntu): apt-get install -y libsimde-dev" >&2
  exit 1
fi

pip install --quiet cmake ninja "pybind11>=2.12"
work="$(mktemp -d)"
.ci/build_package.sh "$work" -DMLPCORE_EMULATE_AVX512=ON -DMLPCORE_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo

# As in .ci/sanitize.sh: CPython is not instrumented, so the ASan runtime is
# preloaded (into python only). Leaks are sanitize.sh's business.
python_bin="$(python -c 'import sys; print(sys.executable)')"
preload="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONPATH="$work/pkg" MLPCORE_ISA=avx512
run() { LD_PRELOAD="$preload" "$python_bin" "$@"; }

run -c 'import sys, mlpcore as mc
c = mc.config()
assert mc.__file__.startswith(sys.argv[1]), mc.__file__
assert c["isa"] == "avx512" and c["emulated_isas"] == ["avx512"], c
print("emulated AVX-512 build:", c["isa"], c["isas"], "emulated:", c["emulated_isas"])' "$work/pkg"
run -m pytest -q -p no:cacheprovider tests -k avx512
# Left out: the no-allocation test (it preloads its own malloc counter in place
# of ASan) and the PyTorch parity test (importing torch under ASan takes minutes),
# as in sanitize.sh.
run -m pytest -q -p no:cacheprovider -k "not avx2 and not generic" \
  tests/test_network.py tests/test_training_step.py tests/test_properties.py \
  --deselect tests/test_training_step.py::test_training_steps_allocate_nothing \
  --deselect tests/test_training_step.py::test_fifty_steps_match_pytorch
echo "emulated AVX-512: passed"
