"""Optimizers. SGD follows torch.optim.SGD exactly (weight decay added to the
gradient, momentum buffer starting at the first gradient, Nesterov as there)."""

from __future__ import annotations

from ._checks import real_number


class SGD:
    """Minibatch stochastic gradient descent with optional momentum, Nesterov
    momentum and L2 weight decay."""

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0, *,
                 learning_rate=None):
        if learning_rate is not None:  # Keras spelling
            lr = learning_rate
        self.lr = real_number("lr", lr)
        if self.lr <= 0:
            raise ValueError(f"lr: expected a number > 0, got {self.lr}")
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

    def get_config(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"SGD({args})"
