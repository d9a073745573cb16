"""Optimizers, each exactly as its torch.optim twin (keyword names included):
SGD (weight decay added to the gradient, momentum buffer starting at the first
gradient, Nesterov as there), Adam and AdamW (bias correction, eps added after
the square root, AdamW's decoupled decay, ``amsgrad``), RMSprop (``alpha``,
``eps``, ``centered``, ``momentum``) and Adagrad (``lr_decay``,
``initial_accumulator_value``, ``eps``). ``weight_decay`` on every one;
``decay_bias=False`` exempts the biases from it (scikit-learn's ``alpha``
convention; torch decays them too).

The learning rate may be changed between epochs (``optimizer.lr = x``, as the
LearningRateScheduler callback does); the state is kept. Each is one fused pass
over the flat parameter, gradient and state buffers in the core, on the model's
device, under the same divergence rule. The settings' types and ranges are the
core's rule, checked when an optimizer is made (and when ``lr`` is set)."""

from __future__ import annotations

from . import _core


class Optimizer:
    """What every optimizer shares: its name in the core (``kind``), its
    settings (``get_config``) and a learning rate that may change between epochs."""

    kind = ""
    _settings: tuple = ()  # get_config's keys, besides lr and decay_bias

    def __init__(self, lr, decay_bias):
        if not isinstance(decay_bias, bool):
            raise TypeError(f"decay_bias: expected a bool, got {type(decay_bias).__name__} {decay_bias!r}")
        self.decay_bias = decay_bias
        self._lr = float(lr)
        self._check(self._lr)

    def _check(self, lr) -> None:
        """Raises what the core would for these settings with learning rate ``lr``."""
        raise NotImplementedError

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._check(value)
        self._lr = float(value)

    learning_rate = lr  # Keras spelling

    def get_config(self) -> dict:
        config = {"lr": self.lr}
        config.update({name: getattr(self, name) for name in self._settings})
        config["decay_bias"] = self.decay_bias
        return config

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Minibatch stochastic gradient descent with optional momentum, Nesterov
    momentum and L2 weight decay, as torch.optim.SGD."""

    kind = "sgd"
    _settings = ("momentum", "nesterov", "weight_decay", "dampening")

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:  # Keras spelling
            lr = learning_rate
        _core.check_sgd(lr, momentum, dampening, weight_decay, nesterov)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)
        self.dampening = float(dampening)
        super().__init__(lr, decay_bias)

    def _check(self, lr) -> None:
        _core.check_sgd(lr, self.momentum, self.dampening, self.weight_decay, self.nesterov)


class Adam(Optimizer):
    """Adam, as torch.optim.Adam: bias-corrected moments, ``eps`` added after the
    square root, ``weight_decay`` added to the gradient, ``amsgrad`` keeping the
    running maximum of the second moment."""

    kind = "adam"
    _settings = ("betas", "eps", "weight_decay", "amsgrad")

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:
            lr = learning_rate
        if isinstance(betas, (list, tuple)) and len(betas) == 2:
            betas = (betas[0], betas[1])
        _core.check_adam(lr, betas, eps, weight_decay, amsgrad, self.kind == "adamw")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)
        super().__init__(lr, decay_bias)

    def _check(self, lr) -> None:
        _core.check_adam(lr, self.betas, self.eps, self.weight_decay, self.amsgrad, self.kind == "adamw")


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: Adam with decoupled weight decay (the
    parameters shrink by ``lr * weight_decay`` before the Adam step)."""

    kind = "adamw"

    def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, *,
                 learning_rate=None, decay_bias=True):
        super().__init__(lr, betas, eps, weight_decay, amsgrad, learning_rate=learning_rate, decay_bias=decay_bias)


class RMSprop(Optimizer):
    """RMSprop, as torch.optim.RMSprop: a running average of squared gradients
    (``alpha``), optionally ``centered`` and with ``momentum``."""

    kind = "rmsprop"
    _settings = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:
            lr = learning_rate
        _core.check_rmsprop(lr, alpha, eps, weight_decay, momentum, centered)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)
        self.centered = bool(centered)
        super().__init__(lr, decay_bias)

    def _check(self, lr) -> None:
        _core.check_rmsprop(lr, self.alpha, self.eps, self.weight_decay, self.momentum, self.centered)


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad: a running sum of squared gradients
    (starting at ``initial_accumulator_value``), the rate decayed by ``lr_decay``."""

    kind = "adagrad"
    _settings = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, *,
                 learning_rate=None, decay_bias=True):
        if learning_rate is not None:
            lr = learning_rate
        _core.check_adagrad(lr, lr_decay, weight_decay, initial_accumulator_value, eps)
        self.lr_decay = float(lr_decay)
        self.weight_decay = float(weight_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.eps = float(eps)
        super().__init__(lr, decay_bias)

    def _check(self, lr) -> None:
        _core.check_adagrad(lr, self.lr_decay, self.weight_decay, self.initial_accumulator_value, self.eps)


# The names compile(optimizer=...) and saved files use (Keras's), each with its class.
BY_NAME = {cls.kind: cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad)}


def resolve(optimizer) -> Optimizer:
    """An Optimizer from what compile() was given: an instance, a name ("sgd",
    "adam", "adamw", "rmsprop", "adagrad", any case) for its defaults, or None (SGD)."""
    if optimizer is None:
        return SGD()
    if isinstance(optimizer, str):
        cls = BY_NAME.get(optimizer.strip().lower())
        if cls is None:
            raise ValueError(f"optimizer: expected one of {sorted(BY_NAME)} or an optimizer object, got {optimizer!r}")
        return cls()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a mlpcore optimizer (SGD, Adam, AdamW, RMSprop, Adagrad) or its "
                        f"name, got {type(optimizer).__name__}")
    return optimizer


def from_config(kind, config) -> Optimizer:
    """The optimizer a saved file names (its kind and get_config())."""
    if kind not in BY_NAME:
        raise ValueError(f"optimizer kind: expected one of {sorted(BY_NAME)}, got {kind!r}")
    if not isinstance(config, dict):
        raise TypeError(f"optimizer: expected an object, got {type(config).__name__}")
    config = dict(config)
    if "betas" in config and isinstance(config["betas"], list):
        config["betas"] = tuple(config["betas"])
    return BY_NAME[kind](**config)
