"""Same seed, same data: the same weights bit for bit, run to run and for any
thread count. Threads sharing a model, divergence and Ctrl-C leave it usable."""

import _thread
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import mlpcore as mc


def dataset(rows=2000, features=40, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    y = rng.integers(0, classes, rows)
    return X, y


def flat(model):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in model.get_weights()])


def train(threads, seed=3, batch_size=32, epochs=2, X=None, y=None):
    if X is None:
        X, y = dataset()
    before = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        m = mc.Sequential([mc.Dense(96, activation="relu"), mc.Dense(48, activation="tanh"),
                           mc.Dense(5, activation="softmax")], seed=seed)
        m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9, weight_decay=1e-4))
        m.fit(X, y, epochs=epochs, batch_size=batch_size, verbose=0)
        return flat(m)
    finally:
        mc.set_num_threads(before)


@pytest.mark.parametrize("batch_size", [1, 32, 500, 2000])
def test_same_seed_same_weights_and_thread_count_does_not_matter(batch_size, isa):
    one = train(1, batch_size=batch_size)
    assert np.array_equal(one, train(1, batch_size=batch_size))
    assert np.array_equal(one, train(2, batch_size=batch_size))
    assert np.array_equal(one, train(3, batch_size=batch_size))
    assert not np.array_equal(one, train(1, seed=4, batch_size=batch_size))


def test_wide_layers_reduce_in_a_fixed_order():
    # Large enough that the GEMMs and the column sums split over threads.
    X, y = dataset(rows=1024, features=300)
    a = train(1, batch_size=512, epochs=1, X=X, y=y)
    b = train(2, batch_size=512, epochs=1, X=X, y=y)
    assert np.array_equal(a, b)


def test_predict_and_evaluate_do_not_depend_on_threads():
    X, y = dataset(rows=5000)
    m = mc.Sequential([mc.Dense(64, activation="relu", input_dim=40), mc.Dense(5)], seed=1)
    m.compile(loss="cross_entropy", optimizer="sgd")
    before = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        p1, e1 = m.predict(X), m.evaluate(X, y)
        mc.set_num_threads(2)
        p2, e2 = m.predict(X), m.evaluate(X, y)
    finally:
        mc.set_num_threads(before)
    assert np.array_equal(p1, p2) and e1 == e2


def numpy_forward(model, X):
    """The model's softmax outputs in float64."""
    h = X.astype(np.float64)
    for (W, b), layer in zip(model.get_weights(), model.layers):
        h = h @ W.astype(np.float64) + b
        if layer.activation == "relu":
            h = np.maximum(h, 0.0)
        elif layer.activation == "tanh":
            h = np.tanh(h)
    h = np.exp(h - h.max(1, keepdims=True))
    return h / h.sum(1, keepdims=True)


def test_predict_split_by_rows_gives_each_row_the_same_bits(isa):
    """Where predict splits its rows among threads (blocks of rows through every
    layer on one thread each), a row's outputs are the same bits on any thread
    count and in any block: alone, at a block's edge, or in the last, partial
    block. Layers of several tiles and k slices, rows not a multiple of a block."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((1000, 600)).astype(np.float32)
    m = mc.Sequential([mc.Dense(160, activation="relu", input_dim=600), mc.Dense(96, activation="tanh"),
                       mc.Dense(10, activation="softmax")], seed=2)
    m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
    m.fit(X, rng.integers(0, 10, 1000), epochs=1, batch_size=64, verbose=0)
    before = mc.get_num_threads()
    try:
        mc.set_num_threads(1)
        one = m.predict(X)
        parts = {(a, b): m.predict(X[a:b]) for a, b in [(0, 1), (127, 129), (250, 251), (999, 1000), (5, 300)]}
        for threads in (2, 3):
            mc.set_num_threads(threads)
            assert np.array_equal(m.predict(X), one), threads
            for (a, b), part in parts.items():
                assert np.array_equal(m.predict(X[a:b]), part)
    finally:
        mc.set_num_threads(before)
    for (a, b), part in parts.items():
        assert np.array_equal(part, one[a:b]), (a, b)
    np.testing.assert_allclose(one, numpy_forward(m, X), rtol=2e-4, atol=1e-6)


# ---------------------------------------------------------------- threads sharing a model
def big_model():
    m = mc.Sequential([mc.Dense(512, activation="relu", input_dim=256), mc.Dense(512, activation="relu"),
                       mc.Dense(10, activation="softmax")], seed=0)
    m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01))
    return m


def test_concurrent_predict_gives_the_right_answers():
    m = big_model()
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((rows, 256)).astype(np.float32) for rows in (1, 7, 300, 2000, 64, 1025)]
    expected = [m.predict(x) for x in inputs]
    errors, results = [], {}

    def worker(k):
        try:
            for rep in range(6):
                i = (k + rep) % len(inputs)
                results[(k, rep)] = (i, m.predict(inputs[i]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, out in results.values():
        np.testing.assert_array_equal(out, expected[i])


def test_predict_releases_the_gil():
    m = big_model()
    X = np.random.default_rng(0).standard_normal((20000, 256)).astype(np.float32)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    start = time.perf_counter()
    m.predict(X)
    m.predict(X)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [x for x in ticks if start < x < end]
    assert end - start < 0.02 or len(during) >= 3  # Python ran while the native code worked


def run_in_thread(fn):
    box = {}
    started = threading.Event()

    def target():
        started.set()
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    started.wait()
    return t, box


def test_fit_while_another_thread_predicts_raises():
    m = big_model()
    X = np.random.default_rng(0).standard_normal((40000, 256)).astype(np.float32)
    Xs, ys = dataset(rows=64, features=256)
    before = m.get_weights()
    for _ in range(10):
        t, box = run_in_thread(lambda: m.predict(X))
        time.sleep(0.05)
        try:
            m.fit(Xs, ys, epochs=1, verbose=0)
            caught = None
        except mc.ModelBusyError as exc:
            caught = exc
        t.join()
        if caught is not None:
            break
        before = m.get_weights()  # the predict had finished: the fit ran; try again
    assert caught is not None, "predict never overlapped fit"
    assert "another thread" in str(caught)
    assert "error" not in box
    for (w0, b0), (w1, b1) in zip(before, m.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_predict_or_fit_while_another_thread_fits_raises():
    m = big_model()
    X, y = dataset(rows=4000, features=256)
    t, box = run_in_thread(lambda: m.fit(X, y, epochs=3, batch_size=64, verbose=0))
    seen = set()
    deadline = time.perf_counter() + 20
    while t.is_alive() and time.perf_counter() < deadline and len(seen) < 3:
        for name, call in (("predict", lambda: m.predict(X[:10])), ("fit", lambda: m.fit(X, y, verbose=0)),
                           ("compile", lambda: m.compile(loss="cross_entropy", optimizer=m._optimizer))):
            try:
                call()
            except mc.ModelBusyError as exc:
                assert name in str(exc) or "another thread" in str(exc)
                seen.add(name)
        time.sleep(0.01)
    t.join()
    assert "error" not in box, box.get("error")
    assert {"fit", "compile"} <= seen
    assert m.epochs_done == 3
    m.fit(X[:100], y[:100], epochs=1, verbose=0)  # free again


# ---------------------------------------------------------------- divergence
def test_divergence_stops_with_finite_weights():
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((200, 6)) * 100).astype(np.float32)
    m = mc.Sequential([mc.Dense(16, activation="relu", input_dim=6), mc.Dense(1)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=10.0, momentum=0.9))
    with pytest.raises(FloatingPointError, match="NaN or infinite") as e:
        m.fit(X, X[:, :1] ** 3, epochs=20, batch_size=8, verbose=0)
    assert e.value.history.diverged
    assert all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in m.get_weights())
    assert m._opt.state_finite()
    m.predict(X)  # finite weights, though their outputs may overflow
    m.set_weights([(w * 0 + 0.01, b * 0) for w, b in m.get_weights()])
    m.compile(loss="mse", optimizer=mc.SGD(lr=1e-9))
    m.fit(X, X[:, :1], epochs=1, verbose=0)  # and it can train on


def test_divergence_at_the_first_batch_keeps_the_initial_weights():
    X = np.full((10, 3), 10.0, np.float32)
    m = mc.Sequential([mc.Dense(2, input_dim=3)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=0.1))
    m.set_weights([(np.full((3, 2), 1e38, np.float32), np.zeros(2, np.float32))])
    initial = flat(m)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        m.fit(X, np.zeros((10, 2)), epochs=1, verbose=0)  # the outputs overflow to inf
    assert np.array_equal(flat(m), initial)
    assert m.epochs_done == 0


def test_an_overflowing_update_is_never_applied():
    X = np.full((4, 2), 1e18, np.float32)
    m = mc.Sequential([mc.Dense(1, input_dim=2)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=1e30))
    initial = flat(m)
    # The loss of the only batch is finite, the update it makes is not.
    with pytest.raises(FloatingPointError, match="an update .* became NaN or infinite in epoch 1") as e:
        m.fit(X, np.zeros((4, 1)), epochs=1, batch_size=4, verbose=0)
    assert e.value.history.diverged
    assert np.array_equal(flat(m), initial)
    assert m._opt.steps == 0 and m._opt.state_finite()


def test_a_non_finite_gradient_is_never_applied():
    # Outputs near 1e20 square to a loss that is finite in double precision, but
    # the weight gradient (inputs x output error) overflows float32.
    X = np.full((4, 2), 3e19, np.float32)
    m = mc.Sequential([mc.Dense(1, input_dim=2)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=1e-30, momentum=0.5))
    initial = flat(m)
    with pytest.raises(FloatingPointError, match="an update"):
        m.fit(X, np.zeros((4, 1)), epochs=1, batch_size=4, verbose=0)
    assert np.array_equal(flat(m), initial)
    assert m._opt.steps == 0 and m._opt.state_finite()


# Narrow layers: the step check reads the gradients; wide ones with few rows:
# it bounds them from the layers' inputs and output derivatives.
@pytest.mark.parametrize("features, widths", [(3, [5]), (16, [256, 256])])
def test_divergence_mid_epoch_keeps_the_last_finite_step(features, widths):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, features)).astype(np.float32)
    X[8:] = 1e21  # the third batch's gradient overflows
    y = np.zeros((12, 2), np.float32)

    def model():
        m = mc.Sequential([mc.Dense(w) for w in widths] + [mc.Dense(2)], input_dim=features, seed=3)
        m.compile(loss="mse", optimizer=mc.SGD(lr=0.01, momentum=0.9))
        return m

    diverged = model()
    with pytest.raises(FloatingPointError, match=r"last finite step \(2 steps into the epoch\)"):
        diverged.fit(X, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    reference = model()
    reference.fit(X[:8], y[:8], epochs=1, batch_size=4, shuffle=False, verbose=0)
    # Weights, momentum and step count are exactly those after the two good batches.
    assert np.array_equal(flat(diverged), flat(reference))
    v_div, steps_div = diverged._opt.get_flat_state()
    v_ref, steps_ref = reference._opt.get_flat_state()
    assert np.array_equal(v_div["momentum_buffer"], v_ref["momentum_buffer"]) and steps_div == steps_ref == 2
    # The model trains on from there, as the reference does.
    diverged.fit(X[:8], y[:8], epochs=1, batch_size=4, shuffle=False, verbose=0)
    reference.fit(X[:8], y[:8], epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert np.array_equal(flat(diverged), flat(reference))


def test_an_update_near_the_float_range_is_still_applied():
    # Weights above half the float range: the magnitude bounds cannot clear the
    # update, so it is tried on a copy first; being finite, it is applied exactly.
    X = np.zeros((4, 2), np.float32)
    m = mc.Sequential([mc.Dense(1, input_dim=2)], seed=0)
    m.compile(loss="mse", optimizer=mc.SGD(lr=0.25, momentum=0.9))
    W = np.array([[3e38], [-3e38]], np.float32)
    m.set_weights([(W, np.array([1.0], np.float32))])
    m.fit(X, np.zeros((4, 1)), epochs=2, batch_size=4, verbose=0)
    (W_after, b_after), = m.get_weights()
    assert np.array_equal(W_after, W)  # zero inputs: no weight gradient
    # b <- b - lr v, v <- 0.9 v + g with g = 2 b (mean squared error of the output b).
    b, v = np.float32(1.0), np.float32(0.0)
    for step in range(2):
        g = np.float32(2) * b
        v = g if step == 0 else np.float32(0.9) * v + g
        b = b - np.float32(0.25) * v
    np.testing.assert_allclose(b_after, [b], rtol=1e-6)
    assert m._opt.steps == 2


# ---------------------------------------------------------------- Ctrl-C
def interruptible_model():
    m = mc.Sequential([mc.Dense(256, activation="relu", input_dim=128), mc.Dense(10, activation="softmax")],
                      seed=0)
    m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
    return m


def test_keyboard_interrupt_stops_fit_quickly_and_keeps_the_model_usable():
    X, y = dataset(rows=20000, features=128, classes=10)
    m = interruptible_model()
    fired = {}

    def interrupt():
        time.sleep(0.4)
        fired["at"] = time.perf_counter()
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as e:
        m.fit(X, y, epochs=10_000, batch_size=32, verbose=0)
    latency = time.perf_counter() - fired["at"]
    assert latency < 0.5, f"fit took {latency:.3f} s to stop"
    history = e.value.history
    assert history is m.history and history.interrupted
    partial = history.partial_epoch
    assert partial["epoch"] == m.epochs_done == len(history.epoch)
    steps_per_epoch = -(-len(X) // 32)
    assert m._opt.steps == m.epochs_done * steps_per_epoch + partial["steps"] > 0
    assert partial["samples"] == min(partial["steps"] * 32, len(X))
    assert np.isfinite(m.predict(X[:5])).all()
    m.fit(X[:256], y[:256], epochs=1, verbose=0)  # the model is free and trains on


SIGINT_CHILD = r"""
import json, sys, threading, time
import numpy as np
sys.path[:0] = [p for p in sys.argv[1:] if p]
import mlpcore as mc
rng = np.random.default_rng(0)
X = rng.standard_normal((20000, 128)).astype(np.float32)
y = rng.integers(0, 10, 20000)
m = mc.Sequential([mc.Dense(256, activation="relu", input_dim=128), mc.Dense(10, activation="softmax")])
m.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
print("ready", flush=True)
try:
    m.fit(X, y, epochs=10000, verbose=0)
except KeyboardInterrupt as exc:
    stopped = time.time()
    print(json.dumps({"stopped": stopped, "partial": exc.history.partial_epoch, "epochs": m.epochs_done,
                      "steps": m._opt.steps, "finite": bool(np.isfinite(m.predict(X[:9])).all())}), flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_from_outside_stops_fit():
    import signal

    pkg = os.path.dirname(os.path.dirname(mc.__file__))
    child = subprocess.Popen([sys.executable, "-c", SIGINT_CHILD, pkg], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.time()
        child.send_signal(signal.SIGINT)
        out = json.loads(child.stdout.readline())
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
    assert out["stopped"] - sent < 0.5
    assert out["finite"] and out["partial"]["epoch"] == out["epochs"]
    assert out["steps"] == out["epochs"] * 625 + out["partial"]["steps"]
