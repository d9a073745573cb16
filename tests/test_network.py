"""The native network and training loop against a float64 numpy reference:
backprop by finite differences, SGD steps exactly, and learning on real data."""

import numpy as np
import pytest

import mlpcore as mc
from numpy_mlp import gradients, sgd_train


def build(layers, input_dim, loss, seed=3, optimizer=None):
    model = mc.Sequential([mc.Dense(u, activation=a) for u, a in layers], input_dim=input_dim, seed=seed)
    model.compile(loss=loss, optimizer=optimizer or mc.SGD(lr=1.0))
    return model


def native_gradients(model, X, y):
    """One plain SGD step with lr = 1 moves each parameter by exactly its gradient."""
    before = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=len(X), shuffle=False, verbose=0)
    after = model.get_weights()
    model.set_weights(before)
    return [(W0.astype(np.float64) - W1, b0.astype(np.float64) - b1) for (W0, b0), (W1, b1) in zip(before, after)]


CASES = [
    ([(5, "tanh"), (4, "sigmoid"), (3, "identity")], "cross_entropy"),
    ([(6, "sigmoid"), (2, "identity")], "binary_cross_entropy"),
    ([(7, "tanh"), (5, "relu"), (2, "identity")], "mse"),
    ([(3, "sigmoid")], "mse"),
]


def targets(loss, rng, n, out):
    if loss == "cross_entropy":
        return rng.integers(0, out, n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, out)).astype(np.float32)
    return rng.standard_normal((n, out)).astype(np.float32)


@pytest.mark.parametrize("layers,loss", CASES)
def test_whole_network_gradient_by_finite_differences(isa, rng, layers, loss):
    X = rng.standard_normal((9, 4)).astype(np.float32)
    y = targets(loss, rng, 9, layers[-1][0])
    model = build(layers, 4, loss)
    grads = native_gradients(model, X, y)
    weights = model.get_weights()
    h = 1e-2
    for l, (W, b) in enumerate(weights):
        for which, arr in ((0, W), (1, b)):
            for idx in np.ndindex(arr.shape):
                plus, minus = [list(p) for p in weights], [list(p) for p in weights]
                plus[l][which] = arr.copy()
                minus[l][which] = arr.copy()
                plus[l][which][idx] += h
                minus[l][which][idx] -= h
                model.set_weights(plus)
                up = model.evaluate(X, y)["loss"]
                model.set_weights(minus)
                down = model.evaluate(X, y)["loss"]
                fd = (up - down) / (float(plus[l][which][idx]) - float(minus[l][which][idx]))
                assert grads[l][which][idx] == pytest.approx(fd, rel=2e-2, abs=2e-4), (l, which, idx)
    model.set_weights(weights)


@pytest.mark.parametrize("layers,loss", CASES)
def test_backprop_matches_float64_reference(isa, rng, layers, loss):
    X = rng.standard_normal((23, 4)).astype(np.float32)
    y = targets(loss, rng, 23, layers[-1][0])
    model = build(layers, 4, loss)
    params = [(W.astype(np.float64), b.astype(np.float64)) for W, b in model.get_weights()]
    _, ref = gradients(params, [a for _, a in layers], loss, X.astype(np.float64), y)
    for (gW, gb), (rW, rb) in zip(native_gradients(model, X, y), ref):
        np.testing.assert_allclose(gW, rW, rtol=1e-4, atol=2e-6)
        np.testing.assert_allclose(gb, rb, rtol=1e-4, atol=2e-6)


SGD_SETTINGS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, momentum=0.5, weight_decay=0.01),
]


@pytest.mark.parametrize("settings", SGD_SETTINGS)
@pytest.mark.parametrize("layers,loss", CASES[:3])
def test_fit_reproduces_numpy_sgd(isa, rng, settings, layers, loss):
    X = rng.standard_normal((50, 4)).astype(np.float32)
    y = targets(loss, rng, 50, layers[-1][0])
    model = build(layers, 4, loss, optimizer=mc.SGD(**settings))
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    history = model.fit(X, y, epochs=3, batch_size=16, shuffle=False, verbose=0)  # last batch of 2
    ref, ref_losses = sgd_train(start, [a for _, a in layers], loss, X.astype(np.float64), y,
                                batch_size=16, epochs=3, **settings)
    for (W, b), (rW, rb) in zip(model.get_weights(), ref):
        np.testing.assert_allclose(W, rW, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(b, rb, rtol=1e-4, atol=1e-5)
    # the epoch loss is the sample-weighted mean of the batch losses before each step
    per_epoch = np.array(ref_losses).reshape(3, 4)
    sizes = np.array([16, 16, 16, 2])
    np.testing.assert_allclose(history.history["loss"], per_epoch @ sizes / 50, rtol=1e-4)


def test_shuffled_fit_is_seeded(rng):
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)

    def run(seed):
        model = mc.Sequential([mc.Dense(8, activation="relu"), mc.Dense(3)], seed=seed)
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1, momentum=0.9))
        model.fit(X, y, epochs=3, batch_size=10, verbose=0)
        return model.get_weights()

    a, b, c = run(1), run(1), run(2)
    for (Wa, ba), (Wb, bb) in zip(a, b):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    assert not np.array_equal(a[0][0], c[0][0])


def test_initialisers(rng):
    for init, bound, bias_zero in [("uniform", 1 / np.sqrt(300), False),
                                   ("glorot_uniform", np.sqrt(6 / 500), True),
                                   ("he_uniform", np.sqrt(6 / 300), True)]:
        model = mc.Sequential([mc.Dense(200, init=init)], input_dim=300, seed=0)
        model.compile(loss="mse")
        W, b = model.get_weights()[0]
        assert np.abs(W).max() <= bound and np.abs(W).max() > 0.98 * bound
        assert abs(W.mean()) < 0.01 * bound and W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
        assert (b == 0).all() if bias_zero else (np.abs(b).max() <= bound and b.std() > 0)


def test_xor_sigmoid_mse_converges():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([[0], [1], [1], [0]], np.float32)
    model = mc.Sequential([mc.Dense(4, activation="sigmoid"), mc.Dense(1, activation="sigmoid")], seed=0)
    model.compile(loss="mse", optimizer=mc.SGD(lr=0.5, momentum=0.9))
    history = model.fit(X, y, epochs=2000, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.01
    np.testing.assert_array_equal(model.predict(X).round(), y)


def test_digits_reach_95_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    Xtr, ytr, Xte, yte = X[360:], y[360:], X[:360], y[:360]
    model = mc.Sequential([mc.Dense(128, activation="relu"), mc.Dense(64, activation="relu"),
                           mc.Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    history = model.fit(Xtr, ytr, epochs=20, batch_size=32, validation_data=(Xte, yte), verbose=0)
    result = model.evaluate(Xte, yte)
    assert result["accuracy"] >= 0.95
    assert history.history["val_accuracy"][-1] == pytest.approx(result["accuracy"])
    proba = model.predict(Xte)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert (proba.argmax(1) == yte).mean() == pytest.approx(result["accuracy"])


def test_predict_matches_reference_forward(rng):
    model = mc.Sequential([mc.Dense(30, activation="tanh"), mc.Dense(4)], input_dim=12, seed=5)
    model.compile(loss="mse")
    X = rng.standard_normal((2100, 12)).astype(np.float32)  # more than one predict chunk
    (W1, b1), (W2, b2) = [(W.astype(np.float64), b.astype(np.float64)) for W, b in model.get_weights()]
    ref = np.tanh(X @ W1 + b1) @ W2 + b2
    np.testing.assert_allclose(model.predict(X), ref, rtol=1e-5, atol=1e-5)


def test_softmax_and_sigmoid_output_layers_are_fused():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    a = mc.Sequential([mc.Dense(2, activation="softmax")], seed=1)
    b = mc.Sequential([mc.Dense(2)], seed=1)
    for m in (a, b):
        m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1))
        m.fit(X, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_array_equal(a.get_weights()[0][0], b.get_weights()[0][0])
    np.testing.assert_allclose(a.predict(X).sum(1), 1, rtol=1e-6)
    c = mc.Sequential([mc.Dense(1, activation="sigmoid")], seed=1)
    c.compile(loss="binary_crossentropy", optimizer=mc.SGD(lr=0.1))
    c.fit(X, y.astype(np.float32), epochs=2, batch_size=8, verbose=0)
    p = c.predict(X)
    assert p.shape == (40, 1) and ((p > 0) & (p < 1)).all()


def test_weights_squared_norm_leaves_out_the_biases(rng):
    model = mc.Sequential([mc.Dense(13, activation="tanh", input_dim=7), mc.Dense(3)], seed=2)
    model.compile(loss="mse")
    weights = [(rng.standard_normal(w.shape).astype(np.float32), rng.standard_normal(b.shape).astype(np.float32) * 100)
               for w, b in model.get_weights()]
    model.set_weights(weights)
    expected = sum(float(np.sum(w.astype(np.float64) ** 2)) for w, _ in weights)
    assert model._weights_squared_norm() == pytest.approx(expected, rel=1e-12)
