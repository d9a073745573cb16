"""Optimizers. SGD follows torch.optim.SGD exactly (weight decay added to the
gradient, momentum buffer starting at the first gradient, Nesterov as there).
The learning rate may be changed between epochs (``optimizer.lr = x``, as the
LearningRateScheduler callback does); the momentum buffer is kept."""

from __future__ import annotations

from ._checks import real_number


class SGD:
    """Minibatch stochastic gradient descent with optional momentum, Nesterov
    momentum and L2 weight decay. ``decay_bias=False`` exempts the biases from
    weight decay (scikit-learn's ``alpha`` convention); torch decays them too."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:  # Keras spelling
            lr = learning_rate
        self.lr = lr
        self.momentum = real_number("momentum", momentum)
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: expected a number in [0, 1), got {self.momentum}")
        self.weight_decay = real_number("weight_decay", weight_decay)
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay: expected a number >= 0, got {self.weight_decay}")
        self.dampening = real_number("dampening", dampening)
        if not 0.0 <= self.dampening <= 1.0:
            raise ValueError(f"dampening: expected a number in [0, 1], got {self.dampening}")
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected a bool, got {type(nesterov).__name__}")
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("nesterov: requires momentum > 0 and dampening == 0")
        self.nesterov = nesterov
        if not isinstance(decay_bias, bool):
            raise TypeError(f"decay_bias: expected a bool, got {type(decay_bias).__name__}")
        self.decay_bias = decay_bias

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        value = real_number("lr", value)
        if value <= 0:
            raise ValueError(f"lr: expected a number > 0, got {value}")
        self._lr = value

    learning_rate = lr  # Keras spelling

    def get_config(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening,
                "decay_bias": self.decay_bias}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SGD({args})"
