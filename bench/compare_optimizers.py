"""mlpcore's fused optimizer updates against torch.optim, timed in one process.

The parameters of a 784-512-256-10 MLP (535,818 floats): one flat buffer for
mlpcore (mc.ops.adam_step, rmsprop_step, adagrad_step), the model's six tensors
for torch.optim (Adam, AdamW, RMSprop, Adagrad), as each library holds them,
updated single-tensor (foreach=False), foreach=True and, for Adam and AdamW,
fused=True where torch has it. Calls alternate between the peers and the median
of each is kept, so a busy host slows all alike; 1 and 2 threads (both
libraries set alike).

Throughput is reported as parameters per second and as the memory traffic an
update needs at least (GB/s): Adam reads param, grad, exp_avg, exp_avg_sq and
writes three of them (28 bytes a parameter, 36 with amsgrad); RMSprop 20 bytes
(+ 8 for each of centered and momentum); Adagrad 20.

    python bench/compare_optimizers.py              # every optimizer, 1 and 2 threads
    python bench/compare_optimizers.py --only adam  # one optimizer
    python bench/compare_optimizers.py --smoke      # a few calls each: runs in seconds
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import which_mlpcore

MLP = (784, 512, 256, 10)


def shapes():
    out = []
    for a, b in zip(MLP[:-1], MLP[1:]):
        out += [(a, b), (b,)]
    return out


# name: (mlpcore state buffers, bytes moved per parameter, torch class name, settings)
OPTIMIZERS = {
    "adam": (["exp_avg", "exp_avg_sq"], 28, "Adam", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)),
    "adamw": (["exp_avg", "exp_avg_sq"], 28, "AdamW", dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)),
    "rmsprop": (["square_avg"], 20, "RMSprop", dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0)),
    "adagrad": (["state_sum"], 20, "Adagrad", dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10)),
}


def mlpcore_step(mc, name, n, settings, rng):
    p = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32)
    state = {k: np.zeros(n, np.float32) for k in OPTIMIZERS[name][0]}
    count = [0]
    if name in ("adam", "adamw"):
        def step():
            count[0] += 1
            mc.ops.adam_step(p, g, state["exp_avg"], state["exp_avg_sq"], step=count[0], decoupled=name == "adamw",
                             **settings)
    elif name == "rmsprop":
        def step():
            mc.ops.rmsprop_step(p, g, state["square_avg"], **settings)
    else:
        def step():
            count[0] += 1
            mc.ops.adagrad_step(p, g, state["state_sum"], step=count[0], **settings)
    return step


def torch_step(torch, name, settings, rng, **mode):
    params = []
    for shape in shapes():
        t = torch.nn.Parameter(torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)))
        t.grad = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
        params.append(t)
    try:
        opt = getattr(torch.optim, OPTIMIZERS[name][2])(params, **settings, **mode)
        opt.step()
    except (RuntimeError, TypeError, ValueError) as e:  # a mode this torch lacks
        return None, str(e).splitlines()[0]
    return opt.step, ""


def median_times(fns, repeats):
    for fn in fns.values():
        fn()
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):  # interleaved
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=sorted(OPTIMIZERS), action="append", help="optimizers to time (repeatable)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma separated (default 1,2)")
    ap.add_argument("--repeats", type=int, default=200, help="timed calls of each peer (default 200)")
    ap.add_argument("--smoke", action="store_true", help="5 calls each: checks the script runs, measures nothing")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    repeats = 5 if args.smoke else args.repeats
    names = args.only or list(OPTIMIZERS)

    source = which_mlpcore.select()
    import mlpcore as mc

    try:
        import torch
    except ImportError:
        torch = None
    n = sum(int(np.prod(s)) for s in shapes())
    cfg = mc.config()
    print(f"mlpcore {cfg['version']} ({source}) isa={cfg['isa']}; "
          + (f"torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})" if torch else "torch absent"))
    print(f"{n:,} parameters ({'-'.join(map(str, MLP))} MLP); medians of {repeats} interleaved calls; "
          "ratio = peer time / mlpcore time (> 1: mlpcore faster)")
    print(f"\n{'optimizer':9s} {'thr':>3s} {'peer':24s} {'us/step':>9s} {'Mparam/s':>9s} {'GB/s':>6s} {'ratio':>6s}")
    before = mc.get_num_threads()
    torch_before = torch.get_num_threads() if torch else 0
    try:
        for t in threads:
            mc.set_num_threads(t)
            if torch:
                torch.set_num_threads(t)
            for name in names:
                state, bytes_per, _, settings = OPTIMIZERS[name]
                rng = np.random.default_rng(0)
                fns = {"mlpcore (flat buffer)": mlpcore_step(mc, name, n, settings, rng)}
                skipped = []
                if torch:
                    modes = [("torch single-tensor", dict(foreach=False)), ("torch foreach", dict(foreach=True))]
                    if name in ("adam", "adamw"):
                        modes.append(("torch fused", dict(fused=True)))
                    for label, mode in modes:
                        fn, why = torch_step(torch, name, settings, rng, **mode)
                        if fn:
                            fns[label] = fn
                        else:
                            skipped.append(f"{label}: {why}")
                med = median_times(fns, repeats)
                ours = med["mlpcore (flat buffer)"]
                for label, sec in med.items():
                    print(f"{name:9s} {t:3d} {label:24s} {sec * 1e6:9.1f} {n / sec / 1e6:9.0f} "
                          f"{n * bytes_per / sec / 1e9:6.1f} {sec / ours:6.2f}")
                for line in skipped:
                    print(f"{name:9s} {t:3d} (skipped {line})")
    finally:
        mc.set_num_threads(before)
        if torch:
            torch.set_num_threads(torch_before)


if __name__ == "__main__":
    main()
