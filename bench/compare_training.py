"""Training speed of mlpcore against the tools people use today, in one run.

Trains the same 784-512-256-10 ReLU MLP (softmax cross-entropy, SGD with momentum
0.9, lr 0.01) on the same synthetic MNIST-shaped data (60000 x 784, 10 classes) in
mlpcore, PyTorch eager (nn.Sequential + optim.SGD), scikit-learn's MLPClassifier
(solver="sgd") and a hand-written numpy MLP, each peer only when installed.

For each thread count a fresh subprocess is started with OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS / MKL_NUM_THREADS set, so every library sees the same
limit from the start. Inside it, for batch 32, 128 and 512, one epoch of each
framework is timed in turn (interleaved, after a warm-up epoch on a slice; each
timed run starts after a short pause, so no framework inherits the spinning
idle threads of the one before it), and the median of the repeats is reported with the ratio mlpcore / peer. It also
times inference (batch 1024), the steps/s of a tiny 784-32-10 model at batch 1
and 8 against PyTorch, checks learning parity with PyTorch (same initial weights,
same batches, loss after 50 steps), and measures the peak memory of a fit.
Long runs (mlpcore and PyTorch): the tiny model at batch 1 for 6,000 steps (lr
0.001) and the big one at batch 32 for 10 epochs of 12,000 rows (lr 0.01), on the
same non-negative [0, 1) inputs; then short stretches on a fresh model and on the
long-run model, alternately: the ratio of their rates (last / first) shows
whether training slows down as it goes (subnormal floats: the momentum of ReLU
units that died decays below 1.2e-38, which is slow on many CPUs); also how many
values of the tiny model's weights and momentum are subnormal after its run.
Finally it times one epoch at batch 128 on the most threads while another
process keeps one core busy (a busy loop, like a second job on the machine),
where threads that wait for each other at barriers lose.

It prints the CPU model, its caches and its measured FMA peak
(`mlpcore._core.measure_fma_peak()`), and gives every training and inference
row also as a fraction of the GEMM-bound limit: samples/s x the FLOPs of a
sample's products over the peak of the cores in use, so that figures from
different machines can be read side by side.

    python bench/compare_training.py            # full run
    python bench/compare_training.py --quick    # fewer samples and repeats; long runs of 3,000 steps
                                                # and of 10 epochs of 4,000 rows
    python bench/compare_training.py --flush-denormal off   # mlpcore builds with set_flush_denormal
    python bench/compare_training.py --smoke    # every part once on a few rows (CI): runs, measures nothing

If OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, numpy is also run with them
unset (OpenBLAS then picks its best kernel) and both are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

import which_mlpcore

HERE = os.path.dirname(os.path.abspath(__file__))
HIDDEN = (512, 256)
CLASSES = 10
FEATURES = 784
LR, MOMENTUM = 0.01, 0.9
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# Idle worker threads of a library keep a core busy for a while after its last
# call: OpenBLAS's spin for about 0.1 s (2^28 clock ticks), OpenMP's briefly. Run
# back to back, the next framework in the turn would share the cores with them
# (measured: mlpcore's and PyTorch's predict at 2 threads both drop to 0.55-0.6x
# right after an OpenBLAS product). So every timed run starts after this pause.
SETTLE_S = 0.3


def make_data(rows: int, seed: int = 0):
    """MNIST-shaped: pixels in [0, 1), labels from a random linear teacher (learnable)."""
    rng = np.random.default_rng(seed)
    X = rng.random((rows, FEATURES), dtype=np.float32)
    teacher = rng.standard_normal((FEATURES, CLASSES)).astype(np.float32)
    teacher -= teacher.mean(0)  # centre, so no class wins by the pixels' mean
    y = np.empty(rows, np.int64)
    for i in range(0, rows, 4096):  # in chunks: no full-size temporary
        y[i:i + 4096] = (X[i:i + 4096] @ teacher).argmax(1)
    return X, y


def flops_per_sample(hidden, training):
    """FLOPs the products of one sample take in the 784-hidden-10 MLP: the forward
    pass, and for training also the weight gradients and every input gradient but
    the first layer's (nothing needs it). The GEMM-bound limit of a machine is its
    peak over this."""
    sizes = [FEATURES, *hidden, CLASSES]
    layers = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    forward = 2 * sum(layers)
    return forward + 2 * sum(layers) + 2 * sum(layers[1:]) if training else forward


TINY_HIDDEN = (32,)


def of_peak(samples_per_s, flops, peak):
    """samples/s as a fraction of the GEMM-bound limit, e.g. ' 79 %'; '' when the peak is unknown."""
    return f"{100.0 * samples_per_s * flops / peak:.0f} %" if peak else ""


# ------------------------------------------------------------------ frameworks
class Mlpcore:
    name = "mlpcore"

    def __init__(self, hidden, batch, lr=LR, momentum=MOMENTUM, seed=0):
        import mlpcore as mc
        layers = [mc.Dense(u, activation="relu") for u in hidden] + [mc.Dense(CLASSES)]
        self.model = mc.Sequential(layers, input_dim=FEATURES, seed=seed)
        self.model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=lr, momentum=momentum))
        self.batch = batch

    def epoch(self, X, y):
        self.model.fit(X, y, epochs=1, batch_size=self.batch, shuffle=True, verbose=0)

    def predict(self, X):
        return self.model.predict(X)

    def state(self):
        """Weights and biases, and the optimizer's momentum (its flat buffer) where readable."""
        arrays = [a for Wb in self.model.get_weights() for a in Wb]
        opt = getattr(self.model, "_opt", getattr(self.model, "_sgd", None))
        state = opt.get_flat_state()[0] if hasattr(opt, "get_flat_state") else None
        if isinstance(state, dict):  # one flat buffer per state name
            state = state.get("momentum_buffer")
        return arrays, None if state is None else [np.asarray(state)]


class Torch:
    name = "pytorch"

    def __init__(self, hidden, batch, lr=LR, momentum=MOMENTUM, seed=0):
        import torch
        from torch import nn
        self.torch = torch
        torch.manual_seed(seed)
        sizes = [FEATURES, *hidden]
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], CLASSES))
        self.model = nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum)
        self.loss = nn.CrossEntropyLoss()
        self.batch = batch
        self.gen = torch.Generator().manual_seed(seed)
        self._data = None

    def _tensors(self, X, y):
        if self._data is None or self._data[0] is not X:
            self._data = (X, self.torch.from_numpy(X), self.torch.from_numpy(y))
        return self._data[1], self._data[2]

    def epoch(self, X, y):
        Xt, yt = self._tensors(X, y)
        order = self.torch.randperm(len(Xt), generator=self.gen)
        for start in range(0, len(Xt), self.batch):
            idx = order[start:start + self.batch]
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(Xt[idx]), yt[idx]).backward()
            self.opt.step()

    def predict(self, X):
        with self.torch.no_grad():
            return self.torch.softmax(self.model(self.torch.from_numpy(X)), 1)

    def state(self):
        params = list(self.model.parameters())
        momentum = [self.opt.state[q]["momentum_buffer"] for q in params
                    if self.opt.state.get(q, {}).get("momentum_buffer") is not None]
        return [q.detach().numpy() for q in params], [m.numpy() for m in momentum]


class Sklearn:
    name = "sklearn"

    def __init__(self, hidden, batch, lr=LR, momentum=MOMENTUM, seed=0):
        from sklearn.neural_network import MLPClassifier
        self.model = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="sgd",
                                   alpha=0.0, batch_size=batch, learning_rate_init=lr,
                                   momentum=momentum, nesterovs_momentum=False, shuffle=True,
                                   random_state=seed)
        self.classes = np.arange(CLASSES)

    def epoch(self, X, y):
        self.model.partial_fit(X, y, classes=self.classes)

    def predict(self, X):
        return self.model.predict_proba(X)


class Numpy:
    """A careful hand-written numpy MLP: preallocated buffers, in-place ops, BLAS
    for every product, softmax cross-entropy backward, torch-style momentum SGD."""
    name = "numpy"

    def __init__(self, hidden, batch, lr=LR, momentum=MOMENTUM, seed=0):
        rng = np.random.default_rng(seed)
        sizes = [FEATURES, *hidden, CLASSES]
        self.W = [rng.uniform(-1, 1, (a, b)).astype(np.float32) / np.float32(np.sqrt(a))
                  for a, b in zip(sizes[:-1], sizes[1:])]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.gW = [np.zeros_like(w) for w in self.W]
        self.gb = [np.zeros_like(b) for b in self.b]
        self.acts = [np.zeros((batch, s), np.float32) for s in sizes[1:]]
        self.deltas = [np.zeros((batch, s), np.float32) for s in sizes[1:]]
        self.xb = np.zeros((batch, FEATURES), np.float32)
        self.batch, self.lr, self.momentum = batch, np.float32(lr), np.float32(momentum)
        self.rng = np.random.default_rng(seed)
        self.first = True

    def _forward(self, x, acts):
        h = x
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            out = acts[i]
            np.matmul(h, W, out=out)
            out += b
            if i < len(self.W) - 1:
                np.maximum(out, 0, out=out)
            h = out
        return h

    def step(self, x, y):
        n = len(x)
        acts = [a[:n] for a in self.acts]
        deltas = [d[:n] for d in self.deltas]
        z = self._forward(x, acts)
        g = deltas[-1]
        np.subtract(z, z.max(1, keepdims=True), out=g)
        np.exp(g, out=g)
        g /= g.sum(1, keepdims=True)
        g[np.arange(n), y] -= 1
        g /= np.float32(n)
        for i in range(len(self.W) - 1, -1, -1):
            h = x if i == 0 else acts[i - 1]
            np.matmul(h.T, deltas[i], out=self.gW[i])
            np.sum(deltas[i], axis=0, out=self.gb[i])
            if i > 0:
                d = deltas[i - 1]
                np.matmul(deltas[i], self.W[i].T, out=d)
                d *= acts[i - 1] > 0
        for p, v, gr in zip(self.W + self.b, self.vW + self.vb, self.gW + self.gb):
            if self.first:
                v[...] = gr
            else:
                v *= self.momentum
                v += gr
            p -= self.lr * v
        self.first = False

    def epoch(self, X, y):
        order = self.rng.permutation(len(X))
        for start in range(0, len(X), self.batch):
            idx = order[start:start + self.batch]
            xb = self.xb[:len(idx)]
            np.take(X, idx, axis=0, out=xb)
            self.step(xb, y[idx])

    def predict(self, X):
        return self._forward(X, [np.empty((len(X), w.shape[1]), np.float32) for w in self.W])


FRAMEWORKS = {"mlpcore": Mlpcore, "pytorch": Torch, "sklearn": Sklearn, "numpy": Numpy}
PEER_MODULES = {"pytorch": "torch", "sklearn": "sklearn", "numpy": "numpy", "mlpcore": "mlpcore"}


def available(names):
    import importlib.util
    return [n for n in names if importlib.util.find_spec(PEER_MODULES[n]) is not None]


# ------------------------------------------------------------------ measurements (in a worker)
def timed(f):
    """Seconds f() takes, started once other libraries' idle threads have gone to sleep."""
    time.sleep(SETTLE_S)
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def time_training(frameworks, X, y, batches, repeats, warmup_rows):
    """{batch: {framework: median samples/s}}, frameworks timed in turn per repeat."""
    results = {}
    for batch in batches:
        runners = {n: FRAMEWORKS[n](HIDDEN, batch) for n in frameworks}
        for r in runners.values():
            r.epoch(X[:warmup_rows], y[:warmup_rows])
        times = {n: [] for n in runners}
        for _ in range(repeats):
            for n, r in runners.items():
                times[n].append(timed(lambda: r.epoch(X, y)))
        results[batch] = {n: len(X) / statistics.median(ts) for n, ts in times.items()}
    return results


def time_inference(frameworks, X, y, repeats, batch=1024):
    runners = {n: FRAMEWORKS[n](HIDDEN, 32) for n in frameworks}
    for r in runners.values():
        r.epoch(X[:256], y[:256])  # sklearn predicts only once fitted
    chunks = [X[i:i + batch] for i in range(0, len(X) - batch + 1, batch)]
    times = {n: [] for n in runners}
    for r in runners.values():
        r.predict(chunks[0])
    for _ in range(repeats):
        for n, r in runners.items():
            times[n].append(timed(lambda: [r.predict(c) for c in chunks]))
    return {n: len(chunks) * batch / statistics.median(ts) for n, ts in times.items()}


def time_tiny(frameworks, X, y, batches, steps, repeats):
    """Steps/s of a 784-32-10 model (lr 0.001 so batch 1 stays finite on this data)."""
    out = {}
    for batch in batches:
        rows = steps * batch
        runners = {n: FRAMEWORKS[n](TINY_HIDDEN, batch, lr=0.001) for n in frameworks}
        for r in runners.values():
            r.epoch(X[:rows // 4], y[:rows // 4])
        times = {n: [] for n in runners}
        for _ in range(repeats):
            for n, r in runners.items():
                times[n].append(timed(lambda: r.epoch(X[:rows], y[:rows])))
        out[batch] = {n: steps / statistics.median(ts) for n, ts in times.items()}
    return out


LONG_SETTLE_S = 0.05  # between two stretches of one framework in a long run (SETTLE_S between frameworks)


def subnormals(arrays):
    """How many of the values are subnormal floats (non-zero, below float32's smallest normal)."""
    if arrays is None:
        return None
    smallest = np.finfo(np.float32).tiny
    return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < smallest))) for a in arrays)


def long_run(frameworks, X, y, hidden, batch, lr, run, stretch_rows, rounds, clock):
    """A long training run per framework (one epoch over X[start:stop] for each
    (start, stop) in `run`), then `rounds` rounds, frameworks in turn, of: a
    stretch of stretch_rows rows on a fresh model (the same initial weights, zero
    momentum; after 16 untimed steps of set-up and first thread probe), and the
    same rows on the long-run model. Timing the two alternately, in short
    stretches, on `clock`, keeps a busy host from passing for a slow-down. Reports steps/s of
    each (medians) and their ratio, last / first: below 1 when training slows down
    as it goes (subnormal floats, e.g. in the momentum of ReLU units that died), and
    how many values of the long-run model's state are subnormal after the run."""
    runners = {n: FRAMEWORKS[n](hidden, batch, lr=lr) for n in frameworks}
    # Each framework's turn starts after the pause, also in the untimed run: a peer's
    # spinning idle threads would otherwise make mlpcore's per-step thread choice
    # (see README) settle on one thread for a while.
    for start, stop in run:
        for r in runners.values():
            time.sleep(SETTLE_S)
            r.epoch(X[start:stop], y[start:stop])
    out = {"run_steps": sum(-(-(stop - start) // batch) for start, stop in run),
           "stretch_steps": -(-stretch_rows // batch), "rounds": rounds}
    for n, r in runners.items():
        weights, momentum = r.state()
        out[n] = {"subnormal_weights": subnormals(weights), "subnormal_momentum": subnormals(momentum),
                  "state_values": sum(a.size for a in weights) + sum(a.size for a in momentum or [])}
    prime = 16 * batch
    Xp, yp = X[:prime], y[:prime]
    Xs, ys = X[prime:prime + stretch_rows], y[prime:prime + stretch_rows]
    first, last = {n: [] for n in runners}, {n: [] for n in runners}
    for _ in range(rounds):
        for n, r in runners.items():
            time.sleep(SETTLE_S)
            fresh = FRAMEWORKS[n](hidden, batch, lr=lr)
            fresh.epoch(Xp, yp)
            for model, rates in ((fresh, first[n]), (r, last[n])):
                time.sleep(LONG_SETTLE_S)
                t = clock()
                model.epoch(Xs, ys)
                rates.append(out["stretch_steps"] / (clock() - t))
    for n in runners:
        f, la = statistics.median(first[n]), statistics.median(last[n])
        out[n].update(first_steps_per_s=f, last_steps_per_s=la, ratio=la / f)
    return out


def time_long_runs(frameworks, X, y, tiny_steps, big_rows, big_epochs, repeats, threads):
    """(a) 784-32-10 at batch 1 (lr 0.001) for tiny_steps steps over fresh rows,
    stretches of 200 steps; (b) 784-512-256-10 at batch 32 (lr 0.01), big_epochs
    epochs over the first big_rows rows, stretches of 25 steps. 3 x repeats rounds.
    On 1 thread the stretches are timed on the thread's CPU clock (the work runs
    on the calling thread; time other processes hold the core is left out), on
    more on the wall clock."""
    clock = time.thread_time if threads == 1 else time.perf_counter
    run = [(i, min(i + 1000, tiny_steps)) for i in range(0, tiny_steps, 1000)]
    tiny = long_run(frameworks, X, y, TINY_HIDDEN, 1, 0.001, run, min(200, len(X) - 16), 3 * repeats, clock)
    big = long_run(frameworks, X, y, HIDDEN, 32, LR, [(0, big_rows)] * big_epochs, min(800, len(X) - 16 * 32),
                   3 * repeats, clock)
    return {"tiny": tiny, "big": big, "clock": "thread CPU time" if threads == 1 else "wall"}


def parity(X, y, batch=64, steps=50):
    """Same initial weights and batches (no shuffling) in mlpcore and PyTorch:
    relative difference of the loss after `steps` SGD steps (fewer if X has fewer batches)."""
    import torch
    steps = min(steps, len(X) // batch)
    a = Mlpcore(HIDDEN, batch)
    t = Torch(HIDDEN, batch)
    with torch.no_grad():
        linears = [m for m in t.model if isinstance(m, torch.nn.Linear)]
        for lin, (W, b) in zip(linears, a.model.get_weights()):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    Xs, ys = X[:batch * steps], y[:batch * steps]
    a.model.fit(Xs, ys, epochs=1, batch_size=batch, shuffle=False, verbose=0)
    Xt, yt = torch.from_numpy(Xs), torch.from_numpy(ys)
    for start in range(0, len(Xs), batch):
        t.opt.zero_grad()
        t.loss(t.model(Xt[start:start + batch]), yt[start:start + batch]).backward()
        t.opt.step()
    ours = a.model.evaluate(Xs, ys)["loss"]
    with torch.no_grad():
        theirs = float(t.loss(t.model(Xt), yt))
    return {"steps": steps, "batch": batch, "mlpcore_loss": ours, "pytorch_loss": theirs,
            "relative_difference": abs(ours - theirs) / abs(theirs)}


MEMORY_SCRIPT = r"""
import json, resource, sys
sys.path.insert(0, {here!r})
import which_mlpcore
which_mlpcore.select()
import numpy as np
import mlpcore as mc
from compare_training import make_data, HIDDEN, CLASSES, FEATURES
mc.set_num_threads({threads})
# Baseline: the interpreter with numpy and mlpcore loaded and warmed up (code pages,
# OpenMP and OpenBLAS threads) by a fit of a tiny model on a few rows. Then the fit
# holds: data, parameters, gradients, momentum and the workspace (each step is
# checked before it is applied, so no copy of the parameters is kept).
warm_X, warm_y = make_data(64, seed=1)
warm = mc.Sequential([mc.Dense(4, activation="relu"), mc.Dense(CLASSES)], input_dim=FEATURES)
warm.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
warm.fit(warm_X, warm_y, epochs=1, batch_size=16, verbose=0)
np.ones((4096, 64), np.float32) @ np.ones((64, CLASSES), np.float32)  # OpenBLAS threads, as make_data uses
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
X, y = make_data({rows})
model = mc.Sequential([mc.Dense(u, activation="relu") for u in HIDDEN] + [mc.Dense(CLASSES)], input_dim=FEATURES)
model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
model.fit(X, y, epochs=1, batch_size={batch}, verbose=0)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
params = sum(W.size + b.size for W, b in model.get_weights())
print(json.dumps({{"rss_baseline_kib": before, "rss_peak_kib": after, "data_bytes": X.nbytes + y.nbytes,
                  "params": params, "blocking": mc.config()["blocking"]}}))
"""


# What the budget allows beyond the data, the parameters and the workspace: the
# interpreter's objects, the library's code pages first touched by a big fit,
# allocator rounding and page granularity.
MEMORY_SLACK_BYTES = 4 << 20


def memory(rows, batch, threads):
    """Peak RSS of making the data and one fit, above the interpreter with numpy and
    mlpcore loaded and warmed up, in a fresh process (tracemalloc cannot see C++)."""
    code = MEMORY_SCRIPT.format(here=HERE, rows=rows, batch=batch, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    peak = (m["rss_peak_kib"] - m["rss_baseline_kib"]) * 1024
    width = max(HIDDEN + (CLASSES,))
    bl = m["blocking"]
    # gathered batch, per-layer outputs, two delta buffers (floats), plus each thread's GEMM
    # packing: an mc x kc block of A and a kc x nc panel of B (nc at most the widest layer)
    packing = bl["mc"] * bl["kc"] + bl["kc"] * min(bl["nc"], max(width, FEATURES))
    workspace = 4 * (batch * (FEATURES + 4 * width) + threads * packing)
    budget = m["data_bytes"] + m["params"] * 4 * 4 + workspace + MEMORY_SLACK_BYTES
    return {**m, "batch": batch, "peak_bytes": peak, "workspace_bytes": workspace, "budget_bytes": budget,
            "within_budget": peak <= budget}


def worker(args):
    global SETTLE_S, LONG_SETTLE_S
    if args.smoke:  # nothing is measured
        SETTLE_S = LONG_SETTLE_S = 0.0
    threads = args.threads_one
    X, y = make_data(args.rows)
    names = available(args.frameworks)
    report = {"threads": threads, "rows": args.rows, "frameworks": names}
    try:
        import mlpcore as mc
        if args.flush_denormal is not None:
            if not hasattr(mc, "set_flush_denormal"):
                raise SystemExit("--flush-denormal: this mlpcore has no set_flush_denormal")
            mc.set_flush_denormal(args.flush_denormal == "on")
        report["mlpcore_config"] = mc.config()
        if hasattr(mc._core, "measure_fma_peak"):
            report["peak_flops_per_core"] = mc._core.measure_fma_peak()
    except ImportError:
        pass
    if args.numpy_only:
        report["training"] = time_training(["numpy"], X, y, args.batches, args.repeats, args.warmup)
        print(json.dumps(report))
        return
    if args.under_load:
        # A whole epoch of warm-up: the steady state of a long fit, for every framework.
        report["training"] = time_training(names, X[:args.load_rows], y[:args.load_rows], [LOAD_BATCH], 1,
                                           args.load_rows)
        print(json.dumps(report))
        return
    report["training"] = time_training(names, X, y, args.batches, args.repeats, args.warmup)
    report["inference"] = time_inference(names, X[:min(len(X), 20 * 1024)], y, args.repeats)
    tiny = [n for n in names if n in ("mlpcore", "pytorch")]
    report["tiny"] = time_tiny(tiny, X, y, [1, 8], args.tiny_steps, args.repeats)
    if args.long_steps > 0 and args.long_epochs > 0:
        report["long"] = time_long_runs(tiny, X, y, min(args.long_steps, len(X)), min(args.long_rows, len(X)),
                                        args.long_epochs, args.repeats, threads)
    if "pytorch" in names and "mlpcore" in names and threads == args.threads[0]:
        report["parity"] = parity(X, y)
    print(json.dumps(report))


LOAD_BATCH = 128


def busy_process():
    """Another program keeping one core busy at the same priority (a second
    job on the machine): the case where threads that wait for each other at
    every barrier lose most."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def run_worker(args, threads, numpy_only=False, unset_openblas=False, under_load=False):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    if unset_openblas:
        for var in OPENBLAS_VARS:
            env.pop(var, None)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--threads-one", str(threads),
           "--rows", str(args.rows), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
           "--tiny-steps", str(args.tiny_steps), "--batches", ",".join(map(str, args.batches)),
           "--long-steps", str(args.long_steps), "--long-rows", str(args.long_rows),
           "--long-epochs", str(args.long_epochs),
           "--threads", ",".join(map(str, args.threads)), "--frameworks", ",".join(args.frameworks)]
    if args.flush_denormal is not None:
        cmd += ["--flush-denormal", args.flush_denormal]
    if args.smoke:
        cmd.append("--smoke")
    if numpy_only:
        cmd.append("--numpy-only")
    if under_load:
        cmd += ["--under-load", "--load-rows", str(args.load_rows)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"worker for {threads} thread(s) failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(x):
    return f"{x:,.0f}"


def print_long_runs(reports, args):
    print()
    print("## Long runs, steps/s of a stretch after the run against the first stretch (ratio = last / first; "
          "below 1: training slows down as it goes, e.g. on subnormal floats; target for mlpcore >= 0.97)")
    print(f"(non-negative inputs in [0, 1), softmax CE, SGD momentum {MOMENTUM}; after the run, a stretch on a fresh "
          f"model and the same rows on the long-run model, alternately, frameworks in turn; medians. On 2 threads "
          f"both also carry fit's per-step choice of thread count, which may differ between the two models)")
    for rep in reports:
        clock = rep["long"].get("clock", "wall")
        for key in ("tiny", "big"):
            run = rep["long"][key]
            names = [n for n in run if isinstance(run[n], dict)]
            if key == "tiny":
                what = f"784-32-10 batch 1 lr 0.001, a run of {run['run_steps']:,} steps"
            else:
                what = (f"784-512-256-10 batch 32 lr {LR}, a run of {args.long_epochs} epochs of "
                        f"{min(args.long_rows, args.rows):,} rows ({run['run_steps']:,} steps)")
            cells = ", ".join(f"{n} {run[n]['ratio']:.3f} ({fmt(run[n]['first_steps_per_s'])} -> "
                              f"{fmt(run[n]['last_steps_per_s'])})" for n in names)
            print(f"- {rep['threads']} thread(s), {what}, then {run['rounds']} x 2 stretches of "
                  f"{run['stretch_steps']} steps, {clock}: {cells}")
        tiny = rep["long"]["tiny"]
        counts = []
        for n in (n for n in tiny if isinstance(tiny[n], dict)):
            m = tiny[n]["subnormal_momentum"]
            counts.append(f"{n} {tiny[n]['subnormal_weights']:,} in the weights, "
                          + ("momentum not readable" if m is None else f"{m:,} in the momentum")
                          + f" (of {tiny[n]['state_values']:,} values)")
        print(f"  subnormal values in the tiny model's state after its long run: " + "; ".join(counts))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="12000 samples, 3 repeats, fewer tiny steps, shorter long runs")
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2048)
    p.add_argument("--tiny-steps", type=int, default=4000)
    p.add_argument("--batches", default="32,128,512")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--frameworks", default="mlpcore,pytorch,sklearn,numpy")
    p.add_argument("--memory-rows", type=int, default=60000)
    p.add_argument("--load-rows", type=int, default=None,
                   help="rows of the epoch timed while another process keeps a core busy (default 4096, 2048 "
                        "with --quick; 0: skip it)")
    p.add_argument("--long-steps", type=int, default=6000,
                   help="steps of the long run of the tiny model at batch 1 (0: skip the long runs)")
    p.add_argument("--long-rows", type=int, default=12000, help="rows an epoch of the long run of the big model")
    p.add_argument("--long-epochs", type=int, default=10, help="epochs of the long run of the big model")
    p.add_argument("--flush-denormal", choices=("on", "off"),
                   help="mlpcore.set_flush_denormal(on/off) first (mlpcore builds that have it)")
    p.add_argument("--smoke", action="store_true",
                   help="every measurement on a few rows and steps, once: checks that the script runs (CI)")
    p.add_argument("--json", help="also write the raw results here")
    p.add_argument("--under-load", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads-one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--numpy-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.batches = [int(b) for b in str(args.batches).split(",")]
    args.threads = [int(t) for t in str(args.threads).split(",")]
    args.frameworks = args.frameworks.split(",")
    source = which_mlpcore.select()  # also for the workers: they inherit PYTHONPATH
    if args.quick and not args.worker:
        args.rows, args.tiny_steps, args.memory_rows = 12000, 1500, 12000
        args.load_rows = 2048 if args.load_rows is None else args.load_rows
        args.long_steps, args.long_rows = min(args.long_steps, 3000), min(args.long_rows, 4000)
    if args.smoke and not args.worker:  # inference needs 1024 rows
        args.rows, args.repeats, args.warmup, args.tiny_steps, args.memory_rows = 1024, 1, 256, 20, 1024
        args.batches = [LOAD_BATCH]
        args.load_rows, args.long_steps, args.long_rows, args.long_epochs = 256, 50, 256, 2
    if args.load_rows is None:
        args.load_rows = 4096
    if args.worker:
        return worker(args)

    reports = [run_worker(args, t) for t in args.threads]
    loaded = None
    if args.load_rows > 0 and max(args.threads) > 1:
        busy = busy_process()
        try:
            loaded = run_worker(args, max(args.threads), under_load=True)
        finally:
            busy.kill()
            busy.wait()
    unset = [v for v in OPENBLAS_VARS if v in os.environ]
    numpy_best = {}
    if unset and "numpy" in args.frameworks:
        for t in args.threads:
            numpy_best[t] = run_worker(args, t, numpy_only=True, unset_openblas=True)["training"]
    print(f"# 784-512-256-10 ReLU MLP, softmax CE, SGD(lr={LR}, momentum={MOMENTUM}); {args.rows} x {FEATURES} "
          f"synthetic MNIST-shaped; one epoch, median of {args.repeats}, frameworks interleaved")
    cfg = reports[0].get("mlpcore_config", {})
    flush = f" flush_denormal={cfg['flush_denormal']}" if "flush_denormal" in cfg else ""
    print(f"# mlpcore {source}, isa={cfg.get('isa')} openmp={cfg.get('openmp')}{flush}; "
          f"peers: {', '.join(reports[0]['frameworks'][1:])}")
    caches = cfg.get("caches") or {}
    kib = ", ".join(f"{name} {caches[lvl] // 1024} KiB" for lvl, name in (("l1d", "L1d"), ("l2", "L2"), ("l3", "L3"))
                   if caches.get(lvl))
    core_peak = reports[0].get("peak_flops_per_core") or 0.0
    train_flops, infer_flops = flops_per_sample(HIDDEN, True), flops_per_sample(HIDDEN, False)
    tiny_flops = flops_per_sample(TINY_HIDDEN, True)
    print(f"# cpu {cfg.get('cpu', 'unknown')}; caches (a core's share): {kib or 'unknown'}")
    if core_peak:
        print(f"# measured FMA peak ({cfg.get('isa')}) {core_peak / 1e9:.1f} GFLOP/s a core; a sample is "
              f"{train_flops / 1e6:.2f} MFLOP to train, {infer_flops / 1e6:.2f} to predict: the GEMM-bound limit "
              f"is {core_peak / train_flops:,.0f} training samples/s a core. '% peak' = samples/s x FLOP a "
              f"sample / (threads x that peak)")
    if args.smoke:
        print("# --smoke: every measurement once, on a few rows and steps; the figures mean nothing")
    if unset:
        print(f"# numpy as-is has {', '.join(unset)} set; 'numpy*' is the same run with them unset")
    print()
    print("## Training, samples/s (ratio = mlpcore / peer)")
    header = ("| threads | batch | " + " | ".join(reports[0]["frameworks"]) + (" | numpy* " if numpy_best else "")
              + " | ratios |" + (" % peak |" if core_peak else ""))
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for rep in reports:
        t = rep["threads"]
        for b, row in rep["training"].items():
            extra = {}
            if numpy_best:
                extra["numpy*"] = numpy_best[t][b]["numpy"]
            cells = [fmt(row[n]) for n in rep["frameworks"]] + [fmt(v) for v in extra.values()]
            ours = row.get("mlpcore")
            ratios = ", ".join(f"{n} {ours / v:.2f}x" for n, v in {**row, **extra}.items() if n != "mlpcore")
            peaks = ", ".join(f"{n} {of_peak(v, train_flops, t * core_peak)}" for n, v in {**row, **extra}.items())
            print(f"| {t} | {b} | " + " | ".join(cells) + f" | {ratios} |" + (f" {peaks} |" if core_peak else ""))
    if loaded:
        row = loaded["training"][str(LOAD_BATCH)]  # JSON keys are strings
        ours = row.get("mlpcore")
        print()
        print(f"## Training while another process keeps one core busy (a busy loop), {loaded['threads']} "
              f"threads, batch {LOAD_BATCH}, {args.load_rows} rows, samples/s")
        print("- " + ", ".join(f"{n} {fmt(v)}" for n, v in row.items()) + "; ratios "
              + ", ".join(f"{n} {ours / v:.2f}x" for n, v in row.items() if n != "mlpcore")
              + (f"; % of {loaded['threads']} cores' peak: " + ", ".join(
                  f"{n} {of_peak(v, train_flops, loaded['threads'] * core_peak)}" for n, v in row.items())
                 if core_peak else ""))
    print()
    print("## Inference, batch 1024, samples/s")
    for rep in reports:
        inf = rep["inference"]
        ours = inf.get("mlpcore")
        print(f"- {rep['threads']} thread(s): " + ", ".join(f"{n} {fmt(v)}" for n, v in inf.items()) + "; ratios "
              + ", ".join(f"{n} {ours / v:.2f}x" for n, v in inf.items() if n != "mlpcore")
              + ("; % peak: " + ", ".join(f"{n} {of_peak(v, infer_flops, rep['threads'] * core_peak)}"
                                          for n, v in inf.items()) if core_peak else ""))
    print()
    print("## Tiny model 784-32-10, steps/s")
    for rep in reports:
        for b, row in rep["tiny"].items():
            ours = row.get("mlpcore")
            ratio = f" ({ours / row['pytorch']:.1f}x pytorch)" if "pytorch" in row else ""
            peaks = ("; % peak: " + ", ".join(f"{n} {of_peak(v * int(b), tiny_flops, rep['threads'] * core_peak)}"
                                              for n, v in row.items())) if core_peak else ""
            print(f"- {rep['threads']} thread(s), batch {b}: " + ", ".join(f"{n} {fmt(v)}" for n, v in row.items())
                  + f"; mlpcore {1e6 / ours:.1f} us/step{ratio}{peaks}")
    if all("long" in rep for rep in reports):
        print_long_runs(reports, args)
    for rep in reports:
        if "parity" in rep:
            par = rep["parity"]
            print()
            print(f"## Learning parity with PyTorch ({par['steps']} steps of batch {par['batch']}, same weights)")
            print(f"- loss mlpcore {par['mlpcore_loss']:.7f}, pytorch {par['pytorch_loss']:.7f}, relative "
                  f"difference {par['relative_difference']:.2e} ({'OK' if par['relative_difference'] <= 1e-4 else 'FAIL'}"
                  f" against 1e-4)")
    print()
    print(f"## Peak memory of making the data and one fit, above the warmed-up interpreter (fresh process, "
          f"ru_maxrss, {max(args.threads)} threads)")
    mib = 2.0**20
    for b in args.batches:
        m = memory(args.memory_rows, b, max(args.threads))
        print(f"- batch {b}: peak {m['peak_bytes'] / mib:.1f} MiB; budget {m['budget_bytes'] / mib:.1f} MiB = data "
              f"{m['data_bytes'] / mib:.1f} + parameters x 4 {m['params'] * 16 / mib:.1f} + workspace "
              f"{m['workspace_bytes'] / mib:.1f} + slack {MEMORY_SLACK_BYTES / mib:.0f} -> "
              f"{'within' if m['within_budget'] else 'OVER'} budget")
    print(f"  (fit holds parameters x 3, {m['params'] * 12 / mib:.1f} MiB: values, gradients, momentum; each step is "
          f"checked before it is applied, so no copy is kept to undo a diverging one)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"reports": reports, "numpy_best": numpy_best, "under_load": loaded}, f, indent=1)


if __name__ == "__main__":
    main()
