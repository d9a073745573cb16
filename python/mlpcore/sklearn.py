"""scikit-learn estimators: MLPClassifier and MLPRegressor, drop-ins for
scikit-learn's classes of the same names, trained by mlpcore's native core.
scikit-learn (and scipy, for ``solver="lbfgs"``) come with the optional extra
``pip install "mlpcore[sklearn]"``.

    from mlpcore.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), solver="lbfgs", random_state=0).fit(X, y)
    clf.predict(X), clf.predict_proba(X), clf.score(X, y), clf.n_iter_, clf.loss_

Solvers:
- ``"sgd"``: minibatch SGD (momentum, Nesterov's momentum, the learning-rate
  schedules "constant", "invscaling" and "adaptive"), epochs run natively.
- ``"lbfgs"``: scipy's L-BFGS-B (``scipy.optimize.minimize``) driven with
  scikit-learn's options (``max_iter``, ``max_fun``, ``gtol=tol``) over the
  loss and gradient of the whole training set, computed by the native core.
  No ``partial_fit`` (as scikit-learn).
- ``"adam"``: ``mlpcore.Adam`` (``beta_1``, ``beta_2``, ``epsilon``; the
  learning rate is constant, as scikit-learn's Adam).
The default is ``"adam"``, as scikit-learn's.

What matches scikit-learn: the parameters, attributes and methods named in the
class docstrings, the initial weights (Glorot uniform drawn from
``random_state`` exactly as scikit-learn draws them), the loss (log-loss, or
half the squared error, plus ``alpha * ||W||^2 / (2 n)``, biases exempt), the
stopping rule (``tol`` / ``n_iter_no_change``, which may be ``np.inf``), the
``ConvergenceWarning`` when ``max_iter`` ends a fit, early stopping with its
validation split, ``warm_start``, multi-label indicator targets (one logistic
output per label, binary log-loss) and multi-output regression, the dtype of
``coefs_``, ``intercepts_`` and predictions (float32 in, float32 out;
anything else, and anything after L-BFGS, float64), the SGD update itself, and the error messages users
match on (a change of classes under ``warm_start`` or in ``partial_fit``, too
few members of a class for a stratified split, non-finite weights).

How the losses map onto the native ones: the native MSE is the mean squared
error over all outputs, scikit-learn's gradient is that of half the squared
error summed over outputs (c = 2 / n_outputs times smaller; its reported loss
is half the mean over outputs, kept as it is); the native multi-label log-loss
is averaged over labels, scikit-learn's summed (c = 1 / n_outputs). SGD gets
its learning rate divided by c and its weight decay multiplied by it, which
gives exactly scikit-learn's step; L-BFGS gets scikit-learn's loss and
gradient. ``alpha`` becomes SGD weight decay ``alpha / batch_size`` on the
weights only (``SGD(decay_bias=False)``); the last, smaller batch of an epoch
uses the same decay (scikit-learn would use alpha / its size).

Differences, by design or by the native core:
- Computation is float32 (the L-BFGS iterates are float64, as scipy keeps
  them; each evaluation rounds them to float32).
- Shuffling uses mlpcore's seeded generator (seeded from ``random_state``), so
  with ``shuffle=True`` the batches differ from scikit-learn's; with
  ``shuffle=False`` and the same ``random_state`` a run follows scikit-learn's
  to float32 rounding. N calls of ``partial_fit`` give the same model as
  ``fit`` with ``max_iter=N``, bit for bit, shuffling included (scikit-learn
  restarts its shuffle at every ``partial_fit`` call).
- The early-stopping split is stratified for every single-label target, as
  scikit-learn documents (its code stratifies binary targets only).
- A fit that diverges with ``early_stopping=True`` stops at the epoch that
  diverged, records NaN for it in ``loss_curve_`` and ``validation_scores_``,
  warns (ConvergenceWarning) and keeps the best weights; scikit-learn runs on
  with non-finite weights to ``max_iter``. Without early stopping a
  divergence raises scikit-learn's ValueError.
- With ``sample_weight`` (or ``class_weight``) and a stochastic solver, the
  weights are rescaled to mean 1 over the training set and each batch is
  averaged over its rows; scikit-learn divides each batch by its sum of
  weights instead. The two agree in expectation, not batch by batch (L-BFGS
  agrees exactly).
- When the learning rate changes (``learning_rate="adaptive"`` or
  ``"invscaling"``) the momentum buffer keeps the old rate's steps scaled by the
  new rate (torch's convention); scikit-learn keeps them unscaled.
- Adam adds ``epsilon`` after its bias correction (torch's convention);
  scikit-learn before it: a difference of the order of ``epsilon``.
- ``MLPRegressor``'s ``loss`` is a keyword (scikit-learn has it first, before
  ``hidden_layer_sizes``): ``"squared_error"`` or ``"poisson"`` (the half
  Poisson deviance with a log link, predictions exp of the output, as
  scikit-learn's). ``momentum`` must be below 1.
- Sparse input (CSR, and CSC and the others converted to CSR by scikit-learn)
  is made dense a batch at a time in the core, never as a whole matrix.

Beyond scikit-learn: ``class_weight`` (classifier) and ``sample_weight`` in
``fit``, and a validation loss curve: ``validation_loss_curve_`` (mean
log-loss or half squared error on the validation data, without the L2
penalty) beside ``validation_scores_``, recorded with ``early_stopping=True``
(on the held-out ``validation_fraction``) or when ``fit`` is given
``validation_data=(X_val, y_val)`` (stochastic solvers).

A pickled (or joblib-dumped) estimator keeps its weights and attributes; its
native model is rebuilt on first use, and a later ``partial_fit`` starts with
fresh momentum.
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data
    from scipy.special import expit, softmax  # scikit-learn depends on scipy and threadpoolctl
    from threadpoolctl import threadpool_limits
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError('mlpcore.sklearn needs scikit-learn >= 1.6: pip install "mlpcore[sklearn]"') from exc

from . import _core, _sparse, losses
from .callbacks import Callback
from .layers import Dense
from .models import Sequential
from .optimizers import SGD

_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_SOLVERS = ("sgd", "adam", "lbfgs")
_STOCHASTIC_SOLVERS = ("sgd", "adam")
_REGRESSION_LOSSES = ("squared_error", "poisson")
# Output activation -> (the Dense layer's activation, the native loss); "exp"
# is the Poisson loss's log link (the native loss applies exp in predict).
_OUTPUTS = {"identity": (None, losses.MSE), "softmax": ("softmax", losses.CROSS_ENTROPY),
            "logistic": ("sigmoid", losses.BINARY_CROSS_ENTROPY), "exp": (None, losses.POISSON)}
# L-BFGS evaluates the whole training set in chunks of rows whose native
# workspaces (allocated by the core at each call) stay within this many floats:
# memory stays bounded whatever the number of rows, and blocks this size are
# reused by the allocator instead of being mapped afresh at every evaluation.
# Larger chunks mean fewer parallel products, which matters when the cores are
# shared with other work.
_FULL_BATCH_CHUNK_FLOATS = 1 << 23


def _adam_class():
    """mlpcore.Adam, or None in a version without it."""
    import mlpcore

    return getattr(mlpcore, "Adam", None)


def _check_params(est) -> list[int]:
    """Validates the hyper-parameters (at fit, as scikit-learn does); returns the hidden sizes."""
    def number(name, low=None, high=None, low_open=False, high_open=False, integral=False, allow_inf=False):
        value = getattr(est, name)
        if allow_inf and isinstance(value, numbers.Real) and value == np.inf:
            return
        kind = numbers.Integral if integral else numbers.Real
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
            what = "an integer" if integral else "a real number"
            raise ValueError(f"{name}: expected {what}{' or np.inf' if allow_inf else ''}, "
                             f"got {type(value).__name__} {value!r}")
        if not np.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) \
                or (high is not None and (value >= high if high_open else value > high)):
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            raise ValueError(f"{name}: expected a value in {lo}{low if low is not None else '-inf'}, "
                             f"{high if high is not None else 'inf'}{hi}, got {value!r}")

    def choice(name, options):
        value = getattr(est, name)
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name}: expected one of {list(options)}, got {value!r}")

    sizes = est.hidden_layer_sizes
    if isinstance(sizes, (numbers.Integral, np.integer)) and not isinstance(sizes, bool):
        sizes = [sizes]
    try:
        sizes = list(sizes)
    except TypeError:
        raise ValueError(f"hidden_layer_sizes: expected an int or a sequence of ints, got {sizes!r}") from None
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (numbers.Integral, np.integer)) or s <= 0:
            raise ValueError(f"hidden_layer_sizes: expected positive integers, got {est.hidden_layer_sizes!r}")
    choice("activation", sorted(_ACTIVATIONS))
    choice("solver", _SOLVERS)
    if est.solver == "adam" and _adam_class() is None:
        raise ValueError("solver: 'adam' needs mlpcore.Adam, which this version of mlpcore does not have; "
                         "use solver='sgd' or 'lbfgs'")
    choice("learning_rate", _LEARNING_RATES)
    if not (isinstance(est.batch_size, str) and est.batch_size == "auto"):
        number("batch_size", 1, integral=True)
    number("alpha", 0.0)
    number("learning_rate_init", 0.0, low_open=True)
    number("power_t", 0.0)
    number("max_iter", 1, integral=True)
    number("tol", 0.0)
    number("momentum", 0.0, 1.0, high_open=True)
    number("validation_fraction", 0.0, 1.0, high_open=True)
    number("beta_1", 0.0, 1.0, high_open=True)
    number("beta_2", 0.0, 1.0, high_open=True)
    number("epsilon", 0.0, low_open=True)
    number("n_iter_no_change", 1, integral=True, allow_inf=True)
    number("max_fun", 1, integral=True)
    for name in ("shuffle", "nesterovs_momentum", "early_stopping", "warm_start"):
        if not isinstance(getattr(est, name), (bool, np.bool_)):
            raise ValueError(f"{name}: expected a bool, got {getattr(est, name)!r}")
    return [int(s) for s in sizes]


def _float32_rows(X):
    """Validated X as Sequential takes it: float32 C order, or a scipy.sparse CSR
    matrix as it is (Sequential makes its batches dense in the core)."""
    return X if _sparse.is_sparse(X) else np.ascontiguousarray(X, dtype=np.float32)


def _stochastic_solver(est) -> bool:
    """partial_fit exists for the stochastic solvers only (scikit-learn's rule and message)."""
    if est.solver not in _STOCHASTIC_SOLVERS:
        raise AttributeError(f"partial_fit is only available for stochastic optimizers. {est.solver} is not "
                             "stochastic.")
    return True


class _EpochMonitor(Callback):
    """Runs scikit-learn's per-iteration bookkeeping between native epochs:
    loss curve, stopping rule, learning-rate schedule, validation and best
    weights."""

    def __init__(self, est, n_train, batch_size, validation, incremental):
        super().__init__()
        self.est = est
        self.n_train = n_train
        self.batches = -(-n_train // batch_size)
        self.validation = validation  # (X_val, y_val, sample_weight_val) or None
        self.incremental = incremental
        self.train_offset = self.val_offset = 0.0  # see _BaseMLP._loss_offset
        self.converged = False

    def _squared_weights(self) -> float:
        return self.model._weights_squared_norm()

    def on_train_begin(self, logs=None):
        self._sq = self._squared_weights() if self.est.alpha > 0 else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.lr = self.est._native_lr()

    def on_epoch_end(self, epoch, logs=None):
        est = self.est
        loss = (logs["loss"] + self.train_offset) * est._loss_scale
        if est.alpha > 0:
            # scikit-learn adds alpha ||W||^2 / (2 n_batch) to every batch's loss
            # and averages over samples: alpha * mean_batches(||W||^2) * batches / (2 n).
            # ||W||^2 is known at the epoch's ends only: take their mean.
            sq = self._squared_weights()
            loss += 0.25 * est.alpha * (sq + self._sq) * self.batches / (self.n_train * est._sw_mean)
            self._sq = sq
        est.n_iter_ += 1
        est.t_ += self.n_train
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, loss))

        if self.validation is not None:
            X_val, y_val, sw_val = self.validation
            est.validation_loss_curve_.append((logs["val_loss"] + self.val_offset) * est._loss_scale)
            score = est._score_native(X_val, y_val, sw_val)
            est.validation_scores_.append(score)
            if est.verbose:
                print("Validation score: %f" % score)

        if est.early_stopping and self.validation is not None:
            score = est.validation_scores_[-1]
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_weights = self.model.get_weights()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss

        sgd = est.solver == "sgd"  # Adam's learning rate is constant in scikit-learn
        if sgd and est.learning_rate == "invscaling":
            est._lr = est.learning_rate_init / (est.t_ + 1) ** est.power_t

        if est._no_improvement_count > est.n_iter_no_change:
            what = "Validation score" if est.early_stopping else "Training loss"
            msg = (f"{what} did not improve more than tol={est.tol:f} for "
                   f"{est.n_iter_no_change} consecutive epochs.")
            if not sgd or est.learning_rate != "adaptive" or est._lr <= 1e-6:
                if est.verbose:
                    print(msg + (" Learning rate too small. Stopping." if sgd and est.learning_rate == "adaptive"
                                 else " Stopping."))
                self.converged = True
                self.model.stop_training = True
                return
            est._lr /= 5.0
            if est.verbose:
                print(msg + " Setting learning rate to %f" % est._lr)
            est._no_improvement_count = 0


class _FullBatchObjective:
    """scikit-learn's L-BFGS objective over scikit-learn's packing of the
    parameters (every W raveled, then every b; float64): the loss of all the
    training rows plus 0.5 * alpha * ||W||^2 / sum(sample_weight), and its
    gradient. The native core computes the loss and backpropagation of each
    chunk of rows; the chunks' means are combined, weighted by their rows."""

    def __init__(self, est, X, targets, sample_weight):
        self.model = est._model
        self.net = self.model._require_built("fit")
        self.loss_name = self.model._loss
        self.alpha = float(est.alpha)
        self.loss_scale, self.grad_scale = est._loss_scale, est._grad_scale
        self.offset = est._loss_offset(targets, sample_weight)
        n = X.shape[0]
        self.n = n
        if sample_weight is None:
            self.sw_sum, weights = float(n), None
        else:
            self.sw_sum = float(np.sum(sample_weight, dtype=np.float64))
            if not self.sw_sum > 0:
                raise ValueError("sample_weight: expected at least one weight > 0, got all 0")
            # Rows weighted by w / mean(w): the native mean over rows is then
            # sum(w * loss) / sum(w), scikit-learn's weighted average.
            weights = np.ascontiguousarray(sample_weight * (n / self.sw_sum), dtype=np.float32)
        coefs = [w for w, _ in self.model.get_weights()]
        self.shapes = [w.shape for w in coefs]
        self.n_weights = sum(w.size for w in coefs)
        fan_outs = [s[1] for s in self.shapes]
        per_row = X.shape[1] + sum(fan_outs) + 2 * max(fan_outs)
        step = max(1, _FULL_BATCH_CHUNK_FLOATS // per_row)
        self.chunks = [(X[s:s + step], targets[s:s + step], None if weights is None else weights[s:s + step])
                       for s in range(0, n, step)]

    def pack(self, pairs) -> np.ndarray:
        return np.concatenate([np.ravel(w) for w, _ in pairs] + [np.ravel(b) for _, b in pairs]).astype(np.float64)

    def unpack(self, packed) -> list:
        """(W, b) float32 pairs from scikit-learn's packing."""
        with np.errstate(over="ignore"):  # beyond float32's range: inf, caught by the caller
            flat = packed.astype(np.float32)
        pairs, start, bias = [], 0, self.n_weights
        for fan_in, fan_out in self.shapes:
            pairs.append((flat[start:start + fan_in * fan_out].reshape(fan_in, fan_out), flat[bias:bias + fan_out]))
            start += fan_in * fan_out
            bias += fan_out
        return pairs

    def __call__(self, packed):
        pairs = self.unpack(packed)
        if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in pairs):
            # Beyond float32's range: the loss there is not finite (the line search backs off).
            return np.inf, np.full(packed.shape, np.nan)
        self.net.set_params(pairs)
        loss, grad = 0.0, np.zeros(packed.shape)
        for X, y, w in self.chunks:
            value, layers = _core.full_batch_gradients(self.net, self.loss_name, X, y, w)
            loss += value * X.shape[0]
            grad += self.pack(layers) * X.shape[0]
        coefs = packed[:self.n_weights]
        loss = (loss / self.n + self.offset) * self.loss_scale + 0.5 * self.alpha * float(np.dot(coefs, coefs)) / self.sw_sum
        grad /= self.n * self.grad_scale
        grad[:self.n_weights] += (self.alpha / self.sw_sum) * coefs
        return loss, grad


class _BaseMLP(BaseEstimator):
    """Shared by MLPClassifier and MLPRegressor: parameters, native model,
    training loops, pickling."""

    # scikit-learn reads the parameters back by the names in the subclass's
    # __init__ signature (get_params, clone), so each subclass lists them
    # explicitly and stores them here, unchanged.
    def _store_params(self, values):
        """Sets every parameter of type(self).__init__ from values (that __init__'s locals())."""
        for name in inspect.signature(type(self).__init__).parameters:
            if name != "self":
                setattr(self, name, values[name])

    # ---------------------------------------------------------------- native model
    def _build_model(self, layer_units, seed):
        hidden = _ACTIVATIONS[self.activation]
        layers = [Dense(u, activation=hidden) for u in layer_units[1:-1]]
        layers.append(Dense(layer_units[-1], activation=_OUTPUTS[self.out_activation_][0]))
        model = Sequential(layers, input_dim=layer_units[0], seed=seed)
        model.compile(loss=self._native_loss(), optimizer=SGD(lr=self.learning_rate_init))
        return model

    def _native_loss(self):
        return _OUTPUTS[self.out_activation_][1]

    def _loss_offset(self, targets, sample_weight) -> float:
        """What scikit-learn's loss adds to the native one (before _loss_scale)
        on these targets: nothing, but for the Poisson deviance's terms of y alone."""
        return 0.0

    def _native_lr(self) -> float:
        # SGD's step scales with the gradient, Adam's does not (see the module docstring).
        return self._lr / self._grad_scale if self.solver == "sgd" else float(self.learning_rate_init)

    def _native_optimizer(self, batch_size, sw_mean=1.0):
        # See the module docstring: alpha -> weight decay on the weights only,
        # rescaled by the native loss's gradient scale c. scikit-learn divides
        # alpha by a batch's sum of sample weights, about batch_size * their mean
        # (exactly, for full batches).
        c = self._grad_scale
        decay = c * float(self.alpha) / (batch_size * sw_mean)
        if self.solver == "adam":
            # Adam's step does not change when the gradient is scaled by c, but
            # its epsilon, added to the root of the second moment, must be.
            return _adam_class()(lr=self._native_lr(), betas=(float(self.beta_1), float(self.beta_2)),
                                 eps=c * float(self.epsilon), weight_decay=decay, decay_bias=False)
        return SGD(lr=self._native_lr(), momentum=float(self.momentum),
                   nesterov=bool(self.nesterovs_momentum) and self.momentum > 0,
                   weight_decay=decay, decay_bias=False)

    def _model_ready(self):
        """The native model, rebuilt from coefs_ / intercepts_ after unpickling."""
        if getattr(self, "_model", None) is None:
            units = [self.coefs_[0].shape[0]] + [w.shape[1] for w in self.coefs_]
            self._model = self._build_model(units, 0)
            self._model.set_weights([(np.asarray(w, np.float32), np.asarray(b, np.float32))
                                     for w, b in zip(self.coefs_, self.intercepts_)])
        return self._model

    def _sync_attributes(self):
        weights = self._model.get_weights()
        dtype = getattr(self, "_coef_dtype", np.float32)
        self.coefs_ = [w.astype(dtype, copy=False) for w, _ in weights]
        self.intercepts_ = [b.astype(dtype, copy=False) for _, b in weights]

    def _initialize(self, layer_units, rng, dtype):
        """scikit-learn's _initialize: attributes and Glorot-uniform weights drawn
        from rng in scikit-learn's order (W then b, layer by layer)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = layer_units[-1]
        self._coef_dtype = np.dtype(dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0
        weights = []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
            b = rng.uniform(-bound, bound, fan_out)
            weights.append((W.astype(np.float32), b.astype(np.float32)))
        self._lr = float(self.learning_rate_init)
        self._model = self._build_model(layer_units, 0)
        self._model.set_weights(weights)
        self._optimizer_batch = None
        self._shuffle_seed = None
        # What early stopping restores when no epoch improves on the best score
        # (kept across warm starts, as scikit-learn keeps its best coefficients).
        self._best_weights = weights
        if self.solver in _STOCHASTIC_SOLVERS:
            self._reset_stochastic_state()

    def _reset_stochastic_state(self):
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.validation_loss_curve_ = []
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _continue_stochastic_state(self):
        """A warm start or partial_fit after a fit with another solver or
        another early_stopping: the attributes the stopping rule needs."""
        if not hasattr(self, "loss_curve_"):
            self._reset_stochastic_state()  # after an L-BFGS fit
        elif self.early_stopping and self.best_validation_score_ is None:
            self.validation_scores_ = self.validation_scores_ or []
            self.best_validation_score_ = -np.inf
        elif not self.early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf

    # ---------------------------------------------------------------- training
    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None, validation_data=None):
        hidden = _check_params(self)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, targets, sample_weight, dtype = self._validate_training_data(X, y, sample_weight, first_pass,
                                                                        incremental, classes)
        layer_units = [X.shape[1]] + hidden + [self._n_targets]
        rng = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, rng, dtype)
        else:
            expected = [self.coefs_[0].shape[0]] + [w.shape[1] for w in self.coefs_]
            if expected != layer_units:
                raise ValueError(f"hidden_layer_sizes: the fitted network has layer sizes {expected}, "
                                 f"this fit needs {layer_units}; set warm_start=False to refit")
            self._model_ready()
            if self.solver in _STOCHASTIC_SOLVERS:
                self._continue_stochastic_state()
        if self.solver == "lbfgs":
            if validation_data is not None:
                raise ValueError("validation_data: only the stochastic solvers ('sgd', 'adam') score a "
                                 f"validation set after each epoch, not solver={self.solver!r}")
            self._fit_lbfgs(X, targets, sample_weight)
        else:
            self._fit_stochastic(X, targets, sample_weight, incremental, validation_data, rng)
        return self

    def _fit_lbfgs(self, X, targets, sample_weight):
        try:
            import scipy.optimize
        except ImportError as exc:
            raise ImportError('solver="lbfgs" needs scipy: pip install "mlpcore[sklearn]"') from exc
        objective = _FullBatchObjective(self, X, self._native_targets(targets), sample_weight)
        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        try:  # the print option, where this scipy still has one
            from sklearn.utils.fixes import _get_additional_lbfgs_options_dict

            printing = _get_additional_lbfgs_options_dict("iprint", iprint)
        except ImportError:  # pragma: no cover - older scikit-learn
            printing = {}
        # L-BFGS-B's own work is a few vector operations on the parameters per
        # iteration: BLAS threads gain nothing there, and their spinning between
        # calls steals the cores from the native evaluations.
        with threadpool_limits(limits=1, user_api="blas"):
            result = scipy.optimize.minimize(
                objective, objective.pack(self._model.get_weights()), method="L-BFGS-B", jac=True,
                options={"maxfun": int(self.max_fun), "maxiter": int(self.max_iter), "gtol": float(self.tol),
                         **printing})
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        best = objective.unpack(result.x)
        if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in best):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        self._model.set_weights(best)
        self._coef_dtype = np.dtype(np.float64)  # scikit-learn's come from scipy's float64 iterate
        self._sync_attributes()

    def _fit_stochastic(self, X, targets, sample_weight, incremental, validation_data, rng):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        n_samples = X.shape[0]
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
            validation = self._validate_eval_data(*validation_data)
            X_train, t_train, sw_train = X, targets, sample_weight
        elif self.early_stopping:
            stratify = self._stratify_labels(targets)
            parts = train_test_split(X, targets, *(() if sample_weight is None else (sample_weight,)),
                                     random_state=rng, test_size=self.validation_fraction, stratify=stratify)
            X_train, X_val, t_train, t_val = parts[:4]
            sw_train, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                                 "or the size of your dataset.")
            validation = (X_val, t_val, sw_val)
            n_samples = X_train.shape[0]
        else:
            X_train, t_train, sw_train = X, targets, sample_weight
        if validation is not None and self.validation_scores_ is None:
            self.validation_scores_ = []  # scored on validation_data

        if isinstance(self.batch_size, str):
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_samples))

        sw_mean = 1.0
        if sw_train is not None:
            sw_mean = float(np.mean(sw_train))
            if sw_mean > 0:
                sw_train = sw_train / sw_mean
            else:
                sw_mean = 1.0
        model = self._model
        # A fresh optimizer (momentum reset) per fit, kept across partial_fit calls
        # as scikit-learn does (with the decay of the first call, unless the
        # batch size changes).
        if not incremental or self._optimizer_batch != batch_size:
            model.compile(loss=self._native_loss(), optimizer=self._native_optimizer(batch_size, sw_mean))
            self._optimizer_batch = batch_size
            self._sw_mean = sw_mean
        # The shuffling sequence: one seed per fit; partial_fit keeps the first
        # call's, and the model counts the epochs, so N partial_fit calls shuffle
        # as fit(max_iter=N) does.
        if not incremental or getattr(self, "_shuffle_seed", None) is None:
            self._shuffle_seed = int(rng.randint(np.iinfo(np.int32).max))
        model.seed = self._shuffle_seed
        if self.early_stopping and getattr(self, "_best_weights", None) is None:
            self._best_weights = model.get_weights()

        self.n_iter_ = 0
        monitor = _EpochMonitor(self, X_train.shape[0], batch_size, validation, incremental)
        monitor.train_offset = self._loss_offset(t_train, sw_train)
        if validation is not None:
            monitor.val_offset = self._loss_offset(validation[1], validation[2])
        native_val = None
        if validation is not None:
            native_val = (validation[0], self._native_targets(validation[1]))
            if validation[2] is not None:
                native_val += (validation[2],)
        try:
            model.fit(X_train, self._native_targets(t_train), epochs=1 if incremental else int(self.max_iter),
                      batch_size=batch_size, shuffle=bool(self.shuffle), validation_data=native_val,
                      verbose=0, sample_weight=sw_train, callbacks=[monitor])
        except FloatingPointError:
            if not self.early_stopping:
                self._sync_attributes()
                raise ValueError("Solver produced non-finite parameter weights. The input data may contain "
                                 "large values and need to be preprocessed, or learning_rate_init is too "
                                 "large.") from None
            self._record_divergence(X_train.shape[0])
            monitor.converged = True
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if not incremental and not monitor.converged and self.n_iter_ == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                          "hasn't converged yet." % self.max_iter, ConvergenceWarning)
        if self.early_stopping:
            model.set_weights(self._best_weights)
        self._sync_attributes()

    def _record_divergence(self, n_train):
        """An epoch that diverged under early stopping: a NaN loss and validation
        score for it, and a warning (scikit-learn scores NaN and goes on)."""
        self.n_iter_ += 1
        self.t_ += n_train
        self.loss_ = np.nan
        self.loss_curve_.append(np.nan)
        self.validation_scores_.append(np.nan)
        self.validation_loss_curve_.append(np.nan)
        best = (f"the best weights (validation score {self.best_validation_score_:.6g}) are kept"
                if np.isfinite(self.best_validation_score_) else "the initial weights are kept")
        warnings.warn(f"Training diverged in iteration {self.n_iter_} (the loss became NaN or infinite): its "
                      f"validation score is NaN, training stopped and {best}. Try a smaller "
                      "learning_rate_init or scale the inputs.", ConvergenceWarning)

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the model to data X and target(s) y.

        sample_weight: per-sample weights.
        validation_data: optional (X_val, y_val[, sample_weight_val]) scored after
        every epoch into validation_scores_ and validation_loss_curve_ (and used
        for early stopping instead of a held-out split when early_stopping=True);
        stochastic solvers only.
        """
        return self._fit(X, y, sample_weight, incremental=False, validation_data=validation_data)

    def _validate_eval_data(self, X, y, sample_weight=None):
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32), accept_sparse="csr", order="C")
        y = self._encode_targets(np.asarray(y) if not hasattr(y, "shape") else y)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float32,
                                                                     ensure_non_negative=True)
        return _float32_rows(X), y, sw

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)

    def _network_output(self, X):
        """The outputs (probabilities for a classifier) in scikit-learn's dtype:
        float32 for float32 inputs to a float32 fit, float64 otherwise. In
        float64 the output function is applied to the float64 logits, as
        scikit-learn does: its probabilities stay inside (0, 1) where float32's
        would round to 0 or 1."""
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32), accept_sparse="csr")
        X32 = _float32_rows(X)
        model = self._model_ready()
        if np.result_type(X.dtype, self.coefs_[0].dtype) == np.float32:
            return model.predict(X32)
        logits = model._require_built("predict").predict(X32, "none").astype(np.float64)
        if self.out_activation_ == "softmax":
            return softmax(logits, axis=1)
        if self.out_activation_ == "logistic":
            return expit(logits)
        if self.out_activation_ == "exp":
            return np.exp(logits)
        return logits

    def _score_native(self, X, targets, sample_weight):
        """Validation score on already-validated data (accuracy or R^2); NaN
        when the outputs are not finite, as scikit-learn scores them."""
        out = self._model.predict(X).astype(np.float64)
        if not np.isfinite(out).all():
            return np.nan
        return self._score_from_output(out, targets, sample_weight)

    # ---------------------------------------------------------------- export
    def to_onnx(self, path, opset=17):
        """Write the fitted estimator as ONNX to ``path`` (a file name or a
        binary file object): input "X"; outputs "label" (what ``predict``
        gives) and "probabilities" (``predict_proba``) for a classifier,
        "predictions" for a regressor. Needs the onnx package
        (``pip install "mlpcore[onnx]"``); returns the onnx.ModelProto. In a
        Pipeline, convert with skl2onnx (see mlpcore.onnx)."""
        from . import onnx

        return onnx.export(self, path, opset)

    # ---------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        if state.get("_model") is not None:
            self._sync_attributes()
            state["coefs_"], state["intercepts_"] = self.coefs_, self.intercepts_
        state["_model"] = None  # native objects are rebuilt from coefs_ / intercepts_
        state["_optimizer_batch"] = None
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained in mlpcore's native core; a
    drop-in for ``sklearn.neural_network.MLPClassifier``.

    Binary targets use one logistic output, multi-class a softmax, multi-label
    indicator matrices one logistic output per label, all with the log-loss.

    Parameters (as scikit-learn's): hidden_layer_sizes, activation ({"relu",
    "tanh", "logistic", "identity"}), solver ({"adam", "sgd", "lbfgs"}; the
    default "adam"), alpha, batch_size, learning_rate ({"constant",
    "invscaling", "adaptive"}), learning_rate_init, power_t, max_iter,
    shuffle, random_state, tol, verbose, warm_start, momentum,
    nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2,
    epsilon, n_iter_no_change (an int or np.inf), max_fun; and beyond it
    ``class_weight`` (None, "balanced" or a dict {class: weight}), which
    multiplies ``sample_weight``.

    Attributes: classes_, loss_, coefs_, intercepts_, n_features_in_,
    feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_; and
    for the stochastic solvers loss_curve_, best_loss_, validation_scores_,
    validation_loss_curve_, best_validation_score_, t_.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 class_weight=None):
        self._store_params(locals())

    # Targets are kept encoded: int class indices (single-label) or float 0/1 columns.
    def _validate_training_data(self, X, y, sample_weight, first_pass, incremental, classes):
        X, y = validate_data(self, X, y, reset=first_pass, dtype=(np.float64, np.float32), order="C",
                             accept_sparse="csr", multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first_pass:
            y_type = type_of_target(y)
            if y_type == "multilabel-indicator":
                self.classes_ = np.arange(y.shape[1])
            else:
                self.classes_ = unique_labels(y if classes is None else classes)
            self._y_type = y_type
            if y_type == "multilabel-indicator":
                self.out_activation_ = "logistic"
                self._n_targets = y.shape[1]
            elif len(self.classes_) > 2:
                self.out_activation_ = "softmax"
                self._n_targets = len(self.classes_)
            else:
                self.out_activation_ = "logistic"
                self._n_targets = 1
            self._loss_scale = float(self._n_targets) if y_type == "multilabel-indicator" else 1.0
            self._grad_scale = 1.0 / self._loss_scale
        if self._y_type != "multilabel-indicator":
            present = unique_labels(y)
            # scikit-learn's checks and messages
            if not first_pass and self.warm_start and not incremental:
                if set(present) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {present}")
            elif len(np.setdiff1d(present, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {present}.")
        targets = self._encode_targets(y)
        sample_weight = self._sample_weight(sample_weight, X)
        if self.class_weight is not None:
            if self._y_type == "multilabel-indicator":
                raise ValueError("class_weight: not supported for multi-label targets")
            present = np.unique(y)
            cw = compute_class_weight(self.class_weight, classes=present, y=y)
            lookup = dict(zip(present.tolist(), cw))
            per_row = np.array([lookup[v] for v in y.tolist()], dtype=np.float32)
            sample_weight = per_row if sample_weight is None else sample_weight * per_row
        return _float32_rows(X), targets, sample_weight, X.dtype

    def _encode_targets(self, y):
        if self._y_type == "multilabel-indicator":
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(f"y: expected a label indicator matrix with {len(self.classes_)} columns, "
                                 f"got shape {y.shape}")
            return np.ascontiguousarray(y, dtype=np.float32)
        y = column_or_1d(y)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.array_equal(self.classes_[idx], y):
            unseen = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"y: has classes {unseen} not in classes_ {list(self.classes_)}")
        return idx.astype(np.int32)

    def _native_targets(self, targets):
        if self.out_activation_ == "logistic" and targets.ndim == 1:
            # One logistic output: the probability of classes_[1] (all 0 with a single class).
            return (targets == 1).astype(np.float32).reshape(-1, 1)
        return targets

    def _stratify_labels(self, targets):
        # Every single-label target is stratified (by its labels, so that too
        # few members of a class is reported with the class's name).
        return None if self._y_type == "multilabel-indicator" else self.classes_[targets]

    def _decode(self, out):
        if self._y_type == "multilabel-indicator":
            return (out > 0.5).astype(int)
        if self.out_activation_ == "softmax":
            return self.classes_[np.argmax(out, axis=1)]
        if len(self.classes_) == 1:
            return np.full(out.shape[0], self.classes_[0])
        return self.classes_[(out[:, 0] > 0.5).astype(int)]

    def _score_from_output(self, out, targets, sample_weight):
        # accuracy_score's, without its input checks (run after every epoch)
        if self._y_type == "multilabel-indicator":
            hits = ((out > 0.5) == (targets > 0.5)).all(axis=1)
        elif self.out_activation_ == "softmax":
            hits = np.argmax(out, axis=1) == targets
        else:
            hits = (out[:, 0] > 0.5) == (targets == 1)
        return float(np.average(hits, weights=sample_weight))

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit to X (n_samples, n_features) and labels y (or a label indicator matrix)."""
        return super().fit(X, y, sample_weight, validation_data=validation_data)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y). ``classes`` (every label) is required on the
        first call (scikit-learn's checks and messages)."""
        if getattr(self, "classes_", None) is None or not hasattr(self, "coefs_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(self.classes_, unique_labels(classes)):
            raise ValueError("`classes=%r` is not the same as on last call to partial_fit, was: %r"
                             % (classes, self.classes_))
        if self.class_weight == "balanced":
            raise ValueError("class_weight: 'balanced' is not supported by partial_fit (the class "
                             "frequencies of later batches are unknown); pass a dict")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes); for multi-label, each label's probability."""
        out = self._network_output(X)
        if self.out_activation_ == "logistic" and self._y_type != "multilabel-indicator":
            p = out[:, 0]
            return np.column_stack([1 - p, p])
        return out

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels (or a label indicator matrix for multi-label fits)."""
        return self._decode(self._network_output(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (identity output, squared error)
    trained in mlpcore's native core; a drop-in for
    ``sklearn.neural_network.MLPRegressor``.

    Parameters and attributes as MLPClassifier's, without classes_ and
    class_weight, with ``loss`` ("squared_error" or "poisson"; a keyword here). ``fit``
    takes ``sample_weight``; y may have several columns.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000):
        self._store_params(locals())

    def _validate_training_data(self, X, y, sample_weight, first_pass, incremental, classes):
        if not isinstance(self.loss, str) or self.loss not in _REGRESSION_LOSSES:
            raise ValueError(f"loss: expected one of {list(_REGRESSION_LOSSES)}, got {self.loss!r}")
        X, y = validate_data(self, X, y, reset=first_pass, dtype=(np.float64, np.float32), order="C",
                             accept_sparse="csr", multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and np.any(y < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        if first_pass:
            self._n_targets = 1 if y.ndim == 1 else y.shape[1]
            if self.loss == "poisson":
                # scikit-learn's half Poisson deviance, summed over outputs, is n_targets
                # times the native mean of exp(z) - y z plus the terms of y alone
                # (_loss_offset); its gradient exp(z) - y is n_targets times the native one.
                self.out_activation_ = "exp"
                self._loss_scale = float(self._n_targets)
                self._grad_scale = 1.0 / self._n_targets
            else:
                self.out_activation_ = "identity"
                self._loss_scale = 0.5
                self._grad_scale = 2.0 / self._n_targets
        targets = self._encode_targets(y)
        return _float32_rows(X), targets, self._sample_weight(sample_weight, X), X.dtype

    def _encode_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        if y.ndim != 2 or y.shape[1] != self._n_targets:
            raise ValueError(f"y: expected {self._n_targets} target column(s), got shape {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("y: expected finite values, found NaN or inf")
        return np.ascontiguousarray(y, dtype=np.float32)

    def _native_targets(self, targets):
        return targets

    def _loss_offset(self, targets, sample_weight) -> float:
        if self.out_activation_ != "exp":
            return 0.0
        # The half deviance's y log(y) - y, averaged as the native loss averages rows.
        t = np.asarray(targets, dtype=np.float64)
        y_log_y = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0)  # scipy's xlogy(t, t)
        per_row = (y_log_y - t).mean(axis=1)
        return float(np.average(per_row, weights=sample_weight))

    def _stratify_labels(self, targets):
        return None

    def _score_from_output(self, out, targets, sample_weight):
        # r2_score's (uniform average over outputs, constant targets scored 1 if
        # predicted exactly, else 0), without its input checks (run every epoch)
        w = np.ones(len(targets)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        t = targets.astype(np.float64)
        residual = (w[:, None] * (t - out) ** 2).sum(axis=0)
        total = (w[:, None] * (t - np.average(t, axis=0, weights=w)) ** 2).sum(axis=0)
        scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                          np.where(residual == 0, 1.0, 0.0))
        return float(scores.mean())

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), continuing from the current weights and momentum."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predictions (n_samples,) for a single target, (n_samples, n_targets) otherwise."""
        out = self._network_output(X)
        return out.ravel() if out.shape[1] == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def expected_failed_checks(estimator) -> dict:
    """scikit-learn estimator checks these estimators fail by design, with the
    reason; pass it to ``parametrize_with_checks(..., expected_failed_checks=...)``
    or ``check_estimator(..., expected_failed_checks=expected_failed_checks(est))``.

    The results may also pass: the failures are matters of rounding."""
    failing = {
        "check_sample_weight_equivalence_on_dense_data": (
            "float32 arithmetic: integer sample weights and repeated rows give the same "
            "full-batch gradients summed in a different order, so predictions differ by "
            "a float32 ulp or two, above the check's float64 tolerance (rtol=1e-7); "
            "tests/test_sklearn.py checks the equivalence at float32 tolerance"),
        "check_sample_weight_equivalence_on_sparse_data": "as on dense data (the same rounding)",
    }
    if isinstance(estimator, MLPClassifier) and estimator.solver == "lbfgs":
        failing["check_classifiers_multilabel_output_format_predict_proba"] = (
            "scikit-learn's own MLPClassifier(solver='lbfgs') fails it too: L-BFGS fits the "
            "check's 75 rows to logits beyond +-37, whose probabilities round to 1 in float64")
    return failing


from .onnx import _register_when_imported  # noqa: E402

_register_when_imported()  # skl2onnx converters for pipelines, once skl2onnx is imported

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks"]
