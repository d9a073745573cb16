"""The mathematics under training, checked numerically.

1. The activations' derivatives, as the backpropagation chapter derives them:
       sigmoid'(z) = sigmoid(z) (1 - sigmoid(z))
       tanh'(z)    = 1 - tanh(z)^2
       relu'(z)    = 1 for z > 0, else 0 (a step; taken as 0 at the kink z = 0)
   mlpcore's kernels compute each from the activation's output; here they are
   compared with a central finite difference (f(z + h) - f(z - h)) / 2h of the
   function itself (float64) on a grid, and plotted when matplotlib is installed.
2. The chain rule through a whole network: a small MLP is trained by gradient
   descent, then mc.gradcheck compares every gradient backpropagation gives
   (weights, biases, inputs) with finite differences of the loss.

    python examples/chain_rule.py [--plot derivatives.png] [--epochs 200]
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

import mlpcore as mc

FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {  # float64 references for the finite differences
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}
FORMULAS = {
    "sigmoid": "sigmoid(z) (1 - sigmoid(z))",
    "tanh": "1 - tanh(z)^2",
    "relu": "step: 1 for z > 0, 0 for z <= 0",
}


def derivatives(grid: np.ndarray, h: float = 1e-5) -> dict:
    """Per activation: z, f(z), the analytic derivative (mlpcore's kernel) and
    the central difference, all on `grid`."""
    out = {}
    for name, f in FUNCTIONS.items():
        z = grid.astype(np.float32)
        analytic = mc.ops.activation_derivative(z, name).astype(np.float64)
        z64 = z.astype(np.float64)
        numeric = (f(z64 + h) - f(z64 - h)) / (2.0 * h)
        out[name] = {"z": z64, "f": mc.ops.activation(z, name), "analytic": analytic, "numeric": numeric}
    return out


def plot(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, (name, c) in zip(axes, curves.items()):
        ax.plot(c["z"], c["f"], color="0.6", label=f"{name}(z)")
        ax.plot(c["z"], c["analytic"], label=FORMULAS[name])
        ax.plot(c["z"][::8], c["numeric"][::8], "o", ms=3, label="central difference")
        ax.set_title(f"{name}'")
        ax.set_xlabel("z")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default=None, help="write the derivatives' plot here (needs matplotlib)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    # 1. Derivatives on a grid that contains the ReLU kink z = 0 exactly.
    grid = np.linspace(-4.0, 4.0, 161)
    curves = derivatives(grid)
    errors = {}
    print("activation  derivative                         max |analytic - central difference|")
    for name, c in curves.items():
        smooth = c["z"] != 0.0 if name == "relu" else np.ones_like(c["z"], dtype=bool)
        errors[name] = float(np.max(np.abs(c["analytic"] - c["numeric"])[smooth]))
        print(f"{name:<11} {FORMULAS[name]:<34} {errors[name]:.2e}")
    at_zero = float(curves["relu"]["analytic"][grid == 0.0][0])
    print(f"relu at z = 0: derivative taken as {at_zero:g}; the central difference there is "
          f"{curves['relu']['numeric'][grid == 0.0][0]:g} (the kink: no derivative exists)")
    if args.plot:
        try:
            plot(curves, args.plot)
            print(f"plot written to {args.plot}")
        except ImportError:
            print("matplotlib is not installed: no plot")

    # 2. The chain rule through a trained network: three classes of points in the plane.
    rng = np.random.default_rng(args.seed)
    centres = np.array([[0.0, 2.0], [-1.8, -1.0], [1.8, -1.0]])
    y = rng.integers(0, 3, 120)
    X = (centres[y] + 0.7 * rng.normal(size=(120, 2))).astype(np.float32)
    model = mc.Sequential([mc.Dense(8, activation="tanh", input_dim=2),
                           mc.Dense(6, activation="sigmoid"),
                           mc.Dense(3)], seed=args.seed)
    model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.1, momentum=0.9))
    initial = model.evaluate(X, y)["loss"]
    history = model.fit(X, y, epochs=args.epochs, batch_size=16, verbose=0)
    final = history.history["loss"][-1]
    print(f"\ntrained 2-8-6-3 (tanh, sigmoid, softmax): loss {initial:.4f} -> {final:.4f}, "
          f"accuracy {model.evaluate(X, y)['accuracy']:.3f}")
    report = mc.gradcheck(model, X[:24], y[:24])
    print(report)
    return {"derivative_error": errors, "relu_at_zero": at_zero, "gradcheck": report,
            "initial_loss": initial, "final_loss": final}


if __name__ == "__main__":
    main()
