"""The textbook XOR: a 2-4-1 network of sigmoid units trained with the mean
squared error by plain (full-batch) gradient descent, as in the classic
backpropagation chapter. XOR is not linearly separable, so the hidden layer
has to learn it.

    python examples/xor_sigmoid.py [--epochs 3000] [--lr 2.0]
"""

from __future__ import annotations

import argparse

import numpy as np

import mlpcore as mc


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([[0], [1], [1], [0]], dtype=np.float32)

    model = mc.Sequential([mc.Dense(4, activation="sigmoid", input_dim=2),
                           mc.Dense(1, activation="sigmoid")], seed=args.seed)
    model.compile(loss="mse", optimizer=mc.SGD(lr=args.lr))  # sigmoid output + MSE, as in the chapter
    history = model.fit(X, y, epochs=args.epochs, batch_size=4, shuffle=False, verbose=0)
    out = model.predict(X)[:, 0]
    for (a, b), p in zip(X.astype(int), out):
        print(f"{a} xor {b} -> {p:.3f}")
    print(f"final loss {history.history['loss'][-1]:.5f}")
    return {"outputs": out, "loss": history.history["loss"]}


if __name__ == "__main__":
    main()
