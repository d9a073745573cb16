"""Optimizers. SGD follows torch.optim.SGD exactly (weight decay added to the
gradient, momentum buffer starting at the first gradient, Nesterov as there).
The learning rate may be changed between epochs (``optimizer.lr = x``, as the
LearningRateScheduler callback does); the momentum buffer is kept."""

from __future__ import annotations

from . import _core


class SGD:
    """Minibatch stochastic gradient descent with optional momentum, Nesterov
    momentum and L2 weight decay. ``decay_bias=False`` exempts the biases from
    weight decay (scikit-learn's ``alpha`` convention); torch decays them too."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:  # Keras spelling
            lr = learning_rate
        # Types and ranges are the core's rule (float32 values, lr > 0, momentum in
        # [0, 1), ...), checked here so that a bad value fails at construction.
        _core.check_sgd(lr, momentum, dampening, weight_decay, nesterov)
        self._lr = float(lr)
        self.momentum = float(momentum)
        self.weight_decay = float(weight_decay)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        if not isinstance(decay_bias, bool):
            raise TypeError(f"decay_bias: expected a bool, got {type(decay_bias).__name__} {decay_bias!r}")
        self.decay_bias = decay_bias

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        _core.check_sgd(value, self.momentum, self.dampening, self.weight_decay, self.nesterov)
        self._lr = float(value)

    learning_rate = lr  # Keras spelling

    def get_config(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening,
                "decay_bias": self.decay_bias}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SGD({args})"
