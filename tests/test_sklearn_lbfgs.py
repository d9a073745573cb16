"""mlpcore.sklearn with solver="lbfgs": the full-batch objective against a
float64 reference of scikit-learn's (every ISA, several chunks, sample weights,
every output kind), fits against scikit-learn's own L-BFGS, its warnings,
errors and attributes, dtypes, threads."""

import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
pytest.importorskip("scipy")

from sklearn.datasets import load_diabetes, load_digits, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402

import mlpcore as mc  # noqa: E402
import mlpcore.sklearn as mcs  # noqa: E402
from mlpcore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

HIDDEN = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "logistic": lambda z: 1 / (1 + np.exp(-z)),
          "identity": lambda z: z}
HIDDEN_DERIVATIVE = {"relu": lambda a: (a > 0) * 1.0, "tanh": lambda a: 1 - a ** 2,
                     "logistic": lambda a: a * (1 - a), "identity": lambda a: np.ones_like(a)}


def sklearn_objective(pairs, activation, output, X, Y, sample_weight, alpha):
    """scikit-learn's L-BFGS loss and gradient (its _backprop), in float64:
    Y is one-hot (softmax), 0/1 columns (logistic) or targets (identity)."""
    w = np.ones(len(X)) if sample_weight is None else sample_weight.astype(np.float64)
    outs = [X.astype(np.float64)]
    for l, (W, b) in enumerate(pairs):
        z = outs[-1] @ W + b
        if l < len(pairs) - 1:
            outs.append(HIDDEN[activation](z))
        elif output == "softmax":
            e = np.exp(z - z.max(1, keepdims=True))
            outs.append(e / e.sum(1, keepdims=True))
        elif output == "logistic":
            outs.append(1 / (1 + np.exp(-z)))
        else:
            outs.append(z)
    p = outs[-1]
    if output == "softmax":
        loss = np.average(-(Y * np.log(p)).sum(1), weights=w)
    elif output == "logistic":
        loss = np.average(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(1), weights=w)
    else:  # half the squared error, averaged over rows and outputs (scikit-learn's value)
        loss = 0.5 * np.average((Y - p) ** 2, weights=w, axis=0).mean()
    sw_sum = w.sum()
    loss += 0.5 * alpha * sum((W ** 2).sum() for W, _ in pairs) / sw_sum
    delta = (p - Y) * w[:, None]  # the gradient of the loss summed over outputs
    grads = [None] * len(pairs)
    for l in range(len(pairs) - 1, -1, -1):
        W = pairs[l][0]
        grads[l] = ((outs[l].T @ delta + alpha * W) / sw_sum, delta.sum(0) / sw_sum)
        if l:
            delta = (delta @ W.T) * HIDDEN_DERIVATIVE[activation](outs[l])
    packed = np.concatenate([g.ravel() for g, _ in grads] + [g for _, g in grads])
    return loss, packed


def fitted_objective(est, X, y, sample_weight=None):
    """The estimator's full-batch objective for (X, y), and its starting point."""
    X32, targets, sw, _ = est._validate_training_data(X, y, sample_weight, False, False, None)
    obj = mcs._FullBatchObjective(est, X32, est._native_targets(targets), sw)
    return obj, obj.pack(est._model.get_weights())


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression", "multi-output"])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_matches_sklearns_in_float64(isa, monkeypatch, kind, weighted):
    rng = np.random.default_rng(7)
    n, d = 301, 13  # chunks of 47 rows (a last one of 19): combined by their rows
    X = rng.normal(size=(n, d))
    if kind == "multiclass":
        y = rng.integers(0, 5, n)
        Y = np.eye(5)[y]
        est, output = MLPClassifier(hidden_layer_sizes=(17, 9), activation="tanh"), "softmax"
    elif kind == "binary":
        y = rng.integers(0, 2, n)
        Y = y[:, None] * 1.0
        est, output = MLPClassifier(hidden_layer_sizes=(17,), activation="logistic"), "logistic"
    elif kind == "multilabel":
        Y = (rng.random((n, 3)) > 0.6) * 1.0
        y = Y.astype(int)
        est, output = MLPClassifier(hidden_layer_sizes=(17,), activation="relu"), "logistic"
    else:
        Y = rng.normal(size=(n, 1 if kind == "regression" else 3))
        y = Y.ravel() if kind == "regression" else Y
        est, output = MLPRegressor(hidden_layer_sizes=(17, 5), activation="relu"), "identity"
    sw = rng.integers(0, 4, n).astype(np.float64) if weighted else None
    est.set_params(solver="lbfgs", alpha=0.3, max_iter=1, random_state=0).fit(X, y)
    monkeypatch.setattr(mcs, "_FULL_BATCH_CHUNK_FLOATS", 47 * (d + 17 + 9 + 5 + 2 * 17))
    obj, x = fitted_objective(est, X, y, sw)
    assert len(obj.chunks) > 1
    x = x + rng.normal(scale=0.1, size=x.shape)  # a point away from the fit
    loss, grad = obj(x)
    pairs = [(w.astype(np.float64), b.astype(np.float64)) for w, b in obj.unpack(x)]
    ref_loss, ref_grad = sklearn_objective(pairs, est.activation, output, X.astype(np.float32), Y, sw, 0.3)
    assert loss == pytest.approx(ref_loss, rel=2e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-6 * np.abs(ref_grad).max())
    # one chunk: the same to float32 rounding
    monkeypatch.setattr(mcs, "_FULL_BATCH_CHUNK_FLOATS", 1 << 30)
    whole, _ = fitted_objective(est, X, y, sw)
    assert len(whole.chunks) == 1
    assert whole(x)[0] == pytest.approx(loss, rel=1e-6)


@pytest.mark.parametrize("loss,out", [("cross_entropy", 7), ("binary_cross_entropy", 3), ("mse", 2)])
def test_full_batch_gradients_are_backpropagations_without_the_input_gradient(isa, loss, out):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(133, 29)).astype(np.float32)
    y = rng.integers(0, out, 133).astype(np.int32) if loss == "cross_entropy" else \
        (rng.random((133, out)) > 0.5).astype(np.float32)
    w = rng.random(133).astype(np.float32)
    model = mc.Sequential([mc.Dense(37, activation="tanh"), mc.Dense(out)], input_dim=29)
    model.compile(loss=loss)
    for weights in (None, w):
        value, layers = mc._core.full_batch_gradients(model._net, loss, X, y, weights)
        ref_value, ref_layers, _ = mc._core.loss_gradients(model._net, loss, X, y, weights)
        assert value == ref_value
        for (dw, db), (rw, rb) in zip(layers, ref_layers):
            np.testing.assert_array_equal(dw, rw)
            np.testing.assert_array_equal(db, rb)
    with pytest.raises(ValueError, match="X"):
        mc._core.full_batch_gradients(model._net, loss, X[:, :5], y)
    with pytest.raises(ValueError, match="loss"):
        mc._core.full_batch_gradients(model._net, "hinge", X, y)


def test_full_batch_gradients_of_a_sparse_x_are_the_dense_ones_and_its_memory_is_counted():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 7)).astype(np.float32)
    X[X < 0.5] = 0
    y = rng.integers(0, 3, 50).astype(np.int32)
    model = mc.Sequential([mc.Dense(5, activation="relu"), mc.Dense(3)], input_dim=7)
    model.compile(loss="cross_entropy")
    dense = mc._core.full_batch_gradients(model._net, "cross_entropy", X, y)
    sparse = mc._core.full_batch_gradients(model._net, "cross_entropy", sp.csr_matrix(X), y)
    assert dense[0] == sparse[0]
    for (dw, db), (sw, sb) in zip(dense[1], sparse[1]):
        np.testing.assert_array_equal(dw, sw)
        np.testing.assert_array_equal(db, sb)
    # a sparse X's rows count too: the batch is made dense, with the pass's workspace
    wide = mc.Sequential([mc.Dense(200_000, activation="relu"), mc.Dense(3)], input_dim=7)
    wide.compile(loss="cross_entropy")
    rows = 200_000
    with pytest.raises(MemoryError, match="X: the gradients of a batch of 200000 rows"):
        mc._core.full_batch_gradients(wide._net, "cross_entropy", sp.csr_matrix((rows, 7), dtype=np.float32),
                                      np.zeros(rows, np.int32))


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_classifier_follows_sklearns_lbfgs(kind):
    X, y = load_digits(return_X_y=True)
    X, y = X[:500] / 16.0, y[:500]
    if kind == "binary":
        y = np.where(y < 5, "low", "high")
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=300, n_features=12, n_classes=4, random_state=0)
        X = X / X.max()
    params = dict(hidden_layer_sizes=(20,), solver="lbfgs", alpha=1e-3, max_iter=15, random_state=2)
    ours, theirs = MLPClassifier(**params).fit(X, y), SkMLPClassifier(**params).fit(X, y)
    # Same start (scikit-learn's draws), same objective, same L-BFGS: the iterates
    # agree to float32 rounding of the loss and gradient.
    assert ours.n_iter_ == theirs.n_iter_ == 15
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-4)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")
    assert ours.t_ == theirs.t_ == 0


@pytest.mark.parametrize("outputs", [1, 3])
def test_regressor_follows_sklearns_lbfgs(outputs):
    X, y = load_diabetes(return_X_y=True)
    X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    Y = y if outputs == 1 else np.column_stack([y, -0.5 * y, y ** 2])
    w = np.random.default_rng(0).integers(1, 4, len(X))
    params = dict(hidden_layer_sizes=(16, 8), activation="tanh", solver="lbfgs", alpha=1e-2, max_iter=12,
                  random_state=1)
    ours = MLPRegressor(**params).fit(X, Y, sample_weight=w)
    theirs = SkMLPRegressor(**params).fit(X, Y, sample_weight=w)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-4)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3, atol=1e-3)


def test_converges_like_sklearn_to_the_same_fit():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", alpha=1e-2, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        ours = MLPClassifier(max_iter=2000, **params).fit(X, y)
    assert not caught  # converged: no warning
    theirs = SkMLPClassifier(max_iter=2000, **params).fit(X, y)
    assert ours.n_iter_ < 2000 and ours.score(X, y) == theirs.score(X, y) == 1.0
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.05)


@pytest.mark.parametrize("limit", ["max_iter", "max_fun"])
def test_warns_as_sklearn_when_a_limit_stops_it(limit):
    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0, **{limit: 5})
    messages = []
    for cls in (MLPClassifier, SkMLPClassifier):
        with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge") as record:
            est = cls(**params).fit(X / 16.0, y)
        messages.append(str(record[0].message))
        assert est.n_iter_ <= 5
    assert messages[0] == messages[1]


def test_no_partial_fit_as_sklearn():
    for cls in (MLPClassifier, MLPRegressor):
        est = cls(solver="lbfgs")
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as info:
            est.partial_fit
        # scikit-learn's reason, chained
        assert str(info.value.__cause__) == ("partial_fit is only available for stochastic optimizers. "
                                             "lbfgs is not stochastic.")
        assert hasattr(cls(solver="sgd"), "partial_fit")


def test_without_scipy_an_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ImportError, match=r'mlpcore\[sklearn\]'):
        MLPRegressor(solver="lbfgs", max_iter=2).fit(X, y)


def test_warm_start_continues_from_the_fit():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    est = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=10, warm_start=True, random_state=0)
    first = est.fit(X, y).loss_
    second = est.fit(X, y).loss_
    twenty = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=20, random_state=0).fit(X, y).loss_
    assert second < first and second == pytest.approx(twenty, rel=0.2)
    cold = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=10, random_state=0)
    assert cold.fit(X, y).fit(X, y).loss_ == first  # refits from the same start


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_as_sklearn(dtype):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(dtype)
    ours = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    theirs = SkMLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    assert ours.coefs_[0].dtype == theirs.coefs_[0].dtype == np.float64  # scipy's iterate
    assert ours.predict_proba(X).dtype == theirs.predict_proba(X).dtype


def test_validation_data_is_for_stochastic_solvers():
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(ValueError, match="validation_data"):
        MLPRegressor(solver="lbfgs").fit(X[:300], y[:300], validation_data=(X[300:], y[300:]))


def test_same_fit_on_one_and_two_threads():
    if not mc.config()["openmp"]:
        pytest.skip("built without OpenMP")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 40))
    y = (X[:, :4].sum(1) > 0).astype(int) + (X[:, 4] > 1)
    before = mc.get_num_threads()
    fits = []
    try:
        for threads in (1, 2):
            mc.set_num_threads(threads)
            fits.append(MLPClassifier(hidden_layer_sizes=(64, 32), solver="lbfgs", max_iter=10,
                                      random_state=0).fit(X, y))
    finally:
        mc.set_num_threads(before)
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_, fits[1].coefs_ + fits[1].intercepts_):
        np.testing.assert_array_equal(a, b)


def test_objective_beyond_float32_is_infinite_and_zero_weights_are_refused():
    X, y = load_diabetes(return_X_y=True)
    est = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=1, random_state=0).fit(X, y)
    obj, x = fitted_objective(est, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning from the float32 cast either
        loss, grad = obj(np.full_like(x, 1e39))
    assert loss == np.inf and np.isnan(grad).all()
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    targets = np.ascontiguousarray(y.reshape(-1, 1), dtype=np.float32)
    with pytest.raises(ValueError, match="sample_weight"):
        mcs._FullBatchObjective(est, X32, targets, np.zeros(len(X), np.float32))
