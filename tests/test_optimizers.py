"""Adam, AdamW, RMSprop and Adagrad in whole training runs: step for step
against torch.optim (same initial weights, same batches, 50 steps, every
option that changes the arithmetic), against a float64 numpy reference of
torch's formulas without torch, on every ISA, bitwise the same on 1 and 2
threads, resumed bit for bit through save/load, with the learning rate
changed between epochs, under the divergence rule, and with clear errors."""

import numpy as np
import pytest

import mlpcore as mc
from torch_twin import torch_epoch, torch_twin

# (mlpcore optimizer, its torch.optim twin's name and keywords), every option
# combination that changes the arithmetic.
CONFIGS = {
    "adam": (lambda: mc.Adam(lr=1e-2), ("Adam", dict(lr=1e-2))),
    "adam-wd": (lambda: mc.Adam(lr=1e-2, weight_decay=1e-2), ("Adam", dict(lr=1e-2, weight_decay=1e-2))),
    "adam-amsgrad": (lambda: mc.Adam(lr=1e-2, betas=(0.8, 0.99), amsgrad=True),
                     ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), amsgrad=True))),
    "adamw": (lambda: mc.AdamW(lr=1e-2, weight_decay=0.1), ("AdamW", dict(lr=1e-2, weight_decay=0.1))),
    "adamw-amsgrad": (lambda: mc.AdamW(lr=1e-2, amsgrad=True, eps=1e-6),
                      ("AdamW", dict(lr=1e-2, amsgrad=True, eps=1e-6))),
    "rmsprop": (lambda: mc.RMSprop(lr=1e-3), ("RMSprop", dict(lr=1e-3))),
    "rmsprop-centered": (lambda: mc.RMSprop(lr=1e-3, centered=True), ("RMSprop", dict(lr=1e-3, centered=True))),
    "rmsprop-momentum-wd": (lambda: mc.RMSprop(lr=1e-3, momentum=0.9, weight_decay=1e-2, alpha=0.9),
                            ("RMSprop", dict(lr=1e-3, momentum=0.9, weight_decay=1e-2, alpha=0.9))),
    "rmsprop-all": (lambda: mc.RMSprop(lr=1e-3, momentum=0.5, centered=True, weight_decay=1e-3),
                    ("RMSprop", dict(lr=1e-3, momentum=0.5, centered=True, weight_decay=1e-3))),
    "adagrad": (lambda: mc.Adagrad(lr=0.05), ("Adagrad", dict(lr=0.05))),
    "adagrad-all": (lambda: mc.Adagrad(lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1),
                    ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1))),
}
NAMES = list(CONFIGS)
BATCH, STEPS, DIMS = 16, 50, (64, 48, 32, 10)


def data(rng):
    X = rng.random((BATCH * STEPS, DIMS[0]), dtype=np.float32)
    y = rng.integers(0, DIMS[-1], len(X))
    return X, y


def model_with(optimizer, seed=3):
    layers = [mc.Dense(u, activation="relu") for u in DIMS[1:-1]] + [mc.Dense(DIMS[-1])]
    model = mc.Sequential(layers, input_dim=DIMS[0], seed=seed)
    model.compile(loss="cross_entropy", optimizer=optimizer)
    return model


def state_of(model):
    weights = [a for pair in model.get_weights() for a in pair]
    buffers, steps = model._opt.get_state(model._net)
    return weights, {k: [a for pair in v for a in pair] for k, v in buffers.items()}, steps


def assert_same_state(a, b):
    (wa, sa, na), (wb, sb, nb) = a, b
    assert na == nb and sorted(sa) == sorted(sb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    for k in sa:
        for x, y in zip(sa[k], sb[k]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_fifty_steps_match_torch_optim(rng, name):
    torch = pytest.importorskip("torch")
    ours_factory, (torch_name, torch_kwargs) = CONFIGS[name]
    X, y = data(rng)
    model = model_with(ours_factory())
    net, linears = torch_twin(torch, model)
    opt = getattr(torch.optim, torch_name)(net.parameters(), foreach=False, **torch_kwargs)
    losses = torch_epoch(torch, net, opt, X, y, BATCH)
    history = model.fit(X, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    assert model._opt.steps == STEPS
    assert history.history["loss"][0] == pytest.approx(np.mean(losses), rel=1e-4)
    for lin, (W, b) in zip(linears, model.get_weights()):
        for ours, theirs in ((W, lin.weight.detach().numpy().T), (b, lin.bias.detach().numpy())):
            np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=2e-5)
            # Normwise, after 50 steps: within a few float32 roundings of the products' sums.
            assert np.abs(ours - theirs).max() <= 3e-5 * np.abs(theirs).max()
    # The state buffers too, under torch's names.
    buffers, _ = model._opt.get_state(model._net)
    for i, lin in enumerate(linears):
        for key, pairs in buffers.items():
            theirs = opt.state[lin.weight][key].detach().numpy().T
            np.testing.assert_allclose(pairs[i][0], theirs, rtol=2e-3, atol=1e-6 * max(1.0, np.abs(theirs).max()))


# ---------------------------------------------------------------- float64 reference, no torch

def reference_run(kind, settings, W, b, X, Y, steps):
    """Linear regression (MSE over all outputs) trained by torch's formulas for
    `kind`, in float64: the reference any correct implementation agrees with."""
    W, b = W.astype(np.float64), b.astype(np.float64)
    params = [W, b]
    state = [{} for _ in params]
    rows = len(X) // steps
    for t in range(1, steps + 1):
        x, yt = X[(t - 1) * rows:t * rows].astype(np.float64), Y[(t - 1) * rows:t * rows].astype(np.float64)
        d = 2.0 * (x @ W + b - yt) / yt.size
        grads = [x.T @ d, d.sum(axis=0)]
        for p, g, st in zip(params, grads, state):
            lr, wd = settings["lr"], settings.get("weight_decay", 0.0)
            if kind in ("adam", "adamw"):
                b1, b2 = settings["betas"]
                if kind == "adamw":
                    p *= 1 - lr * wd
                else:
                    g = g + wd * p
                m = st["m"] = st.get("m", 0) * b1 + (1 - b1) * g
                v = st["v"] = st.get("v", 0) * b2 + (1 - b2) * g * g
                if settings.get("amsgrad"):
                    v = st["vmax"] = np.maximum(st.get("vmax", 0), v)
                p -= lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + settings["eps"])
            elif kind == "rmsprop":
                alpha, eps, mom = settings["alpha"], settings["eps"], settings["momentum"]
                g = g + wd * p
                sq = st["sq"] = st.get("sq", 0) * alpha + (1 - alpha) * g * g
                if settings["centered"]:
                    ga = st["ga"] = st.get("ga", 0) * alpha + (1 - alpha) * g
                    avg = np.sqrt(sq - ga * ga) + eps
                else:
                    avg = np.sqrt(sq) + eps
                if mom > 0:
                    buf = st["buf"] = st.get("buf", 0) * mom + g / avg
                    p -= lr * buf
                else:
                    p -= lr * g / avg
            else:  # adagrad
                g = g + wd * p
                s = st["sum"] = st.get("sum", settings["initial_accumulator_value"]) + g * g
                clr = lr / (1 + (t - 1) * settings["lr_decay"])
                p -= clr * g / (np.sqrt(s) + settings["eps"])
    return params


@pytest.mark.parametrize("name", NAMES)
def test_matches_a_float64_reference_on_every_isa(isa, rng, name):
    opt = CONFIGS[name][0]()
    steps, rows, d, k = 40, 8, 37, 5
    X = rng.standard_normal((steps * rows, d)).astype(np.float32)
    Y = (X @ rng.standard_normal((d, k)) + 0.1).astype(np.float32)
    model = mc.Sequential([mc.Dense(k, input_dim=d)], seed=1)
    model.compile(loss="mse", optimizer=opt)
    (W0, b0), = model.get_weights()
    model.fit(X, Y, epochs=1, batch_size=rows, shuffle=False, verbose=0)
    (W, b), = model.get_weights()
    ref_W, ref_b = reference_run(opt.kind, opt.get_config(), W0, b0, X, Y, steps)
    scale = max(1.0, np.abs(ref_W).max())
    np.testing.assert_allclose(W, ref_W, rtol=2e-4, atol=2e-5 * scale)
    np.testing.assert_allclose(b, ref_b, rtol=2e-4, atol=2e-5 * scale)


# ---------------------------------------------------------------- determinism and resume

@pytest.mark.parametrize("name", ["adam-amsgrad", "adamw", "rmsprop-all", "adagrad-all"])
def test_one_and_two_threads_give_the_same_bits(rng, name):
    X = rng.random((600, 300), dtype=np.float32)
    y = rng.integers(0, 10, 600)
    runs = []
    old = mc.get_num_threads()
    try:
        for threads in (1, 2):
            mc.set_num_threads(threads)
            model = mc.Sequential([mc.Dense(256, activation="tanh"), mc.Dense(10)], input_dim=300, seed=2)
            model.compile(loss="cross_entropy", optimizer=CONFIGS[name][0]())
            model.fit(X, y, epochs=2, batch_size=50, verbose=0)
            runs.append(state_of(model))
    finally:
        mc.set_num_threads(old)
    assert_same_state(*runs)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_resumes_bit_for_bit(rng, tmp_path, name):
    X, y = data(rng)
    straight = model_with(CONFIGS[name][0]())
    straight.fit(X, y, epochs=2, batch_size=BATCH, verbose=0)
    first = model_with(CONFIGS[name][0]())
    first.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    first.save(tmp_path / "m.mlpc")
    resumed = mc.load(tmp_path / "m.mlpc")
    assert type(resumed.optimizer) is type(first.optimizer)
    assert resumed.optimizer.get_config() == first.optimizer.get_config()
    resumed.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    assert_same_state(state_of(resumed), state_of(straight))


def test_version_1_files_with_sgd_momentum_still_load(rng):
    """Files written before the other optimizers (format version 1) hold the SGD
    momentum as optimizer/<i>/W; they load and resume as they did."""
    import hashlib
    import json
    import struct

    X, y = data(rng)
    model = model_with(mc.SGD(lr=0.05, momentum=0.9))
    model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    raw = model.to_bytes()
    _, _, n = struct.unpack_from("<8sIQ", raw)
    header = json.loads(raw[20:20 + n])
    del header["optimizer_kind"]
    for entry in header["arrays"]:
        entry["name"] = entry["name"].replace("optimizer/momentum_buffer/", "optimizer/")
    h = json.dumps(header).encode()
    body = struct.pack("<8sIQ", b"MLPCORE\0", 1, len(h)) + h + raw[20 + n:-32]
    old = mc.Sequential.from_bytes(body + hashlib.sha256(body).digest())
    assert_same_state(state_of(old), state_of(model))
    old.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    model.fit(X, y, epochs=1, batch_size=BATCH, verbose=0)
    assert_same_state(state_of(old), state_of(model))


# ---------------------------------------------------------------- learning rate, names, divergence

def test_learning_rate_changed_between_epochs_matches_torch(rng):
    torch = pytest.importorskip("torch")
    X, y = data(rng)
    model = model_with(mc.Adam(lr=1e-2))
    schedule = mc.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.1 if epoch == 1 else lr)
    net, linears = torch_twin(torch, model)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, foreach=False)
    for epoch in range(2):
        if epoch == 1:
            opt.param_groups[0]["lr"] = 1e-3
        torch_epoch(torch, net, opt, X, y, BATCH)
    model.fit(X, y, epochs=2, batch_size=BATCH, shuffle=False, verbose=0, callbacks=[schedule])
    assert model.optimizer.lr == pytest.approx(1e-3)
    for lin, (W, b) in zip(linears, model.get_weights()):
        np.testing.assert_allclose(W, lin.weight.detach().numpy().T, rtol=1e-3, atol=3e-5)


@pytest.mark.parametrize("name,cls", [("adam", mc.Adam), ("AdamW", mc.AdamW), ("rmsprop", mc.RMSprop),
                                      ("adagrad", mc.Adagrad), ("sgd", mc.SGD)])
def test_compile_by_name_takes_the_defaults(rng, name, cls):
    model = model_with(name)
    assert type(model.optimizer) is cls
    assert model.optimizer.get_config() == cls().get_config()
    X, y = data(rng)
    before = model.evaluate(X, y)["loss"]
    model.fit(X, y, epochs=2, batch_size=BATCH, verbose=0)
    assert model.evaluate(X, y)["loss"] < before


def test_defaults_are_torch_optims():
    assert mc.Adam().get_config() == {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
                                      "amsgrad": False, "decay_bias": True}
    assert mc.AdamW().weight_decay == 0.01
    assert mc.RMSprop().get_config() == {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0,
                                         "momentum": 0.0, "centered": False, "decay_bias": True}
    assert mc.Adagrad().get_config() == {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0,
                                         "initial_accumulator_value": 0.0, "eps": 1e-10, "decay_bias": True}


@pytest.mark.parametrize("name", ["adam", "rmsprop-centered", "adagrad"])
def test_a_diverging_run_keeps_its_last_finite_step(rng, name):
    X, y = data(rng)
    X[BATCH * 3 + 2, 5] = 3e38  # batch 4 overflows its products
    model = model_with(CONFIGS[name][0]())
    with pytest.raises(FloatingPointError, match=r"last finite step \(3 steps into the epoch\)"):
        model.fit(X, y, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    reference = model_with(CONFIGS[name][0]())
    reference.fit(X[:3 * BATCH], y[:3 * BATCH], epochs=1, batch_size=BATCH, shuffle=False, verbose=0)
    assert model._opt.steps == 3 and model._opt.state_finite()
    assert_same_state(state_of(model), state_of(reference))


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        mc.Adam(betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="eps"):
        mc.AdamW(eps=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        mc.RMSprop(alpha=1.5)
    with pytest.raises(ValueError, match="momentum"):
        mc.RMSprop(momentum=1.0)
    with pytest.raises(ValueError, match="lr_decay"):
        mc.Adagrad(lr_decay=-0.1)
    with pytest.raises(TypeError, match="decay_bias"):
        mc.Adam(decay_bias=1)
    opt = mc.Adam()
    with pytest.raises(ValueError, match="lr"):
        opt.lr = float("nan")
    assert opt.lr == 0.001
