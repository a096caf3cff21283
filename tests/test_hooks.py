"""The record of the gradient that reached each h_t (``Sequence.last_grad_norms``) and the hooks
that receive it: against an independent dense computation under every policy, fused and composed;
hooks ordered, removable, read-only; the record's notes bounded."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import Full, GateTypeError, LookBack, Sequence, Truncated
from autograd_rnn.nodes import GRULayer, LSTMLayer, RNNLayer
from autograd_rnn.sequence import FUSED, GradientRecord, SequenceGate, step_norms

CELLS = [RNNLayer, LSTMLayer, GRULayer]


def as_tuple(s):
    return s if isinstance(s, tuple) else (s,)


def reached_by_hand(cell, xs, state0, g_hs, g_final, policy):
    """The gradient reaching each h_s, summed over the loss terms whose window passes through step
    s: for every origin t and every s in [window_start(t), t], d<g_t, h_t>/dh_s (plus the final
    state's terms for t = T-1), with h_t recomputed by ``cell.step`` from leaf copies of the
    forward's state at s. Nothing of the sequence layer is used."""
    T = len(xs)
    with ar.no_grad():
        states, s = [], tuple(ar.Tensor(v) for v in state0)
        for t in range(T):
            s = as_tuple(cell.step(ar.Tensor(xs[t]), s if len(s) > 1 else s[0]))
            states.append(tuple(v.data for v in s))
    reached = np.zeros_like(g_hs)
    for t in range(T):
        for s in range(t, policy.window_start(t, T) - 1, -1):
            leaves = tuple(ar.Tensor(v.copy(), requires_grad=True) for v in states[s])
            state = leaves
            for u in range(s + 1, t + 1):
                state = as_tuple(cell.step(ar.Tensor(xs[u]), state if len(state) > 1 else state[0]))
            objective = (state[0] * g_hs[t]).sum()
            if t == T - 1:
                for part, g in zip(state, g_final):
                    objective = objective + (part * g).sum()
            reached[s] += ar.grad(objective, [leaves[0]])[0]
    return reached


def run(cell, xs, state0, g_hs, g_final, policy, fused):
    seq = Sequence(cell, truncation=policy, fused=fused)
    seen = []
    seq.register_hook(lambda grads: seen.append(grads.copy()))
    hs, final = seq(ar.Tensor(xs), tuple(ar.Tensor(s, requires_grad=True) for s in state0))
    loss = (hs * g_hs).sum()
    for f, g in zip(as_tuple(final), g_final):
        loss = loss + (f * g).sum()
    loss.backward()
    assert len(seen) == 1
    return seq, seen[0]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(CELLS), st.integers(1, 6), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from([Full(), LookBack(0), LookBack(1), LookBack(3), Truncated(1), Truncated(2), Truncated(2, 3),
                        Truncated(3, 5)]),
       st.booleans(), st.integers(0, 2**16))
def test_the_record_is_the_gradient_reaching_each_state_summed_over_windows(cls, T, B, H, policy, fused, seed):
    rng = np.random.default_rng(seed)
    cell = cls(2, H, rng=rng)
    xs = rng.normal(size=(T, B, 2))
    state0 = tuple(rng.normal(size=(B, H)) for _ in range(cell.n_state))
    g_hs = rng.normal(size=(T, B, H))
    g_final = tuple(rng.normal(size=(B, H)) for _ in range(cell.n_state))
    seq, grads = run(cell, xs, state0, g_hs, g_final, policy, fused)
    expected = reached_by_hand(cell, xs, state0, g_hs, g_final, policy)
    np.testing.assert_allclose(grads, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(seq.last_grad_norms, np.linalg.norm(expected.reshape(T, -1), axis=1), rtol=1e-10)
    assert seq.kernel_path() is (FUSED[cls] if fused else None)


def test_under_full_the_record_is_the_exact_gradient_of_each_state():
    rng = np.random.default_rng(3)
    cell = LSTMLayer(2, 3, rng=rng)
    seq = Sequence(cell)
    steps = []
    x = ar.Tensor(rng.normal(size=(5, 2, 2)))
    with ar.no_grad():
        hs, _ = seq(x)
    for fused in (True, False):
        seq.fused = fused
        hs, _ = seq(x)
        g = rng.normal(size=hs.shape)
        hs.backward(g)
        steps.append(seq.last_grad_norms)
        # through the graph: each h_t as a cell output, the gradient of <g, hs> with respect to it
        state, outs = cell.initial_state(2), []
        for t in range(5):
            state = cell.step(x[t], state)
            outs.append(state[0])
        loss = sum(((o * g[t]).sum() for t, o in enumerate(outs)), ar.Tensor(0.0))
        dh = ar.grad(loss, outs)
        np.testing.assert_allclose(steps[-1], [np.linalg.norm(d) for d in dh], rtol=1e-10)


def test_hooks_run_in_order_every_backward_and_are_removable():
    rng = np.random.default_rng(0)
    seq = Sequence(GRULayer(2, 3, rng=rng), truncation=LookBack(2))
    calls = []
    first = seq.register_hook(lambda g: calls.append(("first", g.shape)))
    with seq.register_hook(lambda g: calls.append(("second", g.shape))):
        hs, _ = seq(ar.Tensor(rng.normal(size=(4, 2, 2))))
        hs.sum().backward()
        hs.sum().backward()  # a second walk of the same graph is a second backward
    assert calls == [("first", (4, 2, 3)), ("second", (4, 2, 3))] * 2
    hs, _ = seq(ar.Tensor(rng.normal(size=(4, 2, 2))))
    hs.sum().backward()
    assert calls[-1] == ("first", (4, 2, 3)) and len(calls) == 5
    first.remove()
    first.remove()  # harmless
    hs.sum().backward()
    assert len(calls) == 5
    assert seq.last_grad_norms.shape == (4,)


def test_hook_gets_a_read_only_time_major_array_and_norms_agree():
    rng = np.random.default_rng(1)
    seq = Sequence(RNNLayer(2, 3, rng=rng), batch_first=True)
    got = []

    def hook(grads):
        with pytest.raises(ValueError):
            grads[0] = 0
        got.append(grads)

    seq.register_hook(hook)
    hs, _ = seq(ar.Tensor(rng.normal(size=(2, 5, 2))))  # (batch, T, input)
    hs.sum().backward()
    assert got[0].shape == (5, 2, 3)
    np.testing.assert_array_equal(step_norms(got[0]), seq.last_grad_norms)


def test_a_hook_must_be_callable():
    with pytest.raises(GateTypeError, match="expected a callable"):
        Sequence(RNNLayer(2, 3)).register_hook("not a function")


def test_each_layer_of_a_stack_records_its_own_gradient():
    rng = np.random.default_rng(2)
    rec = ar.Recurrent("lstm", 2, 3, layers=2, rng=rng)
    seen = {}
    for k, seq in enumerate(rec.sequences()):
        seq.register_hook(lambda g, k=k: seen.setdefault(k, g.copy()))
    hs, _ = rec(ar.Tensor(rng.normal(size=(4, 2, 2))))
    hs[3].sum().backward()
    assert set(seen) == {0, 1}
    np.testing.assert_allclose(seen[1][3], np.ones((2, 3)))
    assert np.all(step_norms(seen[0]) > 0)


def test_the_record_adds_its_notes_up_before_they_outgrow_the_sum():
    record = GradientRecord((4, 2, 3), np.float64)
    vjp = record.around(lambda s0, s1, d: d)
    rng = np.random.default_rng(0)
    total = np.zeros((4, 2, 3))
    for _ in range(10):
        d = rng.normal(size=(4, 2, 3))
        total += d
        vjp(0, 4, (d,))
        assert record.noted <= 2 * total.size
    np.testing.assert_allclose(record.grads(), total, rtol=1e-14)
    np.testing.assert_allclose(record.norms(), step_norms(total), rtol=1e-14)


class Spy(Full):
    """Full, keeping the callable each backward is handed."""

    def __init__(self):
        self.handed = []

    def backward(self, vjp, g_hs, g_final):
        self.handed.append(vjp)
        return super().backward(vjp, g_hs, g_final)


@pytest.mark.parametrize("listening", [False, True])
def test_without_a_listener_the_policy_gets_the_kernels_step_back_itself(listening):
    cell = LSTMLayer(2, 3, rng=0)
    entry = FUSED[LSTMLayer]
    policy, records = Spy(), []
    gate = SequenceGate(functools.partial(entry.kernel, **entry.options(cell)), entry.recurrent, 2, policy,
                        records.append if listening else None)
    out = ar.apply(gate, ar.Tensor(np.ones((3, 1, 12)), requires_grad=True), ar.Tensor(np.zeros((1, 3))),
                   ar.Tensor(np.zeros((1, 3))), cell.weight_hh, cell.bias_hh)
    out[0].sum().backward()
    (vjp,) = policy.handed
    assert isinstance(vjp, functools.partial) is not listening
    if not listening:
        assert vjp.func.__func__ is entry.kernel.step_back and len(vjp.args) == 1  # step_back, bound to acc
    assert len(records) == int(listening)
