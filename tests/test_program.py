"""The program of a recorded step (graph.Program): slots, equations, the comparison of two
recordings, the tape it routes, and the replay's classification of a step's equations."""

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import gates as G
from autograd_rnn.graph import Program
from autograd_rnn.nodes import Cell, GRULayer, LSTMLayer
from autograd_rnn.sequence import Sequence, step_program
from autograd_rnn.sequence.composed import RECORDED, ROWS, STEP, X, dependence


def test_slots_are_inputs_then_constants_then_outputs():
    a, b = ar.Tensor(np.ones((2, 3)), requires_grad=True), ar.Tensor(np.full(3, 2.0), requires_grad=True)
    y = (a * b + 1.0).tanh()
    p = Program.record([a, b], [y])
    assert p.n_in == 2 and list(p.consts) == [3]  # the constant 1.0, first read by the second equation
    assert [type(e.gate) for e in p.eqns] == [G.HadamardGate, G.AddGate, G.Tanh]
    assert [e.ins for e in p.eqns] == [(0, 1), (2, 3), (4,)] and [e.outs for e in p.eqns] == [(2,), (4,), (5,)]
    assert p.outs == (5,) and p.meta[5] == ((2, 3), np.dtype(np.float64))
    values = [a.data, b.data, None, p.consts[3], None, None]
    p.run(values, range(3))
    np.testing.assert_array_equal(values[5], y.data)


def test_a_multi_output_equation_fills_consecutive_slots_and_an_input_may_be_an_output():
    x = ar.Tensor(np.arange(6.0).reshape(1, 6), requires_grad=True)
    c = ar.Tensor(np.zeros((1, 2)), requires_grad=True)
    u, v, w = x.split(3)
    p = Program.record([x, c], [w * u, c])
    assert p.eqns[0].outs == (2, 3, 4) and p.outs[1] == 1
    assert p.meta[3] == ((1, 2), np.dtype(np.float64))  # an unread output keeps its shape too


def test_tape_routes_gradients_to_keys_by_slot():
    a, b = ar.Tensor(np.ones((2, 3)) * 0.3, requires_grad=True), ar.Tensor(np.full(3, 2.0), requires_grad=True)
    y = (a * b + 1.0).tanh()
    g = np.random.default_rng(0).normal(size=(2, 3))
    found = Program.record([a, b], [y]).tape(range(3), keys=[0, 1]).backward([g])
    expected = ar.grad(y, [a, b], g)
    np.testing.assert_allclose(found[0], expected[0], rtol=1e-15)
    np.testing.assert_allclose(found[1], expected[1], rtol=1e-15)
    assert set(found) == {0, 1}


def cell_program(cell, seed=0, batch=2):
    rng = np.random.default_rng(seed)
    return step_program(cell, rng.normal(size=(batch, cell.input_size)),
                        tuple(rng.normal(size=(batch, cell.hidden_size)) for _ in range(cell.n_state)))[0]


@pytest.mark.parametrize("cls", [LSTMLayer, GRULayer])
def test_two_steps_of_a_static_cell_are_the_same_program(cls):
    cell = cls(3, 4, rng=0)
    assert cell_program(cell, 0).difference(cell_program(cell, 1)) is None


class Noisy(Cell):
    """A new dropout mask at every step: not one program."""

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))
        self.rng = np.random.default_rng(0)

    def step(self, x, h):
        return ar.dropout(x @ self.W.T + h, 0.5, self.rng).tanh()


class Detaching(Cell):
    """Reads a value of its state outside the graph: a constant that changes with the data."""

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))

    def step(self, x, h):
        return (x @ self.W.T + h * h.detach()).tanh()


def test_the_difference_names_the_application_that_changed():
    cell = Noisy(3, 4, rng=0)
    noisy = cell_program(cell, 0).difference(cell_program(cell, 0))  # the same inputs, another mask
    assert "application" in noisy and "Dropout" in noisy
    cell = Detaching(3, 4, rng=0)
    detaching = cell_program(cell, 0).difference(cell_program(cell, 1))
    assert "HadamardGate" in detaching and "constant whose value changed" in detaching


def test_replay_hoists_exactly_the_applications_that_read_x_but_not_the_state():
    """An LSTM's x W_ih^T + b_ih runs once over all replayed rows; everything after the sum with
    the recurrent term runs per step."""
    p = cell_program(LSTMLayer(3, 4, rng=0))
    depends = dependence(p, n_state=2)
    kinds = [(type(e.gate).__name__, depends[e.outs[0]]) for e in p.eqns]
    linears = [k for k in kinds if k[0] == "LinearGate"]
    assert sorted(linears) == [("LinearGate", ROWS), ("LinearGate", STEP)]
    assert all(d == STEP for name, d in kinds if name != "LinearGate")
    assert depends[X] == ROWS


class Rowwise(Cell):
    """Reshapes x_t, which cannot run once over stacked steps (the reshape names the batch)."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(hidden_size, input_size)))

    def step(self, x, h):
        flat = x.reshape(x.shape[0] * x.shape[1])
        return (flat.reshape(x.shape[0], x.shape[1]) @ self.W.T + h).tanh()


def test_an_application_that_does_not_batch_over_rows_runs_every_step():
    cell = Rowwise(3, 4, rng=0)
    p = cell_program(cell)
    depends = dependence(p, n_state=1)
    reshapes = [depends[e.outs[0]] for e in p.eqns if isinstance(e.gate, G.Reshape)]
    assert reshapes == [STEP, STEP]  # the reshapes of x_t
    xs = np.random.default_rng(1).normal(size=(RECORDED + 3, 2, 3))
    hs, _ = Sequence(cell)(ar.Tensor(xs, requires_grad=True))
    assert hs._op.gate.saved.kernel.saved.replayed
    h = np.zeros((2, 4))
    for t in range(len(xs)):
        h = cell.step(ar.Tensor(xs[t]), ar.Tensor(h)).data
        np.testing.assert_allclose(hs.data[t], h, rtol=1e-13)
    assert ar.gradcheck_sequence(Sequence(cell), xs).passed


class Unused(Cell):
    """Splits x W^T in three and leaves one piece unread: the hoisted split's unread output gets a
    zero gradient of the stacked rows' shape, not of one step's."""

    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        self.parameter("W", ar.as_rng(rng).normal(size=(3 * hidden_size, input_size)) * 0.5)

    def step(self, x, h):
        a, b, _ = (x @ self.W.T).split(3)
        return (a + b * h).tanh()


def test_a_hoisted_application_with_an_unread_output_backpropagates():
    xs = np.random.default_rng(2).normal(size=(RECORDED + 3, 2, 3))
    for policy in (ar.Full(), ar.Truncated(2, 3)):
        assert ar.gradcheck_sequence(Sequence(Unused(3, 4, rng=0), truncation=policy), xs).passed
