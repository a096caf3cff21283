"""One engine: whatever a cell looks like, fused or composed, the Sequence computes exactly the
cell's own ``step`` unrolled, with the exact (or exactly truncated) gradient. The reference here
is independent of Sequence: ``cell.step`` called T times on the plain graph."""

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import Full, LookBack, Sequence, Truncated
from autograd_rnn.nodes import CELLS, Cell, GRULayer, LSTMLayer, RNNLayer

from .test_sequence import assert_grads_close, reference_grads, sequence_grads

BUILTIN = list(CELLS.values())
PATHS = [True, False]


def data(cell, T=5, B=2, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(T, B, cell.input_size))
    state0 = tuple(rng.normal(size=(B, cell.hidden_size)) for _ in range(cell.n_state))
    g_hs = rng.normal(size=(T, B, cell.hidden_size))
    g_final = tuple(rng.normal(size=(B, cell.hidden_size)) for _ in range(cell.n_state))
    return xs, state0, g_hs, g_final


def check_against_step(cell, fused, policy=None, T=5, seed=0, rtol=1e-10):
    """Sequence (fused or composed) against the cell's own step, unrolled on the plain graph."""
    policy = policy or Full()
    xs, state0, g_hs, g_final = data(cell, T, seed=seed)
    hs, ours = sequence_grads(cell, xs, state0, g_hs, g_final, policy, fused)
    ref = reference_grads(cell, xs, state0, g_hs, g_final, policy)
    with ar.no_grad():
        s = tuple(ar.Tensor(v) for v in state0)
        for t in range(T):
            out = cell.step(ar.Tensor(xs[t]), s if len(s) > 1 else s[0])
            s = out if isinstance(out, tuple) else (out,)
            np.testing.assert_allclose(hs[t], s[0].data, rtol=1e-12, atol=1e-13)
    assert_grads_close(ours, ref, rtol=rtol)


# ----- the table is keyed by exact class; parameters go by name ------------------------------------------------
@pytest.mark.parametrize("fused", PATHS, ids=["fused", "composed"])
@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_reassigned_parameters_are_read_by_name(cls, fused):
    """Reassigning a parameter moves it to the end of parameters(); the result must not change."""
    cell = cls(3, 4, rng=0)
    order = list(cell.parameters())  # weight_ih, weight_hh, bias_ih, bias_hh for the PyTorch-like cells
    xs, state0, g_hs, g_final = data(cell)
    before_hs, before = sequence_grads(cell, xs, state0, g_hs, g_final, Full(), fused)
    moved = [order[2], order[0], order[3]]  # bias_ih, weight_ih, bias_hh
    for name in moved:
        setattr(cell, name, ar.Parameter(getattr(cell, name).data.copy()))
    assert list(cell.parameters())[-3:] == moved
    after_hs, after = sequence_grads(cell, xs, state0, g_hs, g_final, Full(), fused)
    np.testing.assert_array_equal(after_hs, before_hs)
    by_name = dict(zip(["x", *[f"s{k}" for k in range(cell.n_state)], *order], before))
    names = ["x", *[f"s{k}" for k in range(cell.n_state)], *cell.parameters()]
    for name, g in zip(names, after):
        np.testing.assert_allclose(g, by_name[name], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("fused", PATHS, ids=["fused", "composed"])
@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_reassigned_parameter_with_new_values_is_used(cls, fused):
    cell = cls(3, 4, rng=0)
    name = list(cell.parameters())[2]  # bias_ih for the PyTorch-like cells
    setattr(cell, name, ar.Parameter(np.random.default_rng(9).normal(size=getattr(cell, name).shape)))
    check_against_step(cell, fused)


@pytest.mark.parametrize("fused", PATHS, ids=["fused", "composed"])
@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_subclass_overriding_step_runs_its_own_step(cls, fused):
    class Damped(cls):
        def step(self, x, state):
            out = super().step(x, state)
            return tuple(o * 0.5 for o in out) if isinstance(out, tuple) else out * 0.5

    cell = Damped(3, 4, rng=1)
    assert Sequence(cell).kernel_path() is None
    check_against_step(cell, fused)


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_subclass_keeping_step_is_run_composed_and_right(cls):
    class Same(cls):
        pass

    cell = Same(3, 4, rng=2)
    assert Sequence(cell).kernel_path() is None
    check_against_step(cell, True)


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_step_assigned_on_the_instance_is_honoured(cls):
    cell = cls(3, 4, rng=3)
    original = cls.step

    def step(self, x, state):
        out = original(self, x, state)
        return tuple(o * 2.0 for o in out) if isinstance(out, tuple) else out * 2.0

    cell.step = types.MethodType(step, cell)
    assert Sequence(cell).kernel_path() is None
    check_against_step(cell, True)


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_cell_with_an_extra_parameter_runs_composed(cls):
    cell = cls(3, 4, rng=4)
    cell.gain = ar.Parameter(np.ones(4))
    assert Sequence(cell).kernel_path() is None
    check_against_step(cell, True)


def test_extra_parameter_read_by_an_overridden_step_gets_its_gradient():
    class Gained(LSTMLayer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.parameter("gain", np.linspace(0.5, 1.5, self.hidden_size))

        def step(self, x, state):
            h, c = super().step(x, state)
            return h * self.gain, c

    cell = Gained(3, 4, rng=5)
    check_against_step(cell, True)
    assert ar.gradcheck_sequence(Sequence(cell), data(cell)[0]).passed


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.__name__)
def test_wrongly_shaped_reassigned_parameter_is_named(cls):
    cell = cls(3, 4, rng=0)
    cell.weight_hh = ar.Parameter(np.zeros((5, 5)))
    for fused in PATHS:
        with pytest.raises(ValueError, match="weight_hh|shape"):
            Sequence(cell, fused=fused)(ar.Tensor(np.zeros((2, 1, 3))))


def test_rnn_options_reach_the_kernel():
    cell = RNNLayer(3, 4, nonlinearity="relu", rng=0)
    check_against_step(cell, True)


# ----- the composed path with cells unlike the built-in ones -----------------------------------------------------
class Aliasing(Cell):
    """Both state parts are the same tensor: (h, h)."""

    n_state = 2
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.normal(size=(hidden_size, input_size)) * 0.5)
        self.parameter("U", rng.normal(size=(hidden_size, hidden_size)) * 0.5)

    def step(self, x, state):
        h, c = state
        new = (x @ self.W.T + h @ self.U.T + c * 0.5).tanh()
        return new, new


class Forgetful(Cell):
    """Ignores its old state entirely."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))

    def step(self, x, h):
        return (x @ self.W.T).sigmoid()


class Residual(Cell):
    """Adds the state to a function of itself: h + tanh(h U^T + x W^T)."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = ar.as_rng(rng)
        self.parameter("W", rng.normal(size=(hidden_size, input_size)) * 0.3)
        self.parameter("U", rng.normal(size=(hidden_size, hidden_size)) * 0.3)

    def step(self, x, h):
        return h + (h @ self.U.T + x @ self.W.T).tanh() * 0.5


class PassThrough(Cell):
    """Keeps part of its state unchanged (returns the very tensor it was given) and reuses a
    value twice (fan-in within the step)."""

    n_state = 2
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))

    def step(self, x, state):
        h, c = state
        a = (x @ self.W.T).tanh()
        return a * a + h * c, c


UNUSUAL = [Aliasing, Forgetful, Residual, PassThrough]
POLICIES = [Full(), LookBack(0), LookBack(1), Truncated(2), Truncated(2, 3)]


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
@pytest.mark.parametrize("cls", UNUSUAL, ids=lambda c: c.__name__)
def test_unusual_cells_match_their_unrolled_steps(cls, policy):
    cell = cls(3, 4, rng=0)
    hs, _ = Sequence(cell, fused=False)(ar.Tensor(np.ones((5, 2, 3)), requires_grad=True))
    assert hs._op.gate.saved.kernel.saved.replayed, "T >= 3 and static_step: the later steps are replayed"
    check_against_step(cell, False, policy, T=6)


@pytest.mark.parametrize("cls", UNUSUAL, ids=lambda c: c.__name__)
@settings(max_examples=8, deadline=None)
@given(T=st.integers(3, 6), seed=st.integers(0, 2**16))
def test_unusual_cells_pass_gradcheck_sequence(cls, T, seed):
    cell = cls(2, 3, rng=seed)
    xs = np.random.default_rng(seed).normal(size=(T, 2, 2))
    for policy in (Full(), LookBack(1), Truncated(2, 3)):
        assert ar.gradcheck_sequence(Sequence(cell, truncation=policy), xs, seed=seed).passed


def test_replayed_and_recorded_steps_agree():
    """The same cell with and without replay (static_step off) agrees to round-off (the replay runs
    the state-independent ``x W^T`` once over all replayed steps, so BLAS may round differently)."""

    class Unreplayed(Residual):
        static_step = False

    a, b = Residual(3, 4, rng=0), Unreplayed(3, 4, rng=0)
    xs, state0, g_hs, g_final = data(a, T=7)
    ha, ga = sequence_grads(a, xs, state0[:1], g_hs, g_final[:1], LookBack(2), fused=False)
    hb, gb = sequence_grads(b, xs, state0[:1], g_hs, g_final[:1], LookBack(2), fused=False)
    np.testing.assert_allclose(ha, hb, rtol=1e-13, atol=1e-14)
    for u, v in zip(ga, gb):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("cls", [LSTMLayer, GRULayer], ids=lambda c: c.__name__)
def test_recurrent_stack_of_every_path_matches(cls):
    rng = np.random.default_rng(0)
    fused = ar.Recurrent(cls, 3, 4, layers=2, rng=0)
    composed = ar.Recurrent(cls, 3, 4, layers=2, rng=0, fused=False)
    xs = rng.normal(size=(5, 2, 3))
    outs = []
    for rec in (fused, composed):
        x = ar.Tensor(xs, requires_grad=True)
        hs, _ = rec(x)
        (hs * hs).sum().backward()
        outs.append((hs.data, x.grad, [p.grad for p in rec.parameters().values()]))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-10)
    for u, v in zip(outs[0][2], outs[1][2]):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-13)
