"""mc.gradcheck: the core's backpropagation (float32) against central finite
differences of a float64 evaluation, for every activation and loss on several
shapes; a deliberately wrong gradient (the test-only fault of
mc.ops.loss_gradients) is caught and named; bad input is refused; and
examples/chain_rule.py runs."""

import importlib.util
import pathlib
import zlib

import numpy as np
import pytest

import mlpcore as mc

ACTIVATIONS = ["relu", "sigmoid", "tanh", "identity"]
LOSSES = ["mse", "cross_entropy", "binary_cross_entropy", "poisson"]
# (input_dim, units, rows): one layer, two, three; a single output; odd sizes.
SHAPES = [(4, [3], 5), (5, [7, 3], 11), (3, [6, 5, 2], 8), (6, [9, 1], 1)]


def make_model(act, loss, d, units, seed=0, last=None, init="uniform"):
    acts = [act] * (len(units) - 1) + [last]
    layers = [mc.Dense(u, a, init=init, input_dim=d if i == 0 else None) for i, (u, a) in enumerate(zip(units, acts))]
    model = mc.Sequential(layers, seed=seed)
    model.compile(loss, mc.SGD(lr=0.05, momentum=0.9))
    return model


def make_data(rng, loss, d, out, rows):
    X = rng.normal(size=(rows, d)).astype(np.float32)
    if loss == "cross_entropy":
        y = rng.integers(0, out, rows)
    elif loss == "binary_cross_entropy":
        y = (rng.random((rows, out)) > 0.5).astype(np.float32)
    elif loss == "poisson":
        y = rng.poisson(2.0, size=(rows, out)).astype(np.float32)
    else:
        y = rng.normal(size=(rows, out)).astype(np.float32)
    return X, y


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, [s[0], *s[1]])))
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_gradcheck_passes(act, loss, shape):
    d, units, rows = shape
    rng = np.random.default_rng(zlib.crc32(f"{act} {loss} {d}".encode()))
    model = make_model(act, loss, d, units)
    X, y = make_data(rng, loss, d, units[-1], rows)
    report = mc.gradcheck(model, X, y)
    assert report.passed, str(report)
    assert isinstance(report.passed, bool) and isinstance(report.worst_relative_error, float)
    # A correct float32 backward is far inside the tolerance.
    assert report.worst_relative_error < 1e-4, str(report)
    assert len(report.layers) == len(units)
    for l, layer in enumerate(report.layers):
        assert layer["W"].shape == ((d if l == 0 else units[l - 1]), units[l])
        assert layer["W"].checked + layer["W"].skipped == layer["W"].shape[0] * layer["W"].shape[1]
        assert layer["b"].worst_abs_error <= 1e-6
    assert report.inputs.shape == X.shape and report.inputs.passed
    assert report.loss == pytest.approx(report.native_loss, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("act,loss", [("relu", "cross_entropy"), ("tanh", "mse"), ("sigmoid", "binary_cross_entropy")])
def test_gradcheck_trained_weighted_and_fused_outputs(act, loss):
    """After training (smaller gradients, saturated units), with sample weights,
    and with the output activation fused into the loss (softmax / sigmoid)."""
    rng = np.random.default_rng(7)
    last = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "tanh"}[loss]
    model = make_model(act, loss, 6, [10, 8, 3], seed=3, last=last)
    X, y = make_data(rng, loss, 6, 3, 40)
    model.fit(X, y, epochs=60, batch_size=8, verbose=0)
    w = rng.random(40) * 2
    report = mc.gradcheck(model, X, y, sample_weight=w)
    assert report.passed, str(report)
    assert report.worst_relative_error < 1e-4, str(report)


def test_gradcheck_every_isa(isa):
    rng = np.random.default_rng(1)
    model = make_model("tanh", "cross_entropy", 17, [19, 5])
    X, y = make_data(rng, "cross_entropy", 17, 5, 13)
    report = mc.gradcheck(model, X, y)
    assert report.passed, f"{isa}: {report}"


def test_loss_gradients_matches_evaluate_and_changes_nothing():
    rng = np.random.default_rng(2)
    model = make_model("relu", "cross_entropy", 5, [8, 4])
    X, y = make_data(rng, "cross_entropy", 5, 4, 30)
    before = [(w.copy(), b.copy()) for w, b in model.get_weights()]
    g = mc.ops.loss_gradients(model, X, y)
    assert g.loss == pytest.approx(model.evaluate(X, y)["loss"], rel=1e-12)
    assert [(dw.shape, db.shape) for dw, db in g.layers] == [(w.shape, b.shape) for w, b in before]
    assert g.X.shape == X.shape and g.X.dtype == np.float32
    for (w0, b0), (w1, b1) in zip(before, model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)
    # Training afterwards is what it would have been without the call.
    twin = make_model("relu", "cross_entropy", 5, [8, 4])
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    twin.fit(X, y, epochs=2, batch_size=8, verbose=0)
    for (w0, b0), (w1, b1) in zip(twin.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)


def test_loss_gradients_input_gradient_of_a_linear_model():
    """One identity layer with MSE: dL/dX = 2 (X W + b - t) W^T / (rows * outputs)."""
    rng = np.random.default_rng(3)
    model = make_model("identity", "mse", 4, [3])
    X, y = make_data(rng, "mse", 4, 3, 6)
    (W, b), = [(w.astype(np.float64), b.astype(np.float64)) for w, b in model.get_weights()]
    residual = X.astype(np.float64) @ W + b - y
    g = mc.ops.loss_gradients(model, X, y)
    np.testing.assert_allclose(g.X, 2 * residual @ W.T / residual.size, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.layers[0][0], 2 * X.T.astype(np.float64) @ residual / residual.size,
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("layer,param", [(0, "W"), (1, "b"), (2, "W"), (2, "b")])
def test_wrong_gradient_is_caught_and_named(layer, param):
    rng = np.random.default_rng(4)
    model = make_model("tanh", "cross_entropy", 5, [6, 4, 3])
    X, y = make_data(rng, "cross_entropy", 5, 3, 12)
    report = mc.gradcheck(model, X, y, _fault=(layer, param, 1.05))
    assert not report.passed
    assert [(c.layer, c.name) for c in report.failures] == [(layer, param)]
    assert report.layers[layer][param].worst_relative_error > 0.01
    assert f"layer {layer} {param}" in report.message()
    assert f"layer {layer} {param}" in str(report)
    with pytest.raises(mc.GradcheckError, match=f"layer {layer} {param}") as info:
        mc.gradcheck(model, X, y, _fault=(layer, param, 0.5), raise_on_failure=True)
    assert not info.value.report.passed
    # The fault lives in the check's entry point only: training is untouched.
    assert mc.gradcheck(model, X, y).passed


def test_relu_kinks():
    """A zero row with zero biases puts every first-layer pre-activation exactly at
    ReLU's kink: the bias differences that cross it are skipped, the rest agree
    (ReLU'(0) = 0 in both). A row within float32 rounding of a kink is left out."""
    rng = np.random.default_rng(5)
    model = make_model("relu", "mse", 4, [6, 2], init="he_uniform")
    X, y = make_data(rng, "mse", 4, 2, 7)
    X[0] = 0.0
    report = mc.gradcheck(model, X, y)
    assert report.passed, str(report)
    assert report.layers[0]["b"].skipped > 0 and report.rows_skipped == 0

    near = mc.Sequential([mc.Dense(1, "relu", input_dim=1), mc.Dense(1)], seed=0)
    near.compile("mse")
    (w0, b0), (w1, b1) = near.get_weights()
    near.set_weights([(np.ones_like(w0), np.full_like(b0, -0.9999999)), (w1, b1)])
    Xn = np.array([[1.0], [3.0]], np.float32)
    report = mc.gradcheck(near, Xn, np.zeros((2, 1), np.float32))
    assert report.passed and report.rows_skipped == 1 and report.rows_checked == 1
    with pytest.raises(ValueError, match="X: every row"):
        mc.gradcheck(near, Xn[:1], np.zeros((1, 1), np.float32))


def test_bad_input():
    rng = np.random.default_rng(6)
    model = make_model("relu", "cross_entropy", 3, [4, 2])
    X, y = make_data(rng, "cross_entropy", 3, 2, 5)
    with pytest.raises(TypeError, match="model"):
        mc.gradcheck("model", X, y)
    unbuilt = mc.Sequential([mc.Dense(2)])
    unbuilt.compile("mse")
    with pytest.raises(mc.NotBuiltError):
        mc.gradcheck(unbuilt, X, y)
    uncompiled = mc.Sequential([mc.Dense(2, input_dim=3)])
    uncompiled.build(3)
    with pytest.raises(ValueError, match="compile"):
        mc.gradcheck(uncompiled, X, y)
    with pytest.raises(ValueError, match="X"):
        mc.gradcheck(model, X[:, :2], y)
    bad = X.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="X: expected finite"):
        mc.gradcheck(model, bad, y)
    with pytest.raises(TypeError, match="X"):
        mc.gradcheck(model, np.array([["a"] * 3] * 5), y)
    with pytest.raises(ValueError, match="y"):
        mc.gradcheck(model, X, y[:3])
    with pytest.raises(ValueError, match="y: labels"):
        mc.gradcheck(model, X, y + 5)
    with pytest.raises(ValueError, match="sample_weight"):
        mc.gradcheck(model, X, y, sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="sample_weight"):
        mc.gradcheck(model, X, y, sample_weight=-np.ones(5))
    for eps in (0.0, -1e-6, 1.0, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            mc.gradcheck(model, X, y, eps=eps)
    with pytest.raises(TypeError, match="eps"):
        mc.gradcheck(model, X, y, eps="small")
    with pytest.raises(ValueError, match="rtol"):
        mc.gradcheck(model, X, y, rtol=2.0)
    with pytest.raises(ValueError, match=r"_fault\[0\]"):
        mc.gradcheck(model, X, y, _fault=(2, "W", 2.0))
    with pytest.raises(ValueError, match=r"_fault\[1\]"):
        mc.gradcheck(model, X, y, _fault=(0, "V", 2.0))
    with pytest.raises(TypeError, match="model"):
        mc.ops.loss_gradients(None, X, y)
    with pytest.raises(ValueError, match="compile"):
        mc.ops.loss_gradients(uncompiled, X, y)


def test_chain_rule_example(tmp_path):
    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "chain_rule.py"
    spec = importlib.util.spec_from_file_location("example_chain_rule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = []
    plot = None
    if importlib.util.find_spec("matplotlib") is not None:
        plot = tmp_path / "derivatives.png"
        argv = ["--plot", str(plot)]
    result = module.main(argv)
    for name in ("sigmoid", "tanh", "relu"):
        assert result["derivative_error"][name] < 1e-6
    assert result["relu_at_zero"] == 0.0
    assert result["gradcheck"].passed
    assert result["final_loss"] < result["initial_loss"]
    if plot is not None:
        assert plot.stat().st_size > 1000
