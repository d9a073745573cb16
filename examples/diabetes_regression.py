"""Regression on scikit-learn's diabetes data (442 patients, 10 features,
disease progression after a year) with the Keras-style API and the MSE loss;
reports R^2 on held-out patients next to a linear model's. (The relation is
close to linear: a small MLP about matches linear regression here.)

    python examples/diabetes_regression.py [--epochs 300]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split

import mlpcore as mc
from mlpcore.callbacks import EarlyStopping


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0)
    # Standardise inputs and target with the training statistics.
    mean, std = X_train.mean(0), X_train.std(0)
    y_mean, y_std = y_train.mean(), y_train.std()
    scale = lambda A: ((A - mean) / std).astype(np.float32)  # noqa: E731
    target = lambda t: ((t - y_mean) / y_std).astype(np.float32)  # noqa: E731

    # Small and regularised: 331 training patients.
    model = mc.Sequential([mc.Dense(8, activation="tanh"), mc.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer=mc.SGD(lr=0.01, momentum=0.9, weight_decay=0.03))
    history = model.fit(scale(X_fit), target(y_fit), epochs=args.epochs, batch_size=32,
                        validation_data=(scale(X_val), target(y_val)), verbose=args.verbose,
                        callbacks=[EarlyStopping(patience=30, restore_best_weights=True)])
    pred = model.predict(scale(X_test))[:, 0] * y_std + y_mean
    r2 = r2_score(y_test, pred)
    r2_linear = LinearRegression().fit(X_train, y_train).score(X_test, y_test)
    print(f"epochs run: {len(history.epoch)}; test R^2: MLP {r2:.3f}, linear regression {r2_linear:.3f}")
    return {"r2": r2, "r2_linear": r2_linear, "epochs": len(history.epoch)}


if __name__ == "__main__":
    main()
