"""Sequential: a stack of Dense layers with compile / fit / predict / evaluate,
as in Keras. All numeric work runs in the native core (mlpcore._core)."""

from __future__ import annotations

import threading
import time

import numpy as np

from . import _core, devices, io, losses, optimizers
from ._checks import finite_matrix, input_matrix, non_negative_int, numeric_array, positive_int, seed_value
from .callbacks import CallbackList, ProgressBar
from .history import History
from .layers import Dense


class NotBuiltError(ValueError):
    """The model has no weights yet: fit it, or give the first layer an input_dim."""


ModelBusyError = _core.ModelBusyError  # a model used by another thread in a conflicting way


class Sequential:
    """A multi-layer perceptron.

    >>> model = Sequential([Dense(64, activation="relu"), Dense(10)], seed=0)
    >>> model.compile(loss="cross_entropy", optimizer=SGD(lr=0.1, momentum=0.9))
    >>> history = model.fit(X, y, epochs=5, batch_size=32)

    ``seed`` drives the initial weights and the shuffling: the same seed, data and
    thread count give bitwise the same weights.

    ``save(path)`` / ``mlpcore.load(path)`` keep everything needed to continue
    training bit for bit (see mlpcore.io); models also pickle.
    Several threads may call ``predict`` / ``evaluate`` on one model at once;
    while ``fit`` runs, the model belongs to it and other threads get ModelBusyError.

    ``device="cuda"`` (or ``model.to("cuda")``) trains and predicts on an NVIDIA
    GPU, in builds made with CUDA: the weights, gradients and optimizer state
    live in the device's memory for the model's life (``get_weights``, ``save``
    and pickling copy them out when asked), and the data goes there once per
    fit. The initial weights and the batch order are the same on every device.
    """

    def __init__(self, layers=None, *, input_dim=None, seed=0, device="cpu"):
        self.layers: list[Dense] = []
        self.seed = seed_value("seed", seed)
        self._device = devices.resolve(device)
        self._input_dim = None if input_dim is None else positive_int("input_dim", input_dim)
        self._net = None
        self._net_activations = None  # the activations _net was built with
        self._loss = None
        self._optimizer = None
        self._opt = None  # the native optimizer (state on the model's device), once training needs it
        self._trainer = None
        self._trainer_key = None
        self.epochs_done = 0
        self.stop_training = False  # a callback sets it to end fit after the current epoch
        self._fit_lock = threading.Lock()
        self._fit_thread = None
        if isinstance(layers, Dense) or (layers is not None and not isinstance(layers, (list, tuple))):
            raise TypeError(f"layers: expected a list of mlpcore.Dense, got {type(layers).__name__}")
        for layer in layers or []:
            self.add(layer)

    def _require_idle(self, what: str) -> None:
        """ModelBusyError when another thread is inside fit() on this model."""
        if self._fit_lock.locked() and self._fit_thread != threading.get_ident():
            raise ModelBusyError(f"{what}: the model is being trained by fit() in another thread")

    # ------------------------------------------------------------------ structure
    def add(self, layer) -> None:
        if not isinstance(layer, Dense):
            raise TypeError(f"layer: expected a mlpcore.Dense, got {type(layer).__name__}")
        self._require_idle("add")
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
        self._require_idle("build")
        self._input_dim = input_dim
        self._net_activations = self._native_activations()
        self._net = _core.Network(input_dim, [l.units for l in self.layers], self._net_activations,
                                  [l.init for l in self.layers], self.seed, self._device)
        self._opt = None
        self._trainer = None

    # ------------------------------------------------------------------ device
    @property
    def device(self) -> str:
        """"cpu" or "cuda": where fit, predict and evaluate compute."""
        return self._device

    def to(self, device) -> "Sequential":
        """Compute on ``device`` ("cpu" or "cuda") from now on; returns the model.
        The weights and optimizer state move to the device's memory."""
        device = devices.resolve(device)
        self._require_idle("to")
        if self._net is not None:
            self._net.to(device)
        if self._opt is not None:
            self._opt.to(device)
        self._trainer = None  # its workspaces were on the old device
        self._device = device
        return self

    @property
    def optimizer(self):
        """The optimizer given to compile (None before); set ``optimizer.lr`` to
        change the learning rate between epochs."""
        return self._optimizer

    def _require_built(self, what: str):
        if self._net is None:
            raise NotBuiltError(f"{what}: the model is not built yet; call fit() first, or give the first "
                                f"layer an input_dim and call compile()")
        return self._net

    # ------------------------------------------------------------------ training
    def compile(self, loss="cross_entropy", optimizer=None, metrics=None) -> None:
        """Choose the loss ("mse", "cross_entropy", "binary_cross_entropy" or a
        Keras name) and the optimizer (mlpcore.SGD, Adam, AdamW, RMSprop, Adagrad,
        or one of their names, "sgd", "adam", ..., for its defaults).
        Accuracy is reported for the classification losses; ``metrics`` is
        accepted for Keras compatibility."""
        self._require_idle("compile")
        self._loss = losses.resolve(loss)
        self._optimizer = optimizers.resolve(optimizer)
        self._opt = None
        self._trainer = None
        # Also validates softmax placement against the loss.
        activations = self._native_activations() if self.layers else None
        if self._net is not None:
            if activations != self._net_activations:
                # The output activation is now fused into (or split from) the
                # loss: rebuild the native network with the same weights. The
                # old network (weights and gradients) is let go first, so the
                # parameters exist three times at most, not five.
                weights = self.get_weights()
                self._net = None
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

    def _ensure_optimizer(self):
        if self._opt is None:
            o = self._optimizer
            self._opt = _core.Optimizer(self._net, o.kind, o.get_config(), o.decay_bias)
            self._trainer = None
        return self._opt

    def _ensure_trainer(self, batch_size: int):
        self._ensure_optimizer()
        if self._trainer is None or self._trainer.batch_size != batch_size:
            self._trainer = _core.Trainer(self._net, self._opt, self._loss, batch_size)
        return self._trainer

    def fit(self, X, y, epochs=1, batch_size=32, shuffle=True, validation_data=None, verbose=1,
            sample_weight=None, callbacks=None) -> History:
        """Train for ``epochs`` passes over (X, y) with the compiled optimizer.

        X: (samples, features), converted once to float32 C order if it is not
        already; or a scipy.sparse matrix (CSR as it is, other formats converted
        to CSR once), whose batches are made dense as they are drawn: the whole
        matrix never is, and the weights come out bitwise those of the same
        data given dense.
        y: integer class labels (samples,) or one-hot / probability rows for
        cross-entropy; (samples, outputs) or (samples,) targets otherwise.
        verbose: 0 silent, 1 a progress bar over the epochs (tqdm when installed,
        else a line per epoch) with loss, metrics and samples/s, 2 a line per epoch.
        callbacks: mlpcore.callbacks objects (EarlyStopping, ModelCheckpoint,
        LearningRateScheduler, your own), called between epochs.
        Returns a History. Calling fit again continues training (epochs and the
        shuffling sequence carry on), as in Keras.

        Ctrl-C stops within a fraction of a second: the model keeps its last
        completed step and stays usable, and the KeyboardInterrupt carries the
        History (also ``model.history``) with ``interrupted`` and
        ``partial_epoch`` ({"epoch", "steps", "samples", "loss"}) saying how far
        it got.

        Divergence: if a batch's loss, gradient or update becomes NaN or
        infinite, fit raises FloatingPointError (with ``history.diverged``) and
        that update is never applied, on every device: the weights and optimizer
        state are those of the last finite step, ready to train on with a
        smaller learning rate. This costs no copy of the weights (each step is
        checked before it is applied).
        """
        if not self._fit_lock.acquire(blocking=False):
            raise ModelBusyError("fit: the model is already being trained by fit() in another thread")
        self._fit_thread = threading.get_ident()
        try:
            return self._fit(X, y, epochs, batch_size, shuffle, validation_data, verbose, sample_weight, callbacks)
        finally:
            self._fit_thread = None
            self._fit_lock.release()

    def _fit(self, X, y, epochs, batch_size, shuffle, validation_data, verbose, sample_weight, callbacks):
        if self._loss is None:
            raise ValueError("compile: call model.compile(loss=..., optimizer=...) before fit()")
        epochs = non_negative_int("epochs", epochs)
        batch_size = positive_int("batch_size", batch_size)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle: expected a bool, got {type(shuffle).__name__}")
        verbose = non_negative_int("verbose", verbose)
        X = input_matrix("X", X, self._input_dim if self._net is not None else None)
        rows = X.shape[0]
        targets = self._targets(y, rows)
        weights = self._weights(sample_weight, rows)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("validation_data: expected a tuple (X_val, y_val) or (X_val, y_val, sample_weight)")
            Xv = input_matrix("validation_data[0]", validation_data[0], X.shape[1], check_sparse=True)
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
        # A batch larger than the data is the whole data: no need for bigger workspaces.
        trainer = self._ensure_trainer(min(batch_size, rows))
        trainer.load_data(X, targets, weights)  # checked, and copied to the device, once per fit
        try:
            return self._fit_epochs(trainer, rows, epochs, batch_size, bool(shuffle), val, params, callbacks,
                                    progress)
        finally:
            trainer.release_data()  # the model does not keep the training data

    def _fit_epochs(self, trainer, rows, epochs, batch_size, shuffle, val, params, callbacks, progress):

        history = History(params)
        self.history = history
        classification = self._loss in losses.CLASSIFICATION
        self.stop_training = False
        callbacks.on_train_begin()
        progress.on_train_begin()
        steps_at_epoch_start = self._opt.steps
        try:
            for _ in range(epochs):
                if self.stop_training:
                    break
                epoch = self.epochs_done
                steps_at_epoch_start = self._opt.steps
                callbacks.on_epoch_begin(epoch)
                progress.on_epoch_begin(epoch)
                self._opt.set_lr(self._optimizer.lr)  # a callback may have changed it
                start = time.perf_counter()
                try:
                    stats = self._run_epoch(trainer, (shuffle, self.seed, epoch), wait=len(history.epoch) > 0)
                except BaseException as exc:  # Ctrl-C: the epoch stopped after its last completed step
                    partial = getattr(exc, "epoch_stats", None)
                    if partial is not None:
                        history.interrupted = True
                        history.partial_epoch = {"epoch": epoch, "steps": partial["steps"],
                                                 "samples": partial["samples"], "loss": partial["loss"]}
                        exc.history = history
                    raise
                seconds = time.perf_counter() - start
                self._check_finite(stats, history)
                self.epochs_done += 1
                logs = {"loss": stats["loss"]}
                if classification:
                    logs["accuracy"] = stats["accuracy"]
                if val is not None:
                    v = self._evaluate_native(*val)
                    logs["val_loss"] = v["loss"]
                    if classification:
                        logs["val_accuracy"] = v["accuracy"]
                logs["samples_per_second"] = stats["samples"] / seconds if seconds > 0 else float("inf")
                callbacks.on_epoch_end(epoch, logs)
                history.append(epoch, logs)
                progress.on_epoch_end(epoch, logs)
            history.stopped_early = self.stop_training
            callbacks.on_train_end()
        except KeyboardInterrupt as exc:
            if getattr(exc, "history", None) is None:
                # Ctrl-C landed in Python between native epochs: an epoch that ran but
                # is not recorded yet counts as a partial one, so steps still add up.
                steps = self._opt.steps - steps_at_epoch_start
                history.interrupted = True
                history.partial_epoch = {"epoch": self.epochs_done, "steps": steps,
                                         "samples": min(steps * batch_size, rows), "loss": float("nan")}
                exc.history = history
            raise
        finally:
            progress.close()
        return history

    @staticmethod
    def _run_epoch(trainer, args, wait: bool):
        """One native epoch. Once fit is under way other threads are refused
        (_require_idle), but a predict that started just before may still be
        running: later epochs wait for it (briefly) instead of failing."""
        deadline = time.perf_counter() + 10.0
        while True:
            try:
                return trainer.run_epoch(*args)
            except ModelBusyError:
                if not wait or time.perf_counter() > deadline:
                    raise
                time.sleep(0.001)

    def _evaluate_native(self, X, targets, weights) -> dict:
        return _core.evaluate(self._net, self._loss, X, targets, weights)

    def _check_finite(self, stats, history) -> None:
        """Stop with FloatingPointError when an epoch diverged. The trainer
        checks each step before applying it, on every device: the weights and
        optimizer state are those of the last finite step."""
        if not stats["diverged"]:
            return
        if stats["update_refused"]:
            what = "an update (the gradient or the step it makes) became NaN or infinite"
        else:
            what = "the loss became NaN or infinite"
        kept = f"the weights are those of the last finite step ({stats['steps']} steps into the epoch)"
        history.diverged = True
        exc = FloatingPointError(
            f"fit: {what} in epoch {self.epochs_done + 1}; {kept}. "
            f"Try a smaller learning rate, or scale the inputs.")
        exc.history = history
        raise exc

    # ------------------------------------------------------------------ saving
    def save(self, path) -> None:
        """Write the model (architecture, weights, loss, optimizer and its state,
        seed, epochs done) to ``path`` atomically (or to a binary file object);
        ``mlpcore.load(path)`` reads it back and training continues bit for bit.
        See mlpcore.io for the format."""
        io.write(path, self.to_bytes())

    def to_bytes(self) -> bytes:
        """The model as the bytes of a .mlpc file (what save writes)."""
        state = self._export_state()
        return io.encode(state, state.pop("arrays"))

    @classmethod
    def from_bytes(cls, data, where: str = "data") -> "Sequential":
        """A model from the bytes of a .mlpc file; ModelFileError (naming ``where``)
        if they are not one or describe an inconsistent model."""
        state, arrays = io.decode(data, where)
        try:
            return cls._from_state(state, arrays)
        except (TypeError, ValueError, MemoryError) as exc:
            raise io.ModelFileError(f"{where}: inconsistent model file: {exc}") from None

    def _export_state(self) -> dict:
        """Everything save() writes: plain JSON values plus named float32 arrays."""
        self._require_idle("save")
        from . import __version__

        state = {
            "format": "mlpcore.Sequential",
            "mlpcore_version": __version__,
            "seed": self.seed,
            "input_dim": self._input_dim,
            "layers": [{"units": l.units, "activation": l.activation, "init": l.init} for l in self.layers],
            "loss": self._loss,
            "optimizer_kind": self._optimizer.kind if self._optimizer is not None else None,
            "optimizer": self._optimizer.get_config() if self._optimizer is not None else None,
            "optimizer_steps": None,
            "epochs_done": self.epochs_done,
        }
        arrays = []
        if self._net is not None:
            for i, (w, b) in enumerate(self.get_weights()):
                arrays += [(f"layers/{i}/W", w), (f"layers/{i}/b", b)]
            if self._opt is not None:
                buffers, state["optimizer_steps"] = self._opt.get_state(self._net)
                for name in self._opt.state_names:
                    for i, (w, b) in enumerate(buffers[name]):
                        arrays += [(f"optimizer/{name}/{i}/W", w), (f"optimizer/{name}/{i}/b", b)]
        state["arrays"] = arrays
        return state

    @classmethod
    def _from_state(cls, state: dict, arrays: dict) -> "Sequential":
        """A model from what _export_state gave (as mlpcore.io decodes it);
        TypeError / ValueError naming the field if anything is off."""
        if state.get("format") != "mlpcore.Sequential":
            raise ValueError(f"format: expected 'mlpcore.Sequential', got {state.get('format')!r}")
        specs = state.get("layers")
        if not isinstance(specs, list):
            raise TypeError("layers: expected a list")
        layers = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict) or set(spec) != {"units", "activation", "init"}:
                raise ValueError(f"layers[{i}]: expected an object with units, activation and init")
            layers.append(Dense(spec["units"], spec["activation"], init=spec["init"]))
        model = cls(layers, input_dim=state.get("input_dim"), seed=state.get("seed"))
        loss, opt = state.get("loss"), state.get("optimizer")
        if (loss is None) != (opt is None):
            raise ValueError("loss, optimizer: a compiled model has both, an uncompiled one neither")
        if loss is not None:
            model.compile(loss=loss, optimizer=optimizers.from_config(state.get("optimizer_kind", "sgd"), opt))
        expected = set()
        if "layers/0/W" in arrays:
            if model._net is None:
                model.build(model._input_dim if model._input_dim is not None else 0)
            expected = {f"layers/{i}/{p}" for i in range(len(layers)) for p in "Wb"}
            model.set_weights([(arrays.get(f"layers/{i}/W"), arrays.get(f"layers/{i}/b"))
                               for i in range(len(layers))])
        steps = state.get("optimizer_steps")
        if steps is not None:
            if model._net is None or model._optimizer is None:
                raise ValueError("optimizer_steps: only a built, compiled model has optimizer state")
            steps = non_negative_int("optimizer_steps", steps)
            native = model._ensure_optimizer()
            # Version 1 files (SGD only) named the momentum buffer optimizer/<i>/W.
            legacy = "optimizer_kind" not in state
            names = {}
            for name in native.state_names:
                prefix = "optimizer" if legacy else f"optimizer/{name}"
                names[name] = [(f"{prefix}/{i}/W", f"{prefix}/{i}/b") for i in range(len(layers))]
                expected |= {n for pair in names[name] for n in pair}
            native.set_state(model._net, {name: [(arrays.get(w), arrays.get(b)) for w, b in pairs]
                                          for name, pairs in names.items()}, steps)
        if set(arrays) != expected:
            raise ValueError(f"arrays: expected {sorted(expected)}, got {sorted(arrays)}")
        model.epochs_done = non_negative_int("epochs_done", state.get("epochs_done"))
        return model

    def __getstate__(self):
        return {"mlpcore_file": self.to_bytes()}

    def __setstate__(self, state):
        if not isinstance(state, dict) or "mlpcore_file" not in state:
            raise io.ModelFileError("pickle: not the state of a mlpcore.Sequential")
        self.__dict__.update(Sequential.from_bytes(state["mlpcore_file"], "pickle").__dict__)


    # ------------------------------------------------------------------ export
    def to_onnx(self, path, opset=17):
        """Write the model as ONNX to ``path`` (a file name or a binary file
        object) for onnxruntime and other runtimes: a graph computing what
        ``predict`` returns (input "input", output "output", dynamic batch),
        with metadata (mlpcore version, loss, classes). Needs the onnx package
        (``pip install "mlpcore[onnx]"``); returns the onnx.ModelProto. See
        mlpcore.onnx."""
        from . import onnx

        self._require_idle("to_onnx")
        return onnx.export(self, path, opset)

    # ------------------------------------------------------------------ inference
    def predict(self, X) -> np.ndarray:
        """Outputs for each row of X: class probabilities (softmax) for
        cross-entropy, sigmoid probabilities for binary cross-entropy, the
        predicted means exp(output) for Poisson, raw outputs otherwise.
        X may be a scipy.sparse matrix (made dense a chunk of rows at a time)."""
        net = self._require_built("predict")
        self._require_idle("predict")
        X = input_matrix("X", X, self._input_dim)
        if self._loss in losses.TRANSFORMED:
            transform = self._loss
        elif self.layers[-1].activation == "softmax":  # built without a loss: softmax still applies
            transform = losses.CROSS_ENTROPY
        else:
            transform = "none"
        return net.predict(X, transform)

    def evaluate(self, X, y, sample_weight=None) -> dict:
        """Mean loss (and accuracy for classification) over (X, y); X dense or scipy.sparse."""
        self._require_built("evaluate")
        self._require_idle("evaluate")
        if self._loss is None:
            raise ValueError("compile: call model.compile(loss=...) before evaluate()")
        X = input_matrix("X", X, self._input_dim)
        stats = self._evaluate_native(X, self._targets(y, X.shape[0]), self._weights(sample_weight, X.shape[0]))
        out = {"loss": stats["loss"]}
        if self._loss in losses.CLASSIFICATION:
            out["accuracy"] = stats["accuracy"]
        return out

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> list:
        """A list of (W [in, out], b [out]) float32 arrays, one pair per layer (copies)."""
        net = self._require_built("get_weights")
        self._require_idle("get_weights")
        return net.get_params()

    def _weights_squared_norm(self) -> float:
        """Sum of the squared weights (not the biases), read in place: no copy of the parameters."""
        net = self._require_built("_weights_squared_norm")
        self._require_idle("_weights_squared_norm")
        return net.weights_squared_norm()

    def set_weights(self, weights) -> None:
        """Load (W, b) pairs shaped as get_weights() returns them."""
        net = self._require_built("set_weights")
        self._require_idle("set_weights")
        if not isinstance(weights, (list, tuple)):
            raise TypeError(f"weights: expected a list of (W, b) pairs, got {type(weights).__name__}")
        net.set_params(list(weights))

    def summary(self, print_fn=print) -> str:
        """Layers with their output shapes and parameter counts (weights + biases),
        the totals, and the loss and optimizer once compiled; printed with
        ``print_fn`` (None: not printed) and returned."""
        rows = [("layer (activation)", "output shape", "params")]
        if self._input_dim:
            rows.append(("input", f"(None, {self._input_dim})", "0"))
        total = 0
        fan_in = self._input_dim
        for i, layer in enumerate(self.layers):
            params = (fan_in * layer.units + layer.units) if fan_in else None
            total += params or 0
            detail = f"{fan_in} x {layer.units} + {layer.units}" if fan_in else "?"
            rows.append((f"dense_{i} ({layer.activation})", f"(None, {layer.units})",
                         f"{params:,} = {detail}" if params is not None else "?"))
            fan_in = layer.units
        widths = [max(len(r[c]) for r in rows) + 3 for c in range(3)]
        rule = "-" * sum(widths)
        table = ["".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines = [rule, table[0], rule, *table[1:]]
        lines.append(rule)
        if self._input_dim:
            lines.append(f"total parameters: {total} ({total * 4 / 1024:,.1f} KiB as float32)")
        else:
            lines.append("total parameters: ? (input_dim unknown until the first fit)")
        if self._loss is not None:
            lines.append(f"loss: {self._loss}; optimizer: {self._optimizer!r}")
        text = "\n".join(lines)
        if print_fn is not None:
            print_fn(text)
        return text

    def __repr__(self) -> str:
        device = f", device={self._device!r}" if self._device != "cpu" else ""
        return f"Sequential({self.layers!r}, input_dim={self._input_dim}, seed={self.seed}{device})"
