"""A few in-order SGD steps of the native fit loop against the float64 numpy
reference (numpy_mlp.sgd_train), at sizes where every GEMM of a step runs its
full-tile, multi-k-block and threaded paths: no torch needed.

Sizes, against the blocking tables in cpp/src/kernels/*/sgemm_*.cpp (micro-tiles
mr x nr: avx512 12x32, avx2 6x16, generic 4x16; kc = 256 in every table):
- 521 input features (> 2 * 256, prime): the first layer's forward product runs
  three k blocks, and its weight gradient X^T * dZ packs A (521 rows > mc);
- hidden widths 133 and 69 (4 * 32 + 5 and 2 * 32 + 5): several full column
  tiles of the widest tile plus an odd remainder; outputs of 11, 37 and 5;
- batches of 100 and 270 rows (several full row tiles of every ISA, a partial
  one, and for 270 a weight gradient X^T * dZ whose shared dimension, the batch,
  is cut into two k blocks), with a shorter last batch;
- products of several MFLOP, so that on two threads the first layer's products
  split over threads (threads_for gives each thread >= 1 MFLOP), by columns
  forward and by rows for the weight gradient; the fit loop's step-thread tuner
  runs the first steps on both threads and probes one thread from the fourth.

Tolerance. The native code computes in float32 (machine epsilon
eps = 2**-23 ~ 1.2e-7), the reference in float64 from the same float32 start. The
weights are compared through what training did to them, the displacement
D = W - W_start, so the check is as sharp for the updates as for the weights
(W_start dominates W: an rtol on W would let a 10 % error in the update pass).
Two float32 errors remain:
- the gradients: a product of depth K errs by at most about K * eps / 2 ~ 3e-5
  relative to the sum of |terms| for K = 521 (typically sqrt(K) * eps ~ 3e-6),
  compounded by a small factor through three layers and a few steps: observed
  <= 5e-6 of max|D_ref|; allowed RTOL_OF_MAX = 1e-4 of max|D_ref| per array;
- storing W in float32 after each step: eps / 2 * |W| per step, which for an
  update 100x smaller than W is ~1e-5 of |D| per step (numpy in float32 shows the
  same): allowed steps * eps * max|W|.
A wrong dampening, Nesterov or weight-decay rule, a dropped k block or a
misplaced tile moves D by 1e-3 .. 1 of max|D_ref|, far outside this.
"""

import functools

import numpy as np
import pytest

import mlpcore as mc
from numpy_mlp import sgd_train

FEATURES = 521
# name: (hidden + output layers, loss, samples, batch, epochs, optimizer settings)
CASES = {
    "cross_entropy-relu-tanh-momentum-dampening-decay": (
        [(133, "relu"), (69, "tanh"), (11, "identity")], "cross_entropy", 250, 100, 2,
        dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=1e-2)),
    "binary_cross_entropy-sigmoid-relu-nesterov-decay": (
        [(69, "sigmoid"), (133, "relu"), (37, "identity")], "binary_cross_entropy", 250, 100, 2,
        dict(lr=0.5, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "mse-tanh-sigmoid-momentum-dampening": (
        [(133, "tanh"), (69, "sigmoid"), (5, "sigmoid")], "mse", 250, 100, 2,
        dict(lr=0.5, momentum=0.5, dampening=0.5)),
    "cross_entropy-tanh-relu-plain-decay-batch-270": (
        [(133, "tanh"), (69, "relu"), (11, "identity")], "cross_entropy", 600, 270, 1,
        dict(lr=0.2, weight_decay=5e-3)),
}
RTOL_OF_MAX = 1e-4
EPS32 = float(np.finfo(np.float32).eps)


def data(loss, samples, outputs):
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((samples, FEATURES)).astype(np.float32)
    if loss == "cross_entropy":
        y = rng.integers(0, outputs, samples)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (samples, outputs)).astype(np.float32)
    else:
        y = rng.random((samples, outputs)).astype(np.float32)
    return X, y


def model_for(layers, loss, settings):
    model = mc.Sequential([mc.Dense(u, activation=a) for u, a in layers], input_dim=FEATURES, seed=11)
    model.compile(loss=loss, optimizer=mc.SGD(**settings))
    return model


@functools.lru_cache(maxsize=None)
def reference(name):
    """Start weights, float64 reference weights after training, and per-step losses."""
    layers, loss, samples, batch, epochs, settings = CASES[name]
    X, y = data(loss, samples, layers[-1][0])
    start = model_for(layers, loss, settings).get_weights()
    ref, losses = sgd_train(start, [a for _, a in layers], loss, X.astype(np.float64), y,
                            batch_size=batch, epochs=epochs, **settings)
    return start, ref, losses


def fit(name, threads):
    layers, loss, samples, batch, epochs, settings = CASES[name]
    X, y = data(loss, samples, layers[-1][0])
    model = model_for(layers, loss, settings)
    old = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        history = model.fit(X, y, epochs=epochs, batch_size=batch, shuffle=False, verbose=0)
    finally:
        mc.set_num_threads(old)
    return model.get_weights(), history.history["loss"]


def assert_close_to_reference(name, weights, epoch_losses):
    layers, loss, samples, batch, epochs, settings = CASES[name]
    start, ref, ref_losses = reference(name)
    for l, (pair, start_pair, ref_pair) in enumerate(zip(weights, start, ref)):
        for which, got, w0, want in zip(("W", "b"), pair, start_pair, ref_pair):
            moved = got.astype(np.float64) - w0
            ref_moved = want - w0
            scale = np.abs(ref_moved).max()
            assert scale > 0, f"layer {l} {which} did not move in the reference"
            tol = RTOL_OF_MAX * scale + len(ref_losses) * EPS32 * np.abs(want).max()
            err = np.abs(moved - ref_moved).max()
            assert err <= tol, (f"layer {l} {which}: max |D - D_ref| = {err / scale:.2e} x max |D_ref| "
                                f"(allowed {tol / scale:.2e})")
    sizes = [min(batch, samples - s) for s in range(0, samples, batch)]
    per_epoch = np.array(ref_losses).reshape(epochs, len(sizes)) @ np.array(sizes) / samples
    np.testing.assert_allclose(epoch_losses, per_epoch, rtol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_wide_fit_matches_float64_reference_on_1_and_2_threads(isa, name):
    one, one_losses = fit(name, 1)
    two, two_losses = fit(name, 2)
    assert_close_to_reference(name, one, one_losses)
    # Results never depend on the thread count: bitwise the same weights.
    for (W1, b1), (W2, b2) in zip(one, two):
        np.testing.assert_array_equal(W1, W2)
        np.testing.assert_array_equal(b1, b2)
    assert one_losses == two_losses
