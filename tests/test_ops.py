"""mc.ops kernels against float64 numpy references, on every ISA this machine runs."""

import numpy as np
import pytest

import mlpcore as mc

# Awkward sizes: 1, primes, around the micro-tiles (4x16, 6x16, 12x32, 8x12), past a cache block.
SHAPES = [(1, 1, 1), (1, 7, 1), (7, 1, 13), (2, 3, 5), (5, 17, 3), (6, 16, 8), (7, 15, 9),
          (13, 33, 31), (12, 32, 1), (11, 31, 300), (37, 53, 29), (64, 10, 256), (97, 131, 257),
          (150, 40, 600)]


def reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    A = a.astype(np.float64).T if ta else a.astype(np.float64)
    B = b.astype(np.float64).T if tb else b.astype(np.float64)
    out = alpha * (A @ B)
    if c is not None:
        out = out + beta * c.astype(np.float64)
    return out


def operands(rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def assert_close_matmul(got, ref, k):
    # float32 accumulation over k terms of unit-variance products
    tol = 1e-5 * max(1.0, np.sqrt(k)) * 4
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_matches_float64(isa, rng, m, n, k, ta, tb):
    a, b = operands(rng, m, n, k, ta, tb)
    got = mc.ops.matmul(a, b, trans_a=ta, trans_b=tb)
    assert got.shape == (m, n) and got.dtype == np.float32
    assert_close_matmul(got, reference(a, b, ta, tb), k)


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (-1.5, 0.0), (0.0, 3.0), (2.0, 0.25)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, True), (True, False), (False, True)])
def test_matmul_alpha_beta(isa, rng, alpha, beta, ta, tb):
    m, n, k = 19, 23, 41
    a, b = operands(rng, m, n, k, ta, tb)
    c = rng.standard_normal((m, n)).astype(np.float32)
    c_before = c.copy()
    got = mc.ops.matmul(a, b, ta, tb, alpha=alpha, beta=beta, c=c)
    assert_close_matmul(got, reference(a, b, ta, tb, alpha, beta, c), k)
    np.testing.assert_array_equal(c, c_before)  # c is read, never written


def test_matmul_zero_sizes(isa, rng):
    assert mc.ops.matmul(np.zeros((0, 5), np.float32), np.ones((5, 3), np.float32)).shape == (0, 3)
    assert mc.ops.matmul(np.zeros((4, 5), np.float32), np.ones((5, 0), np.float32)).shape == (4, 0)
    # k == 0: the product is empty, the result is beta * c
    out = mc.ops.matmul(np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32))
    np.testing.assert_array_equal(out, np.zeros((3, 2)))
    c = rng.standard_normal((3, 2)).astype(np.float32)
    out = mc.ops.matmul(np.zeros((3, 0), np.float32), np.zeros((0, 2), np.float32), beta=2.0, c=c)
    np.testing.assert_allclose(out, 2 * c)


def test_matmul_beta_zero_ignores_nan_in_c(isa, rng):
    a, b = operands(rng, 9, 17, 5, False, False)
    c = np.full((9, 17), np.nan, np.float32)
    got = mc.ops.matmul(a, b, beta=0.0, c=c)
    assert np.isfinite(got).all()


def test_matmul_accepts_other_dtypes_and_views(rng):
    a = rng.standard_normal((20, 30))  # float64
    b = rng.integers(-3, 4, size=(15, 30))  # int, used transposed
    np.testing.assert_allclose(mc.ops.matmul(a[::2], b, trans_b=True),
                               a[::2].astype(np.float32).astype(np.float64) @ b.T, rtol=1e-5, atol=1e-4)
    at = np.asfortranarray(a)
    np.testing.assert_allclose(mc.ops.matmul(at, b.T), a @ b.T, rtol=1e-5, atol=1e-4)


def test_matmul_nan_propagates(rng):
    a, b = operands(rng, 4, 5, 6, False, False)
    a[1, 2] = np.nan
    got = mc.ops.matmul(a, b)
    assert np.isnan(got[1]).all() and np.isfinite(np.delete(got, 1, axis=0)).all()


# ---------------------------------------------------------------- activations

def f64(x):
    return np.asarray(x, dtype=np.float64)


def sigmoid_ref(x):
    e = np.exp(-np.abs(x))  # never overflows; exact tails on both sides
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


ACTIVATIONS = {
    "sigmoid": sigmoid_ref,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "identity": lambda x: x,
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("shape", [(1,), (7,), (3, 5), (2, 3, 4), (1000,), (100003,)])
def test_activations_match_float64(isa, rng, name, shape):
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    got = mc.ops.activation(x, name)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ACTIVATIONS[name](f64(x)), rtol=3e-7, atol=3e-7)


def test_named_activation_functions_match_generic_entry(rng):
    x = rng.standard_normal(50).astype(np.float32)
    np.testing.assert_array_equal(mc.ops.sigmoid(x), mc.ops.activation(x, "sigmoid"))
    np.testing.assert_array_equal(mc.ops.tanh(x), mc.ops.activation(x, "tanh"))
    np.testing.assert_array_equal(mc.ops.relu(x), mc.ops.activation(x, "relu"))


def test_sigmoid_tanh_extremes(isa):
    x = np.array([-1e4, -200, -88, -87, -50, -20, -1e-6, 0, 1e-6, 20, 50, 88, 89, 200, 1e4], np.float32)
    s = mc.ops.sigmoid(x)
    np.testing.assert_allclose(s, ACTIVATIONS["sigmoid"](f64(x)), rtol=3e-7, atol=1e-37)
    assert np.all((s >= 0) & (s <= 1))
    t = mc.ops.tanh(x)
    np.testing.assert_allclose(t, np.tanh(f64(x)), rtol=3e-7, atol=1e-37)
    # tiny arguments keep full relative precision (no 1 - e cancellation)
    small = np.array([1e-3, 1e-5, -3e-4, 0.5, -0.6], np.float32)
    np.testing.assert_allclose(mc.ops.tanh(small), np.tanh(f64(small)), rtol=3e-7)
    np.testing.assert_allclose(mc.ops.sigmoid(np.float32([-60.0])), [1 / (1 + np.exp(60.0))], rtol=1e-6)


def test_relu_and_nan(isa):
    x = np.array([np.nan, -1.0, 0.0, 2.0], np.float32)
    r = mc.ops.relu(x)
    assert np.isnan(r[0]) and list(r[1:]) == [0.0, 0.0, 2.0]
    assert np.isnan(mc.ops.sigmoid(x)[0]) and np.isnan(mc.ops.tanh(x)[0])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_derivatives_by_finite_differences(isa, rng, name):
    x = rng.uniform(-4, 4, 2000)
    x = x[np.abs(x) > 1e-2]  # away from ReLU's kink
    h = 1e-4
    fd = (ACTIVATIONS[name](x + h) - ACTIVATIONS[name](x - h)) / (2 * h)  # float64 reference
    got = mc.ops.activation_derivative(x.astype(np.float32), name)
    np.testing.assert_allclose(got, fd, rtol=2e-5, atol=2e-6)


def test_derivative_helpers_and_relu_at_zero(isa):
    x = np.array([-2.0, 0.0, 3.0], np.float32)
    np.testing.assert_array_equal(mc.ops.relu_derivative(x), [0.0, 0.0, 1.0])
    s = ACTIVATIONS["sigmoid"](f64(x))
    np.testing.assert_allclose(mc.ops.sigmoid_derivative(x), s * (1 - s), rtol=1e-6)
    np.testing.assert_allclose(mc.ops.tanh_derivative(x), 1 - np.tanh(f64(x)) ** 2, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_backward_kernel(isa, rng, name):
    x = rng.standard_normal((33, 17)).astype(np.float32)
    dy = rng.standard_normal((33, 17)).astype(np.float32)
    y = mc.ops.activation(x, name)
    yd = f64(y)
    deriv = {"sigmoid": yd * (1 - yd), "tanh": 1 - yd**2, "relu": (yd > 0) * 1.0, "identity": np.ones_like(yd)}
    np.testing.assert_allclose(mc.ops.activation_backward(name, y, dy), f64(dy) * deriv[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_activation_backward_keeps_its_relative_accuracy_where_the_output_saturates(isa, name):
    """Near |y| = 1 (tanh) or y = 0, 1 (sigmoid) the derivative is a small
    difference: 1 - y*y in float32 lost up to 3e-4 of it without a fused
    multiply-add, (1 - y)(1 + y) keeps it to a few ulp."""
    x = np.concatenate([np.linspace(-9, -2, 301), np.linspace(2, 9, 301)]).astype(np.float32)
    y = mc.ops.activation(x, name)
    y = y[(np.abs(y) < 1) & (y != 0)].reshape(1, -1)  # a derivative of exactly 0 says nothing
    dy = np.ones_like(y)
    yd = f64(y)
    ref = yd * (1 - yd) if name == "sigmoid" else (1 - yd) * (1 + yd)
    np.testing.assert_allclose(mc.ops.activation_backward(name, y, dy), ref, rtol=1e-6, atol=0)


# ---------------------------------------------------------------- softmax

@pytest.mark.parametrize("shape", [(1, 1), (1, 10), (7, 3), (64, 10), (5, 1000), (300, 17)])
def test_softmax_matches_float64(isa, rng, shape):
    x = (rng.standard_normal(shape) * 5).astype(np.float32)
    ref = np.exp(f64(x) - f64(x).max(1, keepdims=True))
    ref /= ref.sum(1, keepdims=True)
    got = mc.ops.softmax(x)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(got.sum(1), 1.0, rtol=1e-6)


def test_softmax_large_logits_and_1d(isa):
    x = np.array([[1000.0, 1001.0, 999.0], [-1e4, 0.0, 1e4], [3e38, 3e38, -3e38]], np.float32)
    got = mc.ops.softmax(x)
    assert np.isfinite(got).all()
    e = np.exp([-1.0, 0.0, -2.0])
    np.testing.assert_allclose(got[0], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(got[1], [0, 0, 1], atol=1e-30)
    np.testing.assert_allclose(got[2], [0.5, 0.5, 0], atol=1e-7)
    one = mc.ops.softmax(np.array([0.0, np.log(3.0)], np.float32))
    np.testing.assert_allclose(one, [0.25, 0.75], rtol=1e-6)


def test_zero_rows(isa):
    assert mc.ops.softmax(np.zeros((0, 4), np.float32)).shape == (0, 4)
    assert mc.ops.relu(np.zeros((0, 4), np.float32)).shape == (0, 4)
