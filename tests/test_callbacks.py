"""Keras-style training: callbacks between native epochs, learning-rate
schedules, early stopping with best-weight restore, progress output, plots."""

import math
import sys

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import callbacks as cb


def _data(rng, n=400, d=8):
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int32)
    return X, y


def _model(seed=0, lr=0.1):
    model = mc.Sequential([mc.Dense(16, activation="relu"), mc.Dense(2, activation="softmax")], seed=seed)
    model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=lr, momentum=0.9))
    return model


class Recorder(cb.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.params["epochs"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.events.append(("train_end",))


def test_hooks_run_in_order_with_logs(rng):
    X, y = _data(rng)
    model = _model()
    rec = Recorder()
    model.fit(X, y, epochs=2, batch_size=32, validation_data=(X, y), verbose=0, callbacks=[rec])
    keys = ["accuracy", "loss", "samples_per_second", "val_accuracy", "val_loss"]
    assert rec.events == [("train_begin", 2), ("epoch_begin", 0), ("epoch_end", 0, keys), ("epoch_begin", 1),
                          ("epoch_end", 1, keys), ("train_end",)]
    assert rec.model is model
    model.fit(X, y, epochs=1, verbose=0, callbacks=rec)  # a second fit continues the epoch count
    assert ("epoch_begin", 2) in rec.events


def test_lambda_callback_and_stop_training(rng):
    X, y = _data(rng)
    model = _model()
    seen = []

    def stop_after_three(epoch, logs):
        seen.append(logs["loss"])
        if len(seen) == 3:
            model.stop_training = True

    history = model.fit(X, y, epochs=10, verbose=0, callbacks=[cb.LambdaCallback(on_epoch_end=stop_after_three)])
    assert len(history.epoch) == 3 and history.history["loss"] == seen and history.stopped_early
    with pytest.raises(TypeError, match="callbacks\\[0\\]"):
        model.fit(X, y, callbacks=[print])
    with pytest.raises(TypeError, match="on_epoch_end"):
        cb.LambdaCallback(on_epoch_end=3)


@pytest.mark.parametrize("schedule, expected", [
    (cb.StepDecay(0.1, drop=0.5, every=2), [0.1, 0.1, 0.05, 0.05, 0.025]),
    (cb.ExponentialDecay(0.1, rate=0.5), [0.1, 0.05, 0.025, 0.0125, 0.00625]),
    (cb.CosineDecay(0.1, epochs=4, min_lr=0.02), [0.1, 0.02 + 0.04 * (1 + math.cos(math.pi / 4)), 0.06,
                                                  0.02 + 0.04 * (1 + math.cos(3 * math.pi / 4)), 0.02]),
    (lambda epoch, lr: lr * 0.5 if epoch else lr, [0.1, 0.05, 0.025, 0.0125, 0.00625]),
    (lambda epoch: 0.1 / (epoch + 1), [0.1, 0.05, 0.1 / 3, 0.025, 0.02]),
])
def test_learning_rate_scheduler_sets_the_native_rate(rng, schedule, expected):
    X, y = _data(rng)
    model = _model(lr=0.1)
    history = model.fit(X, y, epochs=5, verbose=0, callbacks=[cb.LearningRateScheduler(schedule)])
    np.testing.assert_allclose(history.history["lr"], expected, rtol=1e-12)


def test_scheduled_rate_reaches_the_update(rng):
    """Epochs at rate r then r/10 give the same weights as two fits at those rates."""
    X, y = _data(rng)
    scheduled = _model(lr=0.1)
    scheduled.fit(X, y, epochs=2, verbose=0,
                  callbacks=[cb.LearningRateScheduler(lambda e: 0.1 if e == 0 else 0.01)])
    manual = _model(lr=0.1)
    manual.fit(X, y, epochs=1, verbose=0)
    manual.optimizer.lr = 0.01
    manual.fit(X, y, epochs=1, verbose=0)
    for (a, b), (c, d) in zip(scheduled.get_weights(), manual.get_weights()):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
    other = _model(lr=0.1)
    other.fit(X, y, epochs=2, verbose=0)
    assert not np.array_equal(other.get_weights()[0][0], manual.get_weights()[0][0])


def test_bad_schedule_values_raise(rng):
    X, y = _data(rng)
    with pytest.raises(ValueError, match="schedule"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[cb.LearningRateScheduler(lambda e: -1.0)])
    with pytest.raises(TypeError, match="schedule"):
        cb.LearningRateScheduler(0.1)
    with pytest.raises(ValueError, match="drop"):
        cb.StepDecay(0.1, drop=2.0)
    with pytest.raises(ValueError, match="lr"):
        mc.SGD(lr=0.1).lr = 0


def test_early_stopping_restores_best_weights(rng):
    X, y = _data(rng, n=200)
    Xv, yv = _data(np.random.default_rng(99), n=200)
    yv = 1 - yv  # validation gets worse as training fits the training labels
    model = _model(lr=0.05)
    snapshots = []
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    keep = cb.LambdaCallback(on_epoch_end=lambda e, logs: snapshots.append(model.get_weights()))
    history = model.fit(X, y, epochs=50, validation_data=(Xv, yv), verbose=0, callbacks=[keep, stop])
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert history.stopped_early and len(val) == best + 3  # patience 2 after the best epoch
    assert stop.best == val[best] and stop.best_epoch == best
    for (a, b), (c, d) in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_early_stopping_on_accuracy_mode_max(rng):
    X, y = _data(rng)
    stop = cb.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.5)
    assert stop.mode == "max"
    history = _model().fit(X, y, epochs=20, validation_data=(X, y), verbose=0, callbacks=[stop])
    assert len(history.epoch) == 2  # nothing improves by 0.5 after the first epoch
    with pytest.warns(RuntimeWarning, match="val_loss"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[cb.EarlyStopping()])


def test_verbose_plain_lines_and_silence(rng, capsys, monkeypatch):
    X, y = _data(rng)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the fallback without tqdm
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    _model().fit(X, y, epochs=2, validation_data=(X, y), verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("Epoch 1/2") and out[1].startswith("Epoch 2/2")
    for key in ("loss:", "accuracy:", "val_loss:", "val_accuracy:", "samples/s"):
        assert key in out[1]
    _model().fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_verbose_tqdm_bar(rng, capsys):
    pytest.importorskip("tqdm")
    X, y = _data(rng)
    _model().fit(X, y, epochs=3, verbose=1)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "samples/s=" in err


def test_plot_history(rng, tmp_path):
    pytest.importorskip("matplotlib")
    X, y = _data(rng)
    history = _model().fit(X, y, epochs=3, validation_data=(X, y), verbose=0)
    path = tmp_path / "history.png"
    fig = mc.plot_history(history, path)
    assert path.stat().st_size > 1000
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in fig.axes[0].lines] == ["train", "validation"]
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), history.history["val_loss"])
    with pytest.raises(ValueError, match="metrics"):
        mc.plot_history(history, tmp_path / "x.png", metrics=["f1"])


def test_model_checkpoint_saves_through_model_save(rng, tmp_path):
    X, y = _data(rng)
    model = _model(lr=0.05)
    weights_at = []
    keep = cb.LambdaCallback(on_epoch_end=lambda e, logs: weights_at.append(model.get_weights()))
    every = cb.ModelCheckpoint(tmp_path / "ckpt" / "m-{epoch:02d}-{loss:.3f}.mlpc", monitor="loss")
    history = model.fit(X, y, epochs=3, verbose=0, callbacks=[keep, every])
    assert [p.rsplit("/", 1)[-1] for p in every.saved] == [
        f"m-{e + 1:02d}-{loss:.3f}.mlpc" for e, loss in enumerate(history.history["loss"])]
    for path, weights in zip(every.saved, weights_at):
        loaded = mc.load(path)
        for (a, b), (c, d) in zip(loaded.get_weights(), weights):
            np.testing.assert_array_equal(a, c)
            np.testing.assert_array_equal(b, d)
    # A checkpoint resumes training: the loaded model's next epoch is the original's.
    resumed = mc.load(every.saved[-1])
    model.fit(X, y, epochs=1, verbose=0)
    resumed.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(resumed.get_weights()[0][0], model.get_weights()[0][0])


def test_model_checkpoint_best_only(rng, tmp_path):
    X, y = _data(rng, n=200)
    Xv, yv = _data(np.random.default_rng(99), n=200)
    best = cb.ModelCheckpoint(tmp_path / "best.mlpc", monitor="val_loss", save_best_only=True)
    history = _model(lr=0.05).fit(X, y, epochs=6, validation_data=(Xv, 1 - yv), verbose=0,
                                  callbacks=[best])
    val = history.history["val_loss"]
    improved = [i for i in range(len(val)) if val[i] < min(val[:i], default=np.inf)]
    assert len(best.saved) == len(improved) and best.best == min(val)
    with pytest.warns(RuntimeWarning, match="val_loss"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[cb.ModelCheckpoint(tmp_path / "x.mlpc",
                                                                             save_best_only=True)])
    with pytest.raises(ValueError, match="filepath"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[cb.ModelCheckpoint(tmp_path / "{nope}.mlpc")])


def test_summary_shapes_and_counts(capsys):
    model = mc.Sequential([mc.Dense(5, activation="tanh"), mc.Dense(3)])
    text = model.summary(print_fn=None)
    assert "total parameters: ?" in text and capsys.readouterr().out == ""
    model = mc.Sequential([mc.Dense(5, activation="tanh", input_dim=7), mc.Dense(3)])
    model.compile(loss="mse")
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    assert "(None, 5)" in text and "40 = 7 x 5 + 5" in text and "18 = 5 x 3 + 3" in text
    assert "total parameters: 58 " in text and "loss: mse" in text
