"""The native training step: learning parity with PyTorch (same weights, same
batches), no heap allocation per step, the shuffled batch gather keeping inputs,
targets and weights together, and predict through the training forward pass."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mlpcore as mc
from torch_twin import torch_epoch, torch_twin


def make_model(units, input_dim, lr=0.01, momentum=0.9, seed=0, nesterov=False, weight_decay=0.0):
    layers = [mc.Dense(u, activation="relu") for u in units[:-1]] + [mc.Dense(units[-1])]
    model = mc.Sequential(layers, input_dim=input_dim, seed=seed)
    model.compile(loss="cross_entropy",
                  optimizer=mc.SGD(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay))
    return model


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("nesterov,weight_decay", [(False, 0.0), (True, 1e-3)])
def test_fifty_steps_match_pytorch(rng, threads, nesterov, weight_decay):
    torch = pytest.importorskip("torch")
    batch, steps, dims = 16, 50, (64, 48, 32, 10)
    X = rng.random((batch * steps, dims[0]), dtype=np.float32)
    y = rng.integers(0, dims[-1], len(X))
    model = make_model(dims[1:], dims[0], nesterov=nesterov, weight_decay=weight_decay, seed=3)
    net, linears = torch_twin(torch, model)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=nesterov, weight_decay=weight_decay)
    torch_losses = torch_epoch(torch, net, opt, X, y, batch)

    old = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        history = model.fit(X, y, epochs=1, batch_size=batch, shuffle=False, verbose=0)
        ours = model.evaluate(X, y)["loss"]
    finally:
        mc.set_num_threads(old)
    with torch.no_grad():
        theirs = float(torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y)))
    assert ours == pytest.approx(theirs, rel=1e-4)
    assert history.history["loss"][0] == pytest.approx(np.mean(torch_losses), rel=1e-4)
    for lin, (W, b) in zip(linears, model.get_weights()):
        np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(b, lin.bias.detach().numpy(), rtol=1e-3, atol=1e-5)


ALLOC_COUNTER = r"""
#include <stddef.h>
extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
static volatile int counting = 0;
static long count = 0;
static void hit(void) { if (counting) __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED); }
void alloc_count_start(void) { count = 0; counting = 1; }
long alloc_count_stop(void) { counting = 0; return count; }
void* malloc(size_t n) { hit(); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { hit(); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { hit(); return __libc_realloc(p, n); }
void* aligned_alloc(size_t a, size_t n) { hit(); return __libc_memalign(a, n); }
void* memalign(size_t a, size_t n) { hit(); return __libc_memalign(a, n); }
int posix_memalign(void** p, size_t a, size_t n) { hit(); *p = __libc_memalign(a, n); return *p ? 0 : 12; }
"""

ALLOC_SCRIPT = r"""
import ctypes, json, sys
import numpy as np
import mlpcore as mc
from mlpcore import _core
counter = ctypes.CDLL(None)
counter.alloc_count_stop.restype = ctypes.c_long
rng = np.random.default_rng(0)
X = rng.random((2048, 100), dtype=np.float32)
y = rng.integers(0, 10, len(X)).astype(np.int32)
T = np.eye(10, dtype=np.float32)[y]
w = rng.random(len(X), dtype=np.float32)
out = []
for threads in (1, 2):
    mc.set_num_threads(threads)
    for hidden, batch, targets, weights in (([32], 1, y, None), ([64, 48], 8, T, w), ([300, 200], 128, y, w)):
        net = _core.Network(100, hidden + [10], ["relu"] * len(hidden) + ["identity"],
                            ["uniform"] * (len(hidden) + 1), 0)
        trainer = _core.Trainer(net, _core.Sgd(net, 0.001, 0.9, nesterov=True), "cross_entropy", batch)
        trainer.load_data(X, targets, weights)
        trainer.run_epoch(True, 0, 0)  # first call sizes everything
        counts = []
        for steps in (8, 64):
            rows = steps * batch
            trainer.load_data(X[:rows], targets[:rows], None if weights is None else weights[:rows])
            counter.alloc_count_start()
            trainer.run_epoch(True, 0, 1)
            counts.append(counter.alloc_count_stop())
        out.append([threads, batch, counts])
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD malloc counter needs glibc")
def test_training_steps_allocate_nothing(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the malloc counter")
    src = tmp_path / "count.c"
    src.write_text(ALLOC_COUNTER)
    lib = tmp_path / "libcount.so"
    subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    env = dict(os.environ, LD_PRELOAD=str(lib))
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(mc.__file__)),
                                                    env.get("PYTHONPATH", "")] if p)
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(ALLOC_SCRIPT)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    import json
    for threads, batch, (few, many) in json.loads(run.stdout.strip().splitlines()[-1]):
        # Whatever one epoch call allocates (argument conversion), 64 steps allocate no more than 8.
        assert many == few, f"{threads} thread(s), batch {batch}: {few} allocations for 8 steps, {many} for 64"


@pytest.mark.parametrize("threads", [1, 2])
def test_shuffled_gather_keeps_rows_together(rng, threads):
    """One batch holding every row: shuffling only reorders the rows of the batch,
    so the step must equal the unshuffled one (up to summation order) — with
    dense targets and sample weights gathered alongside (a large batch, so the
    gather runs on several threads)."""
    X = rng.random((3000, 200), dtype=np.float32)
    T = rng.random((3000, 5)).astype(np.float32)
    T /= T.sum(1, keepdims=True)
    w = rng.random(3000).astype(np.float32) * 2
    old = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        weights = []
        for shuffle in (False, True):
            model = make_model((16, 5), 200, lr=0.5, seed=1)
            model.fit(X, T, epochs=1, batch_size=len(X), shuffle=shuffle, sample_weight=w, verbose=0)
            weights.append(model.get_weights())
    finally:
        mc.set_num_threads(old)
    for (W0, b0), (W1, b1) in zip(*weights):
        np.testing.assert_allclose(W1, W0, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b1, b0, rtol=1e-4, atol=1e-6)
    assert not np.array_equal(weights[0][0][0], make_model((16, 5), 200, seed=1).get_weights()[0][0])


def test_shuffling_is_seeded_and_changes_with_the_seed(rng):
    X = rng.random((256, 12), dtype=np.float32)
    y = rng.integers(0, 3, 256)

    def train(seed):
        model = make_model((8, 3), 12, seed=seed)
        model.fit(X, y, epochs=2, batch_size=16, verbose=0)
        return np.concatenate([np.ravel(a) for pair in model.get_weights() for a in pair])

    def train_with_fixed_init(shuffle_seed):
        model = make_model((8, 3), 12, seed=shuffle_seed)
        model.set_weights(make_model((8, 3), 12, seed=0).get_weights())  # same start, another shuffle
        model.fit(X, y, epochs=2, batch_size=16, verbose=0)
        return np.concatenate([np.ravel(a) for pair in model.get_weights() for a in pair])

    assert np.array_equal(train(5), train(5))
    assert not np.array_equal(train_with_fixed_init(0), train_with_fixed_init(1))


@pytest.mark.parametrize("rows", [1, 7, 1024, 2500])
def test_predict_matches_float64_forward_in_chunks(rng, rows):
    """predict runs the fused forward chunk by chunk through a reused workspace:
    outputs for every chunk size, called twice (the workspace is reused)."""
    model = make_model((40, 30, 6), 25, seed=2)
    X = rng.standard_normal((rows, 25)).astype(np.float32)
    h = X.astype(np.float64)
    params = model.get_weights()
    for i, (W, b) in enumerate(params):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0)
    p = np.exp(h - h.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for _ in range(2):
        np.testing.assert_allclose(model.predict(X), p, rtol=1e-4, atol=1e-6)
