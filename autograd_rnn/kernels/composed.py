"""Any cell, fused or not: each step's forward is recorded as a small graph from fresh leaves
(x_t, the previous state, the parameters), and each step backward walks that graph.

The parameters are substituted by leaves holding the gate's parameter inputs, so the recorded
steps are a function of exactly the gate's inputs (gradcheck can perturb them) and nothing is
written to any ``.grad``. A cell's ``step`` may read only x_t, the state and its own parameters:
any other tensor that requires a gradient is refused with an error naming the cell.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..graph import Tensor, _backprop, _toposort, is_grad_enabled
from .base import SequenceGate


class ComposedKernel:
    def __init__(self, cell):
        self.cell = cell

    def forward(self, xs, states0, params):
        cell = self.cell
        names = list(cell.parameters())
        leaves = [Tensor(p, requires_grad=True, name=n) for n, p in zip(names, params)]
        record = is_grad_enabled()
        steps, orders = [], []
        state = tuple(Tensor(s, requires_grad=True) for s in states0)
        T = xs.shape[0]
        hs = None
        with cell.substituted(dict(zip(names, leaves))):
            for t in range(T):
                x = Tensor(xs[t], requires_grad=True)
                out = cell.step(x, state if len(state) > 1 else state[0])
                out = tuple(out) if isinstance(out, tuple | list) else (out,)
                if len(out) != len(state) or any(o.shape != s.shape for o, s in zip(out, state)):
                    raise GateInputError(
                        f"{type(cell).__name__}.step returned {[o.shape for o in out]}; expected a state like "
                        f"its input, {[s.shape for s in state]}"
                    )
                if hs is None:
                    hs = np.empty((T, *out[0].shape), out[0].dtype)
                hs[t] = out[0].data
                if record:
                    order = _toposort(out)
                    self._check_leaves(order, {id(v) for v in (x, *state, *leaves)})
                    steps.append((x, state, out))
                    orders.append(order)
                state = tuple(Tensor(o.data, requires_grad=True) for o in out)
        self.steps, self.orders, self.leaves = steps, orders, leaves
        self.xs_shape, self.hs_shape, self.dtype = xs.shape, hs.shape, xs.dtype
        return hs, tuple(s.data for s in state)

    def _check_leaves(self, order, allowed: set) -> None:
        for op in order:
            for t in op.inputs:
                if t._op is None and t.requires_grad and id(t) not in allowed:
                    raise GateInputError(
                        f"{type(self.cell).__name__}.step reads a tensor that requires a gradient but is not "
                        f"x_t, the state or one of the cell's parameters ({t!r:.80}); register it as a "
                        f"Parameter of the cell, or detach() it"
                    )

    def new_acc(self):
        return np.zeros(self.xs_shape, self.dtype), [np.zeros_like(p.data) for p in self.leaves]

    def step_back(self, acc, s0, s1, dstate):
        dxs, dparams = acc
        prev = [np.empty_like(d) for d in dstate]
        for s in range(s0, s1):
            x, state, out = self.steps[s]
            wanted = {id(v): v for v in (x, *state, *self.leaves)}
            found = _backprop(out, [d[s - s0] for d in dstate], wanted, self.orders[s])
            if id(x) in found:
                dxs[s] += found[id(x)]
            for acc_p, leaf in zip(dparams, self.leaves):
                if id(leaf) in found:
                    acc_p += found[id(leaf)]
            for p, st in zip(prev, state):
                p[s - s0] = found.get(id(st), 0.0)
        return tuple(prev)

    def finish(self, acc):
        dxs, dparams = acc
        return dxs, tuple(dparams)


class ComposedSequenceGate(SequenceGate):
    """A whole sequence of any :class:`~autograd_rnn.nodes.Cell`, built from its ``step``.
    Inputs ``(xs, *state0, *cell parameters)`` in ``cell.parameters()`` order, outputs
    ``(hs, *final_state)``."""

    def __init__(self, cell, truncation=None, monitor=None):
        self.n_state = cell.n_state
        super().__init__(truncation, monitor)
        self.cell = cell

    def check(self, xs, states, params):
        super().check(xs, states, params)
        n = len(self.cell.parameters())
        if len(params) != n:
            raise GateInputError(
                f"{self.name}: got {len(params)} parameter arrays; expected {n} for {type(self.cell).__name__}"
            )

    def make_kernel(self):
        return ComposedKernel(self.cell)

    def __repr__(self) -> str:
        return f"{self.name}({type(self.cell).__name__}, truncation={self.truncation!r})"
