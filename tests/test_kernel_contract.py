"""The sequence kernel's contract (autograd_rnn/sequence/kernel.py), property-tested the way a
user's truncation policy may drive it: any number of ``step_back(acc, s0, s1, dstate)`` calls on
arbitrary windows, overlapping, repeated, partly visited, in any order, each checked against a
dense reference, the vector-Jacobian product of each step taken alone through the cell's own
``step`` and the graph's walk; then ``finish(acc)`` against the sum of the reference's shares.
Every fused kernel (RNN tanh and relu, LSTM, GRU, layer-normalised LSTM) and the composed kernel,
and StepGradients' ``begin``/``end``/``result`` directly against a plain sum."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn.nodes import GRULayer, LayerNormLSTM, LSTMLayer, RNNLayer
from autograd_rnn.sequence import FUSED, ComposedKernel, StepGradients


class LNLSTMOnItsInputPart(LayerNormLSTM):
    """The layer-normalised LSTM whose input part is its input: its ``step`` on ``u`` is the
    recurrence the fused kernel runs on the input part ``u`` (the reference for that kernel)."""

    def input_part(self, x):
        return x


CELLS = {
    "rnn-tanh": functools.partial(RNNLayer, nonlinearity="tanh"),
    "rnn-relu": functools.partial(RNNLayer, nonlinearity="relu"),
    "lstm": LSTMLayer,
    "gru": GRULayer,
    "lnlstm": LNLSTMOnItsInputPart,
}
CASES = [(kind, fused) for kind in CELLS for fused in (True, False) if fused or kind != "lnlstm"]
"""The layer-normalised LSTM's reference here is for its fused kernel only (the composed path runs
its own input part; test_lnlstm.py checks it)."""


@st.composite
def windows(draw, T: int) -> list:
    """1 to 6 windows ``(s0, s1)``, 0 <= s0 < s1 <= T, in any order, overlaps and repeats allowed."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        s0 = draw(st.integers(0, T - 1))
        out.append((s0, draw(st.integers(s0 + 1, T))))
    return out


@st.composite
def problems(draw, kind: str, fused: bool) -> dict:
    """A cell, its kernel's inputs and a sequence of step_back windows with their upstream
    gradients. A fused kernel runs on ``zx``; its reference is the cell with ``weight_ih = I`` and
    ``bias_ih = 0``, whose ``step`` then computes exactly the recurrence on ``zx``. With
    ``at_zero``, state0 and ``bias_hh`` are 0 and ``zx`` holds exact zeros, so a relu meets
    pre-activations of exactly 0 (its kink: derivative 0 by convention, as the ReLU gate). The
    layer-normalised LSTM's gains and cell bias are drawn too, so that one the backward forgets shows."""
    T, B, H = draw(st.integers(1, 5)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    probe = CELLS[kind](1, H)
    G = probe.gates * H
    In = G if fused else draw(st.integers(1, 3))
    cell = CELLS[kind](In, H, rng=rng)
    at_zero = draw(st.booleans())
    xs = rng.normal(size=(T, B, In))
    states0 = tuple(rng.normal(size=(B, H)) for _ in range(cell.n_state))
    if kind == "lnlstm":
        for name in ("gain_hh", "gain_c", "bias_c"):
            cell.resolve(name).data = rng.normal(0.2, 0.8, cell.resolve(name).shape)
    if at_zero:
        xs[rng.random(xs.shape) < 0.5] = 0.0
        states0 = tuple(np.zeros_like(s) for s in states0)
        if kind != "lnlstm":
            cell.bias_hh.data = np.zeros_like(cell.bias_hh.data)
    if fused and kind != "lnlstm":
        cell.weight_ih.data = np.eye(G)
        cell.bias_ih.data = np.zeros(G)
    calls = []
    for s0, s1 in draw(windows(T)):
        dstate = tuple(rng.normal(size=(s1 - s0, B, H)) for _ in range(cell.n_state))
        if draw(st.booleans()):  # a strided view, as a policy's slices are
            dstate = tuple(np.repeat(d, 2, axis=2)[:, :, ::2] for d in dstate)
        calls.append((s0, s1, dstate))
    return {"cell": cell, "xs": xs, "states0": states0, "calls": calls}


def as_tuple(s) -> tuple:
    return tuple(s) if isinstance(s, tuple | list) else (s,)


def reference_states(cell, xs, states0) -> list:
    """states[t] = the state before step t (states[0] = state0), by the cell's own step."""
    states = [states0]
    with ar.no_grad():
        for x in xs:
            s = states[-1]
            out = cell.step(ar.Tensor(x), tuple(map(ar.Tensor, s)) if len(s) > 1 else ar.Tensor(s[0]))
            states.append(tuple(t.data for t in as_tuple(out)))
    return states


def reference_step_vjp(cell, x, state, dstate, names) -> tuple:
    """(d x, d state parts, {name: d param}) of <dstate, step(x, state)> for one step alone."""
    xt = ar.Tensor(x, requires_grad=True)
    st_ = tuple(ar.Tensor(s, requires_grad=True) for s in state)
    out = as_tuple(cell.step(xt, st_ if len(st_) > 1 else st_[0]))
    params = cell.parameters()
    wrt = [xt, *st_, *[params[n] for n in names]]
    grads = ar.grad(list(out), wrt, [np.ascontiguousarray(d) for d in dstate])
    grads = [np.zeros_like(t.data) if g is None else g for t, g in zip(wrt, grads)]
    n = len(st_)
    return grads[0], tuple(grads[1 : 1 + n]), dict(zip(names, grads[1 + n :]))


def run_contract(problem: dict, fused: bool) -> None:
    cell, xs, states0, calls = problem["cell"], problem["xs"], problem["states0"], problem["calls"]
    params = {n: p.data for n, p in cell.parameters().items()}
    if fused:
        entry = FUSED[LayerNormLSTM if isinstance(cell, LayerNormLSTM) else type(cell)]
        kernel = entry.kernel(**entry.options(cell))
        names = entry.recurrent
    else:
        kernel = ComposedKernel(cell)
        names = tuple(params)
    hs, finals = kernel.forward(xs, states0, {n: params[n] for n in names})
    states = reference_states(cell, xs, states0)
    np.testing.assert_allclose(hs, np.stack([s[0] for s in states[1:]]), rtol=1e-12, atol=1e-14)
    for f, r in zip(finals, states[-1]):
        np.testing.assert_allclose(f, r, rtol=1e-12, atol=1e-14)

    acc = kernel.new_acc()
    dxs = np.zeros_like(xs)
    dparams = {n: np.zeros_like(params[n]) for n in names}
    for k, (s0, s1, dstate) in enumerate(calls):
        before = [d.copy() for d in dstate]
        prev = kernel.step_back(acc, s0, s1, dstate)
        where = f"call {k}, window [{s0}, {s1}) of {[c[:2] for c in calls]}"
        assert all(np.array_equal(d, b) for d, b in zip(dstate, before)), f"step_back mutated dstate ({where})"
        assert len(prev) == cell.n_state
        for r, s in enumerate(range(s0, s1)):
            dx, dprev, dp = reference_step_vjp(cell, xs[s], states[s], [d[r] for d in dstate], names)
            dxs[s] += dx
            for n in names:
                dparams[n] += dp[n]
            for j, (got, want) in enumerate(zip(prev, dprev)):
                assert not np.shares_memory(got, dstate[j]), f"step_back returned dstate's memory ({where})"
                np.testing.assert_allclose(got[r], want, rtol=1e-10, atol=1e-12,
                                           err_msg=f"state part {j} before step {s} ({where})")
    got_dxs, got_dparams = kernel.finish(acc)
    np.testing.assert_allclose(got_dxs, dxs, rtol=1e-10, atol=1e-12, err_msg="finish: the inputs' gradient")
    for n in names:
        np.testing.assert_allclose(got_dparams[n], dparams[n], rtol=1e-10, atol=1e-12, err_msg=f"finish: {n}")


@pytest.mark.parametrize(("kind", "fused"), CASES, ids=[f"{k}-{'fused' if f else 'composed'}" for k, f in CASES])
def test_step_back_on_any_windows_matches_the_dense_reference(kind, fused):
    @settings(max_examples=60, deadline=None)
    @given(problems(kind, fused))
    def prop(problem):
        run_contract(problem, fused)

    prop()


# ----- StepGradients, directly -----------------------------------------------------------------
@st.composite
def visits(draw) -> tuple:
    T, width = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return T, width, [(s0, s1, rng.normal(size=(s1 - s0, 2, width))) for s0, s1 in draw(windows(T))]


@settings(max_examples=200, deadline=None)
@given(visits())
def test_step_gradients_sum_every_visit_and_zero_the_rest(problem):
    """``begin(s0, s1)`` gives rows to fill completely, ``end`` adds them in, ``result`` is the sum
    over every visit with zeros for the steps no visit reached; a window no earlier visit touched
    is written in place (the rows are the total's own memory)."""
    T, width, calls = problem
    grads = StepGradients((T, 2, width), np.float64)
    total = np.zeros((T, 2, width))
    seen = np.zeros(T, bool)
    for s0, s1, values in calls:
        rows = grads.begin(s0, s1)
        assert rows.shape == values.shape and rows.dtype == np.float64
        if not seen[s0:s1].any():
            assert np.shares_memory(rows, grads.total), "a first visit is written in place"
        rows[...] = values
        grads.end(s0, s1, rows)
        total[s0:s1] += values
        seen[s0:s1] = True
    np.testing.assert_array_equal(grads.visited, seen)
    np.testing.assert_allclose(grads.result(), total, rtol=1e-13, atol=1e-13)
