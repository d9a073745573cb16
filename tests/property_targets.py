"""Property targets shared by tests/test_properties.py (a fixed number of
examples per test) and bench/fuzz.py (as many as a time budget allows).

Each target is a hypothesis strategy that draws one call of the public API and
a check that runs it: the result must be right (against a float64 numpy
reference where there is one) or the call must raise one of the clean
exceptions below. Anything else (a RuntimeError, SystemError, wrong numbers or
a crash of the interpreter) is a bug.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import mlpcore as mc
from mlpcore import _core

# What bad input may raise. FloatingPointError is fit's divergence error.
CLEAN = (TypeError, ValueError, MemoryError, FloatingPointError)

REAL_DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int32, np.int64, np.uint8, np.bool_]
OTHER_DTYPES = [np.complex64, np.complex128, np.object_, np.str_, np.bytes_, "datetime64[s]"]
ACTIVATIONS = ["identity", "relu", "sigmoid", "tanh"]

# Values worth trying as any argument: wrong types, edge numbers, odd containers.
JUNK = st.sampled_from([
    None, True, False, 0, -1, 1, 2**31, 2**63, 2**64, -(2**63), 10**30, 0.0, -0.0, 0.5, 1e-45, 1e39,
    float("nan"), float("inf"), -float("inf"), 1j, "", "relu", "mse", "\x00", b"bytes", [], [1, 2], [[1.0]],
    (), {}, {"a": 1}, set(), object(), np.float32(2.5), np.int64(-3), np.bool_(True), np.array(3.0),
    np.array([]), np.zeros((0, 0)), np.zeros((2, 3, 4)), np.array([np.nan]), np.array(["a"]),
    np.array([1 + 2j]), np.array([None], dtype=object), slice(1, 2), Ellipsis, type, print,
])


def as_layout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout (the checks must not care)."""
    if arr.ndim == 0 or arr.size == 0:
        return arr
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "reversed":
        return np.ascontiguousarray(arr[::-1])[::-1]
    if layout == "strided":
        wide = np.repeat(arr, 2, axis=-1)
        return wide[..., ::2]
    return arr


LAYOUTS = st.sampled_from(["c", "fortran", "reversed", "strided"])


def finite_values(dtype, scale=4.0):
    if np.dtype(dtype).kind == "b":
        return st.booleans()
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(max(info.min, -20), min(info.max, 20))
    return st.floats(-scale, scale, width=16 if dtype == np.float16 else 32)


@st.composite
def real_array(draw, shape, allow_nonfinite=False):
    dtype = draw(st.sampled_from(REAL_DTYPES))
    elements = finite_values(dtype)
    if allow_nonfinite and np.dtype(dtype).kind == "f" and draw(st.booleans()):
        elements = st.floats(width=16 if dtype == np.float16 else 32)
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    return as_layout(arr, draw(LAYOUTS))


# ---------------------------------------------------------------- matmul
@st.composite
def matmul_cases(draw):
    m, k, n = (draw(st.integers(0, 33)) for _ in range(3))
    trans_a, trans_b = draw(st.booleans()), draw(st.booleans())
    a_shape = (k, m) if trans_a else (m, k)
    b_shape = (n, k) if trans_b else (k, n)
    if draw(st.integers(0, 9)) == 0:  # an inner dimension that does not fit
        b_shape = (n, k + 1) if trans_b else (k + 1, n)
    a = draw(real_array(a_shape, allow_nonfinite=True))
    b = draw(real_array(b_shape, allow_nonfinite=True))
    alpha = draw(st.floats(-3, 3, width=32))
    c = None
    beta = 0.0
    if draw(st.booleans()):
        c = draw(real_array((m, n)))
        beta = draw(st.floats(-3, 3, width=32))
    return a, b, trans_a, trans_b, alpha, beta, c


TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32


def as_core_sees_it(x):
    """float32 values as native compute reads them: subnormals are 0 while it
    flushes them (mc.set_flush_denormal, on by default), in float64."""
    x = np.asarray(x, np.float32).astype(np.float64)
    return np.where(np.abs(x) < TINY, 0.0, x) if mc.config()["flush_denormal"] else x


def check_matmul(case):
    a, b, trans_a, trans_b, alpha, beta, c = case
    a64, b64 = as_core_sees_it(a), as_core_sees_it(b)
    opa, opb = (a64.T if trans_a else a64), (b64.T if trans_b else b64)
    if opa.shape[1] != opb.shape[0]:
        try:
            mc.ops.matmul(a, b, trans_a, trans_b, alpha, beta, c)
        except ValueError as exc:
            assert "b:" in str(exc)
            return
        raise AssertionError("a shape mismatch was accepted")
    a_before, c_before = np.array(a, copy=True), None if c is None else np.array(c, copy=True)
    got = mc.ops.matmul(a, b, trans_a, trans_b, alpha, beta, c)
    assert got.dtype == np.float32 and got.shape == (opa.shape[0], opb.shape[1])
    np.testing.assert_array_equal(a, a_before)  # inputs are never written
    if c is not None:
        np.testing.assert_array_equal(c, c_before)
    if not (np.isfinite(opa).all() and np.isfinite(opb).all()):
        return
    alpha, beta = float(as_core_sees_it(alpha)), float(as_core_sees_it(beta))  # scalars are flushed too
    ref = alpha * (opa @ opb)
    if c is not None:
        ref += beta * as_core_sees_it(c)
    k = opa.shape[1]
    scale = (np.abs(opa).max(initial=0) * np.abs(opb).max(initial=0) * k * abs(alpha)
             + (abs(beta) * np.abs(as_core_sees_it(c)).max(initial=0) if c is not None else 0.0))
    if scale > 1e37:  # float32 may overflow where float64 does not: nothing to compare
        return
    # Each product and partial sum below TINY may be flushed to 0 as well.
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5 * scale + (k + 1) * TINY)


# ---------------------------------------------------------------- activations and softmax
def ref_activation(name, x):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    return x


def ref_derivative_from_output(name, y):
    if name == "relu":
        return (y > 0).astype(np.float64)
    if name == "sigmoid":
        return y * (1 - y)
    if name == "tanh":
        return 1 - y * y
    return np.ones_like(y)


@st.composite
def activation_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    if draw(st.integers(0, 7)) == 0:
        dtype = draw(st.sampled_from(OTHER_DTYPES))
        x = np.zeros(shape, dtype=dtype)
    else:
        x = draw(real_array(shape, allow_nonfinite=True))
    return draw(st.sampled_from(ACTIVATIONS)), x, draw(st.sampled_from(["forward", "backward", "derivative"]))


def check_activation(case):
    name, x, kind = case
    if np.asarray(x).dtype.kind not in "biuf":
        try:
            mc.ops.activation(x, name)
        except TypeError as exc:
            assert "x:" in str(exc)
            return
        raise AssertionError(f"dtype {np.asarray(x).dtype} was accepted")
    x64 = np.asarray(x, np.float32).astype(np.float64)
    finite = np.isfinite(x64)
    if kind == "forward":
        got, ref = mc.ops.activation(x, name), ref_activation(name, x64)
    elif kind == "derivative":
        got = mc.ops.activation_derivative(x, name)
        ref = ref_derivative_from_output(name, ref_activation(name, x64))
        if name == "relu":
            ref = (x64 > 0).astype(np.float64)
    else:
        y = ref_activation(name, np.clip(x64, -5, 5))
        got = mc.ops.activation_backward(name, y, x)
        ref = x64 * ref_derivative_from_output(name, np.asarray(y, np.float32).astype(np.float64))
    assert got.shape == np.shape(x) and got.dtype == np.float32
    np.testing.assert_allclose(got[finite], ref[finite], rtol=2e-5, atol=2e-6)


@st.composite
def softmax_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=12))
    scale = draw(st.sampled_from([1.0, 30.0, 1e4]))
    x = draw(hnp.arrays(np.float32, shape, elements=st.floats(-scale, scale, width=32)))
    return as_layout(x, draw(LAYOUTS))


def check_softmax(x):
    got = mc.ops.softmax(x)
    x64 = np.atleast_2d(np.asarray(x, np.float64))
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    ref = (e / e.sum(axis=1, keepdims=True)).reshape(np.shape(x))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- losses
@st.composite
def loss_cases(draw):
    loss = draw(st.sampled_from(["cross_entropy", "binary_cross_entropy", "mse"]))
    rows, cols = draw(st.integers(0, 12)), draw(st.integers(0, 6))
    logits = draw(real_array((rows, cols)))
    if loss == "cross_entropy" and draw(st.booleans()):
        dtype = draw(st.sampled_from([np.int32, np.int64, np.uint8, np.float64]))
        target = draw(hnp.arrays(dtype, (draw(st.sampled_from([rows, rows, rows + 1])),),
                                 elements=st.integers(0 if dtype == np.uint8 else -1, max(cols, 1))))
    elif loss == "cross_entropy":  # probability rows, sometimes not normalised (refused)
        target = draw(hnp.arrays(np.float64, (rows, cols), elements=st.floats(0, 1)))
        if draw(st.integers(0, 3)) > 0:
            sums = target.sum(axis=1, keepdims=True)
            target = np.where(sums > 0, target / np.where(sums > 0, sums, 1), 1.0 / max(cols, 1))
    elif loss == "binary_cross_entropy" and draw(st.integers(0, 3)) > 0:  # probabilities (else refused)
        target = draw(hnp.arrays(np.float64, (rows, draw(st.sampled_from([cols, cols, cols + 1]))),
                                 elements=st.floats(0, 1)))
    else:
        target = draw(real_array((rows, draw(st.sampled_from([cols, cols, cols + 1])))))
    weight = None
    if draw(st.booleans()):
        weight = draw(hnp.arrays(np.float64, (draw(st.sampled_from([rows, rows, max(rows - 1, 0)])),),
                                 elements=st.floats(-0.5, 3)))
    return loss, logits, target, weight


def ref_loss(loss, z, t, w):
    rows, cols = z.shape
    w = np.ones(rows) if w is None else w
    if loss == "cross_entropy":
        if t.ndim == 1:
            t = np.eye(cols)[t.astype(int)]
        m = z.max(axis=1, keepdims=True)
        logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        per_row = -(t * logp).sum(axis=1)
        grad = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) * w[:, None] / rows
        return (w * per_row).sum() / rows, grad
    if loss == "binary_cross_entropy":
        per = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        grad = (1 / (1 + np.exp(-z)) - t) * w[:, None] / (rows * cols)
        return (w[:, None] * per).sum() / (rows * cols), grad
    grad = 2 * (z - t) * w[:, None] / (rows * cols)
    return (w[:, None] * (z - t) ** 2).sum() / (rows * cols), grad


def check_loss(case):
    loss, logits, target, weight = case
    z = np.asarray(logits, np.float32).astype(np.float64)
    rows, cols = z.shape
    t = np.asarray(target)
    valid = rows > 0 and cols > 0 and t.shape[0] == rows
    if loss == "cross_entropy" and t.ndim == 1:
        valid = valid and t.dtype.kind in "iu" and (t.size == 0 or (t.min() >= 0 and t.max() < cols))
    else:
        valid = valid and t.ndim == 2 and t.shape[1] == cols
        if valid and loss == "cross_entropy":
            tf = np.asarray(t, np.float32).astype(np.float64)
            valid = (tf >= 0).all() and np.allclose(tf.sum(axis=1), 1.0, rtol=0, atol=1e-3)
        if valid and loss == "binary_cross_entropy":
            tf = np.asarray(t, np.float32)
            valid = ((tf >= 0) & (tf <= 1)).all()
    if weight is not None:
        valid = valid and weight.shape == (rows,) and (np.asarray(weight, np.float32) >= 0).all()
    fn = {"cross_entropy": mc.ops.cross_entropy, "binary_cross_entropy": mc.ops.binary_cross_entropy,
          "mse": mc.ops.mse}[loss]
    if not valid:
        try:
            fn(logits, target, weight)
        except (TypeError, ValueError):
            return
        raise AssertionError("invalid loss arguments were accepted")
    value, grad = fn(logits, target, weight)
    t64 = t if t.ndim == 1 else np.asarray(t, np.float32).astype(np.float64)
    w64 = None if weight is None else np.asarray(weight, np.float32).astype(np.float64)
    ref_value, ref_grad = ref_loss(loss, z, t64, w64)
    assert math.isclose(value, ref_value, rel_tol=1e-4, abs_tol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-3, atol=1e-6)


# ---------------------------------------------------------------- the model API
@st.composite
def model_cases(draw):
    features = draw(st.integers(1, 8))
    depth = draw(st.integers(1, 3))
    loss = draw(st.sampled_from(["cross_entropy", "binary_cross_entropy", "mse"]))
    units = [draw(st.integers(1, 12)) for _ in range(depth)]
    acts = [draw(st.sampled_from(ACTIVATIONS)) for _ in range(depth)]
    if loss == "cross_entropy" and draw(st.booleans()):
        acts[-1] = "softmax"
    rows = draw(st.integers(1, 40))
    X = draw(real_array((rows, features), allow_nonfinite=draw(st.integers(0, 9)) == 0))
    out = units[-1]
    if loss == "cross_entropy":
        y = draw(hnp.arrays(np.int64, (rows,), elements=st.integers(0, out - 1 + (draw(st.integers(0, 9)) == 0))))
    elif loss == "binary_cross_entropy":
        y = draw(hnp.arrays(np.float32, (rows, out), elements=st.sampled_from([0.0, 1.0])))
    else:
        y = draw(real_array((rows, out)))
    fit = {"epochs": draw(st.integers(0, 3)), "batch_size": draw(st.integers(1, 50)),
           "shuffle": draw(st.booleans()), "verbose": 0}
    opt = {"lr": draw(st.sampled_from([1e-3, 0.05, 0.5, 5.0, 1e4])), "momentum": draw(st.sampled_from([0.0, 0.9])),
           "weight_decay": draw(st.sampled_from([0.0, 1e-3]))}
    opt["nesterov"] = opt["momentum"] > 0 and draw(st.booleans())
    return features, units, acts, loss, X, y, fit, opt, draw(st.integers(0, 2**64 - 1))


def weights_finite(model):
    return all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in model.get_weights())


def same_outputs(a, b):
    return np.array_equal(a, b, equal_nan=True)


def check_model(case):
    features, units, acts, loss, X, y, fit, opt, seed = case
    model = mc.Sequential([mc.Dense(u, activation=a) for u, a in zip(units, acts)], seed=seed)
    model.compile(loss=loss, optimizer=mc.SGD(**opt))
    try:
        model.fit(X, y, **fit)
    except FloatingPointError:
        assert weights_finite(model)  # divergence leaves finite weights
    except (TypeError, ValueError):
        Xf = np.asarray(X, np.float32)
        labels_bad = loss == "cross_entropy" and np.asarray(y).max() >= units[-1]
        assert not np.isfinite(Xf).all() or labels_bad, "valid data was refused"
        return
    if not model.built:
        return
    assert weights_finite(model)
    Xf = np.asarray(X, np.float32)
    out = model.predict(Xf)
    assert out.shape == (len(Xf), units[-1]) and out.dtype == np.float32
    back = mc.Sequential.from_bytes(model.to_bytes())
    assert same_outputs(back.predict(Xf), out)
    assert back.epochs_done == model.epochs_done


# ---------------------------------------------------------------- junk in any argument
def _fitted():
    m = mc.Sequential([mc.Dense(3, activation="relu", input_dim=2), mc.Dense(2)], seed=0)
    m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1, momentum=0.5))
    m.fit(np.ones((4, 2)), [0, 1, 0, 1], epochs=1, verbose=0)
    return m


_X, _Y = np.ones((4, 2), np.float32), np.array([0, 1, 0, 1])


def _loaded_trainer():
    m = _fitted()
    trainer = _core.Trainer(m._net, m._opt, "cross_entropy", 2)
    trainer.load_data(_X, _Y)
    return trainer


def _f32(n):
    """A parameter or state buffer that an optimizer update writes in place."""
    return np.zeros(n, np.float32)


def _few(epochs):
    """A huge epoch count is valid input that only means a long run: keep it short."""
    return 2 if isinstance(epochs, (int, np.integer)) and not isinstance(epochs, bool) and epochs > 2 else epochs
# Every public callable with good arguments; one of them is replaced by junk.
CALLS = {
    "ops.matmul": (lambda *a: mc.ops.matmul(*a), [np.ones((2, 3)), np.ones((3, 2)), False, False, 1.0, 0.0, None]),
    "ops.activation": (lambda *a: mc.ops.activation(*a), [np.ones(3), "relu"]),
    "ops.activation_backward": (lambda *a: mc.ops.activation_backward(*a), ["tanh", np.ones(3), np.ones(3)]),
    "ops.softmax": (lambda *a: mc.ops.softmax(*a), [np.ones((2, 3))]),
    "ops.cross_entropy": (lambda *a: mc.ops.cross_entropy(*a), [np.ones((2, 3)), np.array([0, 2]), None]),
    "ops.mse": (lambda *a: mc.ops.mse(*a), [np.ones((2, 3)), np.ones((2, 3)), np.ones(2)]),
    "ops.adam_step": (lambda *a: mc.ops.adam_step(*a[:5], lr=a[5], betas=a[6], eps=a[7], weight_decay=a[8],
                                                  amsgrad=a[9], decoupled=a[10], step=a[11]),
                      [_f32(3), np.ones(3), _f32(3), _f32(3), None, 1e-3, (0.9, 0.999), 1e-8, 0.0, False, False, 1]),
    "ops.rmsprop_step": (lambda *a: mc.ops.rmsprop_step(*a[:5], lr=a[5], alpha=a[6], eps=a[7], weight_decay=a[8],
                                                        momentum=a[9], centered=a[10]),
                         [_f32(3), np.ones(3), _f32(3), _f32(3), None, 1e-2, 0.99, 1e-8, 0.0, 0.0, True]),
    "ops.adagrad_step": (lambda *a: mc.ops.adagrad_step(*a[:3], lr=a[3], lr_decay=a[4], weight_decay=a[5], eps=a[6],
                                                        step=a[7]),
                         [_f32(3), np.ones(3), _f32(3), 1e-2, 0.0, 0.0, 1e-10, 1]),
    "Dense": (lambda *a: mc.Dense(a[0], activation=a[1], input_dim=a[2], init=a[3]), [4, "relu", None, "uniform"]),
    "SGD": (lambda *a: mc.SGD(*a), [0.1, 0.9, False, 0.0, 0.0]),
    "Sequential": (lambda *a: mc.Sequential(a[0], input_dim=a[1], seed=a[2]), [[mc.Dense(2)], None, 0]),
    "compile": (lambda *a: _fitted().compile(loss=a[0], optimizer=a[1]), ["mse", "sgd"]),
    "fit": (lambda *a: _fitted().fit(a[0], a[1], epochs=_few(a[2]), batch_size=a[3], shuffle=a[4], verbose=a[5],
                                     sample_weight=a[6], validation_data=a[7]),
            [_X, _Y, 1, 2, True, 0, None, None]),
    "predict": (lambda *a: _fitted().predict(*a), [_X]),
    "evaluate": (lambda *a: _fitted().evaluate(*a), [_X, _Y, None]),
    "set_weights": (lambda *a: _fitted().set_weights(*a), [[(np.ones((2, 3)), np.ones(3)), (np.ones((3, 2)), np.ones(2))]]),
    "save": (lambda *a: _fitted().save(*a), [__import__("io").BytesIO()]),
    "load": (lambda *a: mc.load(*a), ["/nonexistent/file.mlpc"]),
    "set_num_threads": (lambda *a: mc.set_num_threads(*a), [mc.get_num_threads()]),
    "set_isa": (lambda *a: mc.set_isa(*a), [mc.config()["isa"]]),
    "_core.Network": (lambda *a: _core.Network(*a), [2, [3, 2], ["relu", "identity"], ["uniform", "he_uniform"], 0]),
    "_core.Sgd": (lambda *a: _core.Sgd(_core.Network(2, [2], ["relu"], ["uniform"], 0), *a),
                  [0.1, 0.0, 0.0, 0.0, False, True]),
    "_core.Trainer.load_data": (
        lambda *a: _core.Trainer(_fitted()._net, _fitted()._opt, "cross_entropy", 2).load_data(*a),
        [_X, _Y, None]),
    "_core.Trainer.run_epoch": (
        lambda *a: _loaded_trainer().run_epoch(*a), [True, 0, 0]),
    "_core.evaluate": (lambda *a: _core.evaluate(_fitted()._net, *a), ["cross_entropy", _X, _Y, None]),
    "_core.loss": (lambda *a: _core.loss(*a), ["mse", np.ones((2, 2)), np.ones((2, 2)), None]),
    "_core.gemm_fused": (lambda *a: _core.gemm_fused(*a),
                         [np.ones((2, 3)), np.ones((3, 2)), False, False, 1.0, 0.0, None, np.ones(2), "relu", None,
                          True]),
}


@st.composite
def junk_cases(draw):
    name = draw(st.sampled_from(sorted(CALLS)))
    args = list(CALLS[name][1])
    for _ in range(draw(st.integers(1, 2))):
        args[draw(st.integers(0, len(args) - 1))] = draw(JUNK)
    return name, args


def check_junk(case):
    name, args = case
    fn = CALLS[name][0]
    before = mc.get_num_threads(), mc.config()["isa"], os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # a junk string given to save() names a file: keep it out of the way
        try:
            fn(*args)
        except CLEAN:
            pass
        except OSError:
            assert name in ("load", "save")
        finally:
            os.chdir(before[2])
            mc.set_num_threads(before[0])
            mc.set_isa(before[1])


# ---------------------------------------------------------------- load fed arbitrary bytes
def _valid_file() -> bytes:
    return _fitted().to_bytes()


VALID_FILE = None


def reseal(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=8)


@st.composite
def file_cases(draw):
    global VALID_FILE
    if VALID_FILE is None:
        VALID_FILE = _valid_file()
    raw = VALID_FILE
    kind = draw(st.sampled_from(["bytes", "mutate", "mutate_resealed", "header"]))
    if kind == "bytes":
        data = draw(st.binary(max_size=300))
        if draw(st.booleans()):
            data = b"MLPCORE\0" + struct.pack("<IQ", 1, draw(st.integers(0, 2**64 - 1))) + data
        return data if draw(st.booleans()) else reseal(data)
    if kind == "header":
        n = struct.unpack_from("<Q", raw, 12)[0]
        header = json.loads(raw[20:20 + n])
        blobs = raw[20 + n:-32]
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(["top", "layer", "array", "optimizer"]))
            key = draw(st.sampled_from(sorted(header)) | st.text(max_size=5))
            value = draw(JSON_VALUES)
            layers, arrays = header.get("layers"), header.get("arrays")  # an earlier edit may have replaced them
            if path == "top":
                header[key] = value
            elif path == "layer" and isinstance(layers, list) and layers and isinstance(layers[0], dict):
                layers[0][draw(st.sampled_from(["units", "activation", "init"]))] = value
            elif path == "array" and isinstance(arrays, list) and arrays and isinstance(arrays[-1], dict):
                arrays[draw(st.sampled_from([0, len(arrays) - 1]))][draw(st.sampled_from(["name", "shape"]))] = value
            elif isinstance(header.get("optimizer"), dict):
                header["optimizer"][draw(st.sampled_from(["lr", "momentum", "nesterov", "decay_bias", "x"]))] = value
        text = json.dumps(header).encode()
        return reseal(b"MLPCORE\0" + struct.pack("<IQ", 1, len(text)) + text + blobs)
    data = bytearray(raw[:-32] if kind == "mutate_resealed" else raw)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return reseal(bytes(data)) if kind == "mutate_resealed" else bytes(data)


def check_file(data):
    try:
        model = mc.Sequential.from_bytes(data)
    except mc.ModelFileError:
        return
    # Whatever loads must be a whole, usable model.
    if model.built:
        assert weights_finite(model)
        out = model.predict(np.ones((2, model.input_dim), np.float32))
        assert out.shape == (2, model.output_dim)
    mc.Sequential.from_bytes(model.to_bytes())


TARGETS = {
    "matmul": (matmul_cases(), check_matmul),
    "activation": (activation_cases(), check_activation),
    "softmax": (softmax_cases(), check_softmax),
    "loss": (loss_cases(), check_loss),
    "model": (model_cases(), check_model),
    "junk": (junk_cases(), check_junk),
    "load": (file_cases(), check_file),
}
