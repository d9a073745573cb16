"""Accuracy of the vectorised exp, sigmoid and tanh (elementwise_impl.h) against
float64 numpy, on every ISA: the bounds stated in the docs are what this checks.

exp is observed through sigmoid: for x < -17, 1 + exp(x) rounds to 1 in
float32, so the kernel's sigmoid(x) = exp(x) / (1 + exp(x)) is exactly its exp(x)."""

import numpy as np
import pytest

import mlpcore as mc


def ulps(got, ref64):
    """|got - ref| in units of the float32 spacing at the reference value."""
    spacing = np.spacing(np.abs(ref64.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref64) / spacing


@pytest.fixture(scope="module")
def grid():
    dense = np.linspace(-20.0, 20.0, 2_000_001, dtype=np.float32)
    rng = np.random.default_rng(3)
    wide = rng.uniform(-90.0, 90.0, 200_000).astype(np.float32)
    tiny = rng.uniform(-1e-3, 1e-3, 50_000).astype(np.float32)
    return np.concatenate([dense, wide, tiny])


def test_exp_within_1_ulp(isa):
    x = np.linspace(-87.3, -17.5, 1_000_001, dtype=np.float32)
    got = mc.ops.sigmoid(x)
    assert ulps(got, np.exp(x.astype(np.float64))).max() <= 1.0


def test_sigmoid_error_bound(isa, grid):
    ref = 1.0 / (1.0 + np.exp(-grid.astype(np.float64)))
    got = mc.ops.sigmoid(grid)
    assert np.abs(got - ref).max() <= 1.2e-7
    normal = ref >= np.finfo(np.float32).tiny  # below that the result is flushed to 0
    assert ulps(got[normal], ref[normal]).max() <= 3.0


def test_tanh_error_bound(isa, grid):
    ref = np.tanh(grid.astype(np.float64))
    got = mc.ops.tanh(grid)
    assert np.abs(got - ref).max() <= 1.2e-7
    assert ulps(got, ref).max() <= 2.0


def test_saturation_and_symmetry(isa):
    big = np.array([-1e30, -200.0, -88.8, 88.8, 200.0, 1e30], np.float32)
    np.testing.assert_array_equal(mc.ops.sigmoid(big), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(mc.ops.tanh(big), [-1, -1, -1, 1, 1, 1])
    x = np.linspace(0.0, 30.0, 30001, dtype=np.float32)
    np.testing.assert_array_equal(mc.ops.tanh(-x), -mc.ops.tanh(x))
    s = mc.ops.sigmoid(np.array([0.0], np.float32))
    assert s[0] == 0.5


def test_softmax_uses_the_same_exp(isa, rng):
    x = rng.uniform(-30, 30, (200, 37)).astype(np.float32)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    ref = e / e.sum(axis=1, keepdims=True)
    got = mc.ops.softmax(x)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-12)
