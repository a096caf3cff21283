"""Input generators for the sequence and cell gates (Full truncation: the exact gradient, which
is what finite differences see; truncated policies are checked by
:func:`autograd_rnn.gradcheck_sequence` against the explicitly truncated objective)."""

from __future__ import annotations

from .. import kernels as K
from ..nodes import GRULayer, LSTMLayer, RNNLayer
from .registry import Draw, GateCase, register

GATES_PER_CELL = {K.RNNSequenceGate: 1, K.LSTMSequenceGate: 4, K.GRUSequenceGate: 3}
N_STATE = {K.RNNSequenceGate: 1, K.LSTMSequenceGate: 2, K.GRUSequenceGate: 1}


def sequence_inputs(d: Draw, gates: int, n_state: int, T: int | None = None) -> tuple:
    T = d.integers(1, 4) if T is None else T
    B, In, H = d.integers(1, 3), d.integers(1, 3), d.integers(1, 3)
    xs = d.floats((T, B, In))
    states = tuple(d.floats((B, H), -1, 1) for _ in range(n_state))
    params = (d.floats((gates * H, In), -1, 1), d.floats((gates * H, H), -1, 1),
              d.floats((gates * H,), -1, 1), d.floats((gates * H,), -1, 1))
    return xs, states, params


def _sequence_case(gate_cls):
    def case(d: Draw) -> GateCase:
        xs, states, params = sequence_inputs(d, GATES_PER_CELL[gate_cls], N_STATE[gate_cls])
        return GateCase(gate_cls(), (xs, *states, *params))

    return case


def _cell_case(cell_gate_cls):
    seq_cls = cell_gate_cls.sequence_gate

    def case(d: Draw) -> GateCase:
        xs, states, params = sequence_inputs(d, GATES_PER_CELL[seq_cls], N_STATE[seq_cls], T=1)
        return GateCase(cell_gate_cls(), (xs[0], *states, *params))

    return case


for _seq, _cell in [(K.RNNSequenceGate, K.RNNCellGate), (K.LSTMSequenceGate, K.LSTMCellGate),
                    (K.GRUSequenceGate, K.GRUCellGate)]:
    register(_seq)(_sequence_case(_seq))
    register(_cell)(_cell_case(_cell))


@register(K.ComposedSequenceGate)
def _composed(d: Draw) -> GateCase:
    cls = d.sampled_from([RNNLayer, LSTMLayer, GRULayer])
    gates = {RNNLayer: 1, LSTMLayer: 4, GRULayer: 3}[cls]
    xs, states, params = sequence_inputs(d, gates, cls.n_state)
    cell = cls(xs.shape[2], states[0].shape[1], dtype=xs.dtype)
    return GateCase(K.ComposedSequenceGate(cell), (xs, *states, *params))
