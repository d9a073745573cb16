"""Callbacks for Sequential.fit, as in Keras: objects whose hooks run at the
start and end of training and of each epoch. The epochs themselves run in the
native core; Python is called between them, never inside one.

Write your own by subclassing Callback (or with LambdaCallback):

    class PrintLoss(mc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(epoch, logs["loss"])

    model.fit(X, y, epochs=10, callbacks=[PrintLoss()])

``self.model`` is the Sequential being trained; set ``self.model.stop_training
= True`` to end training after the current epoch. ``logs`` at the end of an
epoch holds the History metrics ("loss", "accuracy", "val_loss",
"val_accuracy", "samples_per_second"); a callback may add entries to it.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from ._checks import non_negative_int, one_of, positive_int, real_number


class Callback:
    """Base class: every hook does nothing. ``epoch`` counts the model's epochs
    from 0 across fit calls (a second fit continues the count)."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_train_end(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g.
    ``LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))``."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: expected a callable, got {type(fn).__name__}")
        self._epoch_begin, self._epoch_end = on_epoch_begin, on_epoch_end
        self._train_begin, self._train_end = on_train_begin, on_train_end

    def on_epoch_begin(self, epoch, logs=None):
        if self._epoch_begin:
            self._epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_end:
            self._epoch_end(epoch, logs)

    def on_train_begin(self, logs=None):
        if self._train_begin:
            self._train_begin(logs)

    def on_train_end(self, logs=None):
        if self._train_end:
            self._train_end(logs)


def _monitor_mode(monitor: str, mode: str) -> str:
    mode = one_of("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("score")) else "min"
    return mode


class EarlyStopping(Callback):
    """Stops training when ``monitor`` (default "val_loss") has not improved by
    more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the model ends with the weights of its
    best epoch, both when it stops early and when it runs out of epochs.
    ``mode`` is "min", "max" or "auto" (max for accuracies and scores).
    ``baseline``: training stops unless the monitored value beats it within
    ``patience`` epochs. ``start_from_epoch``: epochs of warm-up not watched.
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, verbose=0):
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: expected a metric name, got {type(monitor).__name__}")
        self.monitor = monitor
        self.min_delta = abs(real_number("min_delta", min_delta))
        self.patience = non_negative_int("patience", patience)
        self.mode = _monitor_mode(monitor, mode)
        self.baseline = None if baseline is None else real_number("baseline", baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = non_negative_int("start_from_epoch", start_from_epoch)
        self.verbose = non_negative_int("verbose", verbose)
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        self.best_weights = None
        self._epochs_seen = 0

    def _improves(self, value, reference) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        self._epochs_seen += 1
        if self._epochs_seen <= self.start_from_epoch:
            return
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"EarlyStopping: metric {self.monitor!r} is not in the logs "
                          f"(available: {sorted(logs or {})}); pass validation_data for val_ metrics",
                          RuntimeWarning, stacklevel=2)
            return
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and self._epochs_seen > 1:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.verbose:
                print(f"Epoch {epoch + 1}: early stopping (best {self.monitor} = {self.best:.6g} "
                      f"at epoch {self.best_epoch + 1 if self.best_epoch is not None else '-'})")

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            if self.verbose:
                print(f"Restored the weights of epoch {self.best_epoch + 1}")


class ModelCheckpoint(Callback):
    """Saves the model with ``model.save(path)`` at the end of epochs (weights,
    optimizer state and epoch count: ``mlpcore.load(path)`` resumes training).

    ``filepath`` may hold format fields from the epoch (1-based) and the logs:
    ``"ckpt/model-{epoch:03d}-{val_loss:.3f}.mlpc"``. With ``save_best_only`` it
    saves only when ``monitor`` improves (``mode`` as in EarlyStopping); the
    paths written are listed in ``saved``.
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto", verbose=0):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if not isinstance(monitor, str):
            raise TypeError(f"monitor: expected a metric name, got {type(monitor).__name__}")
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.mode = _monitor_mode(monitor, mode)
        self.verbose = non_negative_int("verbose", verbose)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"ModelCheckpoint: metric {self.monitor!r} is not in the logs "
                              f"(available: {sorted(logs)}); nothing saved", RuntimeWarning, stacklevel=2)
                return
            if not (value < self.best if self.mode == "min" else value > self.best):
                return
            self.best = value
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"filepath: cannot format {self.filepath!r} with epoch and logs "
                             f"{sorted(logs)}: {exc}") from None
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)  # as Keras does
        self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


class StepDecay:
    """lr = initial_lr * drop ** (epoch // every)."""

    def __init__(self, initial_lr, drop=0.5, every=10):
        self.initial_lr = real_number("initial_lr", initial_lr)
        self.drop = real_number("drop", drop)
        if not 0 < self.drop <= 1:
            raise ValueError(f"drop: expected a number in (0, 1], got {self.drop}")
        self.every = positive_int("every", every)

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.drop ** (epoch // self.every)

    def __repr__(self):
        return f"StepDecay(initial_lr={self.initial_lr}, drop={self.drop}, every={self.every})"


class ExponentialDecay:
    """lr = initial_lr * rate ** epoch."""

    def __init__(self, initial_lr, rate=0.96):
        self.initial_lr = real_number("initial_lr", initial_lr)
        self.rate = real_number("rate", rate)
        if not 0 < self.rate <= 1:
            raise ValueError(f"rate: expected a number in (0, 1], got {self.rate}")

    def __call__(self, epoch, lr=None):
        return self.initial_lr * self.rate ** epoch

    def __repr__(self):
        return f"ExponentialDecay(initial_lr={self.initial_lr}, rate={self.rate})"


class CosineDecay:
    """Half a cosine from initial_lr at epoch 0 down to min_lr at epoch
    ``epochs`` (and min_lr after it)."""

    def __init__(self, initial_lr, epochs, min_lr=0.0):
        self.initial_lr = real_number("initial_lr", initial_lr)
        self.epochs = positive_int("epochs", epochs)
        self.min_lr = real_number("min_lr", min_lr)
        if not 0 <= self.min_lr < self.initial_lr:
            raise ValueError(f"min_lr: expected a number in [0, initial_lr={self.initial_lr}), got {self.min_lr}")

    def __call__(self, epoch, lr=None):
        t = min(epoch, self.epochs) / self.epochs
        return self.min_lr + 0.5 * (self.initial_lr - self.min_lr) * (1.0 + math.cos(math.pi * t))

    def __repr__(self):
        return f"CosineDecay(initial_lr={self.initial_lr}, epochs={self.epochs}, min_lr={self.min_lr})"


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to
    ``schedule(epoch, lr)`` (Keras's signature; ``schedule(epoch)`` works too).
    StepDecay, ExponentialDecay and CosineDecay are ready-made schedules. The
    rate used is logged as "lr"."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule: expected a callable (epoch, lr) -> lr, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = non_negative_int("verbose", verbose)

    def _call_schedule(self, epoch, lr):
        try:
            return self.schedule(epoch, lr)
        except TypeError:
            return self.schedule(epoch)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = self._call_schedule(epoch, optimizer.lr)
        if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, numbers.Real) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"schedule: expected a finite learning rate > 0 for epoch {epoch}, got {lr!r}")
        optimizer.lr = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {optimizer.lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = self.model.optimizer.lr


def _format_logs(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        if key == "samples_per_second":
            continue
        parts.append(f"{key}: {value:.4g}" if key == "lr" else f"{key}: {value:.4f}")
    if "samples_per_second" in logs:
        parts.append(f"{logs['samples_per_second']:,.0f} samples/s")
    return " - ".join(parts)


class ProgressBar(Callback):
    """What ``fit(verbose=...)`` shows: 1 = a bar over the epochs with the
    latest loss, metrics and samples/s (tqdm when installed, else one line per
    epoch), 2 = one line per epoch. The bar moves once per epoch: the epoch
    runs in native code without returning to Python."""

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose = non_negative_int("verbose", verbose)
        self.file = file
        self._bar = None
        self._start = None

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def on_train_begin(self, logs=None):
        epochs = self.params.get("epochs")
        self._bar = None
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                first = self.params.get("initial_epoch", 0)
                self._bar = tqdm(total=epochs, unit="epoch", desc="fit" if not first else f"fit (from epoch {first + 1})",
                                 file=self.file, dynamic_ncols=True, leave=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._bar is not None:
            postfix = {k: (f"{v:.4f}" if k != "lr" else f"{v:.4g}") for k, v in logs.items()
                       if k != "samples_per_second"}
            if "samples_per_second" in logs:
                postfix["samples/s"] = f"{logs['samples_per_second']:,.0f}"
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)
        elif self.verbose:
            seconds = time.perf_counter() - self._start if self._start is not None else 0.0
            total = self.params.get("epochs")
            of = f"/{total + self.params.get('initial_epoch', 0)}" if total else ""
            print(f"Epoch {epoch + 1}{of}: {seconds:.2f}s - {_format_logs(logs)}", file=self._out(), flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_end(self, logs=None):
        self.close()


class CallbackList:
    """Runs a list of callbacks in order (what fit uses internally)."""

    def __init__(self, callbacks, model, params: dict):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        else:
            callbacks = list(callbacks)
        for i, cb in enumerate(callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks[{i}]: expected a mlpcore.callbacks.Callback, got {type(cb).__name__}")
        self.callbacks = callbacks
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)


__all__ = ["Callback", "CallbackList", "CosineDecay", "EarlyStopping", "ExponentialDecay", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "ProgressBar", "StepDecay"]
