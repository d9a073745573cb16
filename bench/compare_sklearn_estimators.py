"""Fit time of mlpcore.sklearn's MLPClassifier / MLPRegressor against
scikit-learn's own (solver="sgd"), with the same parameters, in one run.

Each thread count runs in a fresh subprocess with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set; inside it the two estimators are fitted in turn
(interleaved, after a warm-up fit) and the median wall time and the ratio
scikit-learn / mlpcore (the speed-up) are printed. Every fit runs exactly
max_iter epochs (tol=0, n_iter_no_change=max_iter).

    python bench/compare_sklearn_estimators.py [--repeats 5] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

import which_mlpcore

CASES = {
    # name: (estimator, data, params)
    "digits classifier (1797 x 64, hidden 100, batch 200, 50 epochs)":
        ("MLPClassifier", "digits", dict(hidden_layer_sizes=(100,), max_iter=50, learning_rate_init=0.05)),
    "digits classifier (1797 x 64, hidden 256-128, batch 32, 20 epochs)":
        ("MLPClassifier", "digits", dict(hidden_layer_sizes=(256, 128), batch_size=32, max_iter=20,
                                         learning_rate_init=0.02)),
    "regressor (20000 x 32, hidden 128-64, batch 128, 10 epochs)":
        ("MLPRegressor", "synthetic", dict(hidden_layer_sizes=(128, 64), batch_size=128, max_iter=10,
                                           learning_rate_init=0.005)),
}


def data(kind):
    import numpy as np

    if kind == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return (X / 16.0).astype(np.float32), y
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 32)).astype(np.float32)
    y = np.tanh(X[:, :8]).sum(1) + 0.1 * rng.normal(size=20000)
    return X, y.astype(np.float32)


def child(repeats):
    import sklearn.neural_network as skn

    import mlpcore.sklearn as mcs

    warnings.simplefilter("ignore")
    results = {}
    for name, (cls, kind, params) in CASES.items():
        X, y = data(kind)
        params = dict(params, tol=0.0, n_iter_no_change=params["max_iter"] + 1, random_state=0)
        makers = {"mlpcore": lambda: getattr(mcs, cls)(**params),
                  "scikit-learn": lambda: getattr(skn, cls)(solver="sgd", **params)}
        times = {k: [] for k in makers}
        for k, make in makers.items():  # warm-up
            make().fit(X[:500], y[:500])
        for _ in range(repeats):
            for k, make in makers.items():
                est = make()
                start = time.perf_counter()
                est.fit(X, y)
                times[k].append(time.perf_counter() - start)
                assert est.n_iter_ == params["max_iter"], (k, est.n_iter_)
        results[name] = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    source = which_mlpcore.select()  # also for the child processes: they inherit PYTHONPATH
    if args.child:
        child(args.repeats)
        return
    import mlpcore

    print(f"mlpcore {mlpcore.__version__} ({source}), ISA {mlpcore.config()['isa']}; medians of {args.repeats} interleaved fits")
    for threads in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        out = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(args.repeats)], env=env,
                             check=True, capture_output=True, text=True).stdout
        print(f"\n{threads} thread(s):")
        for name, t in json.loads(out.strip().splitlines()[-1]).items():
            print(f"  {name}: mlpcore {t['mlpcore']:.3f}s, scikit-learn {t['scikit-learn']:.3f}s, "
                  f"speed-up {t['scikit-learn'] / t['mlpcore']:.1f}x")


if __name__ == "__main__":
    main()
