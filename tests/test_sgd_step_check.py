"""The per-step divergence check of the CPU trainer (Sgd.step_if_finite): an
update is applied exactly as the plain step would apply it, or, when its
gradient is not finite or it would overflow a parameter or momentum value, not
at all. Run on every ISA the machine has (the max-abs kernel is per ISA)."""

import numpy as np
import pytest

import mlpcore as mc


def model_and_sgd(lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0):
    # 233 x 300 + 300 = 70200 parameters: three chunks of the step, the last partial.
    m = mc.Sequential([mc.Dense(300, input_dim=233)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=lr, momentum=momentum, nesterov=nesterov,
                                           weight_decay=weight_decay))
    return m, m._ensure_optimizer()


def reference_step(p, g, v, lr, momentum, nesterov, weight_decay, first):
    """torch.optim.SGD in float64."""
    p, g, v = (a.astype(np.float64) for a in (p, g, v))
    g = g + weight_decay * p
    if momentum:
        v = g if first else momentum * v + g
        g = g + momentum * v if nesterov else v
    return p - lr * g, v


@pytest.mark.parametrize("nesterov, weight_decay", [(False, 0.0), (True, 1e-3)])
def test_finite_steps_are_applied_as_sgd(isa, rng, nesterov, weight_decay):
    m, sgd = model_and_sgd(nesterov=nesterov, weight_decay=weight_decay)
    v = np.zeros(sgd.size, np.float32)
    for step in range(3):
        p = m._net.get_flat_params()
        g = rng.standard_normal(sgd.size).astype(np.float32)
        assert sgd.step_if_finite(m._net, g)
        want_p, want_v = reference_step(p, g, v, 0.1, 0.9, nesterov, weight_decay, step == 0)
        got_v, steps = sgd.get_flat_state()
        got_v = got_v["momentum_buffer"]
        np.testing.assert_allclose(m._net.get_flat_params(), want_p, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got_v, want_v, rtol=1e-5, atol=1e-6)
        assert steps == step + 1
        v = got_v


def state(m, sgd):
    velocity, steps = sgd.get_flat_state()
    return m._net.get_flat_params(), velocity.get("momentum_buffer", np.zeros(0, np.float32)), steps


def assert_unchanged(before, after):
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert before[2] == after[2]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_gradient_anywhere_changes_nothing(isa, rng, bad):
    m, sgd = model_and_sgd()
    assert sgd.step_if_finite(m._net, rng.standard_normal(sgd.size).astype(np.float32))  # some momentum
    n = sgd.size
    # Vector bodies, lane boundaries, the scalar tail of a chunk, chunk edges, the end.
    for pos in [0, 1, 15, 16, 17, 31, 1000, 32767, 32768, 65535, n - 17, n - 2, n - 1]:
        g = rng.standard_normal(n).astype(np.float32)
        g[pos] = bad
        before = state(m, sgd)
        assert not sgd.step_if_finite(m._net, g), pos
        assert_unchanged(before, state(m, sgd))


@pytest.mark.parametrize("nesterov", [False, True])
def test_an_update_that_would_overflow_changes_nothing(isa, rng, nesterov):
    m, sgd = model_and_sgd(lr=10.0, nesterov=nesterov)
    n = sgd.size
    for pos in [0, 17, 32768, n - 1]:
        g = rng.standard_normal(n).astype(np.float32)
        g[pos] = 1e38  # finite, but lr * g is not
        before = state(m, sgd)
        assert not sgd.step_if_finite(m._net, g), pos
        assert_unchanged(before, state(m, sgd))
    # Momentum near the top of the range: the first step (v = g) is finite, the
    # second overflows in v = 0.9 v + g (plain) or in g + 0.9 v (Nesterov).
    m, sgd = model_and_sgd(lr=1e-30, nesterov=nesterov)
    g = np.zeros(n, np.float32)
    g[5] = 1.5e38 if nesterov else 3e38
    assert sgd.step_if_finite(m._net, g)
    before = state(m, sgd)
    assert not sgd.step_if_finite(m._net, g)
    assert_unchanged(before, state(m, sgd))


def test_updates_near_the_float_range_are_applied_when_finite(isa, rng):
    # Too close to the range for the magnitude bounds: computed on a copy first.
    m, sgd = model_and_sgd(lr=0.5, momentum=0.0)
    p = m._net.get_flat_params()
    p[[3, 40000]] = [3.2e38, -3.2e38]
    m._net.set_flat_params(p)
    g = rng.standard_normal(sgd.size).astype(np.float32)
    g[3], g[40000] = 1e38, -1e38  # shrinks the two huge weights
    assert sgd.step_if_finite(m._net, g)
    got = m._net.get_flat_params()
    np.testing.assert_allclose(got, p.astype(np.float64) - 0.5 * g, rtol=1e-6, atol=1e-6)
    g[3], g[40000] = -2e38, 2e38  # now a step would take them past the range
    before = state(m, sgd)
    assert not sgd.step_if_finite(m._net, g)
    assert_unchanged(before, state(m, sgd))
