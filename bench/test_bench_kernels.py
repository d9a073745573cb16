"""pytest-benchmark suite for the GEMM and elementwise kernels (not run by the
test suite; timings only, no targets):

    python -m pytest bench/test_bench_kernels.py --benchmark-columns=median,ops,rounds
    python -m pytest bench/test_bench_kernels.py -k "gemm and b32"

`extra_info` of each GEMM case records its GFLOP/s (from the median) and each
elementwise case its GB/s (bytes read + written), next to numpy's copy for a
bandwidth reference."""

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")
import which_mlpcore  # noqa: E402  (bench/ is on sys.path: pytest puts a test file's folder there)

which_mlpcore.select()
import mlpcore as mc  # noqa: E402
from mlpcore import _core  # noqa: E402

MLP = (784, 512, 256, 10)


def gemm_cases():
    cases = [pytest.param(n, n, n, False, False, id=f"square{n}") for n in (64, 128, 256, 512, 1024)]
    for batch in (32, 128, 512):
        for k_in, n_out in zip(MLP[:-1], MLP[1:]):
            tag = f"{k_in}-{n_out}-b{batch}"
            cases.append(pytest.param(batch, n_out, k_in, False, False, id=f"{tag}-XW"))
            cases.append(pytest.param(k_in, n_out, batch, True, False, id=f"{tag}-XtdY"))
            cases.append(pytest.param(batch, k_in, n_out, False, True, id=f"{tag}-dYWt"))
    return cases


@pytest.fixture(params=[1, 2], ids=lambda t: f"{t}thr")
def threads(request):
    before = mc.get_num_threads()
    mc.set_num_threads(request.param)
    yield request.param
    mc.set_num_threads(before)


def _record_rate(benchmark, amount, unit):
    if benchmark.stats is None:  # --benchmark-disable: each case ran once, untimed
        return
    median = benchmark.stats.stats.median
    benchmark.extra_info[unit] = round(amount / median / 1e9, 2)


@pytest.mark.parametrize("m,n,k,ta,tb", gemm_cases())
def test_gemm(benchmark, threads, m, n, k, ta, tb):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    benchmark(mc.ops.matmul, a, b, trans_a=ta, trans_b=tb)
    _record_rate(benchmark, 2.0 * m * n * k, "GFLOP/s")


@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_gemm_fused_forward(benchmark, threads, act):
    """A Dense forward step: X.W + b, then the activation, in one call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784), dtype=np.float32)
    w = rng.standard_normal((784, 512), dtype=np.float32)
    bias = rng.standard_normal(512, dtype=np.float32)
    benchmark(_core.gemm_fused, x, w, bias=bias, activation=act)
    _record_rate(benchmark, 2.0 * 128 * 512 * 784, "GFLOP/s")


SIZES = [pytest.param(1 << 12, id="16KB"), pytest.param(1 << 20, id="4MB"), pytest.param(1 << 25, id="128MB")]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_activation(benchmark, threads, act, size):
    x = np.random.default_rng(0).standard_normal(size, dtype=np.float32)
    benchmark(mc.ops.activation, x, act)
    _record_rate(benchmark, 8.0 * size, "GB/s")


@pytest.mark.parametrize("size", SIZES)
def test_numpy_copy_reference(benchmark, size):
    x = np.random.default_rng(0).standard_normal(size, dtype=np.float32)
    benchmark(np.copy, x)
    _record_rate(benchmark, 8.0 * size, "GB/s")


def test_softmax(benchmark, threads):
    x = np.random.default_rng(0).standard_normal((512, 10), dtype=np.float32)
    benchmark(mc.ops.softmax, x)
