"""The GEMM driver and its micro-kernels against a float64 numpy reference, on
every ISA this machine runs: transposes, alpha/beta, edge shapes around the
micro-tile, several k blocks, zero sizes, the fused epilogues, and thread counts."""

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

EPS32 = np.finfo(np.float32).eps


def operands(rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def op(x, t):
    return x.T.astype(np.float64) if t else x.astype(np.float64)


def assert_gemm_close(got, ref, a64, b64, extra=0.0):
    """Error bound of a float32 dot product of length k: k * eps * (|A| |B|)."""
    k = a64.shape[1]
    bound = 2.0 * max(k, 1) * EPS32 * (np.abs(a64) @ np.abs(b64)) + extra + 1e-30
    err = np.abs(got.astype(np.float64) - ref)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else None
    assert np.all(err <= bound), f"error {err[worst]} > bound {bound[worst]} at {worst}"


def tile():
    return tuple(mc.config()["gemm_tile"])


def edge_shapes():
    """Shapes around the active ISA's micro-tile and cache blocks."""
    mr, nr = tile()
    bl = mc.config()["blocking"]  # derived from this CPU's caches: kc, mc, nc vary by machine
    kc, mcb, nc = bl["kc"], bl["mc"], bl["nc"]
    return sorted({
        (1, 1, 1), (1, 7, 3), (5, 1, 2), (3, 4, 1),
        (mr - 1, nr - 1, 5), (mr, nr, 8), (mr + 1, nr + 1, 9),
        (2 * mr + 1, 3 * nr - 1, 17),
        (37, 53, 101),          # primes
        (13, 29, 700),          # several k blocks
        (13, 29, 2 * kc + 1),   # several k blocks, whatever kc
        (301, 67, 300),         # several row blocks where mc < 301: A is packed
        (mcb + mr + 1, 67, 30),  # several row blocks: A is packed
        (7, 4200, 19),          # several column blocks where nc < 4200
        (3, nc + nr + 1, 7),    # several column blocks
        (64, 10, 256),          # a narrow output layer
        (mr, 2 * nr + 3, 600),  # one row tile: B read in place, several k blocks
        (2, 4500, 300),         # one row tile, several column blocks where nc < 4500
    })


TRANS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("ta,tb", TRANS)
def test_matches_float64_reference(isa, rng, ta, tb):
    for m, n, k in edge_shapes():
        a, b = operands(rng, m, n, k, ta, tb)
        got = mc.ops.matmul(a, b, trans_a=ta, trans_b=tb)
        assert got.shape == (m, n) and got.dtype == np.float32
        a64, b64 = op(a, ta), op(b, tb)
        assert_gemm_close(got, a64 @ b64, a64, b64)


@pytest.mark.parametrize("ta,tb", TRANS)
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (-0.5, 2.0), (2.5, 0.0), (1.0, -1.0)])
def test_alpha_beta(isa, rng, ta, tb, alpha, beta):
    mr, nr = tile()
    for m, n, k in [(mr + 1, nr - 1, 33), (50, 70, 520), (1, 1, 1)]:
        a, b = operands(rng, m, n, k, ta, tb)
        c = rng.standard_normal((m, n)).astype(np.float32)
        c_before = c.copy()
        got = mc.ops.matmul(a, b, trans_a=ta, trans_b=tb, alpha=alpha, beta=beta, c=c)
        np.testing.assert_array_equal(c, c_before)  # the caller's c is not written
        a64, b64 = op(a, ta), op(b, tb)
        ref = alpha * (a64 @ b64) + beta * c.astype(np.float64)
        assert_gemm_close(got, ref, abs(alpha) * a64, b64, extra=4 * EPS32 * abs(beta) * np.abs(c))


def test_alpha_zero_and_k_zero(isa, rng):
    c = rng.standard_normal((5, 6)).astype(np.float32)
    a, b = operands(rng, 5, 6, 4, False, False)
    np.testing.assert_allclose(mc.ops.matmul(a, b, alpha=0.0, beta=0.5, c=c), 0.5 * c, rtol=1e-7)
    a0, b0 = np.zeros((5, 0), np.float32), np.zeros((0, 6), np.float32)
    np.testing.assert_array_equal(mc.ops.matmul(a0, b0), np.zeros((5, 6), np.float32))
    np.testing.assert_allclose(mc.ops.matmul(a0, b0, beta=2.0, c=c), 2.0 * c, rtol=1e-7)


@pytest.mark.parametrize("m,n,k", [(0, 4, 3), (4, 0, 3), (0, 0, 0), (0, 5, 0)])
def test_zero_size(isa, m, n, k):
    got = mc.ops.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32))
    assert got.shape == (m, n)
    np.testing.assert_array_equal(got, np.zeros((m, n), np.float32))


# ------------------------------------------------------------------ epilogues

def act64(name, z):
    return {"identity": lambda v: v, "relu": lambda v: np.maximum(v, 0.0),
            "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)), "tanh": np.tanh}[name](z)


def deriv64(name, y):
    return {"identity": np.ones_like(y), "relu": (y > 0).astype(np.float64),
            "sigmoid": y * (1.0 - y), "tanh": 1.0 - y * y}[name]


ACTS = ["identity", "relu", "sigmoid", "tanh"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("with_bias", [True, False])
def test_bias_activation_epilogue(isa, rng, act, with_bias):
    mr, nr = tile()
    for (m, n, k), (ta, tb) in zip([(mr + 1, nr - 1, 40), (33, 10, 300), (1, 1, 1), (301, 70, 20)],
                                   TRANS):
        a, b = operands(rng, m, n, k, ta, tb)
        bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
        got, sums = _core.gemm_fused(a, b, ta, tb, bias=bias, activation=act)
        assert sums is None
        a64, b64 = op(a, ta), op(b, tb)
        z = a64 @ b64 + (bias.astype(np.float64) if with_bias else 0.0)
        # the activations are 1-Lipschitz, so the product's bound carries over
        bound = 2.0 * k * EPS32 * (np.abs(a64) @ np.abs(b64)) + 8 * EPS32 * (np.abs(z) + 1e-3)
        np.testing.assert_array_less(np.abs(got - act64(act, z)), bound + 1e-30)


@pytest.mark.parametrize("act", ACTS)
def test_derivative_epilogue(isa, rng, act):
    """dZ = (dY W^T) * f'(Y), with f' taken from the stored layer output Y."""
    mr, nr = tile()
    # the last shape ends on a tile nr - 5 columns wide: partial, but past its first half
    for (m, n, k), (ta, tb) in zip([(mr + 1, nr + 1, 24), (32, 784, 512), (7, 3, 1), (300, 40, 300),
                                    (mr + 2, 2 * nr - 5, 9)], TRANS + TRANS[:1]):
        a, b = operands(rng, m, n, k, ta, tb)
        y = act64(act, rng.standard_normal((m, n))).astype(np.float32)
        if act == "relu":
            y[0, 0] = 0.0  # the derivative at 0 is 0
        got, _ = _core.gemm_fused(a, b, ta, tb, activation=act, act_output=y)
        a64, b64 = op(a, ta), op(b, tb)
        d = deriv64(act, y.astype(np.float64))
        ref = (a64 @ b64) * d
        bound = (2.0 * k * EPS32 * (np.abs(a64) @ np.abs(b64)) + 4 * EPS32 * np.abs(ref)) * np.maximum(d, 1)
        np.testing.assert_array_less(np.abs(got - ref), bound + 1e-30)
        # the same as the separate kernels: matmul, then activation_backward
        sep = mc.ops.activation_backward(act, y, mc.ops.matmul(a, b, trans_a=ta, trans_b=tb))
        np.testing.assert_allclose(got, sep, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_derivative_epilogue_where_the_output_saturates(isa, rng, act):
    """The epilogue's f'(Y) keeps its relative accuracy for outputs near
    saturation, full and edge tiles alike (see test_ops for the formula)."""
    mr, nr = tile()
    m, n, k = 2 * mr + 1, 2 * nr + 3, 5
    a, b = operands(rng, m, n, k, False, False)
    z = rng.uniform(2.0, 9.0, (m, n)) * rng.choice([-1.0, 1.0], (m, n))
    y = act64(act, z).astype(np.float32)
    y[np.abs(y) == 1.0] = np.float32(0.999)  # keep every derivative away from exactly 0
    got, _ = _core.gemm_fused(a, b, False, False, activation=act, act_output=y)
    a64, b64, yd = op(a, False), op(b, False), y.astype(np.float64)
    d = yd * (1 - yd) if act == "sigmoid" else (1 - yd) * (1 + yd)
    ref = (a64 @ b64) * d
    bound = 2.0 * k * EPS32 * (np.abs(a64) @ np.abs(b64)) * d + 4 * EPS32 * np.abs(ref)
    np.testing.assert_array_less(np.abs(got - ref), bound + 1e-30)


def test_derivative_epilogue_with_alpha_beta(isa, rng):
    a, b = operands(rng, 9, 20, 7, False, True)
    c = rng.standard_normal((9, 20)).astype(np.float32)
    y = np.tanh(rng.standard_normal((9, 20))).astype(np.float32)
    got, _ = _core.gemm_fused(a, b, False, True, 0.5, 2.0, c, activation="tanh", act_output=y)
    ref = (0.5 * a.astype(np.float64) @ b.T.astype(np.float64) + 2.0 * c) * (1.0 - y.astype(np.float64) ** 2)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # k == 0 and alpha == 0 still apply the epilogue to beta * C
    got0, _ = _core.gemm_fused(np.zeros((9, 0), np.float32), np.zeros((0, 20), np.float32), beta=1.0,
                               c=c, activation="tanh", act_output=y)
    np.testing.assert_allclose(got0, c * (1.0 - y ** 2), rtol=1e-5, atol=1e-6)
    got1, _ = _core.gemm_fused(a, b, False, True, 0.0, 1.0, c, bias=np.ones(20, np.float32),
                               activation="relu")
    np.testing.assert_allclose(got1, np.maximum(c + 1.0, 0.0), rtol=1e-6)


@pytest.mark.parametrize("ta,tb", TRANS)
def test_fused_column_sums(isa, rng, ta, tb):
    """db = column sums of dY, fused into X^T dY (op(b) = dY)."""
    mr, nr = tile()
    for m, n, k in [(784, 512, 32), (nr + 1, nr - 1, mr + 1), (3, 10, 700), (1, 1, 1), (0, 5, 4), (4, 6, 0)]:
        a, b = operands(rng, m, n, k, ta, tb)
        got, sums = _core.gemm_fused(a, b, ta, tb, column_sums=True)
        b64 = op(b, tb)
        np.testing.assert_allclose(sums, b64.sum(axis=0), rtol=1e-5, atol=2 * k * EPS32 * np.abs(b64).sum(axis=0).max())
        a64 = op(a, ta)
        assert_gemm_close(got, a64 @ b64, a64, b64)


def test_epilogue_arguments_checked():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="bias"):
        _core.gemm_fused(a, b, bias=np.ones(4, np.float32))
    with pytest.raises(ValueError, match="act_output"):
        _core.gemm_fused(a, b, activation="relu", act_output=np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="act_output"):
        _core.gemm_fused(a, b, bias=np.ones(5, np.float32), act_output=np.ones((3, 5), np.float32))


# ------------------------------------------------------------------ threads

@pytest.fixture
def restore_threads():
    before = mc.get_num_threads()
    yield
    mc.set_num_threads(before)


def run_all(rng_seed, threads):
    """A set of products (plain and fused) computed with `threads` threads."""
    mc.set_num_threads(threads)
    rng = np.random.default_rng(rng_seed)
    out = []
    # Split by rows (B packed once by all threads: several k slices, or several
    # column panels as in (200, 4150, 40)) and by columns.
    for (m, n, k), (ta, tb) in zip([(256, 256, 600), (784, 512, 32), (32, 784, 512), (512, 10, 256),
                                    (1000, 7, 50), (5, 3000, 40), (200, 4150, 40)], TRANS + TRANS[:3]):
        a, b = operands(rng, m, n, k, ta, tb)
        out.append(mc.ops.matmul(a, b, trans_a=ta, trans_b=tb))
        y = np.tanh(rng.standard_normal((m, n))).astype(np.float32)
        out.append(_core.gemm_fused(a, b, ta, tb, activation="tanh", act_output=y)[0])
        out.extend(_core.gemm_fused(a, b, ta, tb, bias=np.ones(n, np.float32), activation="sigmoid",
                                    column_sums=True))
    return out


def test_bitwise_equal_across_thread_counts(isa, restore_threads):
    one = run_all(7, 1)
    for threads in (2, 3, 8):
        for x, y in zip(one, run_all(7, threads)):
            np.testing.assert_array_equal(x, y)


def test_many_threads_correct(isa, rng, restore_threads):
    mc.set_num_threads(8)
    for m, n, k in [(333, 444, 555), (1, 2000, 3), (2000, 1, 3)]:
        a, b = operands(rng, m, n, k, False, False)
        a64, b64 = op(a, False), op(b, False)
        assert_gemm_close(mc.ops.matmul(a, b), a64 @ b64, a64, b64)


def test_few_rows_match_the_rows_of_a_large_product(isa, rng):
    """A product of at most mr rows reads B in place instead of packing it; its
    rows are bitwise those of the same rows in a large product (B packed)."""
    mr, nr = tile()
    for n, k, tb in [(3 * nr + 5, 300, False), (2 * nr, 40, False), (nr + 1, 70, True)]:
        a, b = operands(rng, 50, n, k, False, tb)
        full = mc.ops.matmul(a, b, trans_b=tb)
        for rows in (1, 2, mr - 1, mr):
            np.testing.assert_array_equal(mc.ops.matmul(a[5:5 + rows], b, trans_b=tb), full[5:5 + rows])


def test_rows_independent_of_their_position(isa, rng):
    """A row of C is bitwise the same wherever it sits (edge tiles included), so
    predictions do not depend on the order of the samples in a batch."""
    for m, n, k, ta, tb in [(32, 40, 300, False, False), (31, 10, 64, True, False), (13, 17, 9, False, True),
                            (301, 20, 33, False, False)]:
        a, b = operands(rng, m, n, k, ta, tb)
        perm = rng.permutation(m)
        a_perm = a[:, perm] if ta else a[perm]
        full = mc.ops.matmul(a, b, trans_a=ta, trans_b=tb)
        np.testing.assert_array_equal(mc.ops.matmul(a_perm, b, trans_a=ta, trans_b=tb), full[perm])


# ------------------------------------------------------------------ paths of the driver

def storage_variants(a, b, ta, tb):
    """The same op(A) and op(B) stored each of the four ways: (a, b, ta, tb)."""
    opa = a.T if ta else a
    opb = b.T if tb else b
    for ta2 in (False, True):
        for tb2 in (False, True):
            a2 = np.ascontiguousarray(opa.T if ta2 else opa)
            b2 = np.ascontiguousarray(opb.T if tb2 else opb)
            yield a2, b2, ta2, tb2


def path_shapes():
    """Shapes that take each of the driver's paths, on whatever tile and blocks:
    a narrow C (an output layer's 10 columns; its weight gradient computed as
    C^T), few rows (B read in place; an input gradient with a transposed B
    computed as C^T), a partial sliver read in place, several k slices."""
    mr, nr = tile()
    kc = mc.config()["blocking"]["kc"]
    return [(256, 10, 32), (256, 10, 2 * kc + 3), (32, 10, 256), (7, 10, 33),
            (32, 784, 512), (2 * nr, 3 * nr + 5, kc + 9), (4 * mr + 1, 9 * nr, 40),
            (nr // 2, 5 * nr, 300), (301, 5, 70), (32, 256, 10), (200, 4150, 40),
            (18, 203, 300), (45, 3, 77), (2 * nr + 3, 7, 19)]


def test_storage_of_the_operands_does_not_change_the_bits(isa, rng, restore_threads):
    """Whichever way A and B are stored, and so whichever path the driver takes
    (packed or in place, C or C^T), C, the fused epilogues and the column sums
    are bitwise the same, on 1 and 2 threads."""
    for m, n, k in path_shapes():
        a, b = operands(rng, m, n, k, False, False)
        y = act64("tanh", rng.standard_normal((m, n))).astype(np.float32)
        y_relu = np.maximum(rng.standard_normal((m, n)), 0).astype(np.float32)
        c0 = rng.standard_normal((m, n)).astype(np.float32)
        seen = []
        for threads in (1, 2):
            mc.set_num_threads(threads)
            for a2, b2, ta, tb in storage_variants(a, b, False, False):
                out = [mc.ops.matmul(a2, b2, trans_a=ta, trans_b=tb),
                       mc.ops.matmul(a2, b2, trans_a=ta, trans_b=tb, alpha=-0.5, beta=2.0, c=c0)]
                out.extend(_core.gemm_fused(a2, b2, ta, tb, column_sums=True))
                out.append(_core.gemm_fused(a2, b2, ta, tb, activation="tanh", act_output=y)[0])
                out.append(_core.gemm_fused(a2, b2, ta, tb, activation="relu", act_output=y_relu)[0])
                out.append(_core.gemm_fused(a2, b2, ta, tb, activation="sigmoid", act_output=y)[0])
                out.append(_core.gemm_fused(a2, b2, ta, tb, bias=c0[0], activation="relu")[0])
                seen.append(out)
        for other in seen[1:]:
            for x, z in zip(seen[0], other):
                np.testing.assert_array_equal(x, z, err_msg=f"shape {(m, n, k)}")
        a64, b64 = op(a, False), op(b, False)
        assert_gemm_close(seen[0][0], a64 @ b64, a64, b64)
        np.testing.assert_allclose(seen[0][3], b64.sum(axis=0), rtol=1e-5,
                                   atol=2 * k * EPS32 * np.abs(b64).sum(axis=0).max())
        d = deriv64("tanh", y.astype(np.float64))
        bound = (2.0 * k * EPS32 * (np.abs(a64) @ np.abs(b64)) + 4 * EPS32 * np.abs((a64 @ b64) * d)) + 1e-30
        np.testing.assert_array_less(np.abs(seen[0][4] - (a64 @ b64) * d), bound)
