"""Every backend the machine has (the CPU always; CUDA where this build has it
and a GPU is present), through one suite: each Backend operation the nn layer
uses against float64 references and the CPU backend, then whole training runs
on the device against the same run on the CPU, and the divergence rule.

The device-selection errors are checked on every build.
"""

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

DEVICES = _core.backend_devices()
OTHER_DEVICES = [d for d in DEVICES if d != "cpu"]  # compared with the CPU in whole runs
CUDA = mc.config()["cuda"]
HAS_GPU = bool(CUDA["compiled"]) and CUDA["devices"] > 0

ACTIVATIONS = ["identity", "relu", "sigmoid", "tanh"]
device = pytest.mark.parametrize("device", DEVICES)
other_device = pytest.mark.parametrize("device", OTHER_DEVICES or [pytest.param("cuda", marks=pytest.mark.skip(
    reason="no device other than the CPU here (a CUDA build on a machine with an NVIDIA GPU)"))])


def numpy_activation(name, x):
    x = x.astype(np.float64)
    if name == "relu":
        return np.where(x < 0, 0.0, x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    return x


# ---------------------------------------------------------------- device choice (any build)

def test_config_reports_cuda():
    info = mc.config()["cuda"]
    assert set(info) == {"compiled", "devices", "name", "unavailable_reason"}
    assert isinstance(info["compiled"], bool)
    assert isinstance(info["devices"], int) and info["devices"] >= 0
    if not info["compiled"]:
        assert info["devices"] == 0
    assert mc.cuda_available() == HAS_GPU
    assert ("cuda" in DEVICES) == HAS_GPU and DEVICES[0] == "cpu"


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', got 'tpu'"):
        mc.Sequential([mc.Dense(2)], device="tpu")
    with pytest.raises(TypeError, match="device"):
        mc.Sequential([mc.Dense(2)], device=0)
    model = mc.Sequential([mc.Dense(2)])
    assert model.device == "cpu"
    assert model.to("cpu") is model
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', got 'tpu'"):
        _core.Network(3, [2], ["relu"], ["uniform"], 0, "tpu")
    with pytest.raises(ValueError, match="device"):
        _core.Backend("tpu")


@pytest.mark.skipif(CUDA["compiled"], reason="this build has CUDA")
def test_cuda_on_a_cpu_only_build_says_how_to_get_it():
    with pytest.raises(mc.DeviceUnavailableError, match=r"no CUDA backend.*MLPCORE_CUDA=ON"):
        mc.Sequential([mc.Dense(2)], device="cuda")
    model = mc.Sequential([mc.Dense(3, input_dim=4), mc.Dense(2)])
    model.compile(loss="mse")
    with pytest.raises(RuntimeError, match="MLPCORE_CUDA=ON"):
        model.to("cuda")
    assert model.device == "cpu"
    assert model.predict(np.ones((1, 4))).shape == (1, 2)  # still usable on the CPU
    with pytest.raises(ValueError, match="device: 'cuda' cannot be used"):
        _core.Network(3, [2], ["relu"], ["uniform"], 0, "cuda")


@pytest.mark.skipif(not CUDA["compiled"] or CUDA["devices"] > 0, reason="needs a CUDA build on a machine without GPU")
def test_cuda_build_without_gpu_says_no_device():
    with pytest.raises(mc.DeviceUnavailableError, match="no CUDA device is available"):
        mc.Sequential([mc.Dense(2)], device="cuda")
    with pytest.raises(ValueError, match="device: 'cuda' cannot be used"):
        _core.Network(3, [2], ["relu"], ["uniform"], 0, "cuda")


def test_the_cpu_backend_is_what_mc_ops_computes(rng):
    """The CPU's backend table holds the very kernels mc.ops exposes: bitwise the same."""
    a = rng.standard_normal((130, 70)).astype(np.float32)
    b = rng.standard_normal((70, 33)).astype(np.float32)
    np.testing.assert_array_equal(_core.Backend("cpu").gemm_fused(a, b)[0], mc.ops.matmul(a, b))
    y = mc.ops.activation(a, "tanh")
    np.testing.assert_array_equal(_core.Backend("cpu").activation_backward("tanh", y, a),
                                  mc.ops.activation_backward("tanh", y, a))
    labels = rng.integers(0, 70, 130).astype(np.int32)
    value, grad, _, _ = _core.Backend("cpu").batch_loss("cross_entropy", a, labels)
    ref_value, ref_grad = _core.loss("cross_entropy", a, labels, None)
    assert value == ref_value
    np.testing.assert_array_equal(grad, ref_grad)


# ---------------------------------------------------------------- kernels

GEMM_SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 13, 5), (33, 17, 129), (64, 64, 16), (130, 10, 784),
               (129, 257, 31), (300, 200, 100), (17, 23, 0)]
TRANS = [(False, False), (False, True), (True, False), (True, True)]


def activation_forward(device, act, x):
    """act(x) through the product's epilogue (x times a 1 x 1 identity): the
    forward activation a backend applies."""
    out, _ = _core.Backend(device).gemm_fused(x.reshape(-1, 1), np.ones((1, 1), np.float32), activation=act)
    return out.reshape(x.shape)


def operands(rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b, (a.T if trans_a else a).astype(np.float64), (b.T if trans_b else b).astype(np.float64)


@device
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize("m,n,k", GEMM_SHAPES)
def test_sgemm_matches_float64_and_cpu(device, rng, m, n, k, trans_a, trans_b):
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
    c = rng.standard_normal((m, n)).astype(np.float32)
    for alpha, beta in [(1.0, 0.0), (0.5, 2.0), (-1.5, 1.0)]:
        got, sums = _core.Backend(device).gemm_fused(a, b, trans_a, trans_b, alpha, beta, c)
        assert sums is None and got.shape == (m, n)
        ref = alpha * op_a @ op_b + beta * c
        tol = 1e-5 * (abs(alpha) * np.abs(op_a) @ np.abs(op_b) + abs(beta) * np.abs(c)) + 1e-6
        assert np.all(np.abs(got - ref) <= tol)
        cpu = mc.ops.matmul(a, b, trans_a, trans_b, alpha, beta, c)
        np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)


@device
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (37, 19, 11), (200, 130, 70), (9, 5, 0)])
def test_sgemm_bias_activation_epilogue(device, rng, act, m, n, k):
    a, b, op_a, op_b = operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    got, _ = _core.Backend(device).gemm_fused(a, b, bias=bias, activation=act)
    ref = numpy_activation(act, op_a @ op_b + bias)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1, k))
    cpu, _ = _core.gemm_fused(a, b, bias=bias, activation=act)
    np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-5 * max(1, k))


@device
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
def test_sgemm_derivative_epilogue_matches_cpu(device, rng, act, trans_a, trans_b):
    """dZ = (alpha dY W^T + beta C) * f'(Y) with f' taken from the stored output Y."""
    for m, n, k in [(32, 784, 512), (7, 3, 1), (300, 40, 300), (9, 20, 0)]:
        a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
        y = numpy_activation(act, rng.standard_normal((m, n))).astype(np.float32)
        c = rng.standard_normal((m, n)).astype(np.float32)
        got, _ = _core.Backend(device).gemm_fused(a, b, trans_a, trans_b, 0.5, 2.0, c, activation=act, act_output=y)
        cpu, _ = _core.gemm_fused(a, b, trans_a, trans_b, 0.5, 2.0, c, activation=act, act_output=y)
        np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)
        sep = _core.Backend(device).activation_backward(act, y, 0.5 * op_a @ op_b + 2.0 * c)
        np.testing.assert_allclose(got, sep, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)
    with pytest.raises(ValueError, match="act_output"):
        _core.Backend(device).gemm_fused(a, b, trans_a, trans_b, bias=np.ones(n, np.float32), activation=act, act_output=y)


@device
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
def test_sgemm_fused_column_sums_of_b(device, rng, trans_a, trans_b):
    for m, n, k in [(784, 512, 32), (3, 10, 700), (1, 1, 1), (0, 5, 4), (4, 6, 0), (5, 33, 4097)]:
        a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
        got, sums = _core.Backend(device).gemm_fused(a, b, trans_a, trans_b, column_sums=True)
        np.testing.assert_allclose(sums, op_b.sum(axis=0), rtol=1e-5, atol=1e-5 * max(1, k) ** 0.5)
        np.testing.assert_allclose(got, op_a @ op_b, rtol=1e-4, atol=1e-5 * max(1, k))


@device
def test_sgemm_alpha_zero_reads_neither_operand(device):
    """The same alpha == 0 rule on every backend: C = beta * C (then the
    epilogue), NaN in A or B never reaching it; B's column sums still taken."""
    a = np.full((3, 4), np.nan, np.float32)
    b = np.ones((4, 2), np.float32)
    c = np.full((3, 2), 2.0, np.float32)
    got, sums = _core.Backend(device).gemm_fused(a, b, c=c, alpha=0.0, beta=0.5, bias=np.ones(2, np.float32),
                                                  activation="relu", column_sums=True)
    np.testing.assert_array_equal(got, np.full((3, 2), 2.0))
    np.testing.assert_array_equal(sums, np.full(2, 4.0))


@device
def test_sgemm_beta_zero_ignores_nan_in_c(device):
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 2), np.float32)
    c = np.full((3, 2), np.nan, np.float32)
    np.testing.assert_array_equal(_core.Backend(device).gemm_fused(a, b, c=c, beta=0.0)[0], np.full((3, 2), 4.0))


@device
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_match_cpu(device, rng, act):
    x = np.concatenate([rng.standard_normal(1001) * 5, [0.0, -0.0, 1e-8, -1e-8, 0.6249, 0.6251, 44.5, -44.5,
                                                       88.0, -87.0, 100.0, -100.0]]).astype(np.float32)
    y = activation_forward(device, act, x)
    np.testing.assert_allclose(y, mc.ops.activation(x, act), rtol=4e-7, atol=2e-7)
    np.testing.assert_allclose(y, numpy_activation(act, x), rtol=1e-6, atol=3e-7)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(_core.Backend(device).activation_backward(act, y, dy), mc.ops.activation_backward(act, y, dy),
                               rtol=1e-6, atol=1e-7)


@device
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_derivative_by_finite_differences(device, rng, act):
    x = (rng.standard_normal(500) * 3).astype(np.float32)
    x = x[np.abs(x) > 1e-2]  # away from ReLU's kink
    h = 1e-3
    numeric = (numpy_activation(act, x.astype(np.float64) + h) - numpy_activation(act, x.astype(np.float64) - h)) / (2 * h)
    y = activation_forward(device, act, x)
    got = _core.Backend(device).activation_backward(act, y, np.ones_like(y))
    np.testing.assert_allclose(got, numeric, atol=2e-5)


@device
def test_nan_propagates_through_activations(device):
    x = np.array([np.nan, 1.0], np.float32)
    for act in ACTIVATIONS:
        assert np.isnan(activation_forward(device, act, x)[0])


@device
@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 10), (130, 3), (7, 1000)])
def test_softmax_matches_cpu(device, rng, rows, cols):
    x = (rng.standard_normal((rows, cols)) * 10).astype(np.float32)
    x[0, 0] = 80.0  # large logits stay finite
    got = _core.Backend(device).output_transform("cross_entropy", x)
    np.testing.assert_allclose(got, mc.ops.softmax(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


@device
@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 100), (1000, 3), (129, 513), (4097, 10), (0, 4)])
def test_column_sums(device, rng, rows, cols):
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    got = _core.Backend(device).gemm_fused(np.ones((1, rows), np.float32), x, column_sums=True)[1]
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5 * max(1, rows) ** 0.5)
    again = _core.Backend(device).gemm_fused(np.ones((1, rows), np.float32), x, column_sums=True)[1]
    np.testing.assert_array_equal(again, got)  # the same order every time


def cpu_correct(loss, out, target):
    if loss == "cross_entropy":
        truth = target if target.ndim == 1 else target.argmax(axis=1)
        return int((out.argmax(axis=1) == truth).sum())
    if loss == "binary_cross_entropy":
        return int(((out > 0) == (target > 0.5)).sum())
    return 0


@device
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 5), (77, 10), (300, 3)])
def test_losses_match_cpu(device, rng, loss, weighted, rows, cols):
    out = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    if loss == "cross_entropy":
        targets = [rng.integers(0, cols, rows).astype(np.int32), rng.dirichlet(np.ones(cols), rows).astype(np.float32)]
    elif loss == "binary_cross_entropy":
        targets = [(rng.random((rows, cols)) > 0.5).astype(np.float32)]
    else:
        targets = [rng.standard_normal((rows, cols)).astype(np.float32)]
    w = rng.random(rows).astype(np.float32) if weighted else None
    for t in targets:
        value, grad, correct, diverged = _core.Backend(device).batch_loss(loss, out, t, w)
        assert not diverged
        cpu_value, cpu_grad = _core.loss(loss, out, t, w)
        # The same formulas (loss_rows.h) on every backend, from each one's float
        # softmax kernel; the row sums are added in another order on a GPU.
        tol = 1e-6 if loss == "cross_entropy" else 1e-12
        assert value == pytest.approx(cpu_value, rel=tol, abs=tol)
        # p - t loses p's float rounding (relative 1e-7) when t is close to p; scaled by 1 / rows.
        atol = 3e-7 / rows if loss == "cross_entropy" else 1e-9
        np.testing.assert_allclose(grad, cpu_grad, rtol=1e-6, atol=atol)
        assert correct == cpu_correct(loss, out, t)


@device
def test_cross_entropy_keeps_relative_accuracy_when_the_loss_is_tiny(device):
    # log-sum-exp as log(sum) rounds 1 + 8e-18 to 1 and reports a loss of 0; log1p keeps it.
    out = np.array([[40.0, 0.0, 0.0], [0.0, 35.0, 0.0]], np.float32)
    labels = np.array([0, 1], np.int32)
    value, _, correct, _ = _core.Backend(device).batch_loss("cross_entropy", out, labels)
    expected = (np.log1p(2 * np.exp(-40.0)) + np.log1p(2 * np.exp(-35.0))) / 2
    assert value == pytest.approx(expected, rel=1e-9)
    assert correct == 2


@device
def test_loss_gradient_by_finite_differences(device, rng):
    out = rng.standard_normal((4, 5)).astype(np.float64)
    labels = rng.integers(0, 5, 4).astype(np.int32)
    _, grad, _, _ = _core.Backend(device).batch_loss("cross_entropy", out.astype(np.float32), labels)
    h = 1e-3
    for i, j in [(0, 0), (1, 3), (3, 4)]:
        up, down = out.copy(), out.copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (_core.Backend(device).batch_loss("cross_entropy", up.astype(np.float32), labels)[0]
                   - _core.Backend(device).batch_loss("cross_entropy", down.astype(np.float32), labels)[0]) / (2 * h)
        assert grad[i, j] == pytest.approx(numeric, abs=1e-4)


def numpy_sgd(p, g, v, lr, momentum, dampening, wd, nesterov, first):
    p, g, v = (a.astype(np.float64) for a in (p, g, v))
    g = g + wd * p
    if momentum == 0:
        return p - lr * g, v
    v = g if first else momentum * v + (1 - dampening) * g
    step = g + momentum * v if nesterov else v
    return p - lr * step, v


@device
@pytest.mark.parametrize("momentum,dampening,wd,nesterov", [(0.0, 0.0, 0.0, False), (0.0, 0.0, 0.01, False),
                                                            (0.9, 0.0, 0.0, False), (0.9, 0.1, 1e-3, False),
                                                            (0.8, 0.0, 1e-2, True)])
@pytest.mark.parametrize("first", [True, False])
def test_sgd_step_matches_torch_semantics(device, rng, momentum, dampening, wd, nesterov, first):
    n = 100_003
    p, g, v = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    new_p, new_v, applied = _core.Backend(device).sgd_update(p, g, v, 0.05, momentum, dampening, wd, nesterov, first)
    assert applied
    ref_p, ref_v = numpy_sgd(p, g, v, 0.05, momentum, dampening, wd, nesterov, first)
    np.testing.assert_allclose(new_p, ref_p, rtol=1e-6, atol=1e-6)
    if momentum:
        np.testing.assert_allclose(new_v, ref_v, rtol=1e-6, atol=1e-6)


@device
def test_gather_rows(device, rng):
    x = rng.standard_normal((50, 7)).astype(np.float32)
    idx = rng.permutation(50)[:33].astype(np.uint32)
    np.testing.assert_array_equal(_core.Backend(device).gather_rows(x, idx), x[idx])
    with pytest.raises(ValueError, match="idx"):
        _core.Backend(device).gather_rows(x, np.array([50], np.uint32))



@device
def test_a_loss_that_is_not_finite_raises_the_verdict(device):
    out = np.array([[np.inf, 0.0], [1.0, 2.0]], np.float32)
    assert _core.Backend(device).batch_loss("mse", out, np.zeros((2, 2), np.float32))[3]
    assert not _core.Backend(device).batch_loss("mse", np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32))[3]


@device
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_update_refuses_a_step_that_is_not_finite(rng, device, momentum, nesterov):
    """The divergence rule, per backend: a step whose gradient, parameters or
    momentum would not be finite changes nothing."""
    n = 70_001  # several update pieces on the CPU
    p, v = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    for bad, lr in [(np.nan, 0.1), (np.inf, 0.1), (3e38, 1e3)]:
        g = rng.standard_normal(n).astype(np.float32)
        g[n // 2 + 7] = bad
        new_p, new_v, applied = _core.Backend(device).sgd_update(p, g, v, lr, momentum, 0.0, 0.0, nesterov, False)
        assert not applied, (bad, lr)
        np.testing.assert_array_equal(new_p, p)
        np.testing.assert_array_equal(new_v, v)


@device
def test_max_abs_is_exact_and_sees_non_finite_values(rng, device):
    x = rng.standard_normal(100_003).astype(np.float32)
    assert _core.Backend(device).max_abs(x) == np.abs(x).max()
    assert _core.Backend(device).max_abs(np.zeros(0, np.float32)) == 0.0
    x[77_777] = -np.inf
    assert _core.Backend(device).max_abs(x) == np.inf
    x[5] = np.nan
    assert np.isnan(_core.Backend(device).max_abs(x))


# ---------------------------------------------------------------- whole runs

def blobs(rng, rows=600, features=20, classes=4):
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, rows)
    X = (centers[y] + rng.standard_normal((rows, features))).astype(np.float32)
    return X, y


def pair(device, layers, **compile_kwargs):
    models = []
    for where in ["cpu", device]:
        model = mc.Sequential([mc.Dense(**spec) for spec in layers], seed=7, device=where)
        model.compile(**compile_kwargs)
        models.append(model)
    return models


def assert_weights_close(a, b, atol):
    for (wa, ba), (wb, bb) in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=atol, rtol=0)
        np.testing.assert_allclose(ba, bb, atol=atol, rtol=0)


@other_device
def test_training_run_matches_cpu(device, rng):
    X, y = blobs(rng)
    cpu, gpu = pair(device, [dict(units=32, activation="relu"), dict(units=16, activation="tanh"),
                     dict(units=4, activation="softmax")],
                    loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4))
    h_cpu = cpu.fit(X, y, epochs=4, batch_size=32, verbose=0, validation_data=(X[:100], y[:100]))
    h_gpu = gpu.fit(X, y, epochs=4, batch_size=32, verbose=0, validation_data=(X[:100], y[:100]))
    for key in ["loss", "val_loss"]:
        np.testing.assert_allclose(h_gpu.history[key], h_cpu.history[key], rtol=1e-3, atol=1e-4)
    for key in ["accuracy", "val_accuracy"]:  # a sample near the boundary may flip
        np.testing.assert_allclose(h_gpu.history[key], h_cpu.history[key], atol=0.021)
    assert h_gpu.history["accuracy"][-1] > 0.9
    assert_weights_close(cpu, gpu, atol=2e-3)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), atol=2e-3)
    e_cpu, e_gpu = cpu.evaluate(X, y), gpu.evaluate(X, y)
    assert e_gpu["loss"] == pytest.approx(e_cpu["loss"], rel=1e-3)
    assert gpu._opt.steps == cpu._opt.steps == 4 * 19


@other_device
def test_initial_weights_and_first_step_are_the_cpus(device, rng):
    X, y = blobs(rng, rows=64)
    cpu, gpu = pair(device, [dict(units=8, activation="sigmoid", input_dim=20), dict(units=4)], loss="cross_entropy",
                    optimizer=mc.SGD(lr=0.1))
    assert_weights_close(cpu, gpu, atol=0)
    cpu.fit(X, y, epochs=1, batch_size=64, verbose=0)
    gpu.fit(X, y, epochs=1, batch_size=64, verbose=0)
    assert_weights_close(cpu, gpu, atol=1e-6)


@other_device
@pytest.mark.parametrize("loss,act", [("mse", "identity"), ("binary_cross_entropy", "sigmoid")])
def test_regression_and_binary_runs_with_sample_weight_match_cpu(device, rng, loss, act):
    X = rng.standard_normal((333, 6)).astype(np.float32)
    target = X[:, :3] @ rng.standard_normal((3, 2))
    y = target if loss == "mse" else (target > 0).astype(np.float32)
    w = rng.random(333).astype(np.float32)
    cpu, gpu = pair(device, [dict(units=16, activation="tanh"), dict(units=2, activation=act)], loss=loss,
                    optimizer=mc.SGD(lr=0.05, momentum=0.5))
    h_cpu = cpu.fit(X, y, epochs=3, batch_size=50, verbose=0, sample_weight=w, shuffle=False)
    h_gpu = gpu.fit(X, y, epochs=3, batch_size=50, verbose=0, sample_weight=w, shuffle=False)
    np.testing.assert_allclose(h_gpu.history["loss"], h_cpu.history["loss"], rtol=1e-4)
    assert_weights_close(cpu, gpu, atol=1e-4)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), atol=1e-4)


@other_device
def test_move_between_devices_keeps_training_state(device, rng):
    X, y = blobs(rng)
    ref = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(4)], seed=3)
    ref.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    ref.fit(X, y, epochs=3, batch_size=40, verbose=0)

    moved = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(4)], seed=3)
    moved.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)
    assert moved.to(device) is moved and moved.device == device
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)  # momentum carried over
    moved.to("cpu")
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)
    assert moved.device == "cpu"
    assert_weights_close(ref, moved, atol=1e-3)


@other_device
def test_set_weights_reach_the_device(device, rng):
    model = mc.Sequential([mc.Dense(3, input_dim=5)], device=device)
    model.compile(loss="mse")
    W = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    model.set_weights([(W, b)])
    X = rng.standard_normal((5000, 5)).astype(np.float32)  # more than one predict chunk
    np.testing.assert_allclose(model.predict(X), X.astype(np.float64) @ W + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.get_weights()[0][0], W)


@other_device
def test_divergence_stops_where_the_cpu_stops(device, rng):
    X, y = blobs(rng)
    X *= 1e4
    cpu, gpu = pair(device, [dict(units=32), dict(units=4)], loss="cross_entropy", optimizer=mc.SGD(lr=1e6))
    for model in (cpu, gpu):
        with pytest.raises(FloatingPointError, match="NaN or infinite"):
            model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    assert gpu.epochs_done == cpu.epochs_done
    assert abs(gpu._opt.steps - cpu._opt.steps) <= 1  # rounding may tip the overflow a step earlier or later
    for (wc, bc), (wg, bg) in zip(cpu.get_weights(), gpu.get_weights()):  # both kept their last finite step
        assert np.isfinite(wc).all() and np.isfinite(wg).all()
        assert np.isfinite(bc).all() and np.isfinite(bg).all()
    assert gpu._opt.state_finite() and cpu._opt.state_finite()
    # Training on from there with a sane rate works on both, from the same kind of state.
    for model in (cpu, gpu):
        model.optimizer.lr = 1e-3
        model.fit(X / 1e4, y, epochs=1, batch_size=16, verbose=0)


@other_device
def test_seeded_gpu_runs_are_reproducible(device, rng):
    X, y = blobs(rng)
    runs = []
    for _ in range(2):
        model = mc.Sequential([mc.Dense(64, activation="relu"), mc.Dense(4)], seed=11, device=device)
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
        model.fit(X, y, epochs=2, batch_size=64, verbose=0)
        runs.append(model.get_weights())
    for (wa, ba), (wb, bb) in zip(*runs):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
