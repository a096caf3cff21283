"""``Sequence``: a cell unrolled over time with truncated backpropagation through time.

::

      x_0        x_1               x_{T-1}
       |          |                   |
    [cell] -> [cell] -> ... -> [cell] -> final state
       |          |                   |
      h_0        h_1               h_{T-1}          (hs, time-major)

Seen from the outer graph the whole unroll is one gate (a fused one for the built-in cells, a
composed one that records each step's graph for any other cell). Its forward runs the time loop;
its backward runs it in reverse and applies the truncation policy (:mod:`autograd_rnn.truncation`).
"""

from __future__ import annotations

import numpy as np

from .errors import GateInputError
from .gates.base import shape_str
from .graph import Tensor, apply
from .kernels.composed import ComposedSequenceGate
from .nodes.cell import Cell
from .nodes.node import Node
from .truncation import Full, LookBack, Truncated, Truncation, parse_truncation


def detach_state(state):
    """The state's values cut from the graph (carry a stream's state into its next chunk)."""
    if isinstance(state, tuple | list):
        return tuple(s.detach() for s in state)
    return state.detach()


class Sequence(Node):
    """Unroll ``cell`` over a sequence: ``hs, state = seq(xs, state0=None)``.

    Args:
        cell: a :class:`~autograd_rnn.nodes.Cell` (RNNLayer, LSTMLayer, GRULayer or your own).
        truncation: ``Full()`` (default), ``LookBack(k)`` or ``Truncated(k1, k2)``, or the strings
            ``"full"``, ``"lookback:K"``, ``"tbptt:K1,K2"``; it changes only the backward.
        batch_first: take and return ``(batch, T, ...)`` instead of time-major ``(T, batch, ...)``.
        fused: use the cell's fused gate when it has one (default True); False runs the composed
            reference built from ``cell.step``.

    Shapes: ``xs (T, batch, input_size)`` -> ``hs (T, batch, hidden_size)``; ``state0`` and the
    returned ``state``: ``(batch, hidden_size)`` each (a tuple ``(h, c)`` for LSTM). ``state0=None``
    starts from zeros. Gradients flow to the parameters, to ``xs`` and to ``state0``.

    ``last_grad_norms`` holds, after each backward, the norm of the gradient that reached each
    h_t, shape (T,): watch it shrink with distance from the loss to see vanishing gradients.

    Layers stack by composition: feed one Sequence's ``hs`` to the next (see
    :class:`~autograd_rnn.nodes.Recurrent`, which does it for you with dropout in between).
    """

    def __init__(self, cell: Cell, truncation: Truncation | str | None = None, batch_first: bool = False,
                 fused: bool = True):
        if not isinstance(cell, Cell):
            raise TypeError(f"Sequence: cell is a {type(cell).__name__}; expected a Cell (RNNLayer, LSTMLayer, ...)")
        super().__init__(cell.dtype)
        self.cell = cell
        self.truncation = parse_truncation(truncation)
        self.batch_first = batch_first
        self.fused = fused
        self.last_grad_norms: np.ndarray | None = None

    def _monitor(self, norms: np.ndarray) -> None:
        object.__setattr__(self, "last_grad_norms", norms)

    def gate(self):
        """A fresh gate for one application (fused when available and enabled)."""
        cell = self.cell
        if self.fused and cell.fused_applies():
            return cell.fused_gate(truncation=self.truncation, monitor=self._monitor, **cell.fused_config())
        return ComposedSequenceGate(cell, truncation=self.truncation, monitor=self._monitor)

    def forward(self, xs: Tensor, state0=None):
        xs = xs if isinstance(xs, Tensor) else Tensor(xs)
        cell = self.cell
        if xs.ndim != 3 or xs.shape[-1] != cell.input_size or 0 in xs.shape[:2]:
            layout = "(batch, T, input_size)" if self.batch_first else "(T, batch, input_size)"
            raise GateInputError(
                f"Sequence: xs has shape {shape_str(xs.shape)}; expected {layout} with input_size="
                f"{cell.input_size} and T, batch >= 1"
            )
        if xs.dtype != self.dtype:
            raise GateInputError(f"Sequence: xs has dtype {xs.dtype}; expected the cell's {self.dtype}")
        if self.batch_first:
            xs = xs.transpose(1, 0, 2)
        batch = xs.shape[1]
        if state0 is None:
            state0 = cell.initial_state(batch)
        states = tuple(state0) if isinstance(state0, tuple | list) else (state0,)
        states = tuple(s if isinstance(s, Tensor) else Tensor(s) for s in states)
        if len(states) != cell.n_state:
            raise GateInputError(
                f"Sequence: state0 has {len(states)} part(s); {type(cell).__name__} expects {cell.n_state}"
            )
        for k, s in enumerate(states):
            if s.shape != (batch, cell.hidden_size):
                raise GateInputError(
                    f"Sequence: state0[{k}] has shape {shape_str(s.shape)}; expected (batch={batch}, "
                    f"hidden_size={cell.hidden_size})"
                )
        out = apply(self.gate(), xs, *states, *cell.parameters().values())
        hs, finals = out[0], out[1:]
        if self.batch_first:
            hs = hs.transpose(1, 0, 2)
        return hs, (finals[0] if cell.n_state == 1 else tuple(finals))

    def extra_repr(self) -> str:
        return f"truncation={self.truncation!r}" + (", batch_first=True" if self.batch_first else "")


__all__ = ["Sequence", "Full", "LookBack", "Truncated", "Truncation", "detach_state", "parse_truncation"]
