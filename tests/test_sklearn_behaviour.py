"""mlpcore.sklearn behaves as scikit-learn's MLPs in their documented ways,
each checked against scikit-learn's own estimator where they can agree:
convergence warnings, n_iter_no_change=np.inf, the learning-rate schedules,
early stopping and its split, warm_start, partial_fit (and N partial_fit
calls == fit(max_iter=N), bit for bit), dtypes, the error messages users match
on, divergence under early stopping; and the Adam solver once mlpcore.Adam
exists."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402

import mlpcore as mc  # noqa: E402
from mlpcore.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

needs_adam = pytest.mark.skipif(not hasattr(mc, "Adam"), reason="mlpcore.Adam is not in this version")


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


# ---------------------------------------------------------------- stopping


@pytest.mark.parametrize("n_iter_no_change", [10, np.inf])
def test_convergence_warning_when_max_iter_ends_the_fit(diabetes, n_iter_no_change):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=12, learning_rate_init=0.01, random_state=0,
                  n_iter_no_change=n_iter_no_change)
    for cls in (MLPRegressor, SkMLPRegressor):
        with pytest.warns(ConvergenceWarning, match=r"Stochastic Optimizer: Maximum iterations \(12\) reached "
                                                    "and the optimization hasn't converged yet."):
            est = cls(**params).fit(X, y)
        assert est.n_iter_ == 12


def test_no_warning_when_the_stopping_rule_ends_the_fit(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=500, learning_rate_init=0.01, tol=1e-2,
                  n_iter_no_change=2, random_state=0, shuffle=False, batch_size=40)
    fits = []
    for cls in (MLPRegressor, SkMLPRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            fits.append(cls(**params).fit(X, y))
    assert fits[0].n_iter_ == fits[1].n_iter_ < 500


def test_n_iter_no_change_inf_runs_every_epoch(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="sgd", max_iter=40, tol=10.0, n_iter_no_change=np.inf,
                  learning_rate_init=0.01, random_state=0)
    ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 40  # a tol no epoch meets never stops it
    with pytest.raises(ValueError, match="n_iter_no_change"):
        MLPRegressor(n_iter_no_change=-np.inf).fit(X, y)
    with pytest.raises(ValueError, match="n_iter_no_change"):
        MLPRegressor(n_iter_no_change=2.5).fit(X, y)


# ---------------------------------------------------------------- learning-rate schedules


@pytest.mark.parametrize("schedule", [
    dict(learning_rate="constant"),
    dict(learning_rate="invscaling", power_t=0.3),
    dict(learning_rate="adaptive", tol=1e-2, n_iter_no_change=2),
])
def test_learning_rate_schedules_follow_sklearn(diabetes, schedule):
    # Without momentum (whose buffer the two scale differently when the rate
    # changes, as documented) and without shuffling, the runs take the same steps.
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.05, momentum=0.0, max_iter=60,
                  random_state=0, shuffle=False, batch_size=40, **schedule)
    ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    if schedule["learning_rate"] == "adaptive":
        assert ours.n_iter_ < 60 and ours._lr == pytest.approx(theirs._optimizer.learning_rate)
        assert ours._lr < 0.05 / 5 ** 3  # divided by 5 several times before stopping


# ---------------------------------------------------------------- early stopping


def test_early_stopping_follows_sklearn_on_binary_targets():
    # Binary targets: the same stratified split from the same random_state.
    X, y = make_classification(n_samples=400, n_features=10, random_state=0)
    params = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.05, random_state=0, shuffle=False,
                  early_stopping=True, validation_fraction=0.25, max_iter=60, n_iter_no_change=3, batch_size=50)
    ours, theirs = quiet_fit(MLPClassifier(**params), X, y), quiet_fit(SkMLPClassifier(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 60
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, atol=1e-12)
    assert ours.best_validation_score_ == theirs.best_validation_score_
    assert ours.best_loss_ is theirs.best_loss_ is None
    # the best epoch's weights are restored
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_without_early_stopping_no_validation_scores(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(4,), solver="sgd", max_iter=3, random_state=0)
    ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    assert ours.validation_scores_ is theirs.validation_scores_ is None
    assert ours.best_validation_score_ is theirs.best_validation_score_ is None
    assert ours.best_loss_ == min(ours.loss_curve_)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_too_few_members_for_a_stratified_split(kind):
    X = np.random.default_rng(0).normal(size=(60, 4))
    y = np.r_[np.zeros(59), 1] if kind == "binary" else np.r_[np.zeros(30), np.ones(29), 2]
    message = "The least populated class(es)? in y ha(s|ve) only 1 member, which is too few"
    with pytest.raises(ValueError, match=message):
        MLPClassifier(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    if kind == "binary":  # scikit-learn's code stratifies binary targets only (see mlpcore.sklearn)
        with pytest.raises(ValueError, match=message):
            SkMLPClassifier(early_stopping=True, max_iter=3, random_state=0).fit(X, y)


def test_divergence_under_early_stopping_records_nan_and_warns(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=50.0, max_iter=50, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        reg = MLPRegressor(early_stopping=True, **params).fit(X, y * 1e3)
    assert any("the best weights" in str(w.message) for w in record)
    assert np.isnan(reg.validation_scores_[-1]) and np.isnan(reg.loss_curve_[-1])
    assert np.isfinite(reg.validation_scores_[:-1]).all()
    assert len(reg.validation_scores_) == len(reg.loss_curve_) == reg.n_iter_ < 50
    assert reg.best_validation_score_ == max(reg.validation_scores_[:-1])
    assert np.isfinite(reg.predict(X)).all() and all(np.isfinite(w).all() for w in reg.coefs_)
    # without early stopping: scikit-learn's error
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        MLPRegressor(**params).fit(X, y * 1e3)
    # the Keras-style fit keeps raising FloatingPointError
    model = mc.Sequential([mc.Dense(32, activation="relu"), mc.Dense(1)], input_dim=X.shape[1])
    model.compile(loss="mse", optimizer=mc.SGD(lr=50.0))
    with pytest.raises(FloatingPointError):
        model.fit(X, y * 1e3, epochs=50, verbose=0)


# ---------------------------------------------------------------- warm_start


def test_warm_start_follows_sklearn(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="sgd", warm_start=True, max_iter=4, shuffle=False, batch_size=40,
                  learning_rate_init=0.01, random_state=0, tol=0.0)
    ours, theirs = MLPRegressor(**params), SkMLPRegressor(**params)
    for _ in range(2):
        quiet_fit(ours, X, y), quiet_fit(theirs, X, y)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 8 and ours.n_iter_ == theirs.n_iter_ == 4
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_warm_start_with_other_classes_raises_sklearns_error(digits):
    X, y = digits
    ours = quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), warm_start=True, max_iter=2, random_state=0), X, y)
    theirs = quiet_fit(SkMLPClassifier(hidden_layer_sizes=(4,), warm_start=True, max_iter=2, random_state=0), X, y)
    errors = []
    for est in (ours, theirs):
        with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same classes") as info:
            est.fit(X[y < 9], y[y < 9])
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_warm_start_across_solvers_and_early_stopping(digits):
    X, y = digits
    est = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", warm_start=True, max_iter=8, random_state=0)
    lbfgs_loss = quiet_fit(est, X, y).loss_
    fresh = quiet_fit(MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=3, random_state=0),
                      X, y)
    quiet_fit(est.set_params(solver="sgd", learning_rate_init=0.01, max_iter=3), X, y)
    # SGD goes on from the L-BFGS weights
    assert len(est.loss_curve_) == 3 and est.loss_curve_[0] < min(1.5 * lbfgs_loss, fresh.loss_curve_[0])
    quiet_fit(est.set_params(early_stopping=True), X, y)
    assert len(est.validation_scores_) == est.n_iter_ and est.best_validation_score_ == max(est.validation_scores_)
    quiet_fit(est.set_params(early_stopping=False), X, y)
    assert est.best_loss_ == min(est.loss_curve_[-3:])


# ---------------------------------------------------------------- partial_fit


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_partial_fit_n_times_is_fit_with_max_iter_n(digits, shuffle, kind):
    X, y = digits
    w = np.random.default_rng(0).random(len(X)) + 0.5
    params = dict(hidden_layer_sizes=(24,), learning_rate_init=0.02, random_state=3, shuffle=shuffle, alpha=1e-3,
                  batch_size=64, learning_rate="invscaling", power_t=0.2, momentum=0.8)
    cls = MLPClassifier if kind == "classifier" else MLPRegressor
    target = y if kind == "classifier" else y / 10.0
    fitted = quiet_fit(cls(max_iter=5, tol=0.0, n_iter_no_change=np.inf, **params), X, target, sample_weight=w)
    stepped = cls(**params)
    for _ in range(5):
        if kind == "classifier":
            stepped.partial_fit(X, target, sample_weight=w, classes=np.arange(10))
        else:
            stepped.partial_fit(X, target, sample_weight=w)
    assert same_weights(fitted, stepped)
    assert fitted.loss_curve_ == stepped.loss_curve_ and fitted.t_ == stepped.t_ == 5 * len(X)
    assert stepped.n_iter_ == 1  # per call, as scikit-learn counts it


def test_partial_fit_follows_sklearn(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.05, random_state=0, shuffle=False,
                  batch_size=50)
    ours, theirs = MLPClassifier(**params), SkMLPClassifier(**params)
    for start in (0, 200, 400, 0):
        for est in (ours, theirs):
            est.partial_fit(X[start:start + 200], y[start:start + 200], classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_partial_fit_errors_are_sklearns(digits):
    X, y = digits
    for est in (MLPClassifier(), SkMLPClassifier()):
        with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit."):
            est.partial_fit(X, y)
    ours = MLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X, y, classes=np.arange(10))
    theirs = SkMLPClassifier(hidden_layer_sizes=(4,)).partial_fit(X, y, classes=np.arange(10))
    for exercise in (lambda est: est.partial_fit(X, y, classes=np.arange(11)),
                     lambda est: est.partial_fit(X[:5], np.array([0, 1, 2, 3, 11]))):
        errors = []
        for est in (ours, theirs):
            with pytest.raises(ValueError) as info:
                exercise(est)
            errors.append(str(info.value))
        assert errors[0] == errors[1]
    for est in (MLPRegressor(early_stopping=True), SkMLPRegressor(early_stopping=True)):
        with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
            est.partial_fit(X, y.astype(float))


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_dtypes_as_sklearn(digits, dtype, solver):
    X, y = digits
    X = (X * 16).astype(dtype) if dtype == np.int64 else X.astype(dtype)
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=2, random_state=0)
    for ours_cls, theirs_cls, target in [(MLPClassifier, SkMLPClassifier, y), (MLPRegressor, SkMLPRegressor, y * 1.0)]:
        ours, theirs = quiet_fit(ours_cls(**params), X, target), quiet_fit(theirs_cls(**params), X, target)
        assert [w.dtype for w in ours.coefs_ + ours.intercepts_] == [w.dtype for w in theirs.coefs_ + theirs.intercepts_]
        for rows in (X[:7], X[:7].astype(np.float64), X[:7].astype(np.float32)):
            if ours_cls is MLPClassifier:
                assert ours.predict_proba(rows).dtype == theirs.predict_proba(rows).dtype
            else:
                assert ours.predict(rows).dtype == theirs.predict(rows).dtype


def test_float64_probabilities_stay_inside_0_1():
    # Logits of +-60: float64 keeps 1 - p and p above 0, as scikit-learn computes them.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = quiet_fit(MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=3, random_state=0), X, y)
    clf._model.set_weights([(np.full((3, 4), 10.0, np.float32), np.zeros(4, np.float32)),
                            (np.full((4, 1), -1.0, np.float32), np.zeros(1, np.float32))])
    p = clf.predict_proba(np.array([[1.5, 0.0, 0.0]]))
    assert 0 < p[0, 1] < 1e-25 and p[0, 0] == 1.0
    assert np.isfinite(clf.predict_log_proba(np.array([[1.5, 0.0, 0.0]]))).all()


# ---------------------------------------------------------------- parameters


def test_new_parameters_are_checked(diabetes):
    X, y = diabetes
    for params, name in [(dict(beta_1=1.0), "beta_1"), (dict(beta_2=-0.1), "beta_2"), (dict(epsilon=0.0), "epsilon"),
                         (dict(max_fun=0), "max_fun"), (dict(validation_fraction=1.0), "validation_fraction"),
                         (dict(loss="huber"), "loss")]:
        with pytest.raises(ValueError, match=name):
            MLPRegressor(**params).fit(X, y)
    with pytest.raises(ValueError, match="Poisson regression"):
        MLPRegressor(loss="poisson").fit(X, -np.abs(y) - 1.0)
    assert set(SkMLPClassifier().get_params()) <= set(MLPClassifier().get_params())
    assert set(SkMLPRegressor().get_params()) <= set(MLPRegressor().get_params())


@pytest.mark.skipif(hasattr(mc, "Adam"), reason="mlpcore.Adam exists")
def test_adam_names_what_is_missing(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="solver: 'adam' needs mlpcore.Adam"):
        MLPRegressor(solver="adam").fit(X, y)


# ---------------------------------------------------------------- Adam (once mlpcore.Adam exists)


@needs_adam
@pytest.mark.parametrize("kind", ["regressor", "multiclass", "multilabel"])
def test_adam_follows_sklearn_steps(digits, diabetes, kind):
    # epsilon so small that where it is added (below) cannot matter: the steps must then agree
    params = dict(hidden_layer_sizes=(16,), solver="adam", learning_rate_init=0.01, beta_1=0.8, beta_2=0.99,
                  epsilon=1e-14, alpha=1e-2, max_iter=6, shuffle=False, batch_size=40, random_state=0)
    if kind == "regressor":
        X, y = diabetes
        ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    else:
        X, y = digits
        if kind == "multilabel":
            y = np.column_stack([y % 2, y > 4, y == 3]).astype(int)
        ours, theirs = quiet_fit(MLPClassifier(**params), X, y), quiet_fit(SkMLPClassifier(**params), X, y)
    # epsilon is added after the bias correction here, before it there: a
    # difference of the order of epsilon per step
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-3)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


@needs_adam
def test_adam_partial_fit_n_times_is_fit_with_max_iter_n(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), solver="adam", learning_rate_init=0.01, random_state=0, alpha=1e-3)
    fitted = quiet_fit(MLPClassifier(max_iter=4, tol=0.0, n_iter_no_change=np.inf, **params), X, y)
    stepped = MLPClassifier(**params)
    for _ in range(4):
        stepped.partial_fit(X, y, classes=np.arange(10))
    assert same_weights(fitted, stepped)


@needs_adam
def test_adam_ignores_the_sgd_schedules_as_sklearn(diabetes):
    X, y = diabetes
    params = dict(hidden_layer_sizes=(8,), solver="adam", learning_rate="adaptive", tol=1e-1, n_iter_no_change=2,
                  max_iter=200, random_state=0, shuffle=False, learning_rate_init=0.01)
    ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    assert ours.n_iter_ == theirs.n_iter_  # stops at the first stall: no division by 5


def test_adam_gets_sklearns_settings_mapped_onto_the_native_gradient(monkeypatch, diabetes):
    # What the Adam solver asks mlpcore.Adam for (checked without one): the
    # native multi-output MSE gradient is c = 2 / n_outputs times scikit-learn's,
    # which Adam's step ignores but its epsilon and the L2 term must follow.
    made = {}

    class RecordingAdam:
        def __init__(self, **kwargs):
            made.update(kwargs)

    monkeypatch.setattr(mc, "Adam", RecordingAdam, raising=False)
    X, y = diabetes
    reg = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", max_iter=1, random_state=0)
    quiet_fit(reg, X, np.column_stack([y, y, y, y]))  # c = 2 / 4
    reg.set_params(solver="adam", learning_rate_init=0.003, beta_1=0.8, beta_2=0.99, epsilon=1e-6, alpha=0.2)
    assert isinstance(reg._native_optimizer(batch_size=50, sw_mean=2.0), RecordingAdam)
    assert made == dict(lr=0.003, betas=(0.8, 0.99), eps=0.5 * 1e-6, weight_decay=0.5 * 0.2 / (50 * 2.0),
                        decay_bias=False)


# ---------------------------------------------------------------- Poisson regression


@pytest.mark.parametrize("solver", ["adam", "lbfgs", "sgd"])
def test_poisson_regression_follows_sklearn(solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1500, 6))
    y = rng.poisson(np.exp(X[:, :3] @ [0.3, -0.2, 0.1] + 0.5)).astype(float)
    params = dict(hidden_layer_sizes=(8,), loss="poisson", solver=solver, max_iter=20, random_state=0,
                  learning_rate_init=0.01 if solver == "adam" else 0.001, shuffle=False)
    ours, theirs = quiet_fit(MLPRegressor(**params), X, y), quiet_fit(SkMLPRegressor(**params), X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    # The half deviance, terms of y alone included, as scikit-learn reports it.
    np.testing.assert_allclose(ours.loss_curve_ if solver != "lbfgs" else [ours.loss_],
                               theirs.loss_curve_ if solver != "lbfgs" else [theirs.loss_], rtol=5e-3)
    pred = ours.predict(X)
    assert pred.min() > 0
    np.testing.assert_allclose(pred, theirs.predict(X), rtol=0.05)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=0.02)


def test_poisson_refuses_negative_targets():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="Some value\\(s\\) of y are negative"):
        MLPRegressor(loss="poisson").fit(X, [1.0, -1.0, 0.0, 2.0])
