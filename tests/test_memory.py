"""Peak memory of a fit: data + parameters x 4 + a workspace that grows with
batch x width only. Parameters, gradients and momentum are three of the four
parameter-sized buffers a fit may hold; everything else it needs is the
workspace (activations, deltas, a gathered batch, GEMM packing panels).

Measured in a fresh interpreter from the kernel's peak resident set (VmHWM),
reset after the imports (/proc/self/clear_refs), so native allocations count
and the interpreter's own start-up does not."""

import json
import sys

import pytest

import mlpcore as mc
from peak_memory import run_measured

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

MiB = 1 << 20

CHILD = r"""
cfg = json.loads(sys.argv[2])
rng = np.random.default_rng(0)
# Warm the allocator and the kernels on a tiny model, so first-use costs
# (thread pools, lazily mapped code) are not charged to the big one.
tiny = mc.Sequential([mc.Dense(8, activation="relu", input_dim=4), mc.Dense(2)], seed=0)
tiny.compile(loss="cross_entropy", optimizer=mc.SGD(lr=0.01, momentum=0.9))
tiny.fit(rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 2, 64), epochs=1,
         batch_size=cfg["batch"], verbose=0)
del tiny

reset_peak()
base = status("VmRSS")
widths = cfg["widths"]
X = rng.standard_normal((cfg["rows"], widths[0]), dtype=np.float32)
y = rng.integers(0, widths[-1], cfg["rows"]).astype(np.int32)
layers = [mc.Dense(w, activation="relu") for w in widths[1:-1]] + [mc.Dense(widths[-1])]
model = mc.Sequential(layers, input_dim=widths[0], seed=0)
model.compile(loss="cross_entropy", optimizer=mc.SGD(lr=1e-4, momentum=0.9))
built = status("VmRSS") - base
if cfg["fit"]:
    model.fit(X, y, epochs=cfg["epochs"], batch_size=cfg["batch"], verbose=0)
if cfg.get("recompile"):
    # A sigmoid output is fused into binary cross-entropy and split from it again
    # for MSE: the second compile rebuilds the native network with the weights kept.
    model.layers[-1].activation = "sigmoid"
    model.compile(loss="binary_cross_entropy")
    del X, y
    reset_peak()
    base = status("VmRSS")
    before = model.get_weights()
    model.compile(loss="mse")
    after = model.get_weights()
    assert all((w0 == w1).all() and (b0 == b1).all() for (w0, b0), (w1, b1) in zip(before, after))
    del before, after
print(json.dumps({"built": built, "peak": status("VmHWM") - base}))
"""


def peak_of(widths, rows, batch, epochs, fit, recompile=False):
    cfg = dict(widths=widths, rows=rows, batch=batch, epochs=epochs, fit=fit, recompile=recompile)
    return run_measured(CHILD, json.dumps(cfg))


def test_fit_peak_memory_is_data_plus_four_parameter_copies_plus_workspace():
    # Wide layers and few rows: the parameters (~50 MiB) dominate everything else.
    widths, rows, batch, epochs = [2048, 2048, 2048, 2048, 10], 256, 32, 2
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:])) * 4
    data = rows * widths[0] * 4 + rows * 4
    threads = 2
    bl = mc.config()["blocking"]
    workspace = (
        batch * sum(widths) * 4            # activations of every layer
        + 4 * batch * max(widths) * 4      # delta, scratch, gathered batch, targets
        + threads * (bl["kc"] * min(bl["nc"], max(widths)) + bl["mc"] * bl["kc"]) * 4  # GEMM packing
    )  # panels per thread: kc x nc (at most the widest layer) of B, mc x kc of A
    slack = 8 * MiB  # interpreter objects, allocator rounding, page granularity
    bound = data + 4 * params + workspace + slack

    built = peak_of(widths, rows, batch, epochs, fit=False)
    fitted = peak_of(widths, rows, batch, epochs, fit=True)
    report = (f"params {params / MiB:.1f} MiB, data {data / MiB:.1f} MiB, workspace {workspace / MiB:.1f} MiB; "
              f"peak building {built['peak'] / MiB:.1f} MiB, fitting {fitted['peak'] / MiB:.1f} MiB "
              f"({fitted['peak'] / params:.2f} x params), bound {bound / MiB:.1f} MiB")
    print(report)
    # The measurement sees the model: building it costs at least its parameters.
    assert built["peak"] >= params, report
    assert fitted["peak"] <= bound, report


def test_compile_of_a_built_model_holds_at_most_one_extra_parameter_copy():
    """Compiling again with a loss that changes the fused output activation
    rebuilds the native network around the same weights: the old network goes
    before the new one is made, so only the weights' copy is extra."""
    widths = [2048, 2048, 2048, 2048, 10]
    params = sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:])) * 4
    # Above the compiled model: the weights the child reads for its check and
    # compile's own copy of them; the new network (weights, gradients) takes the
    # old one's place instead of joining it (that was 4 x params).
    got = peak_of(widths, 256, 32, 1, fit=False, recompile=True)["peak"]
    report = f"params {params / MiB:.1f} MiB, peak above the built model {got / MiB:.1f} MiB ({got / params:.2f} x params)"
    print(report)
    assert got >= params, report  # the copy compile takes is seen
    assert got <= 2.5 * params, report
