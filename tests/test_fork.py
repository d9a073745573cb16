"""A process forked after mlpcore trained on several threads works: OpenMP's
threads do not survive fork (GNU OpenMP's next team would wait for them
forever), so the child runs its native work on one thread, and says so in
config(); spawned and forkserver children keep every thread. Results do not
depend on the thread count, so a child's model equals the parent's."""

import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

import mlpcore as mc

SCRIPT = textwrap.dedent("""
    import multiprocessing, sys
    import numpy as np
    import mlpcore as mc

    def train(seed):
        rng = np.random.default_rng(seed)
        X = rng.random((3000, 200), dtype=np.float32)
        y = rng.integers(0, 4, len(X))
        model = mc.Sequential([mc.Dense(300, activation="relu"), mc.Dense(4)], seed=seed)
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
        model.fit(X, y, epochs=2, batch_size=256, verbose=0)
        c = mc.config()
        return model._net.get_flat_params().tobytes(), c["threads"], c["serial_after_fork"]

    if __name__ == "__main__":
        mc.set_num_threads(2)
        parent = [train(seed) for seed in (1, 2)]  # a team of 2 threads ran here
        assert not mc.config()["serial_after_fork"]
        with multiprocessing.get_context(sys.argv[1]).Pool(2) as pool:
            children = pool.map_async(train, (1, 2)).get(timeout=90)
        for (params, _, _), (child_params, threads, serial) in zip(parent, children):
            assert params == child_params, "a child's weights differ from the parent's"
        print(children[0][1], children[0][2])
""")


@pytest.mark.skipif(not mc.config()["openmp"], reason="built without OpenMP")
@pytest.mark.parametrize("method", [m for m in ("fork", "forkserver", "spawn")
                                    if m in multiprocessing.get_all_start_methods()])
def test_children_train_after_a_threaded_fit(tmp_path, method):
    script = tmp_path / "children.py"
    script.write_text(SCRIPT)
    try:
        out = subprocess.run([sys.executable, str(script), method], capture_output=True, text=True, timeout=150,
                             env=dict(os.environ, OMP_NUM_THREADS="2"))
    except subprocess.TimeoutExpired:
        pytest.fail(f"a {method} child hung")
    assert out.returncode == 0, out.stderr
    threads, serial = out.stdout.split()
    if method == "fork":
        assert (threads, serial) == ("1", "True")
    else:
        assert (threads, serial) == ("2", "False")
