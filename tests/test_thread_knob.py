"""mc.set_num_threads is process-wide: it holds in every Python thread,
including threads started after it, while threadpoolctl's limit (the calling
thread's OpenMP setting) can still lower it where it is in force."""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import mlpcore as mc

needs_openmp = pytest.mark.skipif(not mc.config()["openmp"], reason="built without OpenMP")


def in_new_thread(fn):
    out = []
    worker = threading.Thread(target=lambda: out.append(fn()))
    worker.start()
    worker.join()
    return out[0]


@pytest.fixture
def restore_threads():
    before = mc.get_num_threads()
    yield
    mc.set_num_threads(before)


@needs_openmp
@pytest.mark.parametrize("n", [1, 2, 3])
def test_setting_holds_in_threads_started_later(n, restore_threads):
    mc.set_num_threads(n)
    assert mc.get_num_threads() == n
    assert in_new_thread(mc.get_num_threads) == n
    assert in_new_thread(lambda: mc.config()["threads"]) == n
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        assert set(pool.map(lambda _: mc.get_num_threads(), range(6))) == {n}


@needs_openmp
def test_setting_from_a_worker_thread_holds_in_the_main_thread(restore_threads):
    in_new_thread(lambda: mc.set_num_threads(1))
    assert mc.get_num_threads() == 1
    in_new_thread(lambda: mc.set_num_threads(2))
    assert mc.get_num_threads() == 2


@needs_openmp
def test_threadpoolctl_lowers_it_in_the_calling_thread_only(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    mc.set_num_threads(2)
    inside, other = [], []
    entered, done = threading.Event(), threading.Event()

    def limited():
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            inside.append(mc.get_num_threads())
            entered.set()
            done.wait(10)
        inside.append(mc.get_num_threads())

    worker = threading.Thread(target=limited)
    worker.start()
    entered.wait(10)
    other.append(mc.get_num_threads())  # the main thread, while the worker's limit holds
    done.set()
    worker.join()
    assert inside == [1, 2] and other == [2]
    # The smaller of the two wins: a limit above the process-wide setting does not raise it.
    mc.set_num_threads(1)
    with threadpoolctl.threadpool_limits(limits=2, user_api="openmp"):
        assert mc.get_num_threads() == 1
    assert in_new_thread(mc.get_num_threads) == 1


PROBE = textwrap.dedent("""
    import os, sys, threading
    import numpy as np
    import mlpcore as mc

    def os_threads():
        return len(os.listdir("/proc/self/task"))

    mc.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.random((3000, 300), dtype=np.float32)
    y = rng.integers(0, 10, len(X))
    a = rng.random((400, 400), dtype=np.float32)
    before = os_threads()
    extra = []  # threads beyond the process's and this one, after each call

    def count():
        # GNU OpenMP keeps a thread's team workers alive until that thread ends.
        extra.append(os_threads() - before - 1)

    def work():
        model = mc.Sequential([mc.Dense(512, activation="relu"), mc.Dense(10)], seed=0)
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01))
        for call in (lambda: model.fit(X, y, epochs=1, batch_size=512, verbose=0), lambda: model.predict(X),
                     lambda: mc.ops.matmul(a, a), lambda: mc.ops.sigmoid(np.tile(a, (4, 1)))):
            call()
            count()
        if sys.argv[1] == "threadpoolctl":
            import threadpoolctl
            mc.set_num_threads(2)
            with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
                model.fit(X, y, epochs=1, batch_size=512, verbose=0)
                model.predict(X)
                mc.ops.matmul(a, a)
                count()
            mc.set_num_threads(1)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    print(max(extra))
""")


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads through /proc")
@pytest.mark.parametrize("mode", ["plain", "threadpoolctl"])
def test_one_thread_means_no_openmp_team_from_any_thread(mode):
    """After set_num_threads(1) in the main thread, fit, predict and the ops
    called from other Python threads start no OpenMP worker thread (the process
    would keep them: libgomp's pool outlives its teams)."""
    if mode == "threadpoolctl":
        pytest.importorskip("threadpoolctl")
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"
