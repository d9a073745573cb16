"""Losses and their fused gradients: values against float64 numpy, gradients by
finite differences."""

import numpy as np
import pytest

import mlpcore as mc


def ce_ref(z, t):
    z = z.astype(np.float64)
    lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
    return np.mean(lse - (t * z).sum(1))


def bce_ref(z, t):
    z = z.astype(np.float64)
    return np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))


def mse_ref(y, t):
    return np.mean((y.astype(np.float64) - t) ** 2)


def one_hot(labels, n):
    return np.eye(n)[labels]


def numeric_grad(fn, x, h=1e-2):
    """Central differences of a float64-valued function of a float32 array."""
    g = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (fn(xp) - fn(xm)) / (float(xp[idx]) - float(xm[idx]))
    return g


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 3), (5, 2), (8, 10), (3, 37)])
def test_cross_entropy_labels(rng, rows, cols):
    z = (rng.standard_normal((rows, cols)) * 3).astype(np.float32)
    y = rng.integers(0, cols, rows)
    loss, grad = mc.ops.cross_entropy(z, y)
    assert loss == pytest.approx(ce_ref(z, one_hot(y, cols)), rel=1e-6, abs=1e-7)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(grad, (p - one_hot(y, cols)) / rows, rtol=1e-5, atol=1e-7)
    fd = numeric_grad(lambda v: mc.ops.cross_entropy(v, y)[0], z)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-5)


def test_cross_entropy_probability_targets(rng):
    z = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.random((6, 4))
    t /= t.sum(1, keepdims=True)
    loss, grad = mc.ops.cross_entropy(z, t.astype(np.float32))
    assert loss == pytest.approx(ce_ref(z, t), rel=1e-6)
    fd = numeric_grad(lambda v: mc.ops.cross_entropy(v, t.astype(np.float32))[0], z)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-5)


def test_cross_entropy_stable_for_huge_logits():
    z = np.array([[1e4, 0.0, -1e4], [-3e38, 3e38, 0.0]], np.float32)
    loss, grad = mc.ops.cross_entropy(z, np.array([0, 0]))
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert loss == pytest.approx((0.0 + 6e38) / 2, rel=1e-6)
    np.testing.assert_allclose(grad, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-7)


@pytest.mark.parametrize("rows,cols", [(1, 1), (7, 1), (4, 5)])
def test_binary_cross_entropy(rng, rows, cols):
    z = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    t = rng.integers(0, 2, (rows, cols)).astype(np.float32)
    loss, grad = mc.ops.binary_cross_entropy(z, t)
    assert loss == pytest.approx(bce_ref(z, t), rel=1e-6)
    s = 1 / (1 + np.exp(-z.astype(np.float64)))
    np.testing.assert_allclose(grad, (s - t) / t.size, rtol=1e-5, atol=1e-8)
    fd = numeric_grad(lambda v: mc.ops.binary_cross_entropy(v, t)[0], z)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-6)


def test_binary_cross_entropy_extreme_logits():
    z = np.array([[200.0, -200.0, 0.0]], np.float32)
    loss, grad = mc.ops.binary_cross_entropy(z, np.array([[0.0, 1.0, 1.0]], np.float32))
    assert loss == pytest.approx((200 + 200 + np.log(2)) / 3, rel=1e-6)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3, -0.5 / 3]], rtol=1e-6)


@pytest.mark.parametrize("rows,cols", [(1, 1), (9, 1), (5, 3)])
def test_mse(rng, rows, cols):
    y = rng.standard_normal((rows, cols)).astype(np.float32)
    t = rng.standard_normal((rows, cols)).astype(np.float32)
    loss, grad = mc.ops.mse(y, t)
    assert loss == pytest.approx(mse_ref(y, t), rel=1e-6)
    np.testing.assert_allclose(grad, 2 * (y.astype(np.float64) - t) / y.size, rtol=1e-5)
    fd = numeric_grad(lambda v: mc.ops.mse(v, t)[0], y)
    np.testing.assert_allclose(grad, fd, rtol=1e-3, atol=1e-6)


def poisson_ref(z, t):
    z = z.astype(np.float64)
    return np.mean(np.exp(z) - t * z)


@pytest.mark.parametrize("rows,cols", [(1, 1), (9, 1), (5, 3), (33, 17)])
def test_poisson(isa, rng, rows, cols):
    z = (rng.standard_normal((rows, cols)) * 2).astype(np.float32)
    t = rng.poisson(3.0, (rows, cols)).astype(np.float32)
    loss, grad = mc.ops.poisson(z, t)
    assert loss == pytest.approx(poisson_ref(z, t), rel=1e-9)
    np.testing.assert_allclose(grad, (np.exp(z.astype(np.float64)) - t) / z.size, rtol=1e-6)
    fd = numeric_grad(lambda v: mc.ops.poisson(v, t)[0], z, h=1e-3)
    np.testing.assert_allclose(grad, fd, rtol=2e-3, atol=1e-5)
    with pytest.raises(ValueError, match=r"target: Poisson targets must be >= 0 \(counts or rates\), got -1.0"):
        mc.ops.poisson(z, -np.ones_like(t))


def test_poisson_model_predicts_means_and_learns_counts(rng):
    X = rng.standard_normal((2000, 4)).astype(np.float32)
    rate = np.exp(X @ np.array([0.5, -0.3, 0.2, 0.1]) + 0.5)
    y = rng.poisson(rate).astype(np.float32)
    model = mc.Sequential([mc.Dense(1, input_dim=4)], seed=0)
    model.compile(loss="poisson", optimizer=mc.Adam(lr=0.05))
    model.fit(X, y, epochs=30, batch_size=100, verbose=0)
    (W, b), = model.get_weights()
    np.testing.assert_allclose(W[:, 0], [0.5, -0.3, 0.2, 0.1], atol=0.08)
    pred = model.predict(X)
    np.testing.assert_allclose(pred[:, 0], np.exp(X @ W[:, 0] + b[0]), rtol=1e-5)  # predict returns the means
    assert model.evaluate(X, y)["loss"] == pytest.approx(poisson_ref(np.log(pred), y[:, None]), rel=1e-4)


def test_sample_weight_scales_rows(rng):
    z = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    w = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    loss, grad = mc.ops.cross_entropy(z, y, sample_weight=w)
    per_row = [ce_ref(z[i:i + 1], one_hot(y[i:i + 1], 3)) for i in range(4)]
    assert loss == pytest.approx(np.dot(w, per_row) / 4, rel=1e-6)
    _, unweighted = mc.ops.cross_entropy(z, y)
    np.testing.assert_allclose(grad, unweighted * w[:, None], rtol=1e-6)
