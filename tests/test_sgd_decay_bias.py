"""SGD(decay_bias=False): weight decay on the weights only (scikit-learn's alpha)."""

import numpy as np
import pytest

import mlpcore as mc


@pytest.mark.parametrize("decay_bias", [False, True])
def test_decay_bias_flag(rng, decay_bias):
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.normal(size=(64, 3)).astype(np.float32)
    lr, wd = 0.1, 0.5
    models = []
    for weight_decay in (wd, 0.0):
        model = mc.Sequential([mc.Dense(7, activation="tanh"), mc.Dense(3)], input_dim=5, seed=4)
        model.compile(loss="mse", optimizer=mc.SGD(lr=lr, weight_decay=weight_decay, decay_bias=decay_bias))
        models.append(model)
    start = models[0].get_weights()
    for model in models:
        model.fit(X, y, epochs=1, batch_size=64, shuffle=False, verbose=0)  # one full-batch step
    for (W, b), (W0, b0), (W_start, b_start) in zip(models[0].get_weights(), models[1].get_weights(), start):
        np.testing.assert_allclose(W, W0 - lr * wd * W_start, rtol=1e-5, atol=1e-6)
        expected_b = b0 - lr * wd * b_start if decay_bias else b0
        np.testing.assert_allclose(b, expected_b, rtol=1e-5, atol=1e-6)
        if not decay_bias:
            np.testing.assert_array_equal(b, b0)
    with pytest.raises(TypeError, match="decay_bias"):
        mc.SGD(decay_bias=1)
