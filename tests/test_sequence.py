"""Sequence: exact BPTT, truncation against an independent explicit-detach reference, composed
vs fused agreement, sequence-aware gradcheck with a planted step bug, streaming, monitoring."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import Full, GradcheckError, LookBack, Sequence, Truncated
from autograd_rnn.nodes import GRULayer, LSTMLayer, RNNLayer
from autograd_rnn.sequence.fused import FUSED, RNNKernel, register_fused

CELLS = [RNNLayer, LSTMLayer, GRULayer]
sizes = st.tuples(st.integers(1, 6), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))


def make(cls, T, B, In, H, seed, with_state0=True):
    rng = np.random.default_rng(seed)
    cell = cls(In, H, rng=rng)
    xs = rng.normal(size=(T, B, In))
    state0 = tuple(rng.normal(size=(B, H)) for _ in range(cell.n_state)) if with_state0 else None
    g_hs = rng.normal(size=(T, B, H))
    g_final = tuple(rng.normal(size=(B, H)) for _ in range(cell.n_state))
    return cell, xs, state0, g_hs, g_final


def as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


def sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused=True):
    """Gradients of <g_hs, hs> + <g_final, final> through Sequence (policy applied)."""
    cell.zero_grad()
    x = ar.Tensor(xs, requires_grad=True)
    s0 = tuple(ar.Tensor(s, requires_grad=True) for s in state0)
    hs, final = Sequence(cell, truncation=policy, fused=fused)(x, s0 if len(s0) > 1 else s0[0])
    loss = (hs * g_hs).sum()
    for f, g in zip(as_tuple(final), g_final):
        loss = loss + (f * g).sum()
    loss.backward()
    return hs.data, [x.grad, *[s.grad for s in s0], *[p.grad for p in cell.parameters().values()]]


def reference_grads(cell, xs, state0, g_hs, g_final, policy):
    """Independent reference: the truncated objective built from cell.step with explicit
    detach(), one window per loss term, summed and backpropagated by the plain graph."""
    T = len(xs)
    cell.zero_grad()
    x = ar.Tensor(xs, requires_grad=True)
    s0 = tuple(ar.Tensor(s, requires_grad=True) for s in state0)
    with ar.no_grad():  # constant states along the trajectory
        states, s = [], s0
        for t in range(T):
            s = as_tuple(cell.step(ar.Tensor(xs[t]), s if len(s) > 1 else s[0]))
            states.append(s)
    if isinstance(policy, Full):
        windows = [(0, 0, T - 1)]
    elif isinstance(policy, LookBack):
        windows = [(max(0, t - policy.k), t, t) for t in range(T)]
    else:
        windows = [(max(0, min(T, b + policy.k1) - policy.k2), b, min(T, b + policy.k1) - 1)
                   for b in range(0, T, policy.k1)]
    loss = None
    for lo, b, e in windows:
        s = s0 if lo == 0 else tuple(v.detach() for v in states[lo - 1])
        for t in range(lo, e + 1):
            s = as_tuple(cell.step(x[t], s if len(s) > 1 else s[0]))
            if t >= b:
                term = (s[0] * g_hs[t]).sum()
                loss = term if loss is None else loss + term
        if e == T - 1:
            for f, g in zip(s, g_final):
                loss = loss + (f * g).sum()
    loss.backward()
    return [x.grad, *[v.grad for v in s0], *[p.grad for p in cell.parameters().values()]]


def assert_grads_close(a, b, rtol=1e-10):
    for u, v in zip(a, b):
        u = np.zeros_like(v) if u is None else u
        v = np.zeros_like(u) if v is None else v
        np.testing.assert_allclose(u, v, rtol=rtol, atol=1e-12)


policies = st.one_of(
    st.just(Full()),
    st.integers(0, 6).map(LookBack),
    st.tuples(st.integers(1, 4), st.integers(0, 4)).map(lambda k: Truncated(k[0], k[0] + k[1])),
)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
@given(size=sizes, policy=policies, seed=st.integers(0, 2**16))
def test_truncation_equals_explicit_detach_reference(cls, fused, size, policy, seed):
    cell, xs, state0, g_hs, g_final = make(cls, *size, seed)
    _, ours = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused)
    ref = reference_grads(cell, xs, state0, g_hs, g_final, policy)
    assert_grads_close(ours, ref)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@given(size=sizes, extra=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_long_enough_truncation_equals_full(cls, size, extra, seed):
    T = size[0]
    cell, xs, state0, g_hs, g_final = make(cls, *size, seed)
    _, full = sequence_grads(cell, xs, state0, g_hs, g_final, Full())
    for policy in (LookBack(T + extra), LookBack(T - 1 + extra), Truncated(T + extra), Truncated(T, T + extra)):
        _, other = sequence_grads(cell, xs, state0, g_hs, g_final, policy)
        assert_grads_close(other, full, rtol=1e-12)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@given(size=sizes, policy=policies, seed=st.integers(0, 2**16))
def test_composed_and_fused_agree_to_round_off(cls, size, policy, seed):
    cell, xs, state0, g_hs, g_final = make(cls, *size, seed)
    hs_f, fused = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused=True)
    hs_c, composed = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused=False)
    np.testing.assert_allclose(hs_f, hs_c, rtol=1e-12, atol=1e-14)
    assert_grads_close(fused, composed, rtol=1e-11)


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("with_state0", [True, False], ids=["state0", "zeros"])
@settings(max_examples=15)
@given(size=sizes, seed=st.integers(0, 2**16))
def test_full_sequence_passes_gradcheck(cls, with_state0, size, seed):
    cell, xs, state0, *_ = make(cls, *size, seed, with_state0)
    report = ar.gradcheck_sequence(Sequence(cell), xs, state0, seed=seed)
    assert report.passed and report.max_rel_err < 1e-6


@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
@settings(max_examples=15)
@given(size=sizes, policy=policies, seed=st.integers(0, 2**16))
def test_truncated_sequence_passes_gradcheck_of_the_truncated_objective(cls, size, policy, seed):
    cell, xs, state0, *_ = make(cls, *size, seed)
    report = ar.gradcheck_sequence(Sequence(cell, truncation=policy), xs, state0, seed=seed)
    assert report.passed and report.max_rel_err < 1e-6


def test_truncated_gradient_is_not_the_full_gradient():
    cell, xs, state0, *_ = make(RNNLayer, 6, 2, 2, 3, seed=1)
    with pytest.raises(GradcheckError):
        # the LookBack(1) backward checked against the *untruncated* objective must fail
        seq = Sequence(cell, truncation=LookBack(1))
        arrays = [xs, *state0, *[p.data for p in cell.parameters().values()]]
        ar.gradcheck(seq.function(), arrays)


# ----- planted wrong step backward -----
class BuggyRNNKernel(RNNKernel):
    def step_back(self, acc, s0, s1, dstate):
        dh = dstate[0].copy()
        if s0 <= 2 < s1:
            dh[2 - s0] *= 1.5  # planted: the backward of time step 2 is off by a factor
        return super().step_back(acc, s0, s1, (dh,))


class BuggyRNN(RNNLayer):
    """Runs fused with the buggy kernel: the table is keyed by this exact class."""


register_fused(BuggyRNN, replace(FUSED[RNNLayer], kernel=BuggyRNNKernel))


@pytest.mark.parametrize("policy", [Full(), LookBack(2), Truncated(2, 3)], ids=repr)
def test_gradcheck_sequence_names_the_time_step_of_a_planted_bug(policy):
    rng = np.random.default_rng(0)
    cell = BuggyRNN(2, 3, rng=rng)
    with pytest.raises(GradcheckError) as info:
        ar.gradcheck_sequence(Sequence(cell, truncation=policy), rng.normal(size=(6, 2, 2)), rng.normal(size=(2, 3)))
    report = info.value.report
    assert report.bad_steps == [2]
    assert "first disagrees at t = 2" in str(info.value)


class DropsOneUpstream(Full):
    """Planted in the combination: step 1's own loss gradient never joins the sweep."""

    def backward(self, vjp, g_hs, g_final):
        g = g_hs.copy()
        g[1] = 0
        return super().backward(vjp, g, g_final)


def test_gradcheck_sequence_blames_the_combination_when_every_step_is_right():
    rng = np.random.default_rng(0)
    cell = RNNLayer(2, 3, rng=rng)
    with pytest.raises(GradcheckError) as info:
        ar.gradcheck_sequence(Sequence(cell, truncation=DropsOneUpstream()), rng.normal(size=(4, 2, 2)),
                              rng.normal(size=(2, 3)))
    assert info.value.report.bad_steps == []
    assert "how the steps are combined" in str(info.value)


def test_gradcheck_sequence_passes_the_same_cell_without_the_bug():
    rng = np.random.default_rng(0)
    cell = RNNLayer(2, 3, rng=rng)
    assert ar.gradcheck_sequence(Sequence(cell, truncation=LookBack(2)), rng.normal(size=(6, 2, 2))).passed


# ----- streaming, monitoring, layout, scale -----
def test_streaming_carries_state_detached():
    rng = np.random.default_rng(0)
    cell = LSTMLayer(2, 3, rng=rng)
    seq = Sequence(cell)
    xs = rng.normal(size=(8, 2, 2))
    hs_all, _ = seq(ar.Tensor(xs))
    _, state = seq(ar.Tensor(xs[:4]))
    carried = ar.detach_state(state)
    assert all(s.is_leaf and not s.requires_grad for s in carried)
    hs2, _ = seq(ar.Tensor(xs[4:]), carried)
    np.testing.assert_allclose(hs2.data, hs_all.data[4:], rtol=1e-13)
    cell.zero_grad()
    hs2.sum().backward()
    full = Sequence(cell, truncation=Truncated(4))
    cell2 = LSTMLayer(2, 3)
    cell2.load_state_dict(cell.state_dict())
    g = np.zeros((8, 2, 3))
    g[4:] = 1
    _, ref = sequence_grads(cell2, xs, tuple(np.zeros((2, 3)) for _ in range(2)), g, (np.zeros((2, 3)),) * 2,
                            full.truncation)
    for p, r in zip(cell.parameters().values(), ref[3:]):
        np.testing.assert_allclose(p.grad, r, rtol=1e-10)


def test_gradient_norm_record_shows_vanishing_gradients():
    rng = np.random.default_rng(0)
    cell = RNNLayer(4, 8, rng=rng)
    cell.weight_hh.data *= 0.2
    seq = Sequence(cell)
    hs, _ = seq(ar.Tensor(rng.normal(size=(30, 2, 4))))
    hs[29].sum().backward()
    norms = seq.last_grad_norms
    assert norms.shape == (30,) and norms[-1] > 0
    assert norms[0] < 1e-6 * norms[-1]
    assert np.all(np.diff(norms) > 0)


def test_batch_first_is_a_view_on_the_edge():
    rng = np.random.default_rng(0)
    cell = GRULayer(3, 4, rng=rng)
    xs = rng.normal(size=(5, 2, 3))
    hs_t, h_t = Sequence(cell)(ar.Tensor(xs))
    hs_b, h_b = Sequence(cell, batch_first=True)(ar.Tensor(xs.transpose(1, 0, 2)))
    np.testing.assert_allclose(hs_b.data, hs_t.data.transpose(1, 0, 2), rtol=1e-14)
    np.testing.assert_allclose(h_b.data, h_t.data, rtol=1e-14)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_ten_thousand_step_sequence_trains_without_recursion(fused):
    rng = np.random.default_rng(0)
    cell = RNNLayer(2, 4, rng=rng)
    hs, _ = Sequence(cell, fused=fused)(ar.Tensor(rng.normal(size=(10_000, 1, 2))))
    (hs * 0.01).sum().backward()
    assert np.all(np.isfinite(cell.weight_hh.grad))


def test_sequence_bad_input_is_named():
    seq = Sequence(RNNLayer(3, 4))
    with pytest.raises(ValueError, match=r"Sequence: xs has shape \(5, 3\); expected \(T, batch, input_size\)"):
        seq(ar.Tensor(np.zeros((5, 3))))
    with pytest.raises(ValueError, match="input_size=3"):
        seq(ar.Tensor(np.zeros((5, 2, 4))))
    with pytest.raises(ValueError, match="dtype float32; expected the cell's float64"):
        seq(ar.Tensor(np.zeros((5, 2, 3), np.float32)))
    with pytest.raises(ValueError, match=r"state0\[0\] has shape \(3, 4\); expected \(batch=2, hidden_size=4\)"):
        seq(ar.Tensor(np.zeros((5, 2, 3))), ar.Tensor(np.zeros((3, 4))))
    with pytest.raises(ValueError, match="LookBack: k=-1"):
        LookBack(-1)
    with pytest.raises(ValueError, match="1 <= k1 <= k2"):
        Truncated(3, 2)
    with pytest.raises(ValueError, match="lookback:K"):
        ar.sequence.parse_truncation("bptt4")


def test_parse_truncation():
    parse = ar.sequence.parse_truncation
    assert parse("full") == Full() and parse("lookback:4") == LookBack(4)
    assert parse("tbptt:5") == Truncated(5, 5) and parse("tbptt:5,8") == Truncated(5, 8)


def test_custom_cell_reading_a_foreign_tensor_is_refused():
    foreign = ar.Parameter(np.ones(3))

    class Leaky(RNNLayer):
        def step(self, x, h):
            return super().step(x, h) * foreign

    with pytest.raises(ValueError, match="reads a tensor that requires a gradient"):
        Sequence(Leaky(2, 3))(ar.Tensor(np.ones((2, 1, 2))))


def test_float32_sequence_stays_float32():
    cell = LSTMLayer(3, 4, dtype=np.float32, rng=0)
    x = ar.Tensor(np.ones((5, 2, 3), np.float32), requires_grad=True)
    hs, (h, c) = Sequence(cell)(x)
    assert hs.dtype == h.dtype == c.dtype == np.float32
    hs.sum().backward()
    assert x.grad.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in cell.parameters().values())


def test_subclass_overriding_step_runs_its_own_step_not_the_fused_gate():
    class Scaled(RNNLayer):
        def step(self, x, h):
            return super().step(x, h) * 0.5

    cell = Scaled(2, 3, rng=0)
    x = np.ones((4, 1, 2))
    hs, _ = Sequence(cell)(ar.Tensor(x))
    h = cell.initial_state(1)
    for t in range(4):
        h = cell.step(ar.Tensor(x[t]), h)
    np.testing.assert_allclose(hs.data[-1], h.data, rtol=1e-14)
    assert Sequence(cell).kernel_path() is None and Sequence(RNNLayer(2, 3)).kernel_path() is not None


def test_foreign_tensor_read_only_at_a_later_step_is_refused_too():
    foreign = ar.Parameter(np.ones(3))
    calls = []

    class Late(RNNLayer):
        def step(self, x, h):
            calls.append(1)
            out = super().step(x, h)
            return out * foreign if len(calls) > 2 else out

    with pytest.raises(ValueError, match="reads a tensor that requires a gradient"):
        Sequence(Late(2, 3))(ar.Tensor(np.ones((4, 1, 2))))


def test_nothing_is_kept_across_detached_chunks():
    import gc
    import weakref

    rng = np.random.default_rng(0)
    cell = LSTMLayer(2, 3, rng=rng)
    seq = Sequence(cell)
    hs, state = seq(ar.Tensor(rng.normal(size=(4, 2, 2))))
    first = weakref.ref(hs._op.gate)
    hs.sum().backward()
    state = ar.detach_state(state)
    del hs
    for _ in range(3):
        hs, state = seq(ar.Tensor(rng.normal(size=(4, 2, 2))), state)
        hs.sum().backward()
        state = ar.detach_state(state)
    gc.collect()
    assert first() is None, "the first chunk's sequence gate (and its buffers) is still alive"
