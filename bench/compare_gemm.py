"""mlpcore's GEMM against numpy's ``@`` (OpenBLAS) and PyTorch's matmul, timed in one process.

Shapes: squares n = 64 ... 4096, and the nine products of one training step of
a 784-512-256-10 MLP at batch 32, 128 and 512 (per layer: forward X.W,
backward X^T.dY and dY.W^T), each on 1 and 2 threads (numpy's threads through
threadpoolctl, PyTorch's through torch.set_num_threads). Calls alternate
between the libraries and the median of each is kept, so a busy host slows
them alike. PyTorch is timed when it is installed (--no-torch leaves it out).
Each row also gives mlpcore's fraction of one core's FMA peak times the
threads: the peak as mlpcore measures it (``mlpcore._core.measure_fma_peak()``,
the loop build/dev/mlpcore_bench runs), or --peak GFLOPS.

If OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set, numpy is also timed in a
subprocess with both unset (OpenBLAS then picks its best kernel) and ratios are
quoted against the faster numpy.

    python bench/compare_gemm.py                  # everything
    python bench/compare_gemm.py --max-n 1024     # fewer squares
    python bench/compare_gemm.py --only mlp       # only the training-step products
    python bench/compare_gemm.py --threads 1 --cpu-time   # 1 thread, CPU clock (busy hosts)
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

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MLP = (784, 512, 256, 10)
BATCHES = (32, 128, 512)


def square_cases(max_n):
    n, out = 64, []
    while n <= max_n:
        out.append((f"square {n}", n, n, n, False, False))
        n *= 2
    return out


def mlp_cases(batch):
    """(label, m, n, k, trans_a, trans_b) of the nine products of one training step."""
    out = []
    for k_in, n_out in zip(MLP[:-1], MLP[1:]):
        tag = f"{k_in}->{n_out} b{batch}"
        out.append((f"{tag} X.W", batch, n_out, k_in, False, False))
        out.append((f"{tag} Xt.dY", k_in, n_out, batch, True, False))
        out.append((f"{tag} dY.Wt", batch, k_in, n_out, False, True))
    return out


def operands(m, n, k, ta, tb, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if ta else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n), dtype=np.float32)
    return a, b


def budget_reps(flops, target_s=0.25, lo=5, hi=200):
    """Repetitions that take about target_s at ~50 GFLOP/s."""
    return int(min(hi, max(lo, target_s * 50e9 / max(flops, 1.0))))


CLOCK = time.perf_counter


def time_once(fn):
    t0 = CLOCK()
    fn()
    return CLOCK() - t0


def numpy_fn(a, b, ta, tb):
    aa, bb = (a.T if ta else a), (b.T if tb else b)
    return lambda: aa @ bb


def run_numpy_only(cases, threads):
    """Median seconds of numpy's @ per (case, threads); used in the subprocess."""
    from threadpoolctl import threadpool_limits

    out = {}
    for t in threads:
        with threadpool_limits(limits=t, user_api="blas"):
            for label, m, n, k, ta, tb in cases:
                a, b = operands(m, n, k, ta, tb)
                fn = numpy_fn(a, b, ta, tb)
                fn()
                reps = budget_reps(2.0 * m * n * k)
                out[f"{label}|{t}"] = statistics.median(time_once(fn) for _ in range(reps))
    return out


def torch_fn(torch, a, b, ta, tb):
    ta_, tb_ = torch.from_numpy(a), torch.from_numpy(b)
    aa, bb = (ta_.T if ta else ta_), (tb_.T if tb else tb_)
    return lambda: torch.matmul(aa, bb)


def run_all(cases, threads, torch):
    """(mlpcore, numpy, torch or None) median seconds per (case, threads)."""
    import mlpcore as mc
    from threadpoolctl import threadpool_limits

    out = {}
    for t in threads:
        mc.set_num_threads(t)
        if torch is not None:
            torch.set_num_threads(t)
        with threadpool_limits(limits=t, user_api="blas"):
            for label, m, n, k, ta, tb in cases:
                a, b = operands(m, n, k, ta, tb)
                fns = [lambda: mc.ops.matmul(a, b, trans_a=ta, trans_b=tb), numpy_fn(a, b, ta, tb)]
                if torch is not None:
                    fns.append(torch_fn(torch, a, b, ta, tb))
                for fn in fns:
                    fn()
                reps = budget_reps(2.0 * m * n * k)
                times = [[] for _ in fns]
                for _ in range(reps):  # interleaved
                    for fn, ts in zip(fns, times):
                        ts.append(time_once(fn))
                med = [statistics.median(ts) for ts in times]
                out[f"{label}|{t}"] = (med[0], med[1], med[2] if torch is not None else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-n", type=int, default=4096, help="largest square (default 4096)")
    ap.add_argument("--only", choices=("square", "mlp"), help="run one group only")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma separated (default 1,2)")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the calling thread's CPU clock (1-thread runs only): on a busy "
                         "shared host this leaves out the time other processes hold the core")
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    ap.add_argument("--peak", type=float, default=0.0,
                    help="one core's FMA peak in GFLOP/s (default: measured, as mlpcore_bench does)")
    ap.add_argument("--numpy-only-json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    if args.cpu_time:
        if threads != [1]:
            ap.error("--cpu-time needs --threads 1 (other threads' time is not on the caller's clock)")
        global CLOCK
        CLOCK = time.thread_time

    groups = []
    if args.only in (None, "square"):
        groups.append(("squares", square_cases(args.max_n)))
    if args.only in (None, "mlp"):
        for bsz in BATCHES:
            groups.append((f"training step, batch {bsz}", mlp_cases(bsz)))
    all_cases = [c for _, cases in groups for c in cases]

    if args.numpy_only_json:
        json.dump(run_numpy_only(all_cases, threads), sys.stdout)
        return

    unset = {}
    if any(v in os.environ for v in OPENBLAS_VARS):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        cmd = [sys.executable, __file__, "--numpy-only-json", "--threads", args.threads,
               *(["--cpu-time"] if args.cpu_time else []),
               "--max-n", str(args.max_n)] + (["--only", args.only] if args.only else [])
        unset = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)

    source = which_mlpcore.select()
    import mlpcore as mc
    from threadpoolctl import threadpool_info

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch = None

    cfg = mc.config()
    blas = [(i.get("internal_api"), i.get("version"), i.get("architecture")) for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"clock: {'thread CPU time' if args.cpu_time else 'wall'}; medians of interleaved calls")
    print(f"mlpcore {cfg['version']} ({source}) isa={cfg['isa']} tile={cfg['gemm_tile']}; numpy {np.__version__} "
          f"blas={blas}; " + ", ".join(f"{v}={os.environ.get(v, '(unset)')}" for v in OPENBLAS_VARS))
    print(f"torch {torch.__version__ if torch is not None else '(not timed)'}"
          + (f" ({torch.__config__.parallel_info().splitlines()[0]})" if torch is not None else ""))
    if not args.peak and hasattr(mc._core, "measure_fma_peak"):
        args.peak = mc._core.measure_fma_peak() / 1e9
    print(f"cpu {cfg.get('cpu', 'unknown')}; caches {cfg['caches']}; blocking {cfg['blocking']}"
          + (f"; FMA peak {args.peak:.1f} GFLOP/s a core" if args.peak else ""))
    results = run_all(all_cases, threads, torch)

    hdr = f"{'product':28s} {'m':>5s} {'n':>5s} {'k':>5s} {'thr':>3s} {'mlpcore GF/s':>12s} {'numpy GF/s':>10s}"
    hdr += f" {'np unset':>8s}" if unset else ""
    hdr += f" {'torch GF/s':>10s}" if torch is not None else ""
    hdr += f" {'% peak':>6s}" if args.peak else ""
    hdr += f" {'ratio':>6s}" + (f" {'vs torch':>8s}" if torch is not None else "")
    for name, cases in groups:
        print(f"\n== {name} (ratio = numpy time / mlpcore time, vs torch = torch time / mlpcore time; "
              "> 1 means mlpcore is faster)")
        print(hdr)
        for t in threads:
            tot_mc = tot_np = 0.0
            for label, m, n, k, ta, tb in cases:
                t_mc, t_np, t_torch = results[f"{label}|{t}"]
                t_np_best = min(t_np, unset.get(f"{label}|{t}", t_np))
                tot_mc, tot_np = tot_mc + t_mc, tot_np + t_np_best
                gf = 2.0 * m * n * k / 1e9
                line = f"{label:28s} {m:5d} {n:5d} {k:5d} {t:3d} {gf / t_mc:12.1f} {gf / t_np:10.1f}"
                if unset:
                    line += f" {gf / unset[f'{label}|{t}']:8.1f}"
                if t_torch is not None:
                    line += f" {gf / t_torch:10.1f}"
                if args.peak:
                    line += f" {100.0 * gf / t_mc / (args.peak * t):5.0f}%"
                line += f" {t_np_best / t_mc:6.2f}"
                if t_torch is not None:
                    line += f" {t_torch / t_mc:8.2f}"
                print(line)
            if name != "squares":
                print(f"{'  total of the nine':28s} {'':17s} {t:3d} {'':12s} {'':10s}"
                      + (f" {'':8s}" if unset else "") + (f" {'':10s}" if torch is not None else "")
                      + (f" {'':6s}" if args.peak else "")
                      + f" {tot_np / tot_mc:6.2f}   ({tot_mc * 1e6:.0f} us vs {tot_np * 1e6:.0f} us)")


if __name__ == "__main__":
    main()
