"""The main job: train an MLP on scikit-learn's handwritten digits (8x8 images,
10 classes, shipped with scikit-learn, no download) and report test accuracy,
training throughput and the kernel ISA in use.

    python -m mlpcore [--epochs N] [--batch-size B] [--threads T]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import mlpcore as mc


def load_digits_split(seed: int):
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        sys.exit("python -m mlpcore needs scikit-learn for its dataset: pip install 'mlpcore[examples]'")
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(X))
    X, y = X[order], y[order]
    n_test = len(X) // 5
    return X[n_test:], y[n_test:], X[:n_test], y[:n_test]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpcore", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        mc.set_num_threads(args.threads)

    X_train, y_train, X_test, y_test = load_digits_split(args.seed)
    model = mc.Sequential([mc.Dense(128, activation="relu"), mc.Dense(64, activation="relu"),
                           mc.Dense(10, activation="softmax")], seed=args.seed)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    start = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(X_test, y_test), verbose=0)
    seconds = time.perf_counter() - start
    result = model.evaluate(X_test, y_test)
    cfg = mc.config()
    print(f"mlpcore {cfg['version']}: digits 64-128-64-10 MLP, {args.epochs} epochs, batch {args.batch_size}")
    print(f"  train loss      {history.history['loss'][-1]:.4f}")
    print(f"  test accuracy   {result['accuracy'] * 100:.2f} % ({len(X_test)} held-out images)")
    print(f"  throughput      {len(X_train) * args.epochs / seconds:,.0f} samples/s "
          f"(training incl. validation, {seconds:.2f} s)")
    emulated = " EMULATED in software" if cfg["isa"] in cfg["emulated_isas"] else ""
    print(f"  kernels         {cfg['isa']}{emulated} (supported: {', '.join(cfg['isas'])}), "
          f"{cfg['threads']} threads, OpenMP {'on' if cfg['openmp'] else 'off'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
