"""mlpcore.sklearn: scikit-learn's estimator checks for every solver,
equivalence with scikit-learn's own MLP (same initial weights, same SGD steps
when not shuffling), weights, early stopping, partial_fit, pipelines,
pickling, threads. L-BFGS: test_sklearn_lbfgs.py; the documented behaviours
one by one: test_sklearn_behaviour.py."""

import io
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes, make_classification, make_multilabel_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mlpcore as mc  # noqa: E402
from mlpcore.sklearn import MLPClassifier, MLPRegressor, expected_failed_checks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# Every solver this version has (Adam once mlpcore.Adam exists).
SOLVERS = ["sgd", "lbfgs"] + (["adam"] if hasattr(mc, "Adam") else [])


@parametrize_with_checks([cls(solver=solver) for solver in SOLVERS for cls in (MLPClassifier, MLPRegressor)],
                         expected_failed_checks=expected_failed_checks, xfail_strict=False)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _both(ours_cls, theirs_cls, X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(solver="sgd", **params).fit(X, y)
        theirs = theirs_cls(solver="sgd", **params).fit(X, y)
    return ours, theirs


# Without shuffling, the same random_state gives scikit-learn's initial weights
# (batch sizes divide the sample counts: a smaller last batch gets scikit-learn's
# alpha / its size there, and alpha / batch_size here, as documented)
# and batches, so both take the same SGD steps up to float32 rounding. This pins
# the alpha -> weight-decay mapping (weights only, / batch size), the loss and
# gradient scaling, momentum and Nesterov, and the learning-rate schedules.
@pytest.mark.parametrize("params", [
    dict(activation="tanh", alpha=0.01, momentum=0.9, nesterovs_momentum=True),
    dict(activation="relu", alpha=0.1, momentum=0.5, nesterovs_momentum=False),
    dict(activation="logistic", alpha=0.0, momentum=0.0, learning_rate="invscaling", power_t=0.25),
    dict(activation="identity", alpha=1e-3, momentum=0.9),
])
def test_regressor_follows_sklearn_steps(diabetes, params):
    X, y = diabetes
    common = dict(hidden_layer_sizes=(20, 10), shuffle=False, random_state=3, max_iter=8, batch_size=50,
                  learning_rate_init=0.01)
    ours, theirs = _both(MLPRegressor, SkMLPRegressor, X, y, **common, **params)
    assert ours.n_iter_ == theirs.n_iter_ == 8
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=2e-3)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-3, atol=1e-4)


def test_regressor_multi_output_follows_sklearn_steps(diabetes):
    X, y = diabetes
    Y = np.column_stack([y, -0.5 * y, y ** 2])
    ours, theirs = _both(MLPRegressor, SkMLPRegressor, X, Y, hidden_layer_sizes=(16,), shuffle=False,
                         random_state=0, max_iter=6, batch_size=40, alpha=0.01, learning_rate_init=0.005)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=2e-3)
    assert ours.predict(X).shape == (len(X), 3)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
def test_classifier_follows_sklearn_steps(digits, kind):
    X, y = digits
    if kind == "binary":
        y = np.where(y % 2 == 0, "even", "odd")
    elif kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=300, n_features=12, n_classes=4, random_state=0)
        X = X / X.max()
    ours, theirs = _both(MLPClassifier, SkMLPClassifier, X, y, hidden_layer_sizes=(24,), shuffle=False,
                         random_state=1, max_iter=6, batch_size=30, alpha=0.01, learning_rate_init=0.05)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=5e-5)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=2e-3)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_shuffled_training_learns_digits(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.05, max_iter=40, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.97
    assert clf.loss_curve_[-1] < 0.3 * clf.loss_curve_[0]
    assert clf.n_features_in_ == 64 and len(clf.coefs_) == 2 and clf.coefs_[0].shape == (64, 64)
    again = MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.05, max_iter=40, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], again.coefs_[0])  # seeded: reproducible


def test_stops_when_loss_stalls_like_sklearn(diabetes):
    X, y = diabetes
    reg = MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, tol=1e-2, n_iter_no_change=3,
                       max_iter=500, random_state=0).fit(X, y)
    assert reg.n_iter_ < 500
    curve = np.array(reg.loss_curve_)
    # the last n_iter_no_change + 1 epochs did not beat the best loss before them by tol
    assert (curve[-4:] > reg.best_loss_ - 1e-2).all()
    assert reg.best_loss_ == pytest.approx(curve.min())


def test_adaptive_learning_rate_divides_by_five(diabetes, capsys):
    X, y = diabetes
    MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01, tol=1e-1,
                 n_iter_no_change=2, max_iter=60, random_state=0, verbose=True).fit(X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out
    assert "Setting learning rate to 0.002000" in out


def test_sample_weight_equals_repeated_rows_at_float32_precision(diabetes):
    X, y = diabetes
    X, y = X[:60], y[:60]
    w = np.random.default_rng(0).integers(0, 4, len(X))
    params = dict(hidden_layer_sizes=(10,), alpha=0.05, max_iter=30, random_state=0, learning_rate_init=0.01)
    weighted = MLPRegressor(**params).fit(X, y, sample_weight=w)
    repeated = MLPRegressor(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-5, atol=1e-5)
    unweighted = MLPRegressor(**params).fit(X, y)
    assert np.abs(unweighted.predict(X) - weighted.predict(X)).max() > 1e-3


def test_class_weight():
    X, y = make_classification(n_samples=600, n_features=10, weights=[0.9, 0.1], random_state=0)
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.02, max_iter=60, random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    balanced = MLPClassifier(class_weight="balanced", **params).fit(X, y)
    recall = lambda est: (est.predict(X)[y == 1] == 1).mean()  # noqa: E731
    assert recall(balanced) > recall(plain)
    # a dict of class weights is the same as the matching sample weights
    as_dict = MLPClassifier(class_weight={0: 1.0, 1: 3.0}, **params).fit(X, y)
    as_sw = MLPClassifier(**params).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    np.testing.assert_array_equal(as_dict.coefs_[0], as_sw.coefs_[0])
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1])


def test_early_stopping_restores_best_and_records_validation_curves(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.3, momentum=0.9, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=4, max_iter=200, random_state=0).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == len(clf.loss_curve_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    # The held-out split is scikit-learn's (stratified, from random_state after the
    # initial weights): rebuild it and check the restored weights score the best.
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state

    rng = check_random_state(0)
    units = [64, 32, 10]
    for a, b in zip(units[:-1], units[1:]):
        rng.uniform(size=(a, b)), rng.uniform(size=b)
    _, X_val, _, y_val = train_test_split(X, y, random_state=rng, test_size=0.2, stratify=y)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)


def test_validation_data_records_curves(diabetes):
    X, y = diabetes
    reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=15, random_state=0)
    reg.fit(X[:300], y[:300], validation_data=(X[300:], y[300:]))
    assert len(reg.validation_loss_curve_) == len(reg.validation_scores_) == reg.n_iter_ == 15
    # (scored against float32 targets, as the native loss sees them)
    assert reg.validation_scores_[-1] == pytest.approx(reg.score(X[300:], y[300:]), abs=1e-6)
    half_mse = 0.5 * np.mean((reg.predict(X[300:]) - y[300:]) ** 2)
    assert reg.validation_loss_curve_[-1] == pytest.approx(half_mse, rel=1e-4)


def test_partial_fit(digits):
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.05, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:100], y[:100], classes=np.arange(10))
    first = clf.loss_curve_[-1]
    for _ in range(15):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 16 and clf.t_ == 100 + 15 * len(X)
    assert clf.loss_curve_[-1] < 0.5 * first
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        clf.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0).partial_fit(X[:50], y[:50].astype(float))
    assert reg.n_iter_ == 1


def test_warm_start_continues(diabetes):
    X, y = diabetes
    reg = MLPRegressor(hidden_layer_sizes=(8,), warm_start=True, max_iter=5, random_state=0,
                       learning_rate_init=0.01, tol=0.0).fit(X, y)
    before = reg.loss_curve_[-1]
    reg.fit(X, y)
    assert len(reg.loss_curve_) == 10 and reg.n_iter_ == 5 and reg.loss_curve_[5] < before * 1.05
    cold = MLPRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0, learning_rate_init=0.01,
                        tol=0.0).fit(X, y).fit(X, y)
    assert len(cold.loss_curve_) == 5


def test_pipeline_and_grid_search(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=30, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (48,)],
                               "mlpclassifier__learning_rate_init": [0.001, 0.05]}, cv=3)
    grid.fit(X, y)
    assert grid.best_params_ == {"mlpclassifier__hidden_layer_sizes": (48,),
                                 "mlpclassifier__learning_rate_init": 0.05}
    assert grid.score(X, y) > 0.95


def test_pickle_with_joblib(digits, tmp_path):
    joblib = pytest.importorskip("joblib")
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.05, max_iter=10,
                        random_state=0).fit(X, y)
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    for _ in range(3):
        loaded.partial_fit(X, y)  # training goes on from the loaded weights
    assert loaded.loss_curve_[:10] == clf.loss_curve_ and loaded.loss_curve_[-1] < clf.loss_curve_[-1]
    buf = io.BytesIO()
    joblib.dump(MLPRegressor(), buf)  # unfitted estimators pickle too


def test_bad_parameters_name_themselves(digits):
    X, y = digits
    for params, name in [(dict(solver="newton-cg"), "solver"), (dict(activation="softmax"), "activation"),
                         (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"), (dict(momentum=1.5), "momentum"),
                         (dict(learning_rate_init=0), "learning_rate_init"), (dict(batch_size="big"), "batch_size"),
                         (dict(learning_rate="cyclic"), "learning_rate")]:
        with pytest.raises(ValueError, match=name):
            MLPClassifier(**params).fit(X, y)


def test_divergence_raises_value_error(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="non-finite"):
        MLPRegressor(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=50.0, max_iter=50,
                     random_state=0).fit(X, y * 1e3)


def test_threadpoolctl_controls_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not mc.config()["openmp"]:
        pytest.skip("built without OpenMP")
    before = mc.get_num_threads()
    openmp = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "openmp"]
    assert openmp, "threadpoolctl does not see the OpenMP runtime mlpcore uses"
    with threadpoolctl.threadpool_limits(limits=1):
        assert mc.get_num_threads() == 1
        X, y = load_diabetes(return_X_y=True)
        MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
        assert mc.get_num_threads() == 1
    assert mc.get_num_threads() == before
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert mc.get_num_threads() == 1
    assert mc.get_num_threads() == before


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_validation_scores_are_accuracy(kind):
    if kind == "multilabel":
        X, y = make_multilabel_classification(n_samples=300, n_features=10, n_classes=3, random_state=0)
    else:
        X, y = make_classification(n_samples=300, n_features=10, n_informative=5,
                                   n_classes=2 if kind == "binary" else 4, random_state=0)
    w = np.random.default_rng(0).random(100)
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.02, max_iter=5, random_state=0)
    clf.fit(X[:200], y[:200], validation_data=(X[200:], y[200:], w))
    # (weights kept as float32 for the native core)
    assert clf.validation_scores_[-1] == pytest.approx(clf.score(X[200:], y[200:], sample_weight=w), abs=1e-7)


def test_plot_history_of_an_estimator(digits, tmp_path):
    pytest.importorskip("matplotlib")
    X, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.05, max_iter=5, random_state=0)
    clf.fit(X[:400], y[:400], validation_data=(X[400:], y[400:]))
    fig = mc.plot_history(clf, tmp_path / "clf.png")
    assert [ax.get_title() for ax in fig.axes] == ["loss", "score"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), clf.loss_curve_)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), clf.validation_loss_curve_)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), clf.validation_scores_)
