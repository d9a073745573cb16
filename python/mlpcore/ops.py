"""The native kernels on numpy arrays.

Inputs of any real dtype are converted once to float32 C order; results are
new float32 arrays (the optimizer updates excepted: they work in place, see
``adam_step``). NaN propagates as in numpy. Activation derivatives come in
two forms: ``*_derivative(x)`` is f'(x) at the input, and
``activation_backward(name, y, dy)`` is the backprop kernel itself,
``dy * f'`` written in terms of the output ``y = f(x)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _core
from .layers import ACTIVATIONS
from ._checks import finite_matrix, one_of


def matmul(a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None) -> np.ndarray:
    """``alpha * op(a) @ op(b) + beta * c`` with op = transpose when trans_* is
    True. ``c`` is read, never written (the result is a new array)."""
    return _core.matmul(a, b, trans_a, trans_b, alpha, beta, c)  # the core checks every argument


def _activation(name: str) -> str:
    act = one_of("activation", name, ACTIVATIONS)
    if act == "softmax":
        raise ValueError("activation: softmax is row-wise; use mlpcore.ops.softmax")
    return act


def activation(x, name: str) -> np.ndarray:
    """Elementwise ``name(x)`` for name in relu, sigmoid, tanh, identity."""
    return _core.activation_forward(_activation(name), x)


def sigmoid(x) -> np.ndarray:
    return _core.activation_forward("sigmoid", x)


def tanh(x) -> np.ndarray:
    return _core.activation_forward("tanh", x)


def relu(x) -> np.ndarray:
    return _core.activation_forward("relu", x)


def identity(x) -> np.ndarray:
    return _core.activation_forward("identity", x)


def softmax(x) -> np.ndarray:
    """Row-wise softmax, stable for large logits; a 1-d input is one row."""
    arr = np.asarray(x)
    if arr.ndim == 1:
        return _core.softmax(arr.reshape(1, -1)).reshape(-1)
    return _core.softmax(arr)


def activation_backward(name: str, y, dy) -> np.ndarray:
    """Backprop through an activation: ``dy * f'(x)`` from the output ``y = f(x)``.
    ReLU's derivative at 0 is 0."""
    return _core.activation_backward(_activation(name), y, dy)


def activation_derivative(x, name: str) -> np.ndarray:
    """f'(x) at the inputs x: sigmoid(x)(1 - sigmoid(x)), 1 - tanh(x)^2, 1 for
    x > 0 (0 for x <= 0) for ReLU, 1 for identity."""
    act = _activation(name)
    y = _core.activation_forward(act, x)
    return _core.activation_backward(act, y, np.ones_like(y))


def sigmoid_derivative(x) -> np.ndarray:
    return activation_derivative(x, "sigmoid")


def tanh_derivative(x) -> np.ndarray:
    return activation_derivative(x, "tanh")


def relu_derivative(x) -> np.ndarray:
    return activation_derivative(x, "relu")


def cross_entropy(logits, target, sample_weight=None):
    """Softmax cross-entropy on logits, averaged over rows. ``target`` is
    integer labels (rows,) or probability rows (rows, classes). Returns
    ``(loss, d loss / d logits)``."""
    return _core.loss("cross_entropy", logits, target, sample_weight)


def binary_cross_entropy(logits, target, sample_weight=None):
    """Sigmoid binary cross-entropy on logits, averaged over all elements.
    Returns ``(loss, d loss / d logits)``."""
    return _core.loss("binary_cross_entropy", logits, target, sample_weight)


def mse(prediction, target, sample_weight=None):
    """Mean squared error over all elements. Returns ``(loss, d loss / d prediction)``."""
    return _core.loss("mse", prediction, target, sample_weight)


def poisson(log_mean, target, sample_weight=None):
    """Poisson deviance with a log link, mean over all elements of
    exp(z) - t z (the deviance up to terms of t alone; torch's PoissonNLLLoss
    with log_input=True), for targets t >= 0. Returns ``(loss, d loss / d z)``."""
    return _core.loss("poisson", log_mean, target, sample_weight)


# ---------------------------------------------------------------- optimizer updates
# One step of torch.optim's Adam / AdamW, RMSprop and Adagrad, with torch's
# single-tensor arithmetic, in place: ``param`` and every state buffer must be
# float32, 1-d, C-contiguous and writeable (never converted, so that the update
# lands in the caller's array) and all of one shape; ``grad`` may be any real
# 1-d array of that shape. Buffers start as torch starts them: zeros (Adagrad's
# ``state_sum``: ``initial_accumulator_value``). ``step`` is the update's count,
# 1 for the first. Nothing is returned.


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
              weight_decay=0.0, amsgrad=False, decoupled=False, step) -> None:
    """torch.optim.Adam (``decoupled=True``: AdamW, the decay ``param *= 1 - lr *
    weight_decay`` applied before the step instead of added to the gradient).
    ``max_exp_avg_sq``, the running maximum of ``exp_avg_sq``, is given exactly
    when ``amsgrad`` is True."""
    _core.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr=lr, betas=betas, eps=eps,
                    weight_decay=weight_decay, amsgrad=amsgrad, decoupled=decoupled, step=step)


def rmsprop_step(param, grad, square_avg, grad_avg=None, momentum_buffer=None, *, lr=1e-2, alpha=0.99, eps=1e-8,
                 weight_decay=0.0, momentum=0.0, centered=False) -> None:
    """torch.optim.RMSprop. ``grad_avg`` is given exactly when ``centered`` is
    True, ``momentum_buffer`` exactly when ``momentum > 0``."""
    _core.rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, lr=lr, alpha=alpha, eps=eps,
                       weight_decay=weight_decay, momentum=momentum, centered=centered)


def adagrad_step(param, grad, state_sum, *, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10, step) -> None:
    """torch.optim.Adagrad; the rate of update ``step`` is ``lr / (1 + (step - 1) * lr_decay)``."""
    _core.adagrad_step(param, grad, state_sum, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                       step=step)


class LossGradients(NamedTuple):
    """What ``loss_gradients`` returns: the batch's loss (float), the gradients
    of every layer's parameters (a list of ``(dW [in, out], db [out])`` float32
    pairs, shaped as ``model.get_weights()``) and ``dX``, d loss / d X
    ([rows, input_dim] float32)."""

    loss: float
    layers: list
    X: np.ndarray


def loss_gradients(model, X, y, sample_weight=None, *, _fault=None) -> LossGradients:
    """The loss of ``model`` (a built, compiled ``Sequential``) on the batch
    (X, y) and its gradients with respect to every parameter and to the inputs
    X, from the native core's backpropagation (float32): the forward, fused loss
    gradient and backward of one training step, with no step taken and nothing
    changed in the model. The loss is the compiled one, as ``evaluate`` reports
    it (rows weighted by ``sample_weight``, then the loss's mean).
    ``mlpcore.gradcheck`` compares these with finite differences.

    ``_fault`` is for tests only: ``(layer, "W" or "b", scale)`` multiplies that
    gradient by ``scale``, a deliberately wrong backward for a gradient check to catch."""
    from .models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a mlpcore.Sequential, got {type(model).__name__}")
    net = model._require_built("loss_gradients")
    model._require_idle("loss_gradients")
    if model._loss is None:
        raise ValueError("model: not compiled; call model.compile(loss=...) first (the loss defines the gradient)")
    X = finite_matrix("X", X, model.input_dim)
    targets = model._targets(y, X.shape[0])
    weights = model._weights(sample_weight, X.shape[0])
    loss, layers, dX = _core.loss_gradients(net, model._loss, X, targets, weights, _fault)
    return LossGradients(float(loss), list(layers), dX)


__all__ = ["matmul", "activation", "sigmoid", "tanh", "relu", "identity", "softmax",
           "activation_backward", "activation_derivative", "sigmoid_derivative", "tanh_derivative",
           "relu_derivative", "cross_entropy", "binary_cross_entropy", "mse", "poisson", "loss_gradients", "LossGradients",
           "adam_step", "rmsprop_step", "adagrad_step"]
