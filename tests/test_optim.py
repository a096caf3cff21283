"""Optimizers against independent reference updates and torch.optim, dtype and None-grad hygiene, clipping,
schedules, and state dicts that resume training bit for bit."""

import copy
import json
import math

import numpy as np
import pytest

from autograd_rnn.graph import Parameter
from autograd_rnn.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    CosineDecay,
    HalveOnIncrease,
    Optimizer,
    RMSprop,
    StepDecay,
    WarmupCosine,
    clip_grad_norm,
    clip_grad_value,
    make_optimizer,
    make_schedule,
    parse_schedule,
)

SHAPES = {"cell.weight_ih": (4, 3), "cell.bias": (4,), "out.weight": (2, 4)}
NONE_AT = {"out.weight": {2, 6, 7, 13}}  # steps at which that parameter gets no gradient


def make_params(dtype=np.float64, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {n: Parameter(rng.standard_normal(s).astype(dtype)) for n, s in SHAPES.items()}


def grad_sequence(steps: int, dtype=np.float64, seed=1) -> list[dict]:
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        seq.append({n: None if t in NONE_AT.get(n, ()) else rng.standard_normal(s).astype(dtype)
                    for n, s in SHAPES.items()})
    return seq


def run(opt: Optimizer, params: dict, grads: list[dict]) -> None:
    for gs in grads:
        for n, p in params.items():
            p.grad = None if gs[n] is None else gs[n].copy()
        opt.step()


# ----- independent reference updates (textbook form, float64) --------------------------------------------------
def ref_sgd(w, gs, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    buf = None
    for g in gs:
        if g is None:
            continue
        d = g + weight_decay * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
    return w


def ref_adagrad(w, gs, lr, eps):
    s = np.zeros_like(w)
    for g in gs:
        if g is not None:
            s = s + g**2
            w = w - lr * g / (np.sqrt(s) + eps)
    return w


def ref_rmsprop(w, gs, lr, alpha, eps):
    v = np.zeros_like(w)
    for g in gs:
        if g is not None:
            v = alpha * v + (1 - alpha) * g**2
            w = w - lr * g / (np.sqrt(v) + eps)
    return w


def ref_adam(w, gs, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    m, v, t = np.zeros_like(w), np.zeros_like(w), 0
    for g in gs:
        if g is None:
            continue
        t += 1
        if decoupled:
            w = w - lr * weight_decay * w
        else:
            g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


CASES = {
    "sgd": (lambda p: SGD(p, lr=0.1), lambda w, gs: ref_sgd(w, gs, 0.1)),
    "sgd_wd": (lambda p: SGD(p, lr=0.1, weight_decay=0.01), lambda w, gs: ref_sgd(w, gs, 0.1, weight_decay=0.01)),
    "momentum": (lambda p: SGD(p, lr=0.1, momentum=0.9), lambda w, gs: ref_sgd(w, gs, 0.1, 0.9)),
    "nesterov": (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                 lambda w, gs: ref_sgd(w, gs, 0.1, 0.9, True, 0.01)),
    "adagrad": (lambda p: Adagrad(p, lr=0.1, eps=1e-8), lambda w, gs: ref_adagrad(w, gs, 0.1, 1e-8)),
    "rmsprop": (lambda p: RMSprop(p, lr=2e-3, alpha=0.95, eps=1e-8),
                lambda w, gs: ref_rmsprop(w, gs, 2e-3, 0.95, 1e-8)),
    "adam": (lambda p: Adam(p, lr=2e-3), lambda w, gs: ref_adam(w, gs, 2e-3, (0.9, 0.999), 1e-8)),
    "adam_l2": (lambda p: Adam(p, lr=1e-2, weight_decay=0.1),
                lambda w, gs: ref_adam(w, gs, 1e-2, (0.9, 0.999), 1e-8, weight_decay=0.1)),
    "adamw": (lambda p: AdamW(p), lambda w, gs: ref_adam(w, gs, 5e-4, (0.9, 0.99), 1e-8, 0.01, decoupled=True)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_reference_update(case):
    build, ref = CASES[case]
    params, grads = make_params(), grad_sequence(8)
    start = {n: p.data.copy() for n, p in params.items()}
    run(build(params), params, grads)
    for n, p in params.items():
        expected = ref(start[n], [gs[n] for gs in grads])
        np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-14, err_msg=n)
        assert not np.array_equal(p.data, start[n])


# ----- the PyTorch referee -----------------------------------------------------------------------------------------
TORCH_CASES = {
    "sgd": (lambda p: SGD(p, lr=0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
    "sgd_momentum": (lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                     lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd_nesterov": (lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                     lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    "adagrad": (lambda p: Adagrad(p), lambda t, p: t.optim.Adagrad(p, lr=0.1, eps=1e-8)),
    "rmsprop": (lambda p: RMSprop(p), lambda t, p: t.optim.RMSprop(p, lr=2e-3, alpha=0.95, eps=1e-8)),
    "adam": (lambda p: Adam(p), lambda t, p: t.optim.Adam(p, lr=2e-3, betas=(0.9, 0.999), eps=1e-8)),
    "adam_l2": (lambda p: Adam(p, lr=1e-2, weight_decay=0.1),
                lambda t, p: t.optim.Adam(p, lr=1e-2, weight_decay=0.1)),
    "adamw": (lambda p: AdamW(p), lambda t, p: t.optim.AdamW(p, lr=5e-4, betas=(0.9, 0.99), eps=1e-8,
                                                               weight_decay=0.01)),
}


@pytest.mark.parametrize("case", list(TORCH_CASES))
def test_matches_torch_optim(torch, case):
    ours, theirs = TORCH_CASES[case]
    params, grads = make_params(), grad_sequence(20)
    tparams = {n: torch.tensor(p.data.copy(), dtype=torch.float64, requires_grad=True) for n, p in params.items()}
    opt, topt = ours(params), theirs(torch, list(tparams.values()))
    for gs in grads:
        for n in SHAPES:
            params[n].grad = None if gs[n] is None else gs[n].copy()
            tparams[n].grad = None if gs[n] is None else torch.tensor(gs[n])
        opt.step()
        topt.step()
    for n, p in params.items():
        np.testing.assert_allclose(p.data, tparams[n].detach().numpy(), rtol=1e-10, atol=1e-13, err_msg=n)


def test_clip_grad_norm_matches_torch(torch):
    params = make_params()
    tparams = []
    for i, p in enumerate(params.values()):
        p.grad = np.random.default_rng(i).standard_normal(p.shape) * 3.0
        tp = torch.tensor(p.data, requires_grad=True)
        tp.grad = torch.tensor(p.grad)
        tparams.append(tp)
    norm = clip_grad_norm(params, 1.5)
    tnorm = torch.nn.utils.clip_grad_norm_(tparams, 1.5)
    assert norm == pytest.approx(float(tnorm), rel=1e-12)
    for p, tp in zip(params.values(), tparams):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


# ----- dtype, in-place updates and skipped parameters ------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_float32_stays_float32_in_place(name):
    params = make_params(np.float32)
    arrays = {n: p.data for n, p in params.items()}
    opt = make_optimizer(name, params, weight_decay=0.01)
    run(opt, params, grad_sequence(4, np.float32))
    for n, p in params.items():
        assert p.data is arrays[n] and p.data.dtype == np.float32
    assert all(buf.dtype == np.float32 for buf in opt.buffers.values())
    assert all(a.dtype == np.float32 for a in opt.state_dict()["arrays"].values())


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_params_without_grad_are_skipped(name):
    params = make_params()
    frozen = params["cell.bias"].data.copy()
    opt = make_optimizer(name, params, weight_decay=0.1)
    for gs in grad_sequence(3):
        for n, p in params.items():
            p.grad = None if n == "cell.bias" else gs[n]
        opt.step()
    np.testing.assert_array_equal(params["cell.bias"].data, frozen)
    assert opt.param_steps["cell.bias"] == 0 and opt.param_steps["cell.weight_ih"] == 3 and opt.step_count == 3
    assert all(not buf.any() for key, buf in opt.buffers.items() if key.endswith("/cell.bias"))


def test_step_does_not_write_into_grads_and_zero_grad_clears():
    params = make_params()
    grads = grad_sequence(1)[0]
    opt = Adam(params, weight_decay=0.1)
    for n, p in params.items():
        p.grad = grads[n]
    kept = {n: None if g is None else g.copy() for n, g in grads.items()}
    opt.step()
    for n in grads:
        np.testing.assert_array_equal(grads[n], kept[n])
    opt.zero_grad()
    assert all(p.grad is None for p in params.values())


def test_adam_minimizes_a_graph_loss():
    w = Parameter(np.array([3.0, -2.0, 0.5]))
    opt = Adam({"w": w}, lr=0.1)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    assert losses[-1] < 1e-2 * losses[0]


def test_params_as_pairs_and_validation():
    params = make_params()
    opt = SGD(list(params.items()), lr=0.1)
    assert list(opt.params) == list(SHAPES)
    with pytest.raises(ValueError, match="appears twice"):
        SGD([("a", params["cell.bias"]), ("a", params["out.weight"])], lr=0.1)
    with pytest.raises(TypeError, match="floating-point Parameter"):
        SGD({"a": np.zeros(3)}, lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        SGD(params, lr=-1.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        Adam(params, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="eps"):
        RMSprop(params, eps=float("nan"))


# ----- clipping ----------------------------------------------------------------------------------------------------
def with_grads(dtype=np.float64, scale=1.0) -> dict:
    params = make_params(dtype)
    for i, p in enumerate(params.values()):
        p.grad = (np.random.default_rng(10 + i).standard_normal(p.shape) * scale).astype(dtype)
    return params


def global_norm(params) -> float:
    return math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in params.values()))


def test_clip_grad_norm_scales_above_max_norm():
    params = with_grads(scale=5.0)
    before = {n: p.grad.copy() for n, p in params.items()}
    expected = global_norm(params)
    norm = clip_grad_norm(params, 1.0)
    assert norm == pytest.approx(expected, rel=1e-14) and norm > 1.0
    for n, p in params.items():
        np.testing.assert_allclose(p.grad, before[n] * (1.0 / (expected + 1e-6)), rtol=1e-14)
    assert global_norm(params) == pytest.approx(1.0, rel=1e-5) and global_norm(params) <= 1.0


def test_clip_grad_norm_below_max_norm_leaves_grads():
    params = with_grads(scale=0.01)
    before = {n: p.grad.copy() for n, p in params.items()}
    assert clip_grad_norm(list(params.values()), 100.0) == pytest.approx(global_norm(params))
    for n, p in params.items():
        np.testing.assert_array_equal(p.grad, before[n])


def test_clip_grad_norm_float32_and_none_grads():
    params = with_grads(np.float32, scale=5.0)
    params["cell.bias"].grad = None
    norm = clip_grad_norm(params.items(), 0.5)
    assert isinstance(norm, float) and norm > 0.5
    assert params["cell.bias"].grad is None
    assert all(p.grad.dtype == np.float32 for n, p in params.items() if n != "cell.bias")
    assert global_norm({n: p for n, p in params.items() if n != "cell.bias"}) <= 0.5 + 1e-6


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_non_finite_leaves_grads_and_reports(bad):
    params = with_grads(scale=5.0)
    params["cell.bias"].grad[1] = bad
    before = {n: p.grad.copy() for n, p in params.items()}
    norm = clip_grad_norm(params, 1.0)
    assert not math.isfinite(norm)
    for n, p in params.items():
        np.testing.assert_array_equal(p.grad, before[n])


def test_clip_grad_norm_shared_grad_array_is_scaled_once():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(2))
    shared = np.array([3.0, 4.0])
    a.grad = b.grad = shared
    norm = clip_grad_norm({"a": a, "b": b}, 1.0)
    assert norm == pytest.approx(math.sqrt(50.0))
    np.testing.assert_allclose(a.grad, [3.0 / norm, 4.0 / norm], rtol=1e-6)
    np.testing.assert_array_equal(a.grad, b.grad)
    np.testing.assert_array_equal(shared, [3.0, 4.0])  # the caller's array is not written


def test_clip_grad_value():
    params = with_grads(np.float32, scale=10.0)
    params["cell.bias"].grad[:3] = [np.inf, -np.inf, np.nan]
    before = {n: p.grad.copy() for n, p in params.items()}
    clip_grad_value(params, 5.0)
    for n, p in params.items():
        assert p.grad.dtype == np.float32
        np.testing.assert_array_equal(p.grad, np.clip(before[n], -5.0, 5.0))
        assert np.nanmax(np.abs(p.grad)) <= 5.0
    assert params["cell.bias"].grad[0] == 5.0 and params["cell.bias"].grad[1] == -5.0
    assert np.isnan(params["cell.bias"].grad[2])
    with pytest.raises(ValueError):
        clip_grad_value(params, 0.0)
    with pytest.raises(ValueError):
        clip_grad_norm(params, -1.0)


# ----- schedules ---------------------------------------------------------------------------------------------------
def test_step_decay_sequence():
    opt = SGD(make_params(), lr=1.0)
    sched = StepDecay(opt, step_size=3, gamma=0.5)
    assert [sched.step() for _ in range(7)] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert opt.lr == 0.25


def test_cosine_decay_sequence():
    opt = Adam(make_params(), lr=1.0)
    sched = CosineDecay(opt, total_steps=4, min_lr=0.1)
    lrs = [sched.step() for _ in range(6)]
    expected = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(k, 4) / 4)) for k in range(1, 7)]
    assert lrs == pytest.approx(expected, rel=1e-15)
    assert lrs[1] == pytest.approx(0.55) and lrs[3:] == pytest.approx([0.1] * 3)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_warmup_then_cosine_sequence():
    """The lr each optimizer step runs with: 1/3, 2/3, 1 over a warm-up of 3, then a cosine from
    the peak to the floor, reached at the last step (8) and kept."""
    opt = Adam(make_params(), lr=2.0)
    sched = WarmupCosine(opt, total_steps=8, warmup=3, floor=0.1)
    lrs = [opt.lr]
    for _ in range(10):
        lrs.append(sched.step())
    expected = [2.0 * s / 3 for s in (1, 2, 3)] + [0.2 + 1.8 * 0.5 * (1 + math.cos(math.pi * min(s - 3, 5) / 5))
                                                   for s in range(4, 12)]
    assert lrs == pytest.approx(expected, rel=1e-15)
    assert lrs[2] == 2.0 and lrs[7:] == pytest.approx([0.2] * 4)
    assert all(a < b for a, b in zip(lrs[:3], lrs[1:3])) and all(a >= b for a, b in zip(lrs[2:], lrs[3:]))
    no_warmup = Adam(make_params(), lr=1.0)
    sched = make_schedule("warmcos:0,0", no_warmup, 4)
    assert [no_warmup.lr] + [sched.step() for _ in range(3)] == pytest.approx(
        [0.5 * (1 + math.cos(math.pi * s / 4)) for s in (1, 2, 3, 4)])


@pytest.mark.parametrize("spec", ["none", "cosine", "halve", "step:3,0.5", "warmcos:10,0.1", "warmcos:0,0",
                                  "warmcos:5,1", "warmcos:-1,0.1", "warmcos:5,1.5", "warmcos:5", "warmcos:a,0.1",
                                  "warmcos:5,nan", "step:0,0.5", "step:2,0", "cos", "warmcos", ""])
def test_the_config_accepts_exactly_the_schedules_the_optimizer_makes(spec):
    from autograd_rnn.errors import ConfigError
    from autograd_rnn.train import TrainConfig

    try:
        make_schedule(spec, SGD(make_params(), lr=0.1), 10)
        made = True
    except ValueError as e:
        made = False
        if spec.startswith("warmcos"):
            assert "warmcos:WARMUP,FLOOR" in str(e)
    try:
        TrainConfig(schedule=spec).validate()
        accepted = True
    except ConfigError:
        accepted = False
    assert made == accepted
    if made:
        assert parse_schedule(spec)[0] in ("none", "cosine", "halve", "step", "warmcos")


def test_halve_on_increase():
    opt = SGD(make_params(), lr=1.0)
    sched = HalveOnIncrease(opt)
    losses = [3.0, 2.0, 2.5, 2.4, 2.4, 3.0, float("nan"), 2.9]
    halved = [sched.step(x) for x in losses]
    assert halved == [False, False, True, False, False, True, True, False]
    assert opt.lr == 0.125


@pytest.mark.parametrize("make", [lambda o: StepDecay(o, 2, 0.3), lambda o: CosineDecay(o, 5, 0.01),
                                  lambda o: HalveOnIncrease(o), lambda o: WarmupCosine(o, 7, 2, 0.1)])
def test_schedule_state_round_trip(make):
    losses = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 1.1, 0.9]
    opt = SGD(make_params(), lr=0.5)
    sched = make(opt)
    step = (lambda s, i: s.step(losses[i])) if isinstance(sched, HalveOnIncrease) else (lambda s, i: s.step())
    for i in range(3):
        step(sched, i)
    saved_opt, saved = opt.state_dict(), json.loads(json.dumps(sched.state_dict()))
    rest = []
    for i in range(3, 8):
        step(sched, i)
        rest.append(opt.lr)
    opt2 = SGD(make_params(), lr=0.5)
    sched2 = make(opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    rest2 = []
    for i in range(3, 8):
        step(sched2, i)
        rest2.append(opt2.lr)
    assert rest == rest2
    with pytest.raises(ValueError):
        (HalveOnIncrease(opt2) if not isinstance(sched, HalveOnIncrease) else StepDecay(opt2, 1, 0.5)
         ).load_state_dict(saved)


# ----- state dicts -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_state_dict_resumes_bit_for_bit(name, dtype):
    grads = grad_sequence(10, dtype)
    params = make_params(dtype)
    opt = make_optimizer(name, params, weight_decay=0.01)
    run(opt, params, grads[:5])
    opt.lr *= 0.5  # as a schedule would
    state = opt.state_dict()
    state = {"arrays": state["arrays"], "meta": json.loads(json.dumps(state["meta"]))}
    snapshot = {n: p.data.copy() for n, p in params.items()}
    saved_arrays = copy.deepcopy(state["arrays"])
    run(opt, params, grads[5:])

    for key, arr in state["arrays"].items():  # the state dict holds copies, untouched by later steps
        np.testing.assert_array_equal(arr, saved_arrays[key])
    params2 = {n: Parameter(a.copy()) for n, a in snapshot.items()}
    opt2 = make_optimizer(name, params2, lr=123.0)
    opt2.load_state_dict(state)
    assert opt2.lr == opt.lr and opt2.param_steps == state["meta"]["param_steps"]
    run(opt2, params2, grads[5:])
    for n in params:
        assert params2[n].data.dtype == dtype
        np.testing.assert_array_equal(params2[n].data, params[n].data)
    assert opt2.state_dict()["meta"] == opt.state_dict()["meta"]
    for key, buf in opt.buffers.items():
        np.testing.assert_array_equal(opt2.buffers[key], buf)


def test_state_dict_format():
    params = make_params()
    opt = Adam(params)
    run(opt, params, grad_sequence(3))
    state = opt.state_dict()
    assert set(state) == {"arrays", "meta"}
    assert list(state["arrays"]) == [f"{k}/{n}" for k in ("exp_avg", "exp_avg_sq") for n in SHAPES]
    assert state["meta"] == {
        "class": "Adam",
        "hyperparameters": {"lr": 2e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0},
        "step_count": 3,
        "param_steps": {"cell.weight_ih": 3, "cell.bias": 3, "out.weight": 2},
    }
    assert json.loads(json.dumps(state["meta"])) == state["meta"]
    assert SGD(params, lr=0.1).state_dict()["arrays"] == {}


def adam_state():
    params = make_params()
    opt = Adam(params)
    run(opt, params, grad_sequence(2))
    return opt.state_dict()


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["meta"].update({"class": "SGD"}), "saved by SGD, not Adam"),
    (lambda s: s["arrays"].pop("exp_avg/cell.bias"), "missing buffer 'exp_avg/cell.bias'"),
    (lambda s: s["arrays"].update({"exp_avg/ghost": np.zeros(3)}), "extra buffer 'exp_avg/ghost'"),
    (lambda s: s["arrays"].update({"exp_avg_sq/cell.bias": np.zeros(5)}), r"float64\[5\]; expected float64\[4\]"),
    (lambda s: s["arrays"].update({"exp_avg/out.weight": np.zeros((2, 4), np.float32)}),
     r"float32\[2, 4\]; expected float64\[2, 4\]"),
    (lambda s: s["meta"]["param_steps"].pop("out.weight"), "missing parameter 'out.weight'"),
    (lambda s: s["meta"]["hyperparameters"].pop("eps"), "hyperparameters"),
    (lambda s: s["meta"].pop("step_count"), "keys"),
    (lambda s: s.pop("arrays"), "'arrays' and 'meta'"),
])
def test_load_state_dict_errors(edit, message):
    state = adam_state()
    edit(state)
    params = make_params()
    opt = Adam(params, lr=0.5)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    after = opt.state_dict()  # a failed load changes nothing
    assert after["meta"] == before["meta"]
    assert all(np.array_equal(after["arrays"][k], v) for k, v in before["arrays"].items())


def test_load_state_dict_lists_every_difference():
    state = adam_state()
    state["arrays"].pop("exp_avg/cell.bias")
    state["arrays"]["exp_avg/ghost"] = np.zeros(1)
    with pytest.raises(ValueError) as info:
        Adam(make_params()).load_state_dict(state)
    assert "missing buffer 'exp_avg/cell.bias'" in str(info.value) and "extra buffer 'exp_avg/ghost'" in str(info.value)


def test_load_state_dict_takes_hyperparameters_from_the_state():
    params = make_params()
    plain = SGD(params, lr=0.1).state_dict()
    momentum = SGD(params, lr=0.1, momentum=0.9)
    momentum.load_state_dict(plain)  # the saved hyperparameters win, as in PyTorch
    assert momentum.momentum == 0.0 and momentum.buffers == {}
    plain["meta"]["hyperparameters"]["momentum"] = 0.9  # claims momentum but carries no buffers
    with pytest.raises(ValueError, match="missing buffer 'momentum_buffer/cell.bias'"):
        SGD(params, lr=0.1).load_state_dict(plain)


# ----- make_optimizer ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, cls, lr, extra", [
    ("sgd", SGD, 0.005, {"momentum": 0.0, "nesterov": False}),
    ("momentum", SGD, 0.005, {"momentum": 0.9, "nesterov": False}),
    ("nesterov", SGD, 0.005, {"momentum": 0.9, "nesterov": True}),
    ("adagrad", Adagrad, 0.1, {"eps": 1e-8}),
    ("rmsprop", RMSprop, 2e-3, {"alpha": 0.95, "eps": 1e-8}),
    ("adam", Adam, 2e-3, {"betas": [0.9, 0.999], "weight_decay": 0.0}),
    ("adamw", AdamW, 5e-4, {"betas": [0.9, 0.99], "weight_decay": 0.01}),
])
def test_make_optimizer(name, cls, lr, extra):
    opt = make_optimizer(name, make_params())
    assert type(opt) is cls and opt.lr == lr
    hyper = opt.hyperparameters()
    assert {k: hyper[k] for k in extra} == extra
    opt = make_optimizer(name, make_params(), lr=0.25, weight_decay=0.5)
    assert opt.lr == 0.25 and opt.weight_decay == 0.5


def test_make_optimizer_unknown_name_lists_choices():
    with pytest.raises(ValueError) as info:
        make_optimizer("adamax", make_params())
    for choice in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
        assert choice in str(info.value)


def test_sgd_updates_only_the_rows_a_row_sparse_gradient_uses_and_equals_the_dense_update():
    from autograd_rnn.nodes import Embedding, Linear

    assert Embedding(10, 3).weight.row_sparse and not Linear(3, 10).weight.row_sparse
    rng = np.random.default_rng(0)
    for used, decay in [(np.array([3, 70]), 0.0), (np.arange(0, 200, 2), 0.0), (np.array([5]), 0.1)]:
        table = Embedding(200, 4, rng=1).weight
        dense = Parameter(table.data.copy())
        g = np.zeros_like(table.data)
        g[used] = rng.normal(size=(len(used), 4))
        g[used[0], :3] = 0.0  # a used row is any row with a nonzero element
        g[7] = -0.0  # a row of negative zeros is "used" and changes nothing
        table.grad, dense.grad = g.copy(), g.copy()
        before = table.data.copy()
        SGD({"t": table}, lr=0.5, weight_decay=decay).step()
        SGD({"t": dense}, lr=0.5, weight_decay=decay).step()
        np.testing.assert_array_equal(table.data, dense.data)
        if not decay:
            unused = np.setdiff1d(np.arange(200), used)
            np.testing.assert_array_equal(table.data[unused], before[unused])
