"""The fused optimizer updates (mc.ops.adam_step, rmsprop_step, adagrad_step) on
every ISA, over every option that changes their arithmetic: 50 steps against a
float64 numpy reference of torch's formulas and against torch.optim itself, the
portable kernel bit for bit against a float32 emulation of torch's operation
order, 1 and 2 threads bit for bit, and bad input.

The data are well conditioned: every gradient is at least 0.3 of its element's
scale, far above weight_decay * |param|, so g + weight_decay * p never cancels
(where it does, any two float32 implementations may differ without bound:
the update divides by the magnitude of g)."""

from __future__ import annotations

import contextlib
import functools
import itertools

import numpy as np
import pytest

import mlpcore as mc
from conftest import SUPPORTED_ISAS

f32 = np.float32
SIZES = [1, 17, 1000, 100_003]  # 100_003: several pieces of 32 Ki floats, on 2 threads
STEPS = 50
WD = 0.01


@functools.lru_cache(maxsize=2)
def grads(n, steps=STEPS, seed=0):
    """Gradients of random sign, magnitudes spread over a factor ~7 per element."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.uniform(-1.0, 1.0, n))
    out = []
    for _ in range(steps):
        z = rng.standard_normal(n)
        g = (np.sign(z) * (0.3 + np.abs(z)) * scale).astype(f32)
        g.flags.writeable = False
        out.append(g)
    return tuple(out)


@contextlib.contextmanager
def isa_selected(isa):
    default = mc.config()["isa"]
    mc.set_isa(isa)
    try:
        yield
    finally:
        mc.set_isa(default)


def start_params(n, seed):
    return np.random.default_rng(seed + 1000).standard_normal(n).astype(f32)


def rel_err(got, ref):
    """max |got - ref| relative to |ref|, or to the array's rms where ref is near 0."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    scale = max(np.sqrt(np.mean(ref * ref)), 1e-30)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), scale)))


def lerp32(a, b, w):
    """torch.lerp in float32: a + w (b - a) for |w| < 0.5, else b - (b - a)(1 - w)."""
    w = f32(w)
    return a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (f32(1) - w)


# ---------------------------------------------------------------- the three optimizers
# Each: settings, the state buffers (names as in torch's state dict), our update,
# a float64 reference of the math, a float32 emulation of torch's single-tensor
# operation order (the portable kernel must match it bit for bit) and the
# torch.optim twin.

class Adam:
    name = "adam"
    options = list(itertools.product([False, True], repeat=3))  # decoupled, amsgrad, weight decay

    def __init__(self, decoupled, amsgrad, decay, beta1=0.9):
        self.kw = dict(lr=1e-2, betas=(beta1, 0.999), eps=1e-8, weight_decay=WD if decay else 0.0,
                       amsgrad=amsgrad, decoupled=decoupled)
        self.keys = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])

    def state(self, n, dtype):
        return {k: np.zeros(n, dtype) for k in self.keys}

    def ours(self, p, g, s, t):
        mc.ops.adam_step(p, g, s["exp_avg"], s["exp_avg_sq"], s.get("max_exp_avg_sq"), step=t, **self.kw)

    def ref64(self, p, g, s, t):
        k = self.kw
        (b1, b2), lr, eps, wd = k["betas"], k["lr"], k["eps"], k["weight_decay"]
        if k["decoupled"]:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        v = s["exp_avg_sq"]
        if k["amsgrad"]:
            v = s["max_exp_avg_sq"] = np.maximum(s["max_exp_avg_sq"], v)
        m_hat, v_hat = s["exp_avg"] / (1 - b1 ** t), v / (1 - b2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)

    def emu32(self, p, g, s, t):
        k = self.kw
        (b1, b2), lr, eps, wd = k["betas"], k["lr"], k["eps"], k["weight_decay"]
        if wd != 0:
            if k["decoupled"]:
                p = p * f32(1 - lr * wd)
            else:
                g = g + f32(wd) * p
        s["exp_avg"] = lerp32(s["exp_avg"], g, 1 - b1)
        s["exp_avg_sq"] = s["exp_avg_sq"] * f32(b2) + (f32(1 - b2) * g) * g
        v = s["exp_avg_sq"]
        if k["amsgrad"]:
            v = s["max_exp_avg_sq"] = np.maximum(s["max_exp_avg_sq"], v)
        step_size, bc2_sqrt = lr / (1 - b1 ** t), (1 - b2 ** t) ** 0.5
        denom = np.sqrt(v) / f32(bc2_sqrt) + f32(eps)
        return p + (f32(-step_size) * s["exp_avg"]) / denom

    def torch_optimizer(self, torch, param):
        k = self.kw
        cls = torch.optim.AdamW if k["decoupled"] else torch.optim.Adam
        return cls([param], lr=k["lr"], betas=k["betas"], eps=k["eps"], weight_decay=k["weight_decay"],
                   amsgrad=k["amsgrad"], foreach=False)


class Rmsprop:
    name = "rmsprop"
    options = list(itertools.product([False, True], repeat=3))  # centered, momentum, weight decay

    def __init__(self, centered, momentum, decay, alpha=0.99):
        self.kw = dict(lr=1e-2, alpha=alpha, eps=1e-8, weight_decay=WD if decay else 0.0,
                       momentum=0.9 if momentum else 0.0, centered=centered)
        self.keys = ["square_avg"] + (["grad_avg"] if centered else []) + (["momentum_buffer"] if momentum else [])

    def state(self, n, dtype):
        return {k: np.zeros(n, dtype) for k in self.keys}

    def ours(self, p, g, s, t):
        mc.ops.rmsprop_step(p, g, s["square_avg"], s.get("grad_avg"), s.get("momentum_buffer"), **self.kw)

    def ref64(self, p, g, s, t):
        k = self.kw
        a = k["alpha"]
        g = g + k["weight_decay"] * p
        s["square_avg"] = a * s["square_avg"] + (1 - a) * g * g
        var = s["square_avg"]
        if k["centered"]:
            s["grad_avg"] = a * s["grad_avg"] + (1 - a) * g
            var = var - s["grad_avg"] ** 2
        avg = np.sqrt(var) + k["eps"]
        if k["momentum"] > 0:
            s["momentum_buffer"] = k["momentum"] * s["momentum_buffer"] + g / avg
            return p - k["lr"] * s["momentum_buffer"]
        return p - k["lr"] * g / avg

    def emu32(self, p, g, s, t):
        k = self.kw
        a = k["alpha"]
        if k["weight_decay"] != 0:
            g = g + f32(k["weight_decay"]) * p
        s["square_avg"] = s["square_avg"] * f32(a) + (f32(1 - a) * g) * g
        if k["centered"]:
            s["grad_avg"] = lerp32(s["grad_avg"], g, 1 - a)
            avg = np.sqrt(s["square_avg"] + (-s["grad_avg"]) * s["grad_avg"])
        else:
            avg = np.sqrt(s["square_avg"])
        avg = avg + f32(k["eps"])
        if k["momentum"] > 0:
            s["momentum_buffer"] = s["momentum_buffer"] * f32(k["momentum"]) + g / avg
            return p + f32(-k["lr"]) * s["momentum_buffer"]
        return p + (f32(-k["lr"]) * g) / avg

    def torch_optimizer(self, torch, param):
        k = self.kw
        return torch.optim.RMSprop([param], lr=k["lr"], alpha=k["alpha"], eps=k["eps"],
                                   weight_decay=k["weight_decay"], momentum=k["momentum"],
                                   centered=k["centered"], foreach=False)


class Adagrad:
    name = "adagrad"
    options = list(itertools.product([False, True], repeat=3))  # lr_decay, initial accumulator, weight decay
    keys = ["sum"]

    def __init__(self, lr_decay, initial, decay):
        self.kw = dict(lr=1e-1, lr_decay=0.01 if lr_decay else 0.0, weight_decay=WD if decay else 0.0, eps=1e-10)
        self.initial = 0.1 if initial else 0.0

    def state(self, n, dtype):
        return {"sum": np.full(n, self.initial, dtype)}

    def ours(self, p, g, s, t):
        mc.ops.adagrad_step(p, g, s["sum"], step=t, **self.kw)

    def ref64(self, p, g, s, t):
        k = self.kw
        g = g + k["weight_decay"] * p
        s["sum"] = s["sum"] + g * g
        return p - k["lr"] / (1 + (t - 1) * k["lr_decay"]) * g / (np.sqrt(s["sum"]) + k["eps"])

    def emu32(self, p, g, s, t):
        k = self.kw
        if k["weight_decay"] != 0:
            g = g + f32(k["weight_decay"]) * p
        s["sum"] = s["sum"] + g * g
        clr = k["lr"] / (1 + (t - 1) * k["lr_decay"])
        return p + (f32(-clr) * g) / (np.sqrt(s["sum"]) + f32(k["eps"]))

    def torch_optimizer(self, torch, param):
        k = self.kw
        return torch.optim.Adagrad([param], lr=k["lr"], lr_decay=k["lr_decay"], weight_decay=k["weight_decay"],
                                   initial_accumulator_value=self.initial, eps=k["eps"], foreach=False)


CASES = [(cls, opts) for cls in (Adam, Rmsprop, Adagrad) for opts in cls.options]
CASE_IDS = [f"{cls.name}-" + "".join("1" if o else "0" for o in opts) for cls, opts in CASES]
# torch.lerp's other branch (weight >= 0.5): the first-moment weight 1 - beta1, RMSprop's 1 - alpha.
LARGE_WEIGHT = [Adam(False, False, True, beta1=0.3), Adam(True, True, True, beta1=0.3),
                Rmsprop(True, True, True, alpha=0.4), Rmsprop(True, False, False, alpha=0.4)]


def run_ours(opt, n, steps=STEPS, threads=1):
    """Our update from the common start. One thread unless asked: the result is
    bitwise the same on two (test_one_and_two_threads_bitwise_equal), and on a
    shared two-core host every call on a team of two can wait for a descheduled thread."""
    before = mc.get_num_threads()
    mc.set_num_threads(threads)
    try:
        p = start_params(n, 0)
        s = opt.state(n, f32)
        for t, g in enumerate(grads(n)[:steps], start=1):
            opt.ours(p, g, s, t)
        return p, s
    finally:
        mc.set_num_threads(before)


# The references are computed once per case and compared with every ISA's result.

def check_against_references(opt, n, tol=4e-6):
    p64 = start_params(n, 0).astype(np.float64)
    s64 = opt.state(n, np.float64)
    p32 = start_params(n, 0)
    s32 = opt.state(n, f32)
    for t, g in enumerate(grads(n), start=1):
        p64 = opt.ref64(p64, g.astype(np.float64), s64, t)
        p32 = opt.emu32(p32, g, s32, t)
    for isa in SUPPORTED_ISAS:
        with isa_selected(isa):
            p, s = run_ours(opt, n)
        # float32 rounding over 50 steps: at most 1.8e-6 measured (well-conditioned data).
        assert rel_err(p, p64) <= tol, isa
        for k in s:
            assert rel_err(s[k], s64[k]) <= tol, (isa, k)
        if isa == "generic":  # rounds every operation as written: torch's order, exactly
            assert np.array_equal(p, p32)
            for k in s:
                assert np.array_equal(s[k], s32[k]), k


def check_against_torch(opt, n):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same results; two OpenMP runtimes' teams on two cores only contend
    try:
        param = torch.nn.Parameter(torch.from_numpy(start_params(n, 0)))
        topt = opt.torch_optimizer(torch, param)
        for g in grads(n):
            param.grad = torch.from_numpy(g.copy())
            topt.step()
    finally:
        torch.set_num_threads(threads)
    state = topt.state[param]
    for isa in SUPPORTED_ISAS:
        with isa_selected(isa):
            p, s = run_ours(opt, n)
        assert rel_err(p, param.detach().numpy()) <= 1e-5, isa
        for k in s:
            assert rel_err(s[k], state[k].numpy()) <= 1e-5, (isa, k)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("cls, opts", CASES, ids=CASE_IDS)
def test_every_isa_matches_float64_reference_and_torch_order(cls, opts, n):
    check_against_references(cls(*opts), n)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("cls, opts", CASES, ids=CASE_IDS)
def test_every_isa_matches_torch_optim(cls, opts, n):
    check_against_torch(cls(*opts), n)


# Centered RMSprop with alpha < 0.5 averages over about two steps, so
# square_avg - grad_avg^2 cancels more than at alpha = 0.99: a looser bound.
@pytest.mark.parametrize("n", [1000, 100_003])
@pytest.mark.parametrize("opt", LARGE_WEIGHT, ids=lambda o: o.name + "-large-lerp-weight")
def test_large_lerp_weight(opt, n):
    check_against_references(opt, n, tol=4e-6 if opt.name == "adam" else 2e-5)


@pytest.mark.parametrize("opt", LARGE_WEIGHT, ids=lambda o: o.name + "-large-lerp-weight")
def test_large_lerp_weight_matches_torch(opt):
    check_against_torch(opt, 1000)


@pytest.mark.parametrize("cls, opts", CASES, ids=CASE_IDS)
def test_one_and_two_threads_bitwise_equal(isa, cls, opts):
    p1, s1 = run_ours(cls(*opts), 100_003, steps=5, threads=1)
    p2, s2 = run_ours(cls(*opts), 100_003, steps=5, threads=2)
    assert np.array_equal(p1, p2)
    for k in s1:
        assert np.array_equal(s1[k], s2[k]), k


def test_empty_arrays_are_a_no_op():
    e = np.zeros(0, f32)
    mc.ops.adam_step(e, e.copy(), e.copy(), e.copy(), step=1)
    mc.ops.rmsprop_step(e, e.copy(), e.copy())
    mc.ops.adagrad_step(e, e.copy(), e.copy(), step=1)


def test_grad_of_another_dtype_is_converted_and_nan_propagates():
    p, m, v = np.ones(3, f32), np.zeros(3, f32), np.zeros(3, f32)
    mc.ops.adam_step(p, np.array([1.0, np.nan, -1.0]), m, v, step=1)
    assert np.isnan(p[1]) and np.isnan(m[1]) and np.isfinite(p[[0, 2]]).all()
    assert p[0] < 1 < p[2]


# ---------------------------------------------------------------- bad input

def adam_args(n=4):
    return [np.zeros(n, f32) for _ in range(4)]


def test_in_place_arrays_must_be_float32_1d_contiguous_writeable():
    p, g, m, v = adam_args()
    with pytest.raises(TypeError, match="param: expected dtype float32"):
        mc.ops.adam_step(p.astype(np.float64), g, m, v, step=1)
    with pytest.raises(TypeError, match="exp_avg: expected a float32 numpy array"):
        mc.ops.adam_step(p, g, [0.0] * 4, v, step=1)
    with pytest.raises(ValueError, match=r"exp_avg_sq: expected a 1-d array, got shape \(2, 2\)"):
        mc.ops.adam_step(p, g, m, v.reshape(2, 2), step=1)
    with pytest.raises(ValueError, match="param: expected a contiguous array"):
        mc.ops.adam_step(np.zeros(8, f32)[::2], g, m, v, step=1)
    ro = np.zeros(4, f32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="exp_avg: expected a writeable array"):
        mc.ops.adam_step(p, g, ro, v, step=1)
    with pytest.raises(ValueError, match=r"exp_avg: expected shape \(4,\), the shape of param, got \(5,\)"):
        mc.ops.adam_step(p, g, np.zeros(5, f32), v, step=1)
    with pytest.raises(ValueError, match=r"grad: expected shape \(4,\)"):
        mc.ops.adam_step(p, np.zeros(3), m, v, step=1)
    with pytest.raises(TypeError, match="grad: expected a real numeric dtype"):
        mc.ops.adam_step(p, np.array(["a"] * 4), m, v, step=1)
    with pytest.raises(TypeError, match="state_sum: expected a float32 numpy array"):
        mc.ops.adagrad_step(p, g, None, step=1)


def test_arrays_must_not_overlap():
    p, g, m, v = adam_args()
    with pytest.raises(ValueError, match="exp_avg: shares memory with param"):
        mc.ops.adam_step(p, g, p, v, step=1)
    buf = np.zeros(7, f32)
    with pytest.raises(ValueError, match="exp_avg_sq: shares memory with exp_avg"):
        mc.ops.adam_step(p, g, buf[:4], buf[3:], step=1)
    with pytest.raises(ValueError, match="grad: shares memory with param"):
        mc.ops.rmsprop_step(p, p, m)


def test_optional_state_matches_its_option():
    p, g, m, v = adam_args()
    with pytest.raises(ValueError, match="max_exp_avg_sq: required when amsgrad is True"):
        mc.ops.adam_step(p, g, m, v, amsgrad=True, step=1)
    with pytest.raises(ValueError, match="max_exp_avg_sq: expected None unless amsgrad is True"):
        mc.ops.adam_step(p, g, m, v, np.zeros(4, f32), step=1)
    with pytest.raises(ValueError, match="grad_avg: required when centered is True"):
        mc.ops.rmsprop_step(p, g, m, centered=True)
    with pytest.raises(ValueError, match="momentum_buffer: required when momentum > 0"):
        mc.ops.rmsprop_step(p, g, m, momentum=0.9)
    with pytest.raises(ValueError, match="momentum_buffer: expected None unless momentum > 0"):
        mc.ops.rmsprop_step(p, g, m, None, v)


@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1e-3), "lr: expected a finite number >= 0, got -0.001"),
    (dict(lr=float("nan")), "lr: expected a finite number >= 0, got nan"),
    (dict(lr=1e39), "lr: expected a finite number >= 0, got 1e\\+39"),
    (dict(lr=1e-40), "lr: expected 0 or a number >= 1.1754944e-38"),
    (dict(betas=(1.0, 0.999)), r"betas\[0\]: expected a number in \[0, 1\), got 1"),
    (dict(betas=(0.9, -0.1)), r"betas\[1\]: expected a number in \[0, 1\), got -0.1"),
    (dict(betas=(0.9,)), r"betas: expected a pair of numbers \(beta1, beta2\), got 1 values"),
    (dict(eps=-1e-8), "eps: expected a finite number >= 0"),
    (dict(weight_decay=-0.1), "weight_decay: expected a finite number >= 0, got -0.1"),
    (dict(step=0), r"step: expected an integer in \[1, "),
    (dict(step=-3), r"step: expected an integer in \[1, "),
])
def test_adam_ranges_name_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        mc.ops.adam_step(*adam_args(), **{"step": 1, **kw})


@pytest.mark.parametrize("kw, error, match", [
    (dict(lr="0.1"), TypeError, "lr: expected a real number, got str"),
    (dict(betas=0.9), TypeError, r"betas: expected a pair of numbers \(beta1, beta2\), got float"),
    (dict(amsgrad=1), TypeError, "amsgrad: expected a bool, got int"),
    (dict(decoupled="yes"), TypeError, "decoupled: expected a bool"),
    (dict(step=1.0), TypeError, "step: expected an integer, got float"),
])
def test_adam_types_name_the_argument(kw, error, match):
    with pytest.raises(error, match=match):
        mc.ops.adam_step(*adam_args(), **{"step": 1, **kw})


@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1.0), "lr: expected a finite number >= 0"),
    (dict(alpha=1.5), r"alpha: expected a number in \[0, 1\], got 1.5"),
    (dict(alpha=-0.5), r"alpha: expected a number in \[0, 1\]"),
    (dict(eps=float("inf")), "eps: expected a finite number >= 0, got inf"),
    (dict(weight_decay=-1.0), "weight_decay: expected a finite number >= 0"),
    (dict(momentum=1.0), r"momentum: expected a number in \[0, 1\), got 1"),
])
def test_rmsprop_ranges_name_the_argument(kw, match):
    p, g, sq, _ = adam_args()
    with pytest.raises(ValueError, match=match):
        mc.ops.rmsprop_step(p, g, sq, **kw)


@pytest.mark.parametrize("kw, match", [
    (dict(lr=-1.0), "lr: expected a finite number >= 0"),
    (dict(lr_decay=-0.1), "lr_decay: expected a finite number >= 0, got -0.1"),
    (dict(weight_decay=-1.0), "weight_decay: expected a finite number >= 0"),
    (dict(eps=-1.0), "eps: expected a finite number >= 0"),
    (dict(step=0), r"step: expected an integer in \[1, "),
])
def test_adagrad_ranges_name_the_argument(kw, match):
    p, g, ss, _ = adam_args()
    with pytest.raises(ValueError, match=match):
        mc.ops.adagrad_step(p, g, ss, **{"step": 1, **kw})


def test_core_checks_are_the_same_rules():
    mc._core.check_adam(1e-3, (0.9, 0.999), 1e-8, 0.0, False, True)
    mc._core.check_rmsprop(1e-2, 0.99, 1e-8, 0.0, 0.9, True)
    mc._core.check_adagrad(1e-2, 0.0, 0.0, 0.1, 1e-10)
    with pytest.raises(ValueError, match=r"betas\[1\]: expected a number in \[0, 1\)"):
        mc._core.check_adam(1e-3, [0.9, 1.0], 1e-8, 0.0, False, False)
    with pytest.raises(ValueError, match="initial_accumulator_value: expected a finite number >= 0, got -1"):
        mc._core.check_adagrad(1e-2, 0.0, 0.0, -1, 1e-10)
    with pytest.raises(ValueError, match=r"momentum: expected a number in \[0, 1\)"):
        mc._core.check_rmsprop(1e-2, 0.99, 1e-8, 0.0, -0.5, False)
    with pytest.raises(TypeError, match="centered: expected a bool"):
        mc._core.check_rmsprop(1e-2, 0.99, 1e-8, 0.0, 0.0, None)
