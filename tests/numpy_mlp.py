"""A float64 numpy reference MLP (forward, loss, backward, torch-style SGD), the
oracle the native training loop is checked against."""

import numpy as np

ACT = {
    "identity": (lambda z: z, lambda a: np.ones_like(a)),
    "relu": (lambda z: np.maximum(z, 0), lambda a: (a > 0) * 1.0),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "tanh": (np.tanh, lambda a: 1 - a**2),
}


def forward(params, acts, X):
    outs = [X]
    for (W, b), act in zip(params, acts):
        outs.append(ACT[act][0](outs[-1] @ W + b))
    return outs


def loss_and_output_grad(loss, out, y):
    n = out.shape[0]
    if loss == "cross_entropy":
        T = np.eye(out.shape[1])[y] if y.ndim == 1 else y
        z = out - out.max(1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        return -np.mean((T * np.log(p)).sum(1)), (p - T) / n
    if loss == "binary_cross_entropy":
        s = 1 / (1 + np.exp(-out))
        value = np.mean(np.maximum(out, 0) - out * y + np.log1p(np.exp(-np.abs(out))))
        return value, (s - y) / out.size
    diff = out - y
    return np.mean(diff**2), 2 * diff / out.size


def gradients(params, acts, loss, X, y):
    outs = forward(params, acts, X)
    value, delta = loss_and_output_grad(loss, outs[-1], y)
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        delta = delta * ACT[acts[l]][1](outs[l + 1])
        grads[l] = (outs[l].T @ delta, delta.sum(0))
        delta = delta @ params[l][0].T
    return value, grads


def sgd_train(params, acts, loss, X, y, batch_size, epochs, lr, momentum=0.0, nesterov=False,
              weight_decay=0.0, dampening=0.0):
    """torch.optim.SGD over in-order minibatches; returns new params and per-step losses.
    As there: g = grad + weight_decay * p; the momentum buffer starts as the first g,
    then buf = momentum * buf + (1 - dampening) * g; the step is g + momentum * buf
    with Nesterov, else buf."""
    params = [(W.astype(np.float64).copy(), b.astype(np.float64).copy()) for W, b in params]
    velocity = None
    losses = []
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            xb, yb = X[start:start + batch_size], y[start:start + batch_size]
            value, grads = gradients(params, acts, loss, xb, yb)
            losses.append(value)
            flat_g = [g + weight_decay * p for (W, b), (gW, gb) in zip(params, grads)
                      for p, g in ((W, gW), (b, gb))]
            if momentum:
                velocity = flat_g if velocity is None else [momentum * v + (1 - dampening) * g
                                                          for v, g in zip(velocity, flat_g)]
                steps = [g + momentum * v for g, v in zip(flat_g, velocity)] if nesterov else velocity
            else:
                steps = flat_g
            flat_p = [p - lr * s for p, s in zip([p for pair in params for p in pair], steps)]
            params = [(flat_p[2 * i], flat_p[2 * i + 1]) for i in range(len(params))]
    return params, losses
