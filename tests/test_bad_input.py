"""Bad input raises a clear ValueError / TypeError naming the argument; nothing crashes."""

import numpy as np
import pytest

import mlpcore as mc


@pytest.fixture
def data(rng):
    return rng.standard_normal((20, 4)).astype(np.float32), rng.integers(0, 3, 20)


@pytest.fixture
def model():
    m = mc.Sequential([mc.Dense(5, activation="relu"), mc.Dense(3)], seed=0)
    m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1))
    return m


def test_fit_shapes_and_dtypes(model, data):
    X, y = data
    with pytest.raises(ValueError, match="X: expected a 2-d array"):
        model.fit(X[0], y)
    with pytest.raises(ValueError, match="X: expected a 2-d array"):
        model.fit(X[None], y)
    with pytest.raises(TypeError, match="X: expected real numbers"):
        model.fit(X.astype(complex), y)
    with pytest.raises(TypeError, match="X: expected real numbers"):
        model.fit(np.array([["a"] * 4] * 20), y)
    with pytest.raises(TypeError, match="X"):
        model.fit(object(), y)
    with pytest.raises(ValueError, match="X: expected a non-empty array"):
        model.fit(np.zeros((0, 4), np.float32), y[:0])
    with pytest.raises(ValueError, match="y: expected 20 targets"):
        model.fit(X, y[:-1])
    model.fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="X: expected 4 features"):
        model.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="X: expected 4 features"):
        model.predict(X[:, :3])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(model, data, bad):
    X, y = data
    X = X.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="X: expected finite values"):
        model.fit(X, y)
    model.fit(data[0], y, verbose=0)
    with pytest.raises(ValueError, match="X: expected finite values"):
        model.predict(X)
    Y = np.zeros((20, 3), np.float32)
    Y[0, 0] = bad
    with pytest.raises(ValueError, match="y"):
        model.fit(data[0], Y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_found_anywhere(isa, rng, bad):
    # The check is one vectorised pass: a bad value in any lane, in the tail
    # past the last full vector, or alone in a tiny array, must be found.
    model = mc.Sequential([mc.Dense(3)], input_dim=37, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    for rows in (1, 3, 61):
        X = rng.standard_normal((rows, 37)).astype(np.float32)
        X[0, 0] = np.float32(3e38)  # large but finite
        model.predict(X)
        for pos in sorted({0, 1, 15, 16, 17, X.size // 2, X.size - 2, X.size - 1}):
            if pos >= X.size:
                continue
            Xb = X.copy()
            Xb.flat[pos] = bad
            with pytest.raises(ValueError, match="X: expected finite values"):
                model.predict(Xb)


@pytest.mark.parametrize("threads", [1, 2])
def test_non_finite_value_found_in_any_chunk_of_a_large_array(threads, rng):
    # A large array is checked in chunks of 16384 floats, shared out among
    # threads: a bad value at either end of any chunk, or in the last partial
    # one, must be found, and the native check (fit's last guard) names its index.
    from mlpcore import _core

    model = mc.Sequential([mc.Dense(2)], input_dim=100, seed=0)
    model.compile(loss="mse", optimizer="sgd")
    chunk = 16384
    X = rng.standard_normal((5 * chunk // 100 + 7, 100)).astype(np.float32)
    Y = np.zeros((X.shape[0], 2), np.float32)
    before = mc.config()["threads"]
    mc.set_num_threads(threads)
    try:
        assert _core.all_finite(X)
        assert np.isfinite(_core.evaluate(model._net, "mse", X, Y, None)["loss"])
        for pos in (0, chunk - 1, chunk, 3 * chunk + 5, 4 * chunk - 1, 5 * chunk, X.size - 1):
            for bad in (np.nan, -np.inf):
                Xb = X.copy()
                Xb.flat[pos] = bad
                assert not _core.all_finite(Xb)
                kind = "NaN" if np.isnan(bad) else "inf"
                with pytest.raises(ValueError, match=f"X: expected finite values, found {kind} at flat index {pos}$"):
                    _core.evaluate(model._net, "mse", Xb, Y, None)
    finally:
        mc.set_num_threads(before)


def test_labels(model, data):
    X, y = data
    with pytest.raises(ValueError, match=r"y: labels must be in \[0, 3\)"):
        model.fit(X, np.full(20, 3))
    with pytest.raises(ValueError, match=r"y: labels must be in \[0, 3\)"):
        model.fit(X, np.full(20, -1))
    with pytest.raises(ValueError, match="y: class labels must be whole numbers"):
        model.fit(X, np.full(20, 0.5))
    with pytest.raises(ValueError, match=r"y: expected shape \(20, 3\)"):
        model.fit(X, np.zeros((20, 2), np.float32))
    with pytest.raises(TypeError, match="y: expected numeric targets"):
        model.fit(X, np.array(["a"] * 20))


def test_fit_keywords(model, data):
    X, y = data
    for kw, exc in [(dict(batch_size=0), ValueError), (dict(batch_size=-5), ValueError),
                    (dict(batch_size=2.5), TypeError), (dict(epochs=-1), ValueError),
                    (dict(epochs="3"), TypeError), (dict(shuffle="yes"), TypeError),
                    (dict(validation_data=(X,)), ValueError),
                    (dict(validation_data=(X[:, :2], y)), ValueError),
                    (dict(sample_weight=np.ones(19)), ValueError),
                    (dict(sample_weight=-np.ones(20)), ValueError)]:
        with pytest.raises(exc) as info:
            model.fit(X, y, verbose=0, **kw)
        assert list(kw)[0] in str(info.value) or "validation_data" in str(info.value)


def test_layers_losses_optimizers():
    with pytest.raises(ValueError, match="activation: expected one of"):
        mc.Dense(4, activation="swish")
    with pytest.raises(ValueError, match="units: expected a positive integer"):
        mc.Dense(0)
    with pytest.raises(TypeError, match="units"):
        mc.Dense(3.0)
    with pytest.raises(ValueError, match="init: expected one of"):
        mc.Dense(3, init="zeros")
    with pytest.raises(ValueError, match="loss: expected one of"):
        mc.Sequential([mc.Dense(2)]).compile(loss="hinge")
    with pytest.raises(ValueError, match=r"optimizer: expected one of \['adagrad', 'adam', 'adamw', 'rmsprop', 'sgd'\]"):
        mc.Sequential([mc.Dense(2)]).compile(optimizer="lamb")
    with pytest.raises(TypeError, match="optimizer: expected a mlpcore optimizer"):
        mc.Sequential([mc.Dense(2)]).compile(optimizer=3)
    for kw, pattern in [(dict(lr=0), "lr"), (dict(lr=-1), "lr"), (dict(lr=float("nan")), "lr"),
                        (dict(momentum=1.0), "momentum"), (dict(momentum=-0.1), "momentum"),
                        (dict(weight_decay=-1), "weight_decay"), (dict(nesterov=True), "nesterov")]:
        with pytest.raises(ValueError, match=pattern):
            mc.SGD(**kw)
    with pytest.raises(ValueError, match="softmax is only supported on the last layer"):
        m = mc.Sequential([mc.Dense(3, activation="softmax"), mc.Dense(2)])
        m.compile(loss="cross_entropy")
        m.fit(np.zeros((2, 2), np.float32), [0, 1])
    with pytest.raises(ValueError, match="softmax output needs loss='cross_entropy'"):
        mc.Sequential([mc.Dense(3, activation="softmax")]).compile(loss="mse")


def test_not_built_and_not_compiled(data):
    X, y = data
    m = mc.Sequential([mc.Dense(3)])
    for call in (lambda: m.predict(X), lambda: m.get_weights(), lambda: m.evaluate(X, y)):
        with pytest.raises(mc.NotBuiltError, match="not built yet"):
            call()
    assert issubclass(mc.NotBuiltError, ValueError)
    with pytest.raises(ValueError, match="compile"):
        m.fit(X, y)


def test_impossible_sizes_fail_fast():
    with pytest.raises(MemoryError, match="units"):
        mc.Dense(10**12)
    m = mc.Sequential([mc.Dense(10**6)], input_dim=10**6)
    with pytest.raises(MemoryError, match="units"):
        m.compile(loss="mse")


def test_set_weights_checks(model, data):
    model.fit(*data, verbose=0)
    good = model.get_weights()
    with pytest.raises(ValueError, match="expected 2"):
        model.set_weights(good[:1])
    with pytest.raises(ValueError, match=r"expected W of shape \(4, 5\)"):
        model.set_weights([(good[0][0].T, good[0][1]), good[1]])
    bad = [(good[0][0].copy(), good[0][1]), good[1]]
    bad[0][0][0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.set_weights(bad)
    np.testing.assert_array_equal(model.get_weights()[0][0], good[0][0])  # untouched on error


def test_ops_bad_input():
    with pytest.raises(ValueError, match="b: op\\(a\\) is 2 x 3"):
        mc.ops.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="a: expected a 2-d array"):
        mc.ops.matmul(np.ones(3), np.ones((3, 1)))
    with pytest.raises(TypeError, match="a: expected a real numeric dtype"):
        mc.ops.matmul(np.ones((2, 2), complex), np.ones((2, 2)))
    with pytest.raises(ValueError, match="c: expected shape \\(2, 2\\)"):
        mc.ops.matmul(np.ones((2, 2)), np.ones((2, 2)), c=np.ones((3, 2)))
    with pytest.raises(ValueError, match="activation: expected one of"):
        mc.ops.activation(np.ones(3), "gelu")
    with pytest.raises(ValueError, match="dy: expected the shape of y"):
        mc.ops.activation_backward("relu", np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"target: labels must be in \[0, 3\)"):
        mc.ops.cross_entropy(np.ones((2, 3)), np.array([0, 7]))
    with pytest.raises(TypeError, match="target: class labels must be integers"):
        mc.ops.cross_entropy(np.ones((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="target: expected shape"):
        mc.ops.mse(np.ones((2, 3)), np.ones((3, 2)))


def test_threads_and_isa_arguments():
    with pytest.raises(ValueError, match="n: expected a positive integer"):
        mc.set_num_threads(0)
    with pytest.raises(TypeError, match="n"):
        mc.set_num_threads("2")
    with pytest.raises(ValueError, match="isa: expected one of"):
        mc.set_isa("sse9")


def test_binary_cross_entropy_targets_must_be_probabilities():
    X = np.zeros((4, 3), np.float32)
    m = mc.Sequential([mc.Dense(2)], seed=0)
    m.compile(loss="binary_cross_entropy", optimizer=mc.SGD(lr=0.1))
    y = np.array([[0, 1], [1, 0], [7.0, 1], [0.5, 0.25]], np.float32)
    with pytest.raises(ValueError, match=r"y: binary cross-entropy targets must be in \[0, 1\], got 7\.0 at flat index 4"):
        m.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"got -0\.5 at flat index 1"):
        mc.ops.binary_cross_entropy(np.zeros((1, 2), np.float32), np.array([[0.0, -0.5]]))
    m.fit(X, np.clip(y, 0, 1), epochs=1, verbose=0)  # soft targets in [0, 1] are fine


def test_seed_out_of_range_fails_at_construction():
    mc.Sequential([mc.Dense(2)], seed=2**64 - 1)
    with pytest.raises(ValueError, match=r"seed: expected an integer in \[0, 2\*\*64\), got 18446744073709551616"):
        mc.Sequential([mc.Dense(2)], seed=2**64)


@pytest.mark.parametrize("kw,message", [
    ({"lr": 1e-50}, "lr: expected a number float32 can hold (0, or a magnitude >= 1.4e-45), got 1e-50"),
    ({"lr": 1e-40}, "lr: expected a number >= 1.1754944e-38 (float32's smallest normal), got 1e-40"),
    ({"lr": 1e39}, "lr: expected a finite float32 number"),
    ({"momentum": 1.5}, "momentum: expected a number in [0, 1), got 1.5"),
    ({"lr": -0.1}, "lr: expected a finite number > 0, got -0.1"),
    ({"momentum": 0.9, "dampening": 1.25}, "dampening: expected a number in [0, 1], got 1.25"),
])
def test_sgd_values_are_checked_at_construction_and_printed_as_given(kw, message):
    with pytest.raises(ValueError) as e:
        mc.SGD(**kw)
    assert message in str(e.value)
    opt = mc.SGD(lr=0.1)
    with pytest.raises(ValueError, match="lr: expected a number float32 can hold"):
        opt.lr = 1e-50
    assert opt.lr == 0.1


def test_every_finite_float32_is_a_valid_alpha():
    a = np.ones((2, 3), np.float32)
    big = float(np.finfo(np.float32).max)
    np.testing.assert_array_equal(mc.ops.matmul(a, a.T, alpha=big / 4), np.full((2, 2), big * 0.75, np.float32))
    np.testing.assert_array_equal(mc.ops.matmul(a[:, :1], a[:, :1].T, alpha=big), np.full((2, 2), big, np.float32))
    with pytest.raises(ValueError, match="alpha: expected a finite float32 number"):
        mc.ops.matmul(a, a.T, alpha=3.5e38)
    tiniest = float(np.nextafter(np.float32(0), np.float32(1)))  # a subnormal float32 is a float32 too
    assert mc.ops.matmul(a, a.T, alpha=tiniest).shape == (2, 2)
    with pytest.raises(ValueError, match="alpha: expected a number float32 can hold"):
        mc.ops.matmul(a, a.T, alpha=1e-50)
