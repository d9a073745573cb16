"""Sequential: a stack of Dense layers with compile / fit / predict / evaluate,
as in Keras. All numeric work runs in the native core (mlpcore._core)."""

from __future__ import annotations

import time

import numpy as np

from . import _core, losses
from ._checks import finite_matrix, non_negative_int, numeric_array, positive_int
from .callbacks import CallbackList, ProgressBar
from .history import History
from .layers import Dense
from .optimizers import SGD


class NotBuiltError(ValueError):
    """The model has no weights yet: fit it, or give the first layer an input_dim."""


class Sequential:
    """A multi-layer perceptron.

    >>> model = Sequential([Dense(64, activation="relu"), Dense(10)], seed=0)
    >>> model.compile(loss="cross_entropy", optimizer=SGD(lr=0.1, momentum=0.9))
    >>> history = model.fit(X, y, epochs=5, batch_size=32)

    ``seed`` drives the initial weights and the shuffling: the same seed, data and
    thread count give bitwise the same weights.
    """

    def __init__(self, layers=None, *, input_dim=None, seed=0):
        self.layers: list[Dense] = []
        self.seed = non_negative_int("seed", seed)
        self._input_dim = None if input_dim is None else positive_int("input_dim", input_dim)
        self._net = None
        self._loss = None
        self._optimizer = None
        self._sgd = None
        self._trainer = None
        self._trainer_key = None
        self.epochs_done = 0
        self.stop_training = False  # a callback sets it to end fit after the current epoch
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        if not isinstance(layer, Dense):
            raise TypeError(f"layer: expected a mlpcore.Dense, got {type(layer).__name__}")
        if self._net is not None:
            raise ValueError("layer: cannot add layers to a model that is already built")
        if layer.input_dim is not None:
            if self.layers:
                raise ValueError("input_dim: only the first layer may set input_dim")
            self._input_dim = layer.input_dim
        self.layers.append(layer)
        if self._input_dim is not None and self._loss is not None:
            self.build(self._input_dim)

    @property
    def built(self) -> bool:
        return self._net is not None

    @property
    def input_dim(self):
        return self._input_dim

    @property
    def output_dim(self):
        return self.layers[-1].units if self.layers else None

    def _native_activations(self) -> list[str]:
        acts = [layer.activation for layer in self.layers]
        for i, act in enumerate(acts[:-1]):
            if act == "softmax":
                raise ValueError(f"activation: softmax is only supported on the last layer, found on layer {i}")
        last = acts[-1]
        if last == "softmax":
            if self._loss not in (None, losses.CROSS_ENTROPY):
                raise ValueError(f"activation: a softmax output needs loss='cross_entropy', got loss={self._loss!r}")
            acts[-1] = "identity"  # fused into the cross-entropy loss
        elif last == "sigmoid" and self._loss == losses.BINARY_CROSS_ENTROPY:
            acts[-1] = "identity"  # fused into the binary cross-entropy loss
        return acts

    def build(self, input_dim) -> None:
        """Create the weights for inputs of ``input_dim`` features (fit does this)."""
        if not self.layers:
            raise ValueError("layers: the model has no layers; add a Dense layer first")
        input_dim = positive_int("input_dim", input_dim)
        self._input_dim = input_dim
        self._net = _core.Network(input_dim, [l.units for l in self.layers], self._native_activations(),
                                  [l.init for l in self.layers], self.seed)
        self._sgd = None
        self._trainer = None

    @property
    def optimizer(self):
        """The SGD given to compile (None before); set ``optimizer.lr`` to change
        the learning rate between epochs."""
        return self._optimizer

    def _require_built(self, what: str):
        if self._net is None:
            raise NotBuiltError(f"{what}: the model is not built yet; call fit() first, or give the first "
                                f"layer an input_dim and call compile()")
        return self._net

    # ------------------------------------------------------------------ training
    def compile(self, loss="cross_entropy", optimizer=None, metrics=None) -> None:
        """Choose the loss ("mse", "cross_entropy", "binary_cross_entropy" or a
        Keras name) and the optimizer (an SGD, or "sgd" for SGD's defaults).
        Accuracy is reported for the classification losses; ``metrics`` is
        accepted for Keras compatibility."""
        self._loss = losses.resolve(loss)
        if optimizer is None or (isinstance(optimizer, str) and optimizer.lower() == "sgd"):
            optimizer = SGD()
        if not isinstance(optimizer, SGD):
            raise TypeError(f"optimizer: expected a mlpcore.SGD or 'sgd', got {type(optimizer).__name__}")
        self._optimizer = optimizer
        self._sgd = None
        self._trainer = None
        if self.layers:
            self._native_activations()  # validates softmax placement against the loss
        if self._net is not None:
            # The output activation may be fused into (or split from) the loss:
            # keep the weights, rebuild the native network with the new activations.
            weights = self.get_weights()
            self.build(self._input_dim)
            self.set_weights(weights)
        elif self._input_dim is not None and self.layers:
            self.build(self._input_dim)

    def _targets(self, y, rows: int, name: str = "y"):
        """y in the form the native loss takes: int32 labels or float32 (rows, out)."""
        out = self.output_dim
        arr = np.asarray(y)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected numeric targets, got dtype {arr.dtype}")
        if arr.ndim == 0 or arr.shape[0] != rows:
            raise ValueError(f"{name}: expected {rows} targets (one per row of X), got shape {arr.shape}")
        if self._loss == losses.CROSS_ENTROPY and arr.ndim == 1:
            if arr.dtype.kind == "f":
                if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
                    raise ValueError(f"{name}: class labels must be whole numbers")
            if arr.size and (arr.min() < 0 or arr.max() >= out):
                bad = arr.min() if arr.min() < 0 else arr.max()
                raise ValueError(f"{name}: labels must be in [0, {out}) for a {out}-unit output layer, got {bad}")
            return np.ascontiguousarray(arr, dtype=np.int32)
        if arr.ndim == 1:
            arr = arr.reshape(rows, 1)
        if arr.ndim != 2 or arr.shape[1] != out:
            raise ValueError(f"{name}: expected shape ({rows}, {out}) to match the output layer, got {arr.shape}")
        return finite_matrix(name, arr)

    def _weights(self, sample_weight, rows):
        if sample_weight is None:
            return None
        w = numeric_array("sample_weight", sample_weight)
        if w.shape != (rows,):
            raise ValueError(f"sample_weight: expected shape ({rows},), got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight: expected finite values >= 0")
        return w

    def _ensure_trainer(self, batch_size: int):
        if self._sgd is None:
            o = self._optimizer
            self._sgd = _core.Sgd(self._net, o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov,
                                  o.decay_bias)
            self._trainer = None
        if self._trainer is None or self._trainer_key != batch_size:
            self._trainer = _core.Trainer(self._net, self._sgd, self._loss, batch_size)
            self._trainer_key = batch_size
        return self._trainer

    def fit(self, X, y, epochs=1, batch_size=32, shuffle=True, validation_data=None, verbose=1,
            sample_weight=None, callbacks=None) -> History:
        """Train for ``epochs`` passes over (X, y) with minibatch SGD.

        X: (samples, features), converted once to float32 C order if it is not already.
        y: integer class labels (samples,) or one-hot / probability rows for
        cross-entropy; (samples, outputs) or (samples,) targets otherwise.
        verbose: 0 silent, 1 a progress bar over the epochs (tqdm when installed,
        else a line per epoch) with loss, metrics and samples/s, 2 a line per epoch.
        callbacks: mlpcore.callbacks objects (EarlyStopping,
        LearningRateScheduler, your own), called between epochs.
        Returns a History. Calling fit again continues training (epochs and the
        shuffling sequence carry on), as in Keras.
        """
        if self._loss is None:
            raise ValueError("compile: call model.compile(loss=..., optimizer=...) before fit()")
        epochs = non_negative_int("epochs", epochs)
        batch_size = positive_int("batch_size", batch_size)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle: expected a bool, got {type(shuffle).__name__}")
        verbose = non_negative_int("verbose", verbose)
        X = finite_matrix("X", X, self._input_dim if self._net is not None else None)
        rows = X.shape[0]
        targets = self._targets(y, rows)
        weights = self._weights(sample_weight, rows)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
            Xv = finite_matrix("validation_data[0]", validation_data[0], X.shape[1])
            yv = self._targets(validation_data[1], Xv.shape[0], "validation_data[1]")
            wv = self._weights(validation_data[2], Xv.shape[0]) if len(validation_data) == 3 else None
            val = (Xv, yv, wv)
        params = {"epochs": epochs, "initial_epoch": self.epochs_done, "batch_size": batch_size, "samples": rows,
                  "verbose": verbose}
        callbacks = CallbackList(callbacks, self, params)
        progress = ProgressBar(verbose)
        progress.set_model(self)
        progress.set_params(params)
        if self._net is None:
            self.build(X.shape[1])
        trainer = self._ensure_trainer(batch_size)

        history = History(params)
        classification = self._loss in losses.CLASSIFICATION
        self.stop_training = False
        callbacks.on_train_begin()
        progress.on_train_begin()
        try:
            for _ in range(epochs):
                if self.stop_training:
                    break
                epoch = self.epochs_done
                callbacks.on_epoch_begin(epoch)
                progress.on_epoch_begin(epoch)
                self._sgd.set_lr(self._optimizer.lr)  # a callback may have changed it
                start = time.perf_counter()
                stats = trainer.run_epoch(X, targets, weights, bool(shuffle), self.seed, epoch)
                seconds = time.perf_counter() - start
                if stats["diverged"]:
                    raise FloatingPointError(
                        f"fit: the loss became NaN or infinite in epoch {epoch + 1} after "
                        f"{stats['steps']} steps; the weights are those of the last finite step. "
                        f"Try a smaller learning rate.")
                self.epochs_done += 1
                logs = {"loss": stats["loss"]}
                if classification:
                    logs["accuracy"] = stats["accuracy"]
                if val is not None:
                    v = _core.evaluate(self._net, self._loss, *val)
                    logs["val_loss"] = v["loss"]
                    if classification:
                        logs["val_accuracy"] = v["accuracy"]
                logs["samples_per_second"] = stats["samples"] / seconds if seconds > 0 else float("inf")
                callbacks.on_epoch_end(epoch, logs)
                history.append(epoch, logs)
                progress.on_epoch_end(epoch, logs)
            history.stopped_early = self.stop_training
            callbacks.on_train_end()
        finally:
            progress.close()
        return history

    # ------------------------------------------------------------------ inference
    def predict(self, X) -> np.ndarray:
        """Outputs for each row of X: class probabilities (softmax) for
        cross-entropy, sigmoid probabilities for binary cross-entropy, raw
        outputs otherwise."""
        net = self._require_built("predict")
        X = finite_matrix("X", X, self._input_dim)
        if self._loss in losses.CLASSIFICATION:
            transform = self._loss
        elif self.layers[-1].activation == "softmax":  # built without a loss: softmax still applies
            transform = losses.CROSS_ENTROPY
        else:
            transform = "none"
        return net.predict(X, transform)

    def evaluate(self, X, y, sample_weight=None) -> dict:
        """Mean loss (and accuracy for classification) over (X, y)."""
        net = self._require_built("evaluate")
        if self._loss is None:
            raise ValueError("compile: call model.compile(loss=...) before evaluate()")
        X = finite_matrix("X", X, self._input_dim)
        stats = _core.evaluate(net, self._loss, X, self._targets(y, X.shape[0]),
                               self._weights(sample_weight, X.shape[0]))
        out = {"loss": stats["loss"]}
        if self._loss in losses.CLASSIFICATION:
            out["accuracy"] = stats["accuracy"]
        return out

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list:
        """A list of (W [in, out], b [out]) float32 arrays, one pair per layer (copies)."""
        return self._require_built("get_weights").get_params()

    def set_weights(self, weights) -> None:
        """Load (W, b) pairs shaped as get_weights() returns them."""
        self._require_built("set_weights").set_params(list(weights))

    def summary(self) -> str:
        """Layers, output shapes and parameter counts, printed and returned."""
        lines = [f"{'layer':<24}{'output shape':<18}{'params':>10}"]
        total = 0
        fan_in = self._input_dim
        for i, layer in enumerate(self.layers):
            params = (fan_in * layer.units + layer.units) if fan_in else None
            total += params or 0
            lines.append(f"{f'dense_{i} ({layer.activation})':<24}{f'(None, {layer.units})':<18}"
                         f"{params if params is not None else '?':>10}")
            fan_in = layer.units
        lines.append(f"total parameters: {total if self._input_dim else '? (input_dim unknown)'}")
        text = "\n".join(lines)
        print(text)
        return text

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r}, input_dim={self._input_dim}, seed={self.seed})"
