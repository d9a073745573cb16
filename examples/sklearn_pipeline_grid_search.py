"""mlpcore's MLPClassifier inside a scikit-learn Pipeline (scaling, then the
network), tuned with GridSearchCV over the hidden layer size and the learning
rate, scored on held-out digits.

    python examples/sklearn_pipeline_grid_search.py
"""

from __future__ import annotations

import argparse
import time

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlpcore.sklearn import MLPClassifier


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=50)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()),
                     ("mlp", MLPClassifier(max_iter=args.max_iter, early_stopping=True, random_state=0))])
    grid = GridSearchCV(pipe, {"mlp__hidden_layer_sizes": [(16,), (96,)],
                               "mlp__learning_rate_init": [0.002, 0.05]}, cv=3)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # some folds stop at max_iter
    start = time.perf_counter()
    grid.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    test_accuracy = grid.score(X_test, y_test)
    print(f"grid search over {len(grid.cv_results_['params'])} settings x 3 folds in {seconds:.1f}s")
    print(f"best: {grid.best_params_} (cv accuracy {grid.best_score_:.4f})")
    print(f"test accuracy: {test_accuracy:.4f}")
    return {"test_accuracy": test_accuracy, "best_params": grid.best_params_}


if __name__ == "__main__":
    main()
