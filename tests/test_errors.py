"""Bad input of every kind, at every public entry point (the Python API and the
raw mlpcore._core functions): a Python exception naming the argument, never a
crash, never a bare RuntimeError."""

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

F = np.float32
GOOD = np.ones((4, 3), F)

# Arrays that are not acceptable as a 2-d float matrix, with the word the error must contain.
BAD_MATRICES = [
    (np.ones((4, 3), complex), "real"),
    (np.ones((4, 3), object), "real"),
    (np.array([["a", "b", "c"]] * 4), "real"),
    (np.ones((4, 3), "datetime64[s]"), "real"),
    (None, "real"),
    ("abc", "real"),
    (np.float32(1.0), "2-d"),
    (np.ones(3, F), "2-d"),
    (np.ones((2, 2, 3), F), "2-d"),
    ([[1.0, 2.0], [3.0]], "array"),
]
BAD_MATRIX_IDS = ["complex", "object", "str", "datetime", "None", "string", "0d", "1d", "3d", "ragged"]


def model(loss="cross_entropy", out=3, **kw):
    m = mc.Sequential([mc.Dense(5, activation="relu", input_dim=3), mc.Dense(out)], seed=0)
    m.compile(loss=loss, optimizer=mc.SGD(lr=0.1, **kw))
    return m


def check(exc_info, *words):
    assert type(exc_info.value) is not RuntimeError
    msg = str(exc_info.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


# ---------------------------------------------------------------- ops
@pytest.mark.parametrize("bad,word", BAD_MATRICES, ids=BAD_MATRIX_IDS)
def test_matmul_rejects_bad_a_and_b(bad, word):
    with pytest.raises((TypeError, ValueError)) as e:
        mc.ops.matmul(bad, GOOD.T)
    check(e, "a:", word)
    with pytest.raises((TypeError, ValueError)) as e:
        mc.ops.matmul(GOOD, bad)
    check(e, "b:", word)
    with pytest.raises((TypeError, ValueError)) as e:
        _core.matmul(bad, GOOD.T)
    check(e, "a:", word)


def test_matmul_shape_mismatch_and_c():
    with pytest.raises(ValueError) as e:
        mc.ops.matmul(np.ones((3, 4)), np.ones((5, 2)))
    check(e, "b:", "(5, 2)")
    with pytest.raises(ValueError) as e:
        mc.ops.matmul(np.ones((3, 4)), np.ones((4, 2)), beta=1.0, c=np.ones((2, 3)))
    check(e, "c:", "(3, 2)")


@pytest.mark.parametrize("kw,word", [
    ({"alpha": "x"}, "alpha"), ({"alpha": float("nan")}, "alpha"), ({"beta": float("inf")}, "beta"),
    ({"alpha": 1e300}, "alpha"), ({"alpha": None}, "alpha"), ({"alpha": 1j}, "alpha"),
    ({"trans_a": "yes"}, "trans_a"), ({"trans_b": None}, "trans_b"),
])
def test_matmul_scalar_arguments(kw, word):
    with pytest.raises((TypeError, ValueError)) as e:
        _core.matmul(GOOD, GOOD.T, **kw)
    check(e, word)
    with pytest.raises((TypeError, ValueError)) as e:
        mc.ops.matmul(GOOD, GOOD.T, **kw)
    check(e, word)


def test_matmul_accepts_views_and_other_real_dtypes(rng):
    a = rng.standard_normal((7, 9))
    b = rng.standard_normal((9, 5))
    for av, bv in [(a[::-1], b[:, ::-1]), (a[::2], b[:, ::2][:, :5] if False else b), (np.asfortranarray(a), b),
                   (a.astype(np.int64), b.astype(np.float16)), (a > 0, b)]:
        got = mc.ops.matmul(av, bv)
        ref = np.asarray(av, np.float64) @ np.asarray(bv, np.float64)
        np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("fn", [mc.ops.relu, mc.ops.sigmoid, mc.ops.tanh, mc.ops.identity, mc.ops.softmax,
                                mc.ops.relu_derivative])
@pytest.mark.parametrize("bad", [np.ones(3, complex), np.ones(3, object), np.array(["x"]), None, "s"])
def test_elementwise_ops_reject_non_real(fn, bad):
    with pytest.raises(TypeError) as e:
        fn(bad)
    check(e, "x:")


@pytest.mark.parametrize("name", ["softmaxx", "", "RELU ", 3, None, ["relu"]])
def test_activation_names(name):
    with pytest.raises((TypeError, ValueError)) as e:
        mc.ops.activation(np.ones(3), name)
    check(e, "activation")
    with pytest.raises((TypeError, ValueError)) as e:
        _core.activation_forward(name, np.ones(3))
    check(e, "activation")


def test_activation_backward_shapes():
    with pytest.raises(ValueError) as e:
        mc.ops.activation_backward("relu", np.ones((3, 4)), np.ones((4, 3)))
    check(e, "dy:", "(3, 4)")
    with pytest.raises(ValueError) as e:  # fewer dims than y: once read past the shape array
        _core.activation_backward("relu", np.ones((3, 4, 5)), np.ones(60))
    check(e, "dy:")


@pytest.mark.parametrize("target,exc,words", [
    (np.array([0, 1, 3, 2]), ValueError, ["target", "[0, 3)", "3"]),
    (np.array([0, -1, 1, 2]), ValueError, ["target", "-1"]),
    (np.array([0, 1, 2**63, 1], np.uint64), ValueError, ["target", "9223372036854775808"]),
    (np.array([0.0, 1.0, 2.0, 1.0]), TypeError, ["target", "integers"]),
    (np.array([True, False, True, True]), TypeError, ["target", "integers"]),
    (np.array([0, 1, 2]), ValueError, ["target", "4 labels"]),
    (np.ones((4, 2)), ValueError, ["target", "(4, 3)"]),
    (np.full((4, 3), np.nan), ValueError, ["target", "NaN"]),
    (np.ones((4, 3), complex), TypeError, ["target"]),
    (None, TypeError, ["target"]),
])
def test_loss_targets(target, exc, words):
    with pytest.raises(exc) as e:
        mc.ops.cross_entropy(np.ones((4, 3)), target)
    check(e, *words)


@pytest.mark.parametrize("w,words", [
    (np.array([1.0, -1.0, 1.0, 1.0]), ["sample_weight", ">= 0"]),
    (np.array([1.0, np.nan, 1.0, 1.0]), ["sample_weight"]),
    (np.ones(3), ["sample_weight", "4 weights"]),
    (np.ones((4, 1)), ["sample_weight", "1-d"]),
    (np.ones(4, complex), ["sample_weight", "real"]),
])
def test_loss_sample_weight(w, words):
    with pytest.raises((TypeError, ValueError)) as e:
        mc.ops.mse(np.ones((4, 3)), np.ones((4, 3)), w)
    check(e, *words)


def test_loss_name_and_empty_output():
    with pytest.raises(ValueError) as e:
        _core.loss("hinge", np.ones((2, 2)), np.ones((2, 2)))
    check(e, "loss", "hinge")
    with pytest.raises(ValueError) as e:
        mc.ops.mse(np.ones((0, 3)), np.ones((0, 3)))
    check(e, "output", "non-empty")


# ---------------------------------------------------------------- layers, optimizers, config
@pytest.mark.parametrize("kw,exc,word", [
    ({"units": 0}, ValueError, "units"), ({"units": -5}, ValueError, "units"),
    ({"units": 2.5}, TypeError, "units"), ({"units": True}, TypeError, "units"),
    ({"units": "8"}, TypeError, "units"), ({"units": None}, TypeError, "units"),
    ({"units": 10**12}, MemoryError, "units"), ({"units": 10**30}, ValueError, "units"),
    ({"units": 4, "activation": "softplus"}, ValueError, "activation"),
    ({"units": 4, "activation": 3}, TypeError, "activation"),
    ({"units": 4, "init": "zeros"}, ValueError, "init"),
    ({"units": 4, "input_dim": 0}, ValueError, "input_dim"),
    ({"units": 4, "input_dim": 10**12}, MemoryError, "input_dim"),
])
def test_dense_arguments(kw, exc, word):
    with pytest.raises(exc) as e:
        mc.Dense(**kw)
    check(e, word)


@pytest.mark.parametrize("kw,exc,word", [
    ({"lr": 0}, ValueError, "lr"), ({"lr": -0.1}, ValueError, "lr"), ({"lr": float("nan")}, ValueError, "lr"),
    ({"lr": float("inf")}, ValueError, "lr"), ({"lr": "0.1"}, TypeError, "lr"), ({"lr": None}, TypeError, "lr"),
    ({"lr": True}, TypeError, "lr"), ({"momentum": 1.0}, ValueError, "momentum"),
    ({"momentum": -0.5}, ValueError, "momentum"), ({"weight_decay": -1}, ValueError, "weight_decay"),
    ({"dampening": 2}, ValueError, "dampening"), ({"nesterov": 1}, TypeError, "nesterov"),
    ({"nesterov": True}, ValueError, "nesterov"), ({"learning_rate": -1}, ValueError, "lr"),
])
def test_sgd_arguments(kw, exc, word):
    with pytest.raises(exc) as e:
        mc.SGD(**kw)
    check(e, word)


@pytest.mark.parametrize("n,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                   (None, TypeError), (True, TypeError), (10**9, ValueError), (2**80, ValueError)])
def test_set_num_threads(n, exc):
    before = mc.get_num_threads()
    with pytest.raises(exc) as e:
        mc.set_num_threads(n)
    check(e, "n:")
    with pytest.raises(exc) as e:
        _core.set_num_threads(n)
    check(e, "n:")
    assert mc.get_num_threads() == before


@pytest.mark.parametrize("name,exc", [("avx9000", ValueError), ("", ValueError), (3, TypeError), (None, TypeError)])
def test_set_isa(name, exc):
    before = mc.config()["isa"]
    with pytest.raises(exc) as e:
        mc.set_isa(name)
    check(e, "isa" if exc is ValueError else "name")
    assert mc.config()["isa"] == before


# ---------------------------------------------------------------- the model API
@pytest.mark.parametrize("kw,exc,word", [
    ({"epochs": -1}, ValueError, "epochs"), ({"epochs": 1.5}, TypeError, "epochs"),
    ({"epochs": "3"}, TypeError, "epochs"), ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": -32}, ValueError, "batch_size"), ({"batch_size": 3.0}, TypeError, "batch_size"),
    ({"batch_size": None}, TypeError, "batch_size"), ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"verbose": -1}, ValueError, "verbose"), ({"validation_data": np.ones(3)}, ValueError, "validation_data"),
    ({"validation_data": (np.ones((2, 4)), np.zeros(2, int))}, ValueError, "validation_data[0]"),
    ({"validation_data": (np.ones((2, 3)), np.zeros(3, int))}, ValueError, "validation_data[1]"),
    ({"sample_weight": np.ones(5)}, ValueError, "sample_weight"),
    ({"sample_weight": -np.ones(8)}, ValueError, "sample_weight"),
])
def test_fit_keywords(kw, exc, word):
    m = model()
    args = {"epochs": 1, "verbose": 0, **kw}
    with pytest.raises(exc) as e:
        m.fit(np.ones((8, 3)), np.zeros(8, int), **args)
    check(e, word)


@pytest.mark.parametrize("bad,word", BAD_MATRICES, ids=BAD_MATRIX_IDS)
def test_fit_predict_evaluate_reject_bad_X(bad, word):
    m = model()
    with pytest.raises((TypeError, ValueError)) as e:
        m.fit(bad, np.zeros(4, int), verbose=0)
    check(e, "X")
    for call in (lambda: m.predict(bad), lambda: m.evaluate(bad, np.zeros(4, int))):
        with pytest.raises((TypeError, ValueError)) as e:
            call()
        check(e, "X")


@pytest.mark.parametrize("X,word", [
    (np.ones((0, 3)), "non-empty"), (np.ones((4, 0)), "non-empty"), (np.ones((4, 5)), "3 features"),
    (np.full((4, 3), np.nan), "NaN"), (np.full((4, 3), np.inf), "inf"),
])
def test_fit_X_values(X, word):
    m = model()
    with pytest.raises(ValueError) as e:
        m.fit(X, np.zeros(len(X), int), verbose=0)
    check(e, "X", word)
    with pytest.raises(ValueError) as e:
        m.predict(X)
    check(e, "X", word)


@pytest.mark.parametrize("y,exc,words", [
    (np.array([0, 1, 2, 3]), ValueError, ["y", "[0, 3)"]),
    (np.array([0, 1, -1, 2]), ValueError, ["y", "-1"]),
    (np.array([0.0, 1.5, 2.0, 1.0]), ValueError, ["y", "whole"]),
    (np.array([0.0, np.nan, 2.0, 1.0]), ValueError, ["y", "whole"]),
    (np.array([0, 1, 2]), ValueError, ["y", "4 targets"]),
    (np.zeros((4, 2)), ValueError, ["y", "(4, 3)"]),
    (np.array(["a", "b", "c", "d"]), TypeError, ["y", "numeric"]),
    (np.ones(4, complex), TypeError, ["y", "numeric"]),
    (np.ones(4, object), TypeError, ["y", "numeric"]),
    (np.int64(1), ValueError, ["y"]),
    (np.ones((4, 3, 1)), ValueError, ["y"]),
])
def test_fit_y(y, exc, words):
    m = model()
    with pytest.raises(exc) as e:
        m.fit(np.ones((4, 3)), y, verbose=0)
    check(e, *words)


def test_regression_targets_must_be_finite():
    m = model(loss="mse", out=2)
    with pytest.raises(ValueError) as e:
        m.fit(np.ones((4, 3)), np.full((4, 2), np.inf), verbose=0)
    check(e, "y", "inf")


@pytest.mark.parametrize("build", [
    lambda: mc.Sequential(mc.Dense(3)), lambda: mc.Sequential("dense"), lambda: mc.Sequential([3]),
    lambda: mc.Sequential([mc.Dense(3)], seed=-1), lambda: mc.Sequential([mc.Dense(3)], seed=1.5),
    lambda: mc.Sequential([mc.Dense(3)], input_dim=0),
    lambda: mc.Sequential([mc.Dense(3), mc.Dense(2, input_dim=4)]),
])
def test_sequential_arguments(build):
    with pytest.raises((TypeError, ValueError)) as e:
        build()
    assert type(e.value) is not RuntimeError
    assert any(w in str(e.value) for w in ("layer", "seed", "input_dim"))


@pytest.mark.parametrize("kw,exc,word", [
    ({"loss": "hinge"}, ValueError, "loss"), ({"loss": None}, TypeError, "loss"),
    ({"loss": "mse", "optimizer": "lamb"}, ValueError, "optimizer"),
    ({"loss": "mse", "optimizer": 0.1}, TypeError, "optimizer"),
])
def test_compile_arguments(kw, exc, word):
    m = mc.Sequential([mc.Dense(3, input_dim=2)])
    with pytest.raises(exc) as e:
        m.compile(**kw)
    check(e, word)


def test_softmax_must_be_last_and_match_the_loss():
    m = mc.Sequential([mc.Dense(3, activation="softmax"), mc.Dense(2)])
    with pytest.raises(ValueError) as e:
        m.compile(loss="cross_entropy")
    check(e, "softmax")
    m = mc.Sequential([mc.Dense(3, activation="softmax")])
    with pytest.raises(ValueError) as e:
        m.compile(loss="mse")
    check(e, "softmax")


def test_unbuilt_and_uncompiled_models():
    m = mc.Sequential([mc.Dense(3)])
    for call in (lambda: m.predict(np.ones((2, 2))), m.get_weights, lambda: m.evaluate(np.ones((2, 2)), [0, 1])):
        with pytest.raises(mc.NotBuiltError):
            call()
    with pytest.raises(ValueError) as e:
        m.fit(np.ones((2, 2)), [0, 1], verbose=0)
    check(e, "compile")


@pytest.mark.parametrize("weights,exc,word", [
    (None, TypeError, "weights"), (5, TypeError, "weights"), ([], ValueError, "weights"),
    ([(np.ones((3, 5)),), (np.ones((5, 3)), np.ones(3))], ValueError, "weights[0]"),
    ([(np.ones((3, 5)), np.ones(5)), (np.ones((5, 4)), np.ones(3))], ValueError, "weights[1][0]"),
    ([(np.ones((3, 5)), np.ones(5)), (np.ones((5, 3)), np.ones(4))], ValueError, "weights[1][1]"),
    ([(np.ones((3, 5)), np.ones(5)), (np.ones((5, 3)), np.full(3, np.nan))], ValueError, "weights[1][1]"),
    ([(np.ones((3, 5)), np.ones(5)), (np.ones((5, 3), complex), np.ones(3))], TypeError, "weights[1][0]"),
    ([(np.ones((3, 5)), np.ones(5)), "ab"], TypeError, "weights[1]"),
])
def test_set_weights(weights, exc, word):
    m = model()
    before = m.get_weights()
    with pytest.raises(exc) as e:
        m.set_weights(weights)
    check(e, word)
    for (w0, b0), (w1, b1) in zip(before, m.get_weights()):  # nothing half-written
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)


# ---------------------------------------------------------------- raw native objects
@pytest.mark.parametrize("args,exc,word", [
    ((0, [3], ["relu"], ["uniform"], 0), ValueError, "input_dim"),
    ((3, [], [], [], 0), ValueError, "units"),
    ((3, [0], ["relu"], ["uniform"], 0), ValueError, "units"),
    ((3, [-2], ["relu"], ["uniform"], 0), ValueError, "units"),
    ((3, [2.0], ["relu"], ["uniform"], 0), TypeError, "units"),
    ((3, 4, ["relu"], ["uniform"], 0), TypeError, "units"),
    ((3, [4], "relu", ["uniform"], 0), TypeError, "activations"),
    ((3, [4, 2], ["relu"], ["uniform"], 0), ValueError, "same length"),
    ((3, [4], ["softmax"], ["uniform"], 0), ValueError, "activation"),
    ((3, [4], [None], ["uniform"], 0), TypeError, "activation"),
    ((3, [4], ["relu"], ["zeros"], 0), ValueError, "init"),
    ((3, [4], ["relu"], ["uniform"], -1), ValueError, "seed"),
    ((3, [4], ["relu"], ["uniform"], 2**64), ValueError, "seed"),
    ((3, [4], ["relu"], ["uniform"], "0"), TypeError, "seed"),
    ((10, [10**12], ["relu"], ["uniform"], 0), MemoryError, "units"),
    ((10**6, [10**6], ["relu"], ["uniform"], 0), MemoryError, "units"),
    ((2**41, [1], ["relu"], ["uniform"], 0), ValueError, "input_dim"),
])
def test_native_network(args, exc, word):
    with pytest.raises(exc) as e:
        _core.Network(*args)
    check(e, word)


def test_native_sgd_trainer_and_epoch():
    net = _core.Network(3, [4, 2], ["relu", "identity"], ["uniform", "uniform"], 0)
    other = _core.Network(5, [7], ["relu"], ["uniform"], 0)
    with pytest.raises(ValueError) as e:
        _core.Sgd(net, float("nan"))
    check(e, "lr")
    with pytest.raises(TypeError) as e:
        _core.Sgd(net, 0.1, nesterov="no")
    check(e, "nesterov")
    sgd = _core.Sgd(net, 0.1)
    with pytest.raises(ValueError) as e:
        sgd.set_lr(0.0)
    check(e, "lr")
    for bs, exc in [(0, ValueError), (10**15, ValueError), (2**30, MemoryError), ("8", TypeError)]:
        with pytest.raises(exc) as e:
            _core.Trainer(net, sgd, "mse", bs)
        check(e, "batch_size")
    with pytest.raises(ValueError) as e:
        _core.Trainer(other, sgd, "mse", 4)
    check(e, "sgd")
    with pytest.raises(TypeError):
        _core.Trainer(net, "sgd", "mse", 4)
    tr = _core.Trainer(net, sgd, "cross_entropy", 4)
    X, y = np.ones((6, 3)), np.zeros(6, int)
    with pytest.raises(ValueError) as e:
        tr.run_epoch()
    check(e, "load_data")
    with pytest.raises(ValueError) as e:
        tr.load_data(X, np.full(6, 2))
    check(e, "y", "[0, 2)")
    tr.load_data(X, y)
    for kw, word in [({"seed": -1}, "seed"), ({"epoch": 1.0}, "epoch"), ({"shuffle": 1}, "shuffle")]:
        with pytest.raises((TypeError, ValueError)) as e:
            tr.run_epoch(**kw)
        check(e, word)
    with pytest.raises(ValueError) as e:
        sgd.set_state(net, {"momentum_buffer": []}, 0)
    check(e, "momentum_buffer")
    with pytest.raises(ValueError) as e:
        sgd.set_state(other, {}, 0)
    check(e, "network")
    with pytest.raises(ValueError) as e:
        net.set_flat_params(np.ones(3))
    check(e, "params")
    with pytest.raises(ValueError) as e:
        net.predict(np.ones((2, 3)), "softmax")
    check(e, "loss")
    assert tr.run_epoch()["steps"] == 2


def test_no_bare_runtime_error_class_is_exported():
    assert issubclass(mc.ModelBusyError, RuntimeError) and mc.ModelBusyError is not RuntimeError
    assert issubclass(_core.NativeError, RuntimeError)
    assert issubclass(mc.ModelFileError, ValueError)
