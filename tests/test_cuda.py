"""The CUDA backend against the CPU one: every kernel, then whole training runs.

The GPU tests skip where the build has no CUDA or the machine no GPU; the
device-selection errors are checked everywhere.
"""

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

CUDA = mc.config()["cuda"]
HAS_GPU = bool(CUDA["compiled"]) and CUDA["devices"] > 0
needs_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA build and an NVIDIA GPU")

ACTIVATIONS = ["identity", "relu", "sigmoid", "tanh"]


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
    assert set(info) == {"compiled", "devices"}
    assert isinstance(info["compiled"], bool)
    assert isinstance(info["devices"], int) and info["devices"] >= 0
    if not info["compiled"]:
        assert info["devices"] == 0
    assert mc.cuda_available() == HAS_GPU


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', got 'tpu'"):
        mc.Sequential([mc.Dense(2)], device="tpu")
    with pytest.raises(TypeError, match="device"):
        mc.Sequential([mc.Dense(2)], device=0)
    model = mc.Sequential([mc.Dense(2)])
    assert model.device == "cpu"
    assert model.to("cpu") is model


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
    assert not hasattr(_core, "cuda")


@pytest.mark.skipif(not CUDA["compiled"] or CUDA["devices"] > 0, reason="needs a CUDA build on a machine without GPU")
def test_cuda_build_without_gpu_says_no_device():
    with pytest.raises(mc.DeviceUnavailableError, match="no CUDA device is available"):
        mc.Sequential([mc.Dense(2)], device="cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        _core.cuda.Network(_core.Network(3, [2], ["relu"], ["uniform"], 0))


# ---------------------------------------------------------------- kernels

GEMM_SHAPES = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 13, 5), (33, 17, 129), (64, 64, 16), (130, 10, 784),
               (129, 257, 31), (300, 200, 100), (17, 23, 0)]
TRANS = [(False, False), (False, True), (True, False), (True, True)]


def operands(rng, m, n, k, trans_a, trans_b):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    return a, b, (a.T if trans_a else a).astype(np.float64), (b.T if trans_b else b).astype(np.float64)


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
@pytest.mark.parametrize("m,n,k", GEMM_SHAPES)
def test_sgemm_matches_float64_and_cpu(rng, m, n, k, trans_a, trans_b):
    a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
    c = rng.standard_normal((m, n)).astype(np.float32)
    for alpha, beta in [(1.0, 0.0), (0.5, 2.0), (-1.5, 1.0)]:
        got, sums = _core.cuda.gemm_fused(a, b, trans_a, trans_b, alpha, beta, c)
        assert sums is None and got.shape == (m, n)
        ref = alpha * op_a @ op_b + beta * c
        tol = 1e-5 * (abs(alpha) * np.abs(op_a) @ np.abs(op_b) + abs(beta) * np.abs(c)) + 1e-6
        assert np.all(np.abs(got - ref) <= tol)
        cpu = mc.ops.matmul(a, b, trans_a, trans_b, alpha, beta, c)
        np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (37, 19, 11), (200, 130, 70), (9, 5, 0)])
def test_sgemm_bias_activation_epilogue(rng, act, m, n, k):
    a, b, op_a, op_b = operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    got, _ = _core.cuda.gemm_fused(a, b, bias=bias, activation=act)
    ref = numpy_activation(act, op_a @ op_b + bias)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5 * max(1, k))
    cpu, _ = _core.gemm_fused(a, b, bias=bias, activation=act)
    np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-5 * max(1, k))


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
def test_sgemm_derivative_epilogue_matches_cpu(rng, act, trans_a, trans_b):
    """dZ = (alpha dY W^T + beta C) * f'(Y) with f' taken from the stored output Y."""
    for m, n, k in [(32, 784, 512), (7, 3, 1), (300, 40, 300), (9, 20, 0)]:
        a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
        y = numpy_activation(act, rng.standard_normal((m, n))).astype(np.float32)
        c = rng.standard_normal((m, n)).astype(np.float32)
        got, _ = _core.cuda.gemm_fused(a, b, trans_a, trans_b, 0.5, 2.0, c, activation=act, act_output=y)
        cpu, _ = _core.gemm_fused(a, b, trans_a, trans_b, 0.5, 2.0, c, activation=act, act_output=y)
        np.testing.assert_allclose(got, cpu, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)
        sep = _core.cuda.activation_backward(act, y, 0.5 * op_a @ op_b + 2.0 * c)
        np.testing.assert_allclose(got, sep, rtol=1e-4, atol=1e-4 * max(1, k) ** 0.5)
    with pytest.raises(ValueError, match="act_output"):
        _core.cuda.gemm_fused(a, b, trans_a, trans_b, bias=np.ones(n, np.float32), activation=act, act_output=y)


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", TRANS)
def test_sgemm_fused_column_sums_of_b(rng, trans_a, trans_b):
    for m, n, k in [(784, 512, 32), (3, 10, 700), (1, 1, 1), (0, 5, 4), (4, 6, 0), (5, 33, 4097)]:
        a, b, op_a, op_b = operands(rng, m, n, k, trans_a, trans_b)
        got, sums = _core.cuda.gemm_fused(a, b, trans_a, trans_b, column_sums=True)
        np.testing.assert_allclose(sums, op_b.sum(axis=0), rtol=1e-5, atol=1e-5 * max(1, k) ** 0.5)
        np.testing.assert_allclose(got, op_a @ op_b, rtol=1e-4, atol=1e-5 * max(1, k))


@needs_gpu
def test_sgemm_beta_zero_ignores_nan_in_c():
    a = np.ones((3, 4), np.float32)
    b = np.ones((4, 2), np.float32)
    c = np.full((3, 2), np.nan, np.float32)
    np.testing.assert_array_equal(_core.cuda.gemm_fused(a, b, c=c, beta=0.0)[0], np.full((3, 2), 4.0))


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_match_cpu(rng, act):
    x = np.concatenate([rng.standard_normal(1001) * 5, [0.0, -0.0, 1e-8, -1e-8, 0.6249, 0.6251, 44.5, -44.5,
                                                       88.0, -87.0, 100.0, -100.0]]).astype(np.float32)
    y = _core.cuda.activation_forward(act, x)
    np.testing.assert_allclose(y, mc.ops.activation(x, act), rtol=4e-7, atol=2e-7)
    np.testing.assert_allclose(y, numpy_activation(act, x), rtol=1e-6, atol=3e-7)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(_core.cuda.activation_backward(act, y, dy), mc.ops.activation_backward(act, y, dy),
                               rtol=1e-6, atol=1e-7)


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activation_derivative_by_finite_differences(rng, act):
    x = (rng.standard_normal(500) * 3).astype(np.float32)
    x = x[np.abs(x) > 1e-2]  # away from ReLU's kink
    h = 1e-3
    numeric = (numpy_activation(act, x.astype(np.float64) + h) - numpy_activation(act, x.astype(np.float64) - h)) / (2 * h)
    y = _core.cuda.activation_forward(act, x)
    got = _core.cuda.activation_backward(act, y, np.ones_like(y))
    np.testing.assert_allclose(got, numeric, atol=2e-5)


@needs_gpu
def test_nan_propagates_through_activations():
    x = np.array([np.nan, 1.0], np.float32)
    for act in ACTIVATIONS:
        assert np.isnan(_core.cuda.activation_forward(act, x)[0])


@needs_gpu
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_bias_activation(rng, act):
    y = rng.standard_normal((33, 70)).astype(np.float32)
    bias = rng.standard_normal(70).astype(np.float32)
    np.testing.assert_allclose(_core.cuda.bias_activation(act, y, bias), numpy_activation(act, y + bias.astype(np.float64)),
                               rtol=1e-6, atol=3e-7)
    np.testing.assert_allclose(_core.cuda.bias_activation(act, y), numpy_activation(act, y), rtol=1e-6, atol=3e-7)


@needs_gpu
@pytest.mark.parametrize("rows,cols", [(1, 1), (5, 10), (130, 3), (7, 1000)])
def test_softmax_matches_cpu(rng, rows, cols):
    x = (rng.standard_normal((rows, cols)) * 10).astype(np.float32)
    x[0, 0] = 80.0  # large logits stay finite
    got = _core.cuda.softmax(x)
    np.testing.assert_allclose(got, mc.ops.softmax(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


@needs_gpu
@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 100), (1000, 3), (129, 513), (4097, 10), (0, 4)])
def test_column_sums(rng, rows, cols):
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    got = _core.cuda.column_sums(x)
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5 * max(1, rows) ** 0.5)
    np.testing.assert_array_equal(_core.cuda.column_sums(x), got)  # the same order every time


def cpu_correct(loss, out, target):
    if loss == "cross_entropy":
        truth = target if target.ndim == 1 else target.argmax(axis=1)
        return int((out.argmax(axis=1) == truth).sum())
    if loss == "binary_cross_entropy":
        return int(((out > 0) == (target > 0.5)).sum())
    return 0


@needs_gpu
@pytest.mark.parametrize("loss", ["mse", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 5), (77, 10), (300, 3)])
def test_losses_match_cpu(rng, loss, weighted, rows, cols):
    out = (rng.standard_normal((rows, cols)) * 4).astype(np.float32)
    if loss == "cross_entropy":
        targets = [rng.integers(0, cols, rows).astype(np.int32), rng.dirichlet(np.ones(cols), rows).astype(np.float32)]
    elif loss == "binary_cross_entropy":
        targets = [(rng.random((rows, cols)) > 0.5).astype(np.float32)]
    else:
        targets = [rng.standard_normal((rows, cols)).astype(np.float32)]
    w = rng.random(rows).astype(np.float32) if weighted else None
    for t in targets:
        value, grad, correct = _core.cuda.loss(loss, out, t, w)
        cpu_value, cpu_grad = _core.loss(loss, out, t, w)
        # The CPU takes cross-entropy's softmax in float (its vectorised kernel), the GPU in double;
        # the other losses are the same double arithmetic summed in another order.
        tol = 1e-6 if loss == "cross_entropy" else 1e-12
        assert value == pytest.approx(cpu_value, rel=tol, abs=tol)
        # p - t loses p's float rounding (relative 1e-7) when t is close to p; scaled by 1 / rows.
        atol = 3e-7 / rows if loss == "cross_entropy" else 1e-9
        np.testing.assert_allclose(grad, cpu_grad, rtol=1e-6, atol=atol)
        assert correct == cpu_correct(loss, out, t)


@needs_gpu
def test_cross_entropy_keeps_relative_accuracy_when_the_loss_is_tiny():
    # log-sum-exp as log(sum) rounds 1 + 8e-18 to 1 and reports a loss of 0; log1p keeps it.
    out = np.array([[40.0, 0.0, 0.0], [0.0, 35.0, 0.0]], np.float32)
    labels = np.array([0, 1], np.int32)
    value, _, correct = _core.cuda.loss("cross_entropy", out, labels)
    expected = (np.log1p(2 * np.exp(-40.0)) + np.log1p(2 * np.exp(-35.0))) / 2
    assert value == pytest.approx(expected, rel=1e-9)
    assert correct == 2


@needs_gpu
def test_loss_gradient_by_finite_differences(rng):
    out = rng.standard_normal((4, 5)).astype(np.float64)
    labels = rng.integers(0, 5, 4).astype(np.int32)
    _, grad, _ = _core.cuda.loss("cross_entropy", out.astype(np.float32), labels)
    h = 1e-3
    for i, j in [(0, 0), (1, 3), (3, 4)]:
        up, down = out.copy(), out.copy()
        up[i, j] += h
        down[i, j] -= h
        numeric = (_core.cuda.loss("cross_entropy", up.astype(np.float32), labels)[0]
                   - _core.cuda.loss("cross_entropy", down.astype(np.float32), labels)[0]) / (2 * h)
        assert grad[i, j] == pytest.approx(numeric, abs=1e-4)


def numpy_sgd(p, g, v, lr, momentum, dampening, wd, nesterov, first):
    p, g, v = (a.astype(np.float64) for a in (p, g, v))
    g = g + wd * p
    if momentum == 0:
        return p - lr * g, v
    v = g if first else momentum * v + (1 - dampening) * g
    step = g + momentum * v if nesterov else v
    return p - lr * step, v


@needs_gpu
@pytest.mark.parametrize("momentum,dampening,wd,nesterov", [(0.0, 0.0, 0.0, False), (0.0, 0.0, 0.01, False),
                                                            (0.9, 0.0, 0.0, False), (0.9, 0.1, 1e-3, False),
                                                            (0.8, 0.0, 1e-2, True)])
@pytest.mark.parametrize("first", [True, False])
def test_sgd_step_matches_torch_semantics(rng, momentum, dampening, wd, nesterov, first):
    n = 100_003
    p, g, v = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    new_p, new_v = _core.cuda.sgd_step(p, g, v, 0.05, momentum, dampening, wd, nesterov, first)
    ref_p, ref_v = numpy_sgd(p, g, v, 0.05, momentum, dampening, wd, nesterov, first)
    np.testing.assert_allclose(new_p, ref_p, rtol=1e-6, atol=1e-6)
    if momentum:
        np.testing.assert_allclose(new_v, ref_v, rtol=1e-6, atol=1e-6)


@needs_gpu
def test_gather_rows(rng):
    x = rng.standard_normal((50, 7)).astype(np.float32)
    idx = rng.permutation(50)[:33].astype(np.uint32)
    np.testing.assert_array_equal(_core.cuda.gather_rows(x, idx), x[idx])
    with pytest.raises(ValueError, match="idx"):
        _core.cuda.gather_rows(x, np.array([50], np.uint32))


# ---------------------------------------------------------------- whole runs

def blobs(rng, rows=600, features=20, classes=4):
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, rows)
    X = (centers[y] + rng.standard_normal((rows, features))).astype(np.float32)
    return X, y


def pair(layers, **compile_kwargs):
    models = []
    for device in ["cpu", "cuda"]:
        model = mc.Sequential([mc.Dense(**spec) for spec in layers], seed=7, device=device)
        model.compile(**compile_kwargs)
        models.append(model)
    return models


def assert_weights_close(a, b, atol):
    for (wa, ba), (wb, bb) in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=atol, rtol=0)
        np.testing.assert_allclose(ba, bb, atol=atol, rtol=0)


@needs_gpu
def test_training_run_matches_cpu(rng):
    X, y = blobs(rng)
    cpu, gpu = pair([dict(units=32, activation="relu"), dict(units=16, activation="tanh"),
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
    assert gpu._sgd.steps == cpu._sgd.steps == 4 * 19


@needs_gpu
def test_initial_weights_and_first_step_are_the_cpus(rng):
    X, y = blobs(rng, rows=64)
    cpu, gpu = pair([dict(units=8, activation="sigmoid", input_dim=20), dict(units=4)], loss="cross_entropy",
                    optimizer=mc.SGD(lr=0.1))
    assert_weights_close(cpu, gpu, atol=0)
    cpu.fit(X, y, epochs=1, batch_size=64, verbose=0)
    gpu.fit(X, y, epochs=1, batch_size=64, verbose=0)
    assert_weights_close(cpu, gpu, atol=1e-6)


@needs_gpu
@pytest.mark.parametrize("loss,act", [("mse", "identity"), ("binary_cross_entropy", "sigmoid")])
def test_regression_and_binary_runs_with_sample_weight_match_cpu(rng, loss, act):
    X = rng.standard_normal((333, 6)).astype(np.float32)
    target = X[:, :3] @ rng.standard_normal((3, 2))
    y = target if loss == "mse" else (target > 0).astype(np.float32)
    w = rng.random(333).astype(np.float32)
    cpu, gpu = pair([dict(units=16, activation="tanh"), dict(units=2, activation=act)], loss=loss,
                    optimizer=mc.SGD(lr=0.05, momentum=0.5))
    h_cpu = cpu.fit(X, y, epochs=3, batch_size=50, verbose=0, sample_weight=w, shuffle=False)
    h_gpu = gpu.fit(X, y, epochs=3, batch_size=50, verbose=0, sample_weight=w, shuffle=False)
    np.testing.assert_allclose(h_gpu.history["loss"], h_cpu.history["loss"], rtol=1e-4)
    assert_weights_close(cpu, gpu, atol=1e-4)
    np.testing.assert_allclose(gpu.predict(X), cpu.predict(X), atol=1e-4)


@needs_gpu
def test_move_between_devices_keeps_training_state(rng):
    X, y = blobs(rng)
    ref = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(4)], seed=3)
    ref.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    ref.fit(X, y, epochs=3, batch_size=40, verbose=0)

    moved = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(4)], seed=3)
    moved.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)
    assert moved.to("cuda") is moved and moved.device == "cuda"
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)  # momentum carried over
    moved.to("cpu")
    moved.fit(X, y, epochs=1, batch_size=40, verbose=0)
    assert moved.device == "cpu"
    assert_weights_close(ref, moved, atol=1e-3)


@needs_gpu
def test_set_weights_reach_the_device(rng):
    model = mc.Sequential([mc.Dense(3, input_dim=5)], device="cuda")
    model.compile(loss="mse")
    W = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    model.set_weights([(W, b)])
    X = rng.standard_normal((5000, 5)).astype(np.float32)  # more than one predict chunk
    np.testing.assert_allclose(model.predict(X), X.astype(np.float64) @ W + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.get_weights()[0][0], W)


@needs_gpu
def test_divergence_stops_where_the_cpu_stops(rng):
    X, y = blobs(rng)
    X *= 1e4
    cpu, gpu = pair([dict(units=32), dict(units=4)], loss="cross_entropy", optimizer=mc.SGD(lr=1e6))
    for model in (cpu, gpu):
        with pytest.raises(FloatingPointError, match="NaN or infinite"):
            model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    assert gpu.epochs_done == cpu.epochs_done
    assert abs(gpu._sgd.steps - cpu._sgd.steps) <= 1  # rounding may tip the overflow a step earlier or later
    for (wc, bc), (wg, bg) in zip(cpu.get_weights(), gpu.get_weights()):
        assert np.isfinite(wc).all() == np.isfinite(wg).all()
        assert np.isfinite(bc).all() == np.isfinite(bg).all()


@needs_gpu
def test_seeded_gpu_runs_are_reproducible(rng):
    X, y = blobs(rng)
    runs = []
    for _ in range(2):
        model = mc.Sequential([mc.Dense(64, activation="relu"), mc.Dense(4)], seed=11, device="cuda")
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
        model.fit(X, y, epochs=2, batch_size=64, verbose=0)
        runs.append(model.get_weights())
    for (wa, ba), (wb, bb) in zip(*runs):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
