"""``Sequence``: a cell unrolled over time with truncated backpropagation through time.

::

      x_0        x_1               x_{T-1}
       |          |                   |
    [cell] -> [cell] -> ... -> [cell] -> final state
       |          |                   |
      h_0        h_1               h_{T-1}          (hs, time-major)

Seen from the outer graph the time loop is one gate, a :class:`SequenceGate`: its forward runs the
loop, its backward runs it in reverse under the truncation policy. The gate's kernel is the
composed one (the cell's own ``step``, for any cell) or, for a cell in the table of fused kernels,
that kernel; a fused cell's input projection runs first over the whole block, as one
``LinearGate``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..errors import GateInputError, GateTypeError
from ..gates.base import shape_str
from ..graph import Tensor, apply, no_grad
from ..nodes import Cell, Node
from .composed import ComposedKernel
from .frozen import FrozenSequence
from .fused import FUSED, FusedCell, fused_for
from .hooks import HookHandle, Hooks
from .kernel import GradientRecord, SequenceGate
from .truncation import Truncation, parse_truncation


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
        fused: use the fused kernel when the table has one for the cell (default True); False
            runs the composed reference built from ``cell.step``.

    Shapes: ``xs (T, batch, input_size)`` -> ``hs (T, batch, hidden_size)``; ``state0`` and the
    returned ``state``: ``(batch, hidden_size)`` each (a tuple ``(h, c)`` for LSTM). ``state0=None``
    starts from zeros. Gradients flow to the parameters, to ``xs`` and to ``state0``.

    ``last_grad_norms`` holds, after each backward, the norm of the gradient that reached each
    h_t, shape (T,): watch it shrink with distance from the loss to see vanishing gradients.
    :meth:`register_hook` hands the gradients themselves to a function of yours after every
    backward.

    Layers stack by composition: feed one Sequence's ``hs`` to the next (see
    :class:`~autograd_rnn.sequence.Recurrent`, which does it for you with dropout in between).
    """

    def __init__(self, cell: Cell, truncation: Truncation | str | None = None, batch_first: bool = False,
                 fused: bool = True):
        if not isinstance(cell, Cell):
            raise GateTypeError(f"Sequence: cell is a {type(cell).__name__}; expected a Cell (RNNLayer, LSTMLayer...)")
        super().__init__(cell.dtype)
        self.cell = cell
        self.truncation = parse_truncation(truncation)
        self.batch_first = bool(batch_first)
        self.fused = bool(fused)
        object.__setattr__(self, "_record", None)
        object.__setattr__(self, "_hooks", Hooks())
        object.__setattr__(self, "_path", (None, None))

    def _recorded(self, record: GradientRecord) -> None:
        object.__setattr__(self, "_record", record)
        if self._hooks:
            self._hooks(record.grads())

    @property
    def last_grad_norms(self) -> np.ndarray | None:
        """After a backward: the norm of the gradient that reached each h_t, ``(T,)`` (computed
        when read); None before any backward. The gradient that reached h_t is the sum of the
        state gradients the truncation policy handed to the step backward of step t: under
        ``Full()`` dL/dh_t; under ``LookBack(k)`` the sum over the loss terms L_t .. L_{t+k} of
        what each one sends to h_t; under ``Truncated`` the sum over the windows through step t.
        The ``h`` part of the state only (not an LSTM's ``c``); time-major, even with
        ``batch_first``."""
        return None if self._record is None else self._record.norms()

    def register_hook(self, hook: Callable[[np.ndarray], object]) -> HookHandle:
        """Call ``hook(grads)`` after every backward through this Sequence, with ``grads (T,
        batch, hidden)`` the gradient that reached each h_t (read-only; what
        :attr:`last_grad_norms` measures). Hooks run in the order registered; the returned
        handle's ``remove()`` unregisters this one (or use it in a ``with`` block). Without a hook,
        nothing is added up until :attr:`last_grad_norms` is read."""
        return self._hooks.add(hook, "Sequence")

    def kernel_path(self) -> FusedCell | None:
        """The fused table's entry this Sequence runs, or None for the composed path. Decided
        again whenever the cell's attributes or the table change."""
        return self._plan()[0]

    def _plan(self) -> tuple:
        """(fused entry or None, the kernel factory), cached until the cell or the table changes."""
        key = (self.fused, self.cell.structure, id(self.cell), len(FUSED), FUSED.get(type(self.cell)))
        if self._path[0] != key:
            entry = fused_for(self.cell) if self.fused else None
            kernel = (functools.partial(ComposedKernel, self.cell) if entry is None else
                      functools.partial(entry.kernel, **entry.options(self.cell)))
            object.__setattr__(self, "_path", (key, (entry, kernel)))
        return self._path[1]

    def project(self, x: Tensor) -> Tensor | None:
        """The fused kernel's input part of ``x (..., input)``, ``(..., G*hidden)``, made with graph
        ops (the input projection ``x W^T + b`` of the RNN, LSTM and GRU), which
        :meth:`forward_projected` takes; None on the composed path."""
        entry = self.kernel_path()
        return None if entry is None else entry.project(self.cell, x)

    def frozen(self) -> FrozenSequence:
        """This Sequence as a function of arrays (time-major), its parameters read now: the same
        kernel without a graph, for inference one step at a time. Make a new one after the
        parameters change."""
        entry, kernel = self._plan()
        cell = self.cell
        names = tuple(cell.parameters()) if entry is None else entry.recurrent
        params = {n: cell.resolve(n).data for n in names}
        if entry is None:
            return FrozenSequence(kernel, params, None, cell.n_state, cell.input_size, cell.hidden_size, self.dtype)
        inputs = {n: Tensor(cell.resolve(n).data) for n in entry.projection}

        def project(rows: np.ndarray) -> np.ndarray:
            with no_grad(), cell.substituted(inputs):
                return entry.project(cell, Tensor(rows)).data

        return FrozenSequence(kernel, params, project, cell.n_state, cell.input_size, cell.hidden_size, self.dtype,
                              width=entry.kernel.gates * cell.hidden_size,
                              linear=None if entry.input_part else tuple(t.data for t in inputs.values()))

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
        entry, kernel = self._plan()
        if entry is None:
            names = tuple(cell.parameters())
            gate = SequenceGate(kernel, names, cell.n_state, self.truncation, self._recorded)
            return self._finish(gate, xs, state0, [cell.resolve(n) for n in names])
        return self._recur(entry, kernel, entry.project(cell, xs), state0)

    def forward_projected(self, zx: Tensor, state0=None):
        """Run the fused recurrence on the input part ``zx`` already made (:meth:`project`; ``x W^T +
        b`` for the RNN, LSTM and GRU), ``(T, batch, G*hidden)`` (time-major, or batch-major with
        ``batch_first``): the language model makes it from a table of projected embeddings. Only
        on the fused path."""
        entry, kernel = self._plan()
        if entry is None:
            raise GateInputError(f"Sequence: forward_projected needs the fused kernel, and "
                                 f"{type(self.cell).__name__} runs composed here; call the Sequence on xs")
        zx = zx if isinstance(zx, Tensor) else Tensor(zx)
        if zx.ndim != 3:
            raise GateInputError(f"Sequence: zx has shape {shape_str(zx.shape)}; expected (T, batch, G*hidden)")
        return self._recur(entry, kernel, zx.transpose(1, 0, 2) if self.batch_first else zx, state0)

    def _recur(self, entry: FusedCell, kernel, zx: Tensor, state0):
        cell = self.cell
        gate = SequenceGate(kernel, entry.recurrent, cell.n_state, self.truncation, self._recorded)
        return self._finish(gate, zx, state0, [cell.resolve(n) for n in entry.recurrent])

    def _finish(self, gate: SequenceGate, xs: Tensor, state0, params: list):
        out = apply(gate, xs, *self._states(state0, xs.shape[1]), *params)
        hs, finals = out[0], out[1:]
        if self.batch_first:
            hs = hs.transpose(1, 0, 2)
        return hs, (finals[0] if self.cell.n_state == 1 else tuple(finals))

    def _states(self, state0, batch: int) -> tuple:
        cell = self.cell
        if state0 is None:
            state0 = cell.initial_state(batch)
        states = tuple(state0) if isinstance(state0, tuple | list) else (state0,)
        if all(type(s) is Tensor and s.data.shape == (batch, cell.hidden_size) and s.data.dtype == self.dtype
               for s in states) and len(states) == cell.n_state:
            return states  # the common case, checked at once; below, each way it can be wrong, named
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
            if s.dtype != self.dtype:
                raise GateInputError(f"Sequence: state0[{k}] has dtype {s.dtype}; expected the cell's {self.dtype}")
        return states

    def function(self, truncation: Truncation | str | None = None):
        """The unrolled sequence as a function of tensors, ``f(xs, *state0, *params) -> (hs,
        *final_state)`` with ``params`` in ``cell.parameters()`` order: the cell's parameters are
        substituted by the given tensors, so :func:`autograd_rnn.gradcheck` can perturb them."""
        policy = self.truncation if truncation is None else parse_truncation(truncation)
        names = list(self.cell.parameters())
        n = self.cell.n_state
        seq = Sequence(self.cell, policy, fused=self.fused)

        def unrolled(xs, *rest):
            states, params = rest[:n], rest[n:]
            with self.cell.substituted(dict(zip(names, params))):
                hs, final = seq(xs, states)
            return (hs, *(final if n > 1 else (final,)))

        unrolled.__qualname__ = f"Sequence({type(self.cell).__name__}, truncation={policy!r})"
        return unrolled

    def extra_repr(self) -> str:
        return f"truncation={self.truncation!r}" + (", batch_first=True" if self.batch_first else "")
