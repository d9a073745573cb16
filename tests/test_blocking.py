"""Cache detection and the GEMM blocking derived from it: what config() reports,
the pure derivation (through _core._derive_blocking), the MLPCORE_BLOCKING
override, and the GEMM under small blocks on every ISA, 1 and 2 threads."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

KiB, MiB = 1024, 1024 * 1024
BOUNDS = {"l1d": (4 * KiB, 256 * KiB), "l2": (64 * KiB, 32 * MiB), "l3": (256 * KiB, 32 * MiB)}


def run_child(code, isa=None, **env):
    full_env = dict(os.environ, **env)
    full_env.pop("MLPCORE_BLOCKING", None)
    full_env.update(env)
    if isa is not None:
        full_env["MLPCORE_ISA"] = isa
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return out


def test_config_reports_caches_and_blocking():
    cfg = mc.config()
    caches, bl = cfg["caches"], cfg["blocking"]
    assert {"l1d", "l2", "l3", "source", "distrusted"} <= set(caches)
    for level, (lo, hi) in BOUNDS.items():
        assert caches[level] is None or lo <= caches[level] <= hi, (level, caches)
    assert isinstance(caches["distrusted"], list)
    assert {"mr", "nr", "mc", "kc", "nc", "source"} <= set(bl)
    assert (bl["mr"], bl["nr"]) == tuple(cfg["gemm_tile"])
    assert bl["kc"] >= 1 and bl["mc"] % bl["mr"] == 0 and bl["nc"] % bl["nr"] == 0
    assert bl["source"] in {"caches", "table", "MLPCORE_BLOCKING"}
    if os.environ.get("MLPCORE_BLOCKING") is None:
        assert bl["source"] == ("caches" if any(caches[lv] for lv in BOUNDS) else "table")


def test_blocking_follows_the_isa_in_use(isa):
    bl = mc.config()["blocking"]
    assert (bl["mr"], bl["nr"]) == tuple(mc.config()["gemm_tile"])
    if bl["source"] == "caches":
        c = mc.config()["caches"]
        derived = _core._derive_blocking(isa, c["l1d"] or 0, c["l2"] or 0, c["l3"] or 0)["blocking"]
        assert {k: bl[k] for k in derived} == derived


# ------------------------------------------------------------------ the derivation (pure)

def derive(isa, l1d, l2, l3, **kw):
    return _core._derive_blocking(isa, l1d, l2, l3, **kw)


@pytest.mark.parametrize("isa_name", mc.config()["isas"])
def test_unknown_caches_give_the_table(isa_name):
    out = derive(isa_name, 0, 0, 0)
    assert out["caches"]["l1d"] is None and out["caches"]["distrusted"] == []
    bl = out["blocking"]
    assert bl["kc"] >= 1 and bl["mc"] % bl["mr"] == 0 and bl["nc"] % bl["nr"] == 0


@pytest.mark.parametrize("isa_name", mc.config()["isas"])
def test_each_block_fills_its_share_of_its_cache(isa_name):
    bl = derive(isa_name, 4 * KiB, 1 * MiB, 4 * MiB)["blocking"]
    mr, nr, kc, mcb, nc = bl["mr"], bl["nr"], bl["kc"], bl["mc"], bl["nc"]
    # mr x kc of A in 3/4 of L1d; mc x kc of A in half of L2; kc x nc of B in half of the L3 share.
    assert kc % 8 == 0 and kc * mr * 4 <= 3 * KiB < (kc + 8) * mr * 4
    assert mcb * kc * 4 <= 512 * KiB < (mcb + mr) * kc * 4
    assert nc * kc * 4 <= 2 * MiB < (nc + nr) * kc * 4
    # A larger L1d gives a deeper kc; then mc and nc shrink to keep their footprints.
    deeper = derive(isa_name, 8 * KiB, 1 * MiB, 4 * MiB)["blocking"]
    assert deeper["kc"] == 2 * kc and deeper["mc"] <= mcb and deeper["nc"] <= nc
    # kc stops at 512, where deeper slices stop paying.
    assert derive(isa_name, 256 * KiB, 1 * MiB, 4 * MiB)["blocking"]["kc"] == 512


def test_examples_of_real_cpus():
    # AMD Zen 4/5 (32 or 48 KiB L1d, 1 MiB L2, 32 MiB L3 shared by 8 cores) and an
    # Intel Xeon (48 KiB, 2 MiB, 105 MiB by 56 cores), 12 x 32 AVX-512 tile.
    zen4 = derive("avx512", 32 * KiB, 1 * MiB, 32 * MiB, l3_cores=8)
    assert zen4["caches"]["l3"] == 4 * MiB
    assert (zen4["blocking"]["kc"], zen4["blocking"]["mc"], zen4["blocking"]["nc"]) == (512, 252, 1024)
    xeon = derive("avx512", 48 * KiB, 2 * MiB, 105 * MiB, l3_cores=56)["blocking"]
    assert (xeon["kc"], xeon["mc"]) == (512, 504)
    # The AVX2 tile (6 x 16) on a 32 KiB L1d: 3/4 of it would hold 1024 steps of A.
    assert derive("avx2", 32 * KiB, 512 * KiB, 0)["blocking"]["kc"] == 512


def test_implausible_caches_are_distrusted():
    # A virtual machine reporting a 480 MiB L3 shared by its 2 cores.
    vm = derive("avx512", 48 * KiB, 2 * MiB, 480 * MiB, l3_cores=2)
    assert vm["caches"]["l3"] is None
    assert len(vm["caches"]["distrusted"]) == 1 and vm["caches"]["distrusted"][0].startswith("l3:")
    same_without_l3 = derive("avx512", 48 * KiB, 2 * MiB, 0)
    assert vm["blocking"] == same_without_l3["blocking"]
    assert derive("avx2", 1 * KiB, 1 * MiB, 0)["caches"]["l1d"] is None
    assert derive("avx2", 32 * KiB, 512 * MiB, 0)["caches"]["l2"] is None


def test_derive_blocking_checks_its_isa():
    with pytest.raises(ValueError, match="isa"):
        derive("sse9", 0, 0, 0)


# ------------------------------------------------------------------ MLPCORE_BLOCKING

CHILD = r"""
import json, sys
import numpy as np
import mlpcore as mc
from mlpcore import _core

bl = mc.config()["blocking"]
rng = np.random.default_rng(3)
worst = 0.0
equal = True
# Shapes spanning several k slices (kc 40), row blocks (mc 30: A packed) and
# column panels (nc 70), with every transpose, through the plain product and
# the fused epilogues, on 1 and 2 threads.
for m, n, k in [(97, 150, 131), (13, 211, 85), (64, 10, 256), (150, 40, 41), (3, 300, 200)]:
    for ta in (False, True):
        for tb in (False, True):
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            a64 = a.T.astype(np.float64) if ta else a.astype(np.float64)
            b64 = b.T.astype(np.float64) if tb else b.astype(np.float64)
            bias = rng.standard_normal(n).astype(np.float32)
            results = []
            for threads in (1, 2):
                mc.set_num_threads(threads)
                c = mc.ops.matmul(a, b, trans_a=ta, trans_b=tb)
                z, sums = _core.gemm_fused(a, b, ta, tb, bias=bias, activation="relu", column_sums=True)
                results.append((c, z, sums))
                bound = 2.0 * k * np.finfo(np.float32).eps * (np.abs(a64) @ np.abs(b64)) + 1e-30
                worst = max(worst, float(np.max(np.abs(c - a64 @ b64) / bound)))
                ref_z = np.maximum(a64 @ b64 + bias, 0.0)
                worst = max(worst, float(np.max(np.abs(z - ref_z) / (bound + 1e-6 * np.abs(bias)))))
                sums_bound = 2.0 * k * np.finfo(np.float32).eps * np.abs(b64).sum(axis=0) + 1e-30
                worst = max(worst, float(np.max(np.abs(sums - b64.sum(axis=0)) / sums_bound)))
            for x, y in zip(*results):
                equal = equal and np.array_equal(x, y)
print(json.dumps({"blocking": bl, "isa": mc.config()["isa"], "worst": worst, "equal": equal}))
"""


def test_override_small_blocks_correct_and_thread_independent(isa):
    out = run_child(CHILD, isa=isa, MLPCORE_BLOCKING="kc=40, mc=30,nc=70")
    got = json.loads(out.stdout.splitlines()[-1])
    bl = got["blocking"]
    assert got["isa"] == isa
    assert bl["source"] == "MLPCORE_BLOCKING"
    mr, nr = bl["mr"], bl["nr"]
    assert bl["kc"] == 40
    assert bl["mc"] == -(-30 // mr) * mr and bl["nc"] == -(-70 // nr) * nr  # rounded up to the tile
    assert got["worst"] <= 1.0, got
    assert got["equal"], "1 and 2 threads differ under MLPCORE_BLOCKING"
    assert "MLPCORE_BLOCKING" not in out.stderr


def test_override_of_one_size_keeps_the_others():
    code = "import json, mlpcore as mc; print(json.dumps(mc.config()['blocking']))"
    default = json.loads(run_child(code).stdout)
    only_kc = json.loads(run_child(code, MLPCORE_BLOCKING="kc=96").stdout)
    assert only_kc["kc"] == 96 and only_kc["source"] == "MLPCORE_BLOCKING"
    assert (only_kc["mc"], only_kc["nc"]) == (default["mc"], default["nc"])


@pytest.mark.parametrize("text,why", [
    ("kc=0", "kc='0' is not an integer"),
    ("kc=12x", "kc='12x' is not an integer"),
    ("mc=-5", "mc='-5' is not an integer"),
    ("nc=99999999", "nc='99999999' is not an integer"),
    ("kc=64,kc=128", "kc given twice"),
    ("kb=64", "'kb=64' is not kc=<int>"),
    ("256", "'256' is not kc=<int>"),
    (",", "expected kc=<int>"),
])
def test_bad_override_is_ignored_with_a_warning(text, why):
    code = "import json, mlpcore as mc; print(json.dumps(mc.config()['blocking']))"
    default = json.loads(run_child(code).stdout)
    out = run_child(code, MLPCORE_BLOCKING=text)
    assert json.loads(out.stdout) == default
    assert f"MLPCORE_BLOCKING={text} ignored" in out.stderr and why in out.stderr, out.stderr


# ------------------------------------------------------------------ derived blocking, threads

def test_derived_blocking_bitwise_across_thread_counts(isa):
    """Shapes beyond the derived blocks (several k slices, row blocks and panels)."""
    bl = mc.config()["blocking"]
    before = mc.get_num_threads()
    rng = np.random.default_rng(11)
    shapes = [(bl["mc"] + 2 * bl["mr"] + 1, 3 * bl["nr"] + 5, 2 * bl["kc"] + 3),
              (40, 2 * bl["nr"] + 1, 3 * bl["kc"] + 1),
              (3, bl["nc"] + bl["nr"] + 7, 2 * bl["kc"] + 1)]
    try:
        for m, n, k in shapes:
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            results = []
            for threads in (1, 2):
                mc.set_num_threads(threads)
                results.append(mc.ops.matmul(a, b))
            np.testing.assert_array_equal(results[0], results[1])
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            bound = 2.0 * k * np.finfo(np.float32).eps * (np.abs(a64) @ np.abs(b64))
            assert np.all(np.abs(results[0] - a64 @ b64) <= bound)
    finally:
        mc.set_num_threads(before)
