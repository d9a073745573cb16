"""Fit time and test score of mlpcore.sklearn's MLPClassifier against
scikit-learn's own, solver by solver (sgd, lbfgs; adam once mlpcore.Adam
exists), with the same parameters and data, in one run.

Data: scikit-learn's digits (1797 x 64, a quarter held out for the test score)
and a synthetic 5-class set of 50,000 x 100 (and 10,000 test rows), hidden
layers (256, 128). Every fit runs a fixed amount of work: max_iter epochs for
the stochastic solvers (tol=0, n_iter_no_change=np.inf), max_iter L-BFGS
iterations (tol=0; n_iter_ is printed, a line search that gives up earlier
shows there).

Each thread count runs in a fresh subprocess with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set; inside it the two estimators are fitted in turn
(interleaved, after a warm-up fit) and the median wall time, the ratio
scikit-learn / mlpcore (the speed-up) and both test scores are printed.

    python bench/compare_sklearn_estimators.py [--repeats 3] [--threads 1 2] [--only digits]
    python bench/compare_sklearn_estimators.py --smoke   # every case once on a few rows (CI): measures nothing
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

# solver: (params for digits, params for the synthetic set); max_iter counts epochs
# or L-BFGS iterations.
SOLVERS = {
    "sgd": (dict(max_iter=50, learning_rate_init=0.05), dict(max_iter=5, learning_rate_init=0.02)),
    "lbfgs": (dict(max_iter=100), dict(max_iter=15)),
    "adam": (dict(max_iter=50, learning_rate_init=0.001), dict(max_iter=5, learning_rate_init=0.001)),
}
DATA = {
    "digits": dict(hidden_layer_sizes=(100,)),
    "synthetic": dict(hidden_layer_sizes=(256, 128)),
}


def load(kind, smoke):
    import numpy as np
    from sklearn.preprocessing import StandardScaler

    if kind == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        if smoke:
            X, y = X[:300], y[:300]
        rng = np.random.default_rng(0)
        order = rng.permutation(len(X))
        X, y = X[order], y[order]
        cut = len(X) * 3 // 4
    else:
        from sklearn.datasets import make_classification

        n_train, n_test = (2000, 500) if smoke else (50000, 10000)
        X, y = make_classification(n_samples=n_train + n_test, n_features=100, n_informative=40, n_classes=5,
                                   n_clusters_per_class=2, random_state=0)
        cut = n_train
    scaler = StandardScaler().fit(X[:cut])
    return scaler.transform(X[:cut]), y[:cut], scaler.transform(X[cut:]), y[cut:]


def solvers():
    import mlpcore

    return [s for s in SOLVERS if s != "adam" or hasattr(mlpcore, "Adam")]


def child(repeats, smoke, only):
    import numpy as np
    import sklearn.neural_network as skn

    import mlpcore.sklearn as mcs

    warnings.simplefilter("ignore")
    results = []
    for kind in only:
        X, y, X_test, y_test = load(kind, smoke)
        for solver in solvers():
            params = dict(DATA[kind], **SOLVERS[solver][kind != "digits"], solver=solver, tol=0.0,
                          n_iter_no_change=np.inf, random_state=0)
            if smoke:
                params.update(max_iter=2, hidden_layer_sizes=(16, 8) if kind != "digits" else (16,))
            makers = {"mlpcore": lambda: mcs.MLPClassifier(**params),
                      "scikit-learn": lambda: skn.MLPClassifier(**params)}
            times = {k: [] for k in makers}
            scores, n_iter = {}, {}
            for make in makers.values():  # warm-up
                make().set_params(max_iter=1).fit(X[:300], y[:300])
            for _ in range(repeats):
                for k, make in makers.items():
                    est = make()
                    start = time.perf_counter()
                    est.fit(X, y)
                    times[k].append(time.perf_counter() - start)
                    scores[k], n_iter[k] = est.score(X_test, y_test), est.n_iter_
            results.append({"data": kind, "rows": X.shape, "solver": solver, "params": {
                "hidden": params["hidden_layer_sizes"], "max_iter": params["max_iter"]},
                "time": {k: statistics.median(v) for k, v in times.items()}, "score": scores, "n_iter": n_iter})
    print(json.dumps(results))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", choices=list(DATA), default=list(DATA))
    parser.add_argument("--smoke", action="store_true", help="every case once on a few rows: runs, measures nothing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.repeats = 1
    source = which_mlpcore.select()  # also for the child processes: they inherit PYTHONPATH
    if args.child:
        child(args.repeats, args.smoke, args.only)
        return
    import mlpcore

    print(f"mlpcore {mlpcore.__version__} ({source}), ISA {mlpcore.config()['isa']}; "
          f"medians of {args.repeats} interleaved fits{' (smoke: nothing measured)' if args.smoke else ''}")
    for threads in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        command = [sys.executable, __file__, "--child", "--repeats", str(args.repeats), "--only", *args.only]
        out = subprocess.run(command + (["--smoke"] if args.smoke else []), env=env, check=True,
                             capture_output=True, text=True).stdout
        print(f"\n{threads} thread(s):")
        print(f"  {'data':<32} {'solver':<6} {'mlpcore s':>10} {'sklearn s':>10} {'speed-up':>8} "
              f"{'mlpcore score':>13} {'sklearn score':>13} {'n_iter':>9}")
        for r in json.loads(out.strip().splitlines()[-1]):
            t, s, n = r["time"], r["score"], r["n_iter"]
            data = f"{r['data']} {r['rows'][0]}x{r['rows'][1]} {tuple(r['params']['hidden'])}"
            print(f"  {data:<32} {r['solver']:<6} {t['mlpcore']:>10.3f} {t['scikit-learn']:>10.3f} "
                  f"{t['scikit-learn'] / t['mlpcore']:>7.1f}x {s['mlpcore']:>13.4f} {s['scikit-learn']:>13.4f} "
                  f"{n['mlpcore']:>4}/{n['scikit-learn']:<4}")


if __name__ == "__main__":
    main()
