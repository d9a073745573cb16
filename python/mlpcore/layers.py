"""Layer specifications. A layer holds no weights itself: the model's network
keeps all parameters in one flat native buffer."""

from __future__ import annotations

from ._checks import layer_size, one_of

# Activation names accepted by Dense, mapped to the native ones. "softmax" is
# only valid on the last layer with the cross-entropy loss (it is fused into it).
ACTIVATIONS = {
    "identity": "identity",
    "linear": "identity",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "softmax": "softmax",
}

INITIALIZERS = {
    "uniform": "uniform",  # torch.nn.Linear default: U(+-1/sqrt(fan_in)) for W and b
    "default": "uniform",
    "glorot_uniform": "glorot_uniform",
    "glorot": "glorot_uniform",
    "xavier": "glorot_uniform",
    "he_uniform": "he_uniform",
    "he": "he_uniform",
    "kaiming": "he_uniform",
}


class Dense:
    """A fully connected layer: ``act(X @ W + b)`` with W of shape [in, out].

    Parameters
    ----------
    units : number of outputs.
    activation : "relu", "sigmoid", "tanh", "identity" (None) or, on the last
        layer only, "softmax" (fused into the cross-entropy loss).
    input_dim : inputs of the first layer; otherwise taken from the first fit.
    init : "uniform" (PyTorch's nn.Linear default), "glorot_uniform" or "he_uniform".
    """

    def __init__(self, units, activation=None, *, input_dim=None, init="uniform"):
        self.units = layer_size("units", units)
        self.activation = "identity" if activation is None else one_of("activation", activation, ACTIVATIONS)
        self.input_dim = None if input_dim is None else layer_size("input_dim", input_dim)
        self.init = one_of("init", init, INITIALIZERS)

    def __repr__(self) -> str:
        extra = f", input_dim={self.input_dim}" if self.input_dim else ""
        return f"Dense({self.units}, activation={self.activation!r}{extra})"
