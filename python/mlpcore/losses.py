"""Loss names: the library's own and the Keras / PyTorch names users know."""

from __future__ import annotations

from ._checks import one_of

MSE = "mse"
CROSS_ENTROPY = "cross_entropy"
BINARY_CROSS_ENTROPY = "binary_cross_entropy"
POISSON = "poisson"

ALIASES = {
    "mse": MSE,
    "mean_squared_error": MSE,
    "squared_error": MSE,
    "cross_entropy": CROSS_ENTROPY,
    "categorical_crossentropy": CROSS_ENTROPY,
    "sparse_categorical_crossentropy": CROSS_ENTROPY,
    "crossentropy": CROSS_ENTROPY,
    "log_loss": CROSS_ENTROPY,
    "binary_cross_entropy": BINARY_CROSS_ENTROPY,
    "binary_crossentropy": BINARY_CROSS_ENTROPY,
    "bce": BINARY_CROSS_ENTROPY,
    "poisson": POISSON,
    "poisson_nll": POISSON,
}

CLASSIFICATION = (CROSS_ENTROPY, BINARY_CROSS_ENTROPY)
# Losses whose predict() applies an output transform to the raw outputs:
# softmax, sigmoid, and exp for Poisson (the outputs are log means).
TRANSFORMED = (CROSS_ENTROPY, BINARY_CROSS_ENTROPY, POISSON)


def resolve(name) -> str:
    """The canonical name of a loss, or a ValueError listing the known ones."""
    return one_of("loss", name, ALIASES)
