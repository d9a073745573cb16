"""Subnormal floats are flushed to zero in native compute (on every thread that
computes), by default and only there: the caller's floating-point control
register (MXCSR / FPCR) is the same before and after every kind of public call,
and during the Python code that fit calls back."""

import signal
import sys
import threading
import time

import numpy as np
import pytest

import mlpcore as mc
from mlpcore import _core

TINY = np.finfo(np.float32).tiny  # smallest normal float32, 1.18e-38


def subnormal_count(a):
    a = np.asarray(a, dtype=np.float32).ravel()
    return int(np.count_nonzero((a != 0) & (np.abs(a) < TINY)))


@pytest.fixture
def flush_setting():
    """Restores the process-wide flush setting and thread count after the test."""
    threads = mc.get_num_threads()
    yield
    mc.set_flush_denormal(True)
    mc.set_num_threads(threads)


def tiny_model_state_after_long_run(flush):
    """784-32-10 ReLU at batch 1 on non-negative inputs, SGD with momentum: the
    momentum of dead units shrinks by 0.9 a step and passes below 1.2e-38 after
    about 800 steps."""
    mc.set_flush_denormal(flush)
    rng = np.random.default_rng(0)
    X = rng.random((750, 784), dtype=np.float32)
    y = rng.integers(0, 10, len(X))
    model = mc.Sequential([mc.Dense(32, activation="relu"), mc.Dense(10)], input_dim=784, seed=0)
    model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.001, momentum=0.9))
    model.fit(X, y, epochs=2, batch_size=1, verbose=0)
    state, steps = model._opt.get_flat_state()
    assert steps == 1500
    return np.concatenate([model._net.get_flat_params(), state["momentum_buffer"]])


def test_flushing_is_the_default():
    assert mc.config()["flush_denormal"] is True


def test_long_run_leaves_no_subnormal_in_the_model_state(flush_setting):
    assert subnormal_count(tiny_model_state_after_long_run(True)) == 0
    # The same run without flushing does make them: the test above can fail.
    assert subnormal_count(tiny_model_state_after_long_run(False)) > 1000


@pytest.mark.parametrize("threads", [1, 2])
def test_products_of_subnormals_are_zero_on_every_thread(isa, threads, flush_setting):
    """A threaded product (several row and column blocks): DAZ on every thread
    of the team makes each element exactly 0; a thread without it would leave
    its part of C at about 1e-36."""
    mc.set_num_threads(threads)
    rng = np.random.default_rng(1)
    a = (rng.random((300, 500)) * 1e-39 + 1e-40).astype(np.float32)
    b = rng.random((500, 400)).astype(np.float32) + 0.5
    assert subnormal_count(a) == a.size
    mc.set_flush_denormal(True)
    assert not mc.ops.matmul(a, b).any()
    # Flushing off: the subnormal inputs count, on every thread too (no thread
    # kept the flush bits of the previous call).
    mc.set_flush_denormal(False)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(mc.ops.matmul(a, b), expected, rtol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
def test_elementwise_arithmetic_flushes_subnormal_inputs(isa, threads, flush_setting):
    """Arithmetic on subnormals gives 0 (selects and copies, such as ReLU, pass
    values through unchanged either way)."""
    mc.set_num_threads(threads)
    dy = np.full((1000, 300), 3e-39, dtype=np.float32)  # large enough for a team of threads
    y = np.full_like(dy, 0.5)
    mc.set_flush_denormal(True)
    for act in ("sigmoid", "tanh"):
        assert not mc.ops.activation_backward(act, y, dy).any(), act
    mc.set_flush_denormal(False)
    np.testing.assert_allclose(mc.ops.activation_backward("sigmoid", y, dy), dy * 0.25, rtol=1e-6)


def public_calls(tmp_path):
    """One call of every kind the API has, each as a thunk."""
    rng = np.random.default_rng(2)
    X = rng.random((400, 60), dtype=np.float32)
    y = rng.integers(0, 5, len(X))
    model = mc.Sequential([mc.Dense(70, activation="relu"), mc.Dense(5)], seed=1)
    model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    a = rng.standard_normal((200, 300)).astype(np.float32)
    seen_in_callbacks = []
    record = mc.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen_in_callbacks.append(_core._float_control()))
    return seen_in_callbacks, [
        ("fit", lambda: model.fit(X, y, epochs=2, batch_size=32, verbose=0, validation_data=(X, y),
                                  callbacks=[record])),
        ("predict", lambda: model.predict(X)),
        ("evaluate", lambda: model.evaluate(X, y)),
        ("get_weights", lambda: model.get_weights()),
        ("save/load", lambda: mc.load(model.save(tmp_path / "m.mlpc") or tmp_path / "m.mlpc")),
        ("matmul", lambda: mc.ops.matmul(a, a, trans_b=True)),
        ("sigmoid", lambda: mc.ops.sigmoid(a)),
        ("softmax", lambda: mc.ops.softmax(a)),
        ("cross_entropy", lambda: mc.ops.cross_entropy(a, rng.integers(0, 300, 200))),
    ]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("flush", [True, False])
def test_callers_control_register_is_unchanged(tmp_path, threads, flush, flush_setting):
    mc.set_num_threads(threads)
    mc.set_flush_denormal(flush)

    def check_all(results):
        seen_in_callbacks, calls = public_calls(tmp_path)
        caller = _core._float_control()
        for name, call in calls:
            call()
            results.append((name, _core._float_control() == caller))
        results.append(("callbacks", bool(seen_in_callbacks) and set(seen_in_callbacks) == {caller}))

    here, there = [], []
    check_all(here)
    worker = threading.Thread(target=check_all, args=(there,))
    worker.start()
    worker.join()
    assert [name for name, same in here if not same] == []
    assert [name for name, same in there if not same] == []
    assert len(there) == len(here)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs signal.setitimer")
def test_signal_handlers_during_fit_see_the_callers_control_register(flush_setting):
    """fit polls Python's signal handlers from inside the native loop: they run
    with the caller's control register, not the flushing one."""
    mc.set_flush_denormal(True)
    rng = np.random.default_rng(3)
    X = rng.random((20000, 200), dtype=np.float32)
    y = rng.integers(0, 10, len(X))
    model = mc.Sequential([mc.Dense(256, activation="relu"), mc.Dense(10)], seed=0)
    model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01))
    caller = _core._float_control()
    seen = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(_core._float_control()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
        deadline = time.perf_counter() + 20
        while len(seen) < 3 and time.perf_counter() < deadline:
            model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(seen) >= 3 and set(seen) == {caller}, (hex(caller), [hex(v) for v in seen])


def test_set_flush_denormal_checks_its_argument(flush_setting):
    with pytest.raises(TypeError, match="enabled: expected a bool"):
        mc.set_flush_denormal(1)
    mc.set_flush_denormal(False)
    assert mc.config()["flush_denormal"] is False
    mc.set_flush_denormal(True)
    assert mc.config()["flush_denormal"] is True


@pytest.mark.skipif(sys.platform == "win32", reason="the register is read through the extension")
def test_native_compute_does_flush(flush_setting):
    """The register the caller sees is untouched, yet compute flushed: the two
    tests above together say the bits are set only inside native calls."""
    mc.set_flush_denormal(True)
    x = np.full((4, 4), 1e-39, dtype=np.float32)
    assert not mc.ops.matmul(x, np.eye(4, dtype=np.float32)).any()
