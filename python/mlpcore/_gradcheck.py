"""mlpcore.gradcheck: the gradients backpropagation gives, checked against
central finite differences of the loss computed in float64.

The gradients under test come from the native core (``mlpcore.ops.loss_gradients``:
the float32 forward, fused loss gradient and backward of a training step). The
reference is independent of them: a float64 evaluation of the same network in
numpy (the model's float32 weights, widened), differentiated numerically. This is
a check, not a training path, so it is the one place where the Python layer
computes with numpy.

Tolerances (float32 backpropagation against a float64 reference). For each entry
(a weight, a bias, an input) with backprop value ``g`` and central difference
``fd = (L(p + eps) - L(p - eps)) / (2 eps)``:

    relative error = |g - fd| / max(|fd|, 1e-2 * S, 1e-3 * S_max)

where S is what float32 rounding of that entry is proportional to: the sum
over rows and outputs of |d output / d entry| (by the same differences) times
the magnitude of the terms d loss / d output is made of (2(|y| + |t|) for MSE,
p + t for the cross-entropies, times the row's weight over the loss's
normalizer). A gradient that is small because rows cancel, or because the fit
is nearly exact (the residual y - t is then mostly float32 rounding of y), is
still made of terms that large. S_max is the largest S over all parameters
(over all inputs, for the input gradient); it covers saturated sigmoid and tanh
units, whose float32 derivative is resolved only to about 1e-7 of its largest
value. An entry passes when its relative error is at most ``rtol`` (default
1e-3); a correct float32 backward stays one to three orders of magnitude below
it (tests/test_gradcheck.py holds it under 1e-4), and a wrong one (a missing
factor, a wrong derivative, a transposed product) lands near 1. Near an exact
fit a gradient is itself at float32's noise level, so a wrong one can pass
there: check a model that has not converged (at initialisation, or part-way).

ReLU is not differentiable at 0. Rows of X that put a ReLU pre-activation within
float32 rounding of 0 (|z| <= 1e-5 * sum |terms of z|, z != 0 in float64) are
left out of the check (``rows_skipped``): float32 and float64 may disagree on
which side of the kink they are. An entry whose central difference crosses a
kink (the ReLU masks at p + eps and p - eps differ) is not judged either
(``skipped`` per parameter). Exact zeros are consistent in both (ReLU'(0) = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import losses
from ._checks import real_number

DEFAULT_EPS = 1e-6
DEFAULT_RTOL = 1e-3
_ROW_FLOOR = 1e-2      # times S: the floor for entries whose rows cancel
_GLOBAL_FLOOR = 1e-3   # times S_max: the floor for entries near zero everywhere (saturated units)
_KINK_MARGIN = 1e-5    # ReLU pre-activations within this fraction of sum |terms| of 0 leave their row out
_CHUNK_VALUES = 1 << 21  # float64 values per batched evaluation (16 MiB)


@dataclass
class ParameterCheck:
    """The comparison for one array: a layer's ``W`` or ``b``, or the inputs ``X``
    (``layer`` is None)."""

    layer: int | None
    name: str
    shape: tuple
    worst_abs_error: float = 0.0
    worst_relative_error: float = 0.0
    worst_index: tuple | None = None
    backprop_at_worst: float = 0.0
    finite_difference_at_worst: float = 0.0
    checked: int = 0
    skipped: int = 0
    passed: bool = True

    @property
    def label(self) -> str:
        if self.layer is None:
            return "inputs X"
        return f"layer {self.layer} {self.name}"


@dataclass
class GradcheckReport:
    """What ``mlpcore.gradcheck`` found. ``passed`` is True when every entry's
    relative error is within ``rtol``; ``layers[l]["W"]`` / ``layers[l]["b"]`` and
    ``inputs`` hold the worst absolute and relative errors per array;
    ``failures`` lists the arrays that failed, worst first."""

    passed: bool
    worst_relative_error: float
    worst_abs_error: float
    rtol: float
    eps: float
    loss: float           # float64 evaluation
    native_loss: float    # the core's float32 forward
    layers: list = field(default_factory=list)
    inputs: ParameterCheck | None = None
    rows_checked: int = 0
    rows_skipped: int = 0

    @property
    def checks(self) -> list:
        out = [c for layer in self.layers for c in (layer["W"], layer["b"])]
        return out + ([self.inputs] if self.inputs is not None else [])

    @property
    def failures(self) -> list:
        return sorted((c for c in self.checks if not c.passed), key=lambda c: -c.worst_relative_error)

    def __bool__(self) -> bool:
        return self.passed

    def message(self) -> str:
        """One line: passed, or which layer and parameter failed and how."""
        if self.passed:
            return (f"gradcheck passed: worst relative error {self.worst_relative_error:.3g} "
                    f"(rtol {self.rtol:g}) over {sum(c.checked for c in self.checks)} entries")
        parts = []
        for c in self.failures:
            parts.append(f"{c.label}: worst relative error {c.worst_relative_error:.3g} at index "
                         f"{c.worst_index} (backprop {c.backprop_at_worst:.6g}, finite difference "
                         f"{c.finite_difference_at_worst:.6g})")
        return f"gradcheck failed (rtol {self.rtol:g}): " + "; ".join(parts)

    def __str__(self) -> str:
        lines = [self.message(),
                 f"{'array':<14}{'shape':<14}{'worst abs':>12}{'worst rel':>12}{'checked':>9}{'skipped':>9}  ok"]
        for c in self.checks:
            lines.append(f"{c.label:<14}{str(c.shape):<14}{c.worst_abs_error:>12.3g}{c.worst_relative_error:>12.3g}"
                         f"{c.checked:>9}{c.skipped:>9}  {'yes' if c.passed else 'NO'}")
        lines.append(f"loss {self.loss:.9g} (float64), {self.native_loss:.9g} (native float32); "
                     f"rows checked {self.rows_checked}, skipped at a ReLU kink {self.rows_skipped}")
        return "\n".join(lines)


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_on_failure=True)``; ``.report`` is the report."""

    def __init__(self, report: GradcheckReport):
        super().__init__(report.message())
        self.report = report


# ---------------------------------------------------------------- float64 network

def _activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|
    if name == "tanh":
        return np.tanh(z)
    return z


class _Network64:
    """The model's network in float64: its weights widened, its native
    activations (the output activation fused into the loss left out, as the core
    does) and its loss on the raw outputs."""

    def __init__(self, model):
        self.weights = [(w.astype(np.float64), b.astype(np.float64)) for w, b in model.get_weights()]
        self.acts = list(model._net_activations)
        self.loss = model._loss

    def pre_activations(self, X):
        """Every layer's pre-activation z and its input a for a 2-d X."""
        zs, ins = [], []
        a = X
        for (w, b), act in zip(self.weights, self.acts):
            ins.append(a)
            z = a @ w + b
            zs.append(z)
            a = _activate(act, z)
        return zs, ins

    def forward_from(self, layer: int, z):
        """Raw outputs from layer ``layer``'s pre-activation z (any leading axes),
        with the ReLU masks (z > 0) met on the way."""
        masks = []
        for l in range(layer, len(self.weights)):
            if l > layer:
                w, b = self.weights[l]
                z = a @ w + b
            if self.acts[l] == "relu":
                masks.append(z > 0)
            a = _activate(self.acts[l], z)
        return a, masks

    def row_losses(self, out, labels, dense, weight, norm):
        """Each row's weighted loss divided by the loss's normalizer; out has any
        leading axes, the targets and weights broadcast against out[..., 0]."""
        if self.loss == losses.MSE:
            l = ((out - dense) ** 2).sum(-1)
        elif self.loss == losses.POISSON:
            l = (np.exp(out) - dense * out).sum(-1)
        elif self.loss == losses.BINARY_CROSS_ENTROPY:
            l = (np.maximum(out, 0.0) - out * dense + np.log1p(np.exp(-np.abs(out)))).sum(-1)
        else:
            m = out.max(-1, keepdims=True)
            lse = m[..., 0] + np.log(np.exp(out - m).sum(-1))
            if labels is not None:
                idx = np.broadcast_to(labels, out.shape[:-1])[..., None]
                l = lse - np.take_along_axis(out, idx, -1)[..., 0]
            else:
                l = dense.sum(-1) * lse - (dense * out).sum(-1)
        if weight is not None:
            l = l * weight
        return l / norm

    def output_scale(self, out, labels, dense, weight, norm):
        """Per output, a bound on the magnitudes that d loss / d output is made of
        in float32 (for MSE 2(|y| + |t|), for the cross-entropies p + t, times the
        row's weight over the normalizer): where float32 rounding of the outputs
        is proportional to, also when the residual itself is tiny."""
        if self.loss == losses.MSE:
            m = 2.0 * (np.abs(out) + np.abs(dense))
        elif self.loss == losses.POISSON:
            m = np.exp(out) + np.abs(dense)
        elif self.loss == losses.BINARY_CROSS_ENTROPY:
            m = 0.5 * (1.0 + np.tanh(0.5 * out)) + dense
        else:
            e = np.exp(out - out.max(-1, keepdims=True))
            m = e / e.sum(-1, keepdims=True)
            if labels is not None:
                m[np.arange(out.shape[0]), labels] += 1.0
            else:
                m = m + dense
        if weight is not None:
            m = m * weight[:, None]
        return m / norm


def _near_kink_rows(net: _Network64, X) -> np.ndarray:
    """Rows with a ReLU pre-activation within float32 rounding of 0 (not exactly 0)."""
    zs, ins = net.pre_activations(X)
    near = np.zeros(X.shape[0], dtype=bool)
    for (w, b), act, z, a in zip(net.weights, net.acts, zs, ins):
        if act != "relu":
            continue
        bound = _KINK_MARGIN * (np.abs(a) @ np.abs(w) + np.abs(b))
        near |= ((np.abs(z) <= bound) & (bound > 0)).any(axis=1)
    return near


# ---------------------------------------------------------------- comparison

def _judge(check: ParameterCheck, g, fd, S, s_max, rtol, skipped):
    """Fills ``check`` from backprop g, differences fd, row magnitudes S (flat arrays)."""
    judged = ~skipped
    err = np.abs(g - fd)
    denom = np.maximum(np.maximum(np.abs(fd), _ROW_FLOOR * S), _GLOBAL_FLOOR * s_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(err == 0, 0.0, err / denom)
    rel = np.where(judged, rel, 0.0)
    err = np.where(judged, err, 0.0)
    check.checked = int(judged.sum())
    check.skipped = int(skipped.sum())
    if g.size:
        worst = int(np.argmax(rel)) if rel.max() > 0 else int(np.argmax(err))
        check.worst_relative_error = float(rel[worst])
        check.worst_abs_error = float(err.max())
        check.worst_index = tuple(int(i) for i in np.unravel_index(worst, check.shape))
        check.backprop_at_worst = float(g[worst])
        check.finite_difference_at_worst = float(fd[worst])
    check.passed = bool(check.worst_relative_error <= rtol) and not math.isnan(check.worst_relative_error)


def _parameter_differences(net: _Network64, layer: int, bias: bool, ins, zs, targets, scale, eps, norm):
    """Central differences of the loss for every entry of layer ``layer``'s W (or
    b), batched: perturbing W[i, j] by h adds h * a[:, i] to column j of z, so
    the evaluation starts at that layer. Returns fd, S (the sum over rows and
    outputs of ``scale`` times |d output / d entry|, also by differences) and
    the kink mask, flat."""
    labels, dense, weight = targets
    w, _ = net.weights[layer]
    a, z = ins[layer], zs[layer]
    rows, n = z.shape
    count = n if bias else w.size
    widest = max(x.shape[1] for x in zs[layer:])
    chunk = max(1, min(count, _CHUNK_VALUES // (2 * rows * widest)))
    fd = np.empty(count)
    S = np.empty(count)
    kink = np.zeros(count, dtype=bool)
    for start in range(0, count, chunk):
        e = np.arange(start, min(count, start + chunk))
        c = e.size
        i, j = (None, e) if bias else (e // n, e % n)
        step = np.full((c, rows), eps) if bias else eps * a[:, i].T
        zp = np.broadcast_to(z, (2 * c, rows, n)).copy()
        zp[np.arange(c), :, j] += step
        zp[c + np.arange(c), :, j] -= step
        out, masks = net.forward_from(layer, zp)
        lr = net.row_losses(out, labels, dense, weight, norm)
        fd[e] = ((lr[:c] - lr[c:]) / (2.0 * eps)).sum(axis=1)
        S[e] = (np.abs((out[:c] - out[c:]) / (2.0 * eps)) * scale).sum(axis=(1, 2))
        for m in masks:
            kink[e] |= (m[:c] != m[c:]).reshape(c, -1).any(axis=1)
    return fd, S, kink


def _input_differences(net: _Network64, X, targets, scale, eps, norm):
    """Central differences of the loss for every entry of X: perturbing X[r, k]
    changes row r's loss only, so each evaluation is one row."""
    labels, dense, weight = targets
    rows, d = X.shape
    count = X.size
    widest = max(w.shape[1] for w, _ in net.weights)
    chunk = max(1, min(count, _CHUNK_VALUES // (2 * max(widest, d))))
    fd = np.empty(count)
    S = np.empty(count)
    kink = np.zeros(count, dtype=bool)
    for start in range(0, count, chunk):
        e = np.arange(start, min(count, start + chunk))
        c = e.size
        r, k = e // d, e % d
        xp = np.concatenate([X[r], X[r]])
        xp[np.arange(c), k] += eps
        xp[c + np.arange(c), k] -= eps
        w0, b0 = net.weights[0]
        out, masks = net.forward_from(0, xp @ w0 + b0)
        rr = np.concatenate([r, r])
        lr = net.row_losses(out, None if labels is None else labels[rr], None if dense is None else dense[rr],
                            None if weight is None else weight[rr], norm)
        fd[e] = (lr[:c] - lr[c:]) / (2.0 * eps)
        S[e] = (np.abs((out[:c] - out[c:]) / (2.0 * eps)) * scale[r]).sum(axis=1)
        for m in masks:
            kink[e] |= (m[:c] != m[c:]).any(axis=1)
    return fd, S, kink


def gradcheck(model, X, y, sample_weight=None, eps=None, *, rtol=None, raise_on_failure=False,
              _fault=None) -> GradcheckReport:
    """Check the gradients mlpcore's backpropagation gives for ``model`` (a
    built, compiled ``Sequential``) on the batch (X, y): every weight, every bias
    and every input, against central finite differences of the loss evaluated in
    float64 (an independent numpy evaluation of the same network). As
    ``torch.autograd.gradcheck``, for your own models and data.

    eps: the finite-difference step (default 1e-6, in the float64 evaluation).
    rtol: the tolerance on each entry's relative error (default 1e-3; see
    mlpcore._gradcheck for how the error is defined and why).
    raise_on_failure: raise GradcheckError (naming the layer and parameter)
    instead of returning a failed report.

    Returns a GradcheckReport: ``passed``, ``worst_relative_error``, per layer
    ``layers[l]["W"]`` / ``["b"]`` and ``inputs`` (worst absolute and relative
    errors, where, how many entries were checked); ``print(report)`` shows a
    table, ``report.message()`` one line. Nothing is trained or changed.

    The cost is two forward passes per parameter and input (batched in numpy):
    use a small batch (tens of rows) and a network of up to some ten thousand
    parameters.

    ``_fault`` is for tests only (see mlpcore.ops.loss_gradients)."""
    from .models import Sequential
    from .ops import loss_gradients

    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a mlpcore.Sequential, got {type(model).__name__}")
    model._require_built("gradcheck")
    if model._loss is None:
        raise ValueError("model: not compiled; call model.compile(loss=...) first (the loss defines the gradient)")
    eps = DEFAULT_EPS if eps is None else real_number("eps", eps)
    if not 0.0 < eps <= 1e-2:
        raise ValueError(f"eps: expected a step in (0, 0.01], got {eps!r}")
    rtol = DEFAULT_RTOL if rtol is None else real_number("rtol", rtol)
    if not 0.0 < rtol < 1.0:
        raise ValueError(f"rtol: expected a tolerance in (0, 1), got {rtol!r}")
    if not isinstance(raise_on_failure, (bool, np.bool_)):
        raise TypeError(f"raise_on_failure: expected a bool, got {type(raise_on_failure).__name__}")

    from ._checks import finite_matrix

    X = finite_matrix("X", X, model.input_dim)
    targets = model._targets(y, X.shape[0])
    weights = model._weights(sample_weight, X.shape[0])
    net = _Network64(model)

    near = _near_kink_rows(net, X.astype(np.float64))
    if near.all():
        raise ValueError("X: every row puts a ReLU pre-activation within float32 rounding of 0, where ReLU "
                         "has no derivative; check other rows")
    if near.any():
        keep = ~near
        X, targets = X[keep], targets[keep]
        weights = None if weights is None else weights[keep]

    native = loss_gradients(model, X, targets, weights, _fault=_fault)

    X64 = X.astype(np.float64)
    rows, out_dim = X.shape[0], model.output_dim
    norm = float(rows if model._loss == losses.CROSS_ENTROPY else rows * out_dim)
    labels = targets.astype(np.int64) if targets.dtype.kind == "i" else None
    dense = None if labels is not None else targets.astype(np.float64)
    w64 = None if weights is None else weights.astype(np.float64)
    zs, ins = net.pre_activations(X64)
    out64 = net.forward_from(0, zs[0])[0]
    loss64 = float(net.row_losses(out64, labels, dense, w64, norm).sum())
    scale = net.output_scale(out64, labels, dense, w64, norm)

    report = GradcheckReport(passed=True, worst_relative_error=0.0, worst_abs_error=0.0, rtol=rtol, eps=eps,
                             loss=loss64, native_loss=native.loss, rows_checked=rows,
                             rows_skipped=int(near.sum()))
    found = []
    for l, (w, b) in enumerate(net.weights):
        for bias, name, shape in ((False, "W", w.shape), (True, "b", b.shape)):
            fd, S, kink = _parameter_differences(net, l, bias, ins, zs, (labels, dense, w64), scale, eps, norm)
            g = native.layers[l][1 if bias else 0].astype(np.float64).ravel()
            found.append((ParameterCheck(l, name, shape), g, fd, S, kink))
    s_max = max(float(S.max()) for *_, S, _ in found)
    for check, g, fd, S, kink in found:
        _judge(check, g, fd, S, s_max, rtol, kink)
    report.layers = [{"W": found[2 * l][0], "b": found[2 * l + 1][0]} for l in range(len(net.weights))]

    fd, S, kink = _input_differences(net, X64, (labels, dense, w64), scale, eps, norm)
    report.inputs = ParameterCheck(None, "X", X.shape)
    _judge(report.inputs, native.X.astype(np.float64).ravel(), fd, S, float(S.max()), rtol, kink)

    checks = report.checks
    report.worst_relative_error = max(c.worst_relative_error for c in checks)
    report.worst_abs_error = max(c.worst_abs_error for c in checks)
    report.passed = all(c.passed for c in checks)
    if raise_on_failure and not report.passed:
        raise GradcheckError(report)
    return report
