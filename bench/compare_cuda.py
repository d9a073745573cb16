"""mlpcore's CUDA backend against PyTorch on the same GPU, in one process.

    python bench/compare_cuda.py [--rounds 7] [--quick] [--skip-if-unavailable]

Needs an mlpcore built with CUDA (pip install . -C cmake.define.MLPCORE_CUDA=ON),
an NVIDIA GPU, and PyTorch with CUDA. Two comparisons, each timed in
interleaved rounds (mlpcore, torch, mlpcore, ...) and reported as medians:

1. SGEMM, device-resident operands: mlpcore's kernel (CUDA events around
   back-to-back calls) against torch.matmul, i.e. cuBLAS, in full FP32 (TF32
   off, as mlpcore's kernel is plain FP32; a TF32 line is printed for context).
   Square sizes and the products of the 784-512-256-10 MLP at batch 128 / 1024,
   with the transposes backprop uses.
2. Training throughput of the 784-512-256-10 ReLU MLP (softmax cross-entropy,
   SGD with momentum 0.9) on 60,000 synthetic MNIST-shaped samples held on the
   GPU, batch 128 and 1024: one epoch of mlpcore's fit against the same epoch
   written in PyTorch (randperm, index gather, forward, loss, backward, step).

Ratios > 1 mean mlpcore is faster.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import which_mlpcore


SKIP_IF_UNAVAILABLE = False


def fail(message: str) -> None:
    """What it needs is missing: exit 2, or 0 with --skip-if-unavailable (CI without a GPU)."""
    if SKIP_IF_UNAVAILABLE:
        print(f"compare_cuda: SKIPPED, {message}")
        sys.exit(0)
    print(f"compare_cuda: {message}", file=sys.stderr)
    sys.exit(2)


def gemm_cases(quick: bool):
    square = [(512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048)]
    if not quick:
        square.append((4096, 4096, 4096))
    mlp = []
    for batch in (128, 1024):
        mlp += [
            (f"fwd  X*W1   b={batch}", batch, 512, 784, False, False),
            (f"fwd  H*W2   b={batch}", batch, 256, 512, False, False),
            (f"bwd  X^T*dZ b={batch}", 784, 512, batch, True, False),
            (f"bwd  dZ*W^T b={batch}", batch, 512, 256, False, True),
        ]
    return [(f"square {m}", m, n, k, False, False) for m, n, k in square] + mlp


def bench_gemm(mc, torch, rounds: int, quick: bool) -> None:
    device = torch.device("cuda")
    print(f"\nSGEMM (seconds per call, median of {rounds} interleaved rounds; ratio = torch / mlpcore time)")
    print(f"{'case':<22}{'m':>6}{'n':>6}{'k':>6}  {'mlpcore':>10} {'GF/s':>7}  {'cuBLAS':>10} {'GF/s':>7}  "
          f"{'ratio':>6}  {'TF32 ratio':>10}")
    for name, m, n, k, ta, tb in gemm_cases(quick):
        flops = 2.0 * m * n * k
        repeats = max(3, min(200, int(2e10 / flops)))
        a = torch.randn(k, m, device=device) if ta else torch.randn(m, k, device=device)
        b = torch.randn(n, k, device=device) if tb else torch.randn(k, n, device=device)

        out = torch.empty(m, n, device=device)
        op_a, op_b = (a.t() if ta else a), (b.t() if tb else b)

        def torch_calls(tf32: bool):
            """`repeats` products replayed from a CUDA graph, so Python's per-call
            dispatch (~10 us, longer than the small products themselves) stays out."""
            torch.backends.cuda.matmul.allow_tf32 = tf32

            def calls():
                for _ in range(repeats):
                    torch.matmul(op_a, op_b, out=out)

            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):  # warm-up off the capture, as torch.cuda.graph asks
                calls()
            torch.cuda.current_stream().wait_stream(side)
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    calls()
                return graph.replay, "graph"
            except RuntimeError:
                return calls, "eager"

        def torch_time(run) -> float:
            run()
            torch.cuda.synchronize()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            run()
            stop.record()
            stop.synchronize()
            return start.elapsed_time(stop) / 1000.0 / repeats

        fp32_run, mode = torch_calls(False)
        tf32_run, _ = torch_calls(True)
        torch.backends.cuda.matmul.allow_tf32 = False
        ours, theirs, theirs_tf32 = [], [], []
        for _ in range(rounds):
            ours.append(mc._core.Backend("cuda").time_sgemm(m, n, k, ta, tb, repeats))
            theirs.append(torch_time(fp32_run))
            theirs_tf32.append(torch_time(tf32_run))
        t_ours, t_theirs, t_tf32 = (statistics.median(x) for x in (ours, theirs, theirs_tf32))
        print(f"{name:<22}{m:>6}{n:>6}{k:>6}  {t_ours:>10.3e} {flops / t_ours / 1e9:>7.0f}  {t_theirs:>10.3e} "
              f"{flops / t_theirs / 1e9:>7.0f}  {t_theirs / t_ours:>6.2f}  {t_tf32 / t_ours:>10.2f}"
              + ("" if mode == "graph" else "  (torch timed eagerly: graph capture failed)"))


def bench_training(mc, torch, rounds: int, quick: bool) -> None:
    rows = 20_000 if quick else 60_000
    rng = np.random.default_rng(0)
    X = rng.random((rows, 784), dtype=np.float32)
    y = rng.integers(0, 10, rows).astype(np.int64)
    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    Xt = torch.from_numpy(X).to(device)
    yt = torch.from_numpy(y).to(device)

    print(f"\nTraining 784-512-256-10 ReLU, softmax cross-entropy, SGD(lr=0.01, momentum=0.9), "
          f"{rows} samples on the GPU\n(samples per second, one epoch, median of {rounds} interleaved rounds; "
          f"ratio = mlpcore / torch)")
    print(f"{'batch':>6}  {'mlpcore':>12}  {'torch':>12}  {'ratio':>6}")
    for batch in (128, 1024):
        model = mc.Sequential([mc.Dense(512, activation="relu"), mc.Dense(256, activation="relu"),
                               mc.Dense(10, activation="softmax")], seed=0, device="cuda")
        model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))

        net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                  torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()

        def torch_epoch() -> float:
            torch.cuda.synchronize()
            start = time.perf_counter()
            order = torch.randperm(rows, device=device)
            for s in range(0, rows, batch):
                idx = order[s:s + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            torch.cuda.synchronize()
            return rows / (time.perf_counter() - start)

        def ours_epoch() -> float:
            # fit copies the data to the GPU once per call, as a user's fit would;
            # the throughput it reports is measured around the epoch itself.
            history = model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
            return history.history["samples_per_second"][-1]

        ours_epoch()  # warm-up: module load, allocations
        torch_epoch()
        ours, theirs = [], []
        for _ in range(rounds):
            ours.append(ours_epoch())
            theirs.append(torch_epoch())
        a, b = statistics.median(ours), statistics.median(theirs)
        print(f"{batch:>6}  {a:>12,.0f}  {b:>12,.0f}  {a / b:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and samples")
    parser.add_argument("--skip-gemm", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-if-unavailable", action="store_true",
                        help="exit 0 (not 2) with a SKIPPED line when the CUDA build, a GPU or CUDA PyTorch is missing")
    args = parser.parse_args()
    global SKIP_IF_UNAVAILABLE
    SKIP_IF_UNAVAILABLE = args.skip_if_unavailable

    source = which_mlpcore.select()
    import mlpcore as mc

    info = mc.config()["cuda"]
    if not info["compiled"]:
        fail("this mlpcore build has no CUDA backend; pip install . -C cmake.define.MLPCORE_CUDA=ON")
    if info["devices"] == 0:
        fail(f"no CUDA device is available ({mc.config()['cuda']['unavailable_reason']})")
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed (pip install torch==2.13.0 with CUDA support)")
    if not torch.cuda.is_available():
        fail(f"this PyTorch ({torch.__version__}) has no CUDA, or sees no GPU")

    print(f"GPU: {mc.config()['cuda']['name']} | mlpcore {mc.__version__} ({source}) | torch {torch.__version__} "
          f"(CUDA {torch.version.cuda})")
    if not args.skip_gemm:
        bench_gemm(mc, torch, args.rounds, args.quick)
    if not args.skip_training:
        bench_training(mc, torch, args.rounds, args.quick)


if __name__ == "__main__":
    main()
