"""Build/run-time configuration, ISA dispatch overrides and the thread knob."""

import os
import subprocess
import sys

import numpy as np

import mlpcore as mc


def run_python(code, **env):
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def test_config_keys():
    cfg = mc.config()
    assert cfg["version"] == mc.__version__
    assert cfg["isa"] in cfg["isas"] and cfg["isas"][-1] == "generic"
    assert cfg["threads"] >= 1
    assert isinstance(cfg["openmp"], bool)
    assert set(cfg["cuda"]) == {"compiled", "devices", "name", "unavailable_reason"}
    assert set(cfg["emulated_isas"]) <= set(cfg["isas"]) - {"generic"}
    assert isinstance(cfg["cpu"], str) and cfg["cpu"].strip() == cfg["cpu"] and cfg["cpu"]


def test_measured_fma_peak_per_isa():
    """The benchmarks' denominator: a SIMD ISA the CPU runs natively has a peak
    of its vector width x 2 FLOP x at least two FMAs every 2 ns (no real core is
    slower) and at most 2 x 16 x 2 x 6 GHz; the portable and emulated kernels
    have none."""
    default = mc.config()["isa"]
    lanes = {"avx512": 16, "avx2": 8, "neon": 4}
    try:
        for isa in mc.config()["isas"]:
            mc.set_isa(isa)
            peak = mc._core.measure_fma_peak()
            if isa == "generic" or isa in mc.config()["emulated_isas"]:
                assert peak == 0.0
            else:
                assert lanes[isa] * 2 * 1e9 <= peak <= 2 * 16 * 2 * 6e9, (isa, peak)
    finally:
        mc.set_isa(default)


def test_isa_env_forces_a_lower_path():
    out = run_python("import mlpcore as mc; print(mc.config()['isa'])", MLPCORE_ISA="generic")
    assert out.stdout.strip() == "generic"


def test_isa_env_unknown_or_unsupported_falls_back_with_a_warning():
    best = mc.config()["isas"][0]
    out = run_python("import mlpcore as mc; print(mc.config()['isa'])", MLPCORE_ISA="quantum")
    assert out.stdout.strip() == best and "MLPCORE_ISA=quantum" in out.stderr


def test_set_isa_switches_kernels():
    default = mc.config()["isa"]
    try:
        for isa in mc.config()["isas"]:
            mc.set_isa(isa)
            assert mc.config()["isa"] == isa
            a = np.arange(12, dtype=np.float32).reshape(3, 4)
            np.testing.assert_allclose(mc.ops.matmul(a, a.T), a @ a.T)
    finally:
        mc.set_isa(default)


def test_thread_knob_and_environment():
    before = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        assert mc.get_num_threads() == 1 and mc.config()["threads"] == 1
    finally:
        mc.set_num_threads(before)
    if mc.config()["openmp"]:
        out = run_python("import mlpcore as mc; print(mc.get_num_threads())", OMP_NUM_THREADS="3")
        assert out.stdout.strip() == "3"


def test_results_do_not_depend_on_thread_count(rng):
    a = rng.standard_normal((300, 500)).astype(np.float32)
    b = rng.standard_normal((500, 400)).astype(np.float32)
    before = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        one = mc.ops.matmul(a, b)
        mc.set_num_threads(2)
        two = mc.ops.matmul(a, b)
    finally:
        mc.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
