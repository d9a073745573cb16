"""ONNX export: onnxruntime's outputs equal mlpcore's predict (rtol 1e-5, atol
1e-6: onnxruntime's Sigmoid and Tanh are approximations) for every activation
and loss, batches of 1 and 1,000, before and after training; the scikit-learn
estimators' labels equal predict, also inside a Pipeline converted by skl2onnx."""

import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mlpcore as mc

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RTOL, ATOL = 1e-5, 1e-6
ACTIVATIONS = ["relu", "sigmoid", "tanh", "identity"]
LOSSES = ["mse", "cross_entropy", "binary_cross_entropy"]


def session(model_bytes):
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def exported(model, **kw) -> bytes:
    buf = io.BytesIO()
    model.to_onnx(buf, **kw)
    return buf.getvalue()


def targets(rng, loss, rows, out):
    if loss == "cross_entropy":
        return rng.integers(0, out, rows)
    if loss == "binary_cross_entropy":
        return (rng.random((rows, out)) > 0.5).astype(np.float32)
    return rng.normal(size=(rows, out)).astype(np.float32)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_sequential_matches_predict(act, loss):
    rng = np.random.default_rng(len(act) * 7 + len(loss))
    model = mc.Sequential([mc.Dense(24, act, input_dim=9), mc.Dense(16, act), mc.Dense(4)], seed=1)
    model.compile(loss, mc.SGD(lr=0.05, momentum=0.9))
    X1000 = rng.normal(size=(1000, 9)).astype(np.float32)
    X1 = rng.normal(size=(1, 9)).astype(np.float32)
    for trained in (False, True):
        if trained:
            model.fit(X1000, targets(rng, loss, 1000, 4), epochs=2, batch_size=64, verbose=0)
        sess = session(exported(model))
        for X in (X1, X1000):
            (out,) = sess.run(None, {"input": X})
            assert out.shape == (X.shape[0], 4) and out.dtype == np.float32
            np.testing.assert_allclose(out, model.predict(X), rtol=RTOL, atol=ATOL,
                                       err_msg=f"{act}/{loss}, trained={trained}, batch {X.shape[0]}")


def test_graph_names_metadata_and_checker(tmp_path):
    model = mc.Sequential([mc.Dense(5, "relu", input_dim=3), mc.Dense(4, "tanh"), mc.Dense(3, "softmax")], seed=0)
    model.compile("cross_entropy")
    path = tmp_path / "model.onnx"
    proto = model.to_onnx(path)
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded.SerializeToString() == proto.SerializeToString()
    assert [o.version for o in loaded.opset_import if o.domain == ""] == [17]
    graph = loaded.graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = [n.op_type for n in graph.node]
    assert ops == ["Gemm", "Relu", "Gemm", "Tanh", "Gemm", "Identity", "Softmax"]
    meta = {p.key: p.value for p in loaded.metadata_props}
    assert meta["mlpcore_version"] == mc.__version__
    assert meta["loss"] == "cross_entropy"
    assert json.loads(meta["classes"]) == [0, 1, 2]
    assert json.loads(meta["layers"])[2] == {"units": 3, "activation": "softmax"}
    assert loaded.producer_name == "mlpcore"
    # mc.onnx.export writes the same file.
    other = tmp_path / "other.onnx"
    mc.onnx.export(model, str(other))
    assert other.read_bytes() == path.read_bytes()


def test_binary_output_and_uncompiled_softmax():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    bce = mc.Sequential([mc.Dense(3, "tanh", input_dim=4), mc.Dense(1, "sigmoid")], seed=2)
    bce.compile("binary_cross_entropy")
    proto = onnx.load_from_string(exported(bce))
    assert proto.graph.node[-1].op_type == "Sigmoid"
    assert json.loads({p.key: p.value for p in proto.metadata_props}["classes"]) == [0, 1]
    np.testing.assert_allclose(session(proto.SerializeToString()).run(None, {"input": X})[0], bce.predict(X),
                               rtol=RTOL, atol=ATOL)
    raw = mc.Sequential([mc.Dense(3, "softmax", input_dim=4)], seed=2)  # built, never compiled
    raw.build(4)
    out = session(exported(raw)).run(None, {"input": X})[0]
    np.testing.assert_allclose(out, raw.predict(X), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("opset", [13, 15, 17, 18])
def test_opsets(opset):
    model = mc.Sequential([mc.Dense(4, "sigmoid", input_dim=2), mc.Dense(2)], seed=0)
    model.compile("cross_entropy")
    data = exported(model, opset=opset)
    assert [o.version for o in onnx.load_from_string(data).opset_import] == [opset]
    X = np.random.default_rng(1).normal(size=(7, 2)).astype(np.float32)
    np.testing.assert_allclose(session(data).run(None, {"input": X})[0], model.predict(X), rtol=RTOL, atol=ATOL)


def test_bad_input(monkeypatch, tmp_path):
    model = mc.Sequential([mc.Dense(2, input_dim=2)], seed=0)
    model.compile("mse")
    for opset in (12, 0, onnx.defs.onnx_opset_version() + 1):
        with pytest.raises(ValueError, match="opset"):
            model.to_onnx(io.BytesIO(), opset=opset)
    for opset in ("17", 17.0, True, None):
        with pytest.raises(TypeError, match="opset"):
            model.to_onnx(io.BytesIO(), opset=opset)
    with pytest.raises(TypeError, match="path"):
        model.to_onnx(17)
    unbuilt = mc.Sequential([mc.Dense(2)])
    with pytest.raises(mc.NotBuiltError):
        unbuilt.to_onnx(io.BytesIO())
    with pytest.raises(TypeError, match="model"):
        mc.onnx.export("not a model", tmp_path / "x.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if onnx were not installed
    with pytest.raises(ImportError, match=r"mlpcore\[onnx\]"):
        model.to_onnx(io.BytesIO())


# ---------------------------------------------------------------- scikit-learn

def fitted(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: a few iterations are enough here
        return est.fit(X, y)


CLASSIFIER_TARGETS = {
    "multiclass": lambda rng, n: rng.integers(0, 4, n),
    "binary": lambda rng, n: rng.integers(0, 2, n) * 3 + 1,
    "strings": lambda rng, n: np.array(["cat", "dog", "emu"])[rng.integers(0, 3, n)],
    "floats": lambda rng, n: rng.integers(0, 3, n) * 1.0,
    "bools": lambda rng, n: rng.integers(0, 2, n).astype(bool),
    "multilabel": lambda rng, n: (rng.random((n, 3)) > 0.5).astype(int),
    "one class": lambda rng, n: np.full(n, 7),
}


@pytest.mark.parametrize("kind", CLASSIFIER_TARGETS)
def test_classifier_labels_and_probabilities(kind):
    sk = pytest.importorskip("mlpcore.sklearn")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1000, 6))
    y = CLASSIFIER_TARGETS[kind](rng, 1000)
    clf = fitted(sk.MLPClassifier((12,), activation="tanh", max_iter=5, random_state=0), X, y)
    proto = clf.to_onnx(io.BytesIO())
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == clf.classes_.tolist()
    sess = session(proto.SerializeToString())
    for rows in (X[:1], X):
        label, proba = sess.run(None, {"X": rows.astype(np.float32)})
        expected = clf.predict(rows)
        assert label.shape == expected.shape
        np.testing.assert_array_equal(label, expected)
        assert label.dtype.kind == expected.dtype.kind or (label.dtype == object and expected.dtype.kind == "U")
        np.testing.assert_allclose(proba, clf.predict_proba(rows), rtol=RTOL, atol=ATOL)


def test_unfitted_estimator():
    sk = pytest.importorskip("mlpcore.sklearn")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        sk.MLPClassifier().to_onnx(io.BytesIO())
    with pytest.raises(ValueError, match="opset"):
        sk.MLPRegressor().to_onnx(io.BytesIO(), opset=9)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("outputs", [1, 2])
def test_regressor(outputs, loss):
    sk = pytest.importorskip("mlpcore.sklearn")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1000, 5))
    y = rng.normal(size=1000) if outputs == 1 else rng.normal(size=(1000, 2))
    if loss == "poisson":
        y = rng.poisson(2.0, size=y.shape).astype(float)  # predictions are exp of the outputs
    reg = fitted(sk.MLPRegressor((10, 7), activation="relu", max_iter=5, random_state=0, loss=loss), X, y)
    sess = session(reg.to_onnx(io.BytesIO()).SerializeToString())
    for rows in (X[:1], X):
        (pred,) = sess.run(None, {"X": rows.astype(np.float32)})
        assert pred.shape == reg.predict(rows).shape
        np.testing.assert_allclose(pred, reg.predict(rows), rtol=RTOL, atol=ATOL)


def test_pipeline_through_skl2onnx():
    sk = pytest.importorskip("mlpcore.sklearn")
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 4)) * 3 + 1
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 400)]
    pipe = fitted(make_pipeline(StandardScaler(), sk.MLPClassifier((8,), max_iter=5, random_state=0)), X, y)
    X32 = X.astype(np.float32)
    clf = pipe.steps[-1][1]
    onx = skl2onnx.to_onnx(pipe, X32[:1], target_opset=17, options={id(clf): {"zipmap": False}})
    label, proba = session(onx.SerializeToString()).run(None, {"X": X32})
    np.testing.assert_array_equal(label, pipe.predict(X32))
    np.testing.assert_allclose(proba, pipe.predict_proba(X32), rtol=RTOL, atol=ATOL)
    # skl2onnx's default ZipMap: one {class: probability} per row.
    onx = skl2onnx.to_onnx(pipe, X32[:1], target_opset=17)
    label, maps = session(onx.SerializeToString()).run(None, {"X": X32[:3]})
    np.testing.assert_array_equal(label, pipe.predict(X32[:3]))
    assert set(maps[0]) == {"a", "b", "c"}

    yr = X @ np.array([0.5, -1.0, 2.0, 0.1])
    reg = fitted(make_pipeline(StandardScaler(), sk.MLPRegressor((8,), max_iter=5, random_state=0)), X, yr)
    onx = skl2onnx.to_onnx(reg, X32[:1], target_opset=17)
    (pred,) = session(onx.SerializeToString()).run(None, {"X": X32})
    np.testing.assert_allclose(pred[:, 0], reg.predict(X32), rtol=RTOL, atol=ATOL)


def test_converter_registered_after_skl2onnx_import():
    """Importing mlpcore.sklearn does not import skl2onnx (seconds); importing
    skl2onnx afterwards registers the converters."""
    pytest.importorskip("sklearn")
    pytest.importorskip("skl2onnx")
    code = ("import sys, mlpcore.sklearn, mlpcore.onnx as o\n"
            "assert 'skl2onnx' not in sys.modules and not o._registered\n"
            "import skl2onnx\n"
            "from skl2onnx._supported_operators import sklearn_operator_name_map as m\n"
            "assert o._registered and m[mlpcore.sklearn.MLPClassifier] == 'MlpcoreMLPClassifier'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
