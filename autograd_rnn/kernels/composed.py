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


class _Program:
    """A traced step as a flat list of gate applications, replayable on new arrays.

    ``ops[i] = (template gate, input refs)``; a ref is ("x",), ("s", k), ("p", k), ("c", array) or
    ("op", j, output index). ``outs`` are the refs of the step's new state.
    """

    def __init__(self, order, x, state, leaves, out):
        slot = {id(x): ("x",)}
        slot.update({id(s): ("s", k) for k, s in enumerate(state)})
        slot.update({id(p): ("p", k) for k, p in enumerate(leaves)})
        index = {id(op): i for i, op in enumerate(order)}
        self.ops, self.signature = [], []
        for op in order:
            refs = []
            for t in op.inputs:
                if t._op is not None:
                    refs.append(("op", index[id(t._op)], t._index))
                elif id(t) in slot:
                    refs.append(slot[id(t)])
                else:
                    refs.append(("c", t.data))
            self.ops.append((op.gate, tuple(refs)))
            self.signature.append((type(op.gate), repr(op.gate), tuple(r if r[0] != "c" else ("c",) for r in refs)))
        self.outs = [("op", index[id(o._op)], o._index) if o._op is not None else slot.get(id(o), ("c", o.data))
                     for o in out]
        self.n_params = len(leaves)

    def replayable(self) -> bool:
        from ..gates.dropout import Dropout

        return not any(isinstance(g, Dropout) for g, _ in self.ops)

    def forward(self, x, state, params):
        values, gates = [], []
        for template, refs in self.ops:
            gate = _fresh(template)
            args = [values[r[1]][r[2]] if r[0] == "op" else _value(r, x, state, params, values) for r in refs]
            out = gate.forward(*args)
            values.append(out if gate.n_outputs > 1 else (out,))
            gates.append(gate)
        return gates, tuple(_value(r, x, state, params, values) for r in self.outs)

    def backward(self, gates, dstate, out_meta):
        """(dx, dstate_prev list, dparams list) for upstream ``dstate`` on the step's outputs."""
        grads = [None] * len(gates)
        for r, d in zip(self.outs, dstate):
            if r[0] == "op":
                slots = grads[r[1]] or [None] * gates[r[1]].n_outputs
                slots[r[2]] = d if slots[r[2]] is None else slots[r[2]] + d
                grads[r[1]] = slots
        dx, ds, dp = None, {}, {}
        for i in range(len(gates) - 1, -1, -1):
            slots = grads[i]
            if slots is None:
                continue
            gate, refs = gates[i], self.ops[i][1]
            if gate.n_outputs == 1:
                g = slots[0]
            else:
                g = tuple(s if s is not None else np.zeros(*m) for s, m in zip(slots, out_meta[i]))
            for r, d in zip(refs, gate.backward(g)):
                if d is None or r[0] == "c":
                    continue
                if r[0] == "op":
                    s = grads[r[1]] or [None] * gates[r[1]].n_outputs
                    s[r[2]] = d if s[r[2]] is None else s[r[2]] + d
                    grads[r[1]] = s
                elif r[0] == "x":
                    dx = d if dx is None else dx + d
                else:
                    store = ds if r[0] == "s" else dp
                    store[r[1]] = d if r[1] not in store else store[r[1]] + d
        return dx, ds, dp


def _fresh(template):
    """A fresh application of a gate with the template's settings (what ``copy.copy`` does, cheaper)."""
    try:
        gate = object.__new__(type(template))
        gate.__dict__.update(template.__dict__)
        return gate
    except (AttributeError, TypeError):
        import copy

        return copy.copy(template)


def _value(ref, x, state, params, values):
    kind = ref[0]
    if kind == "op":
        return values[ref[1]][ref[2]]
    if kind == "x":
        return x
    if kind == "s":
        return state[ref[1]]
    if kind == "p":
        return params[ref[1]]
    return ref[1]


class ComposedKernel:
    """Every step is recorded as a graph, unless the cell declares ``static_step = True`` (its step
    builds the same graph at every time step: no data- or time-dependent Python control flow).
    Then steps 0 and 1 are recorded, and when their structure matches and holds no random gate
    (Dropout), the later steps replay it on arrays: fresh gate copies, no Tensor objects, no
    topological sort."""

    def __init__(self, cell):
        self.cell = cell

    def forward(self, xs, states0, params):
        cell = self.cell
        names = list(cell.parameters())
        leaves = [Tensor(p, requires_grad=True, name=n) for n, p in zip(names, params)]
        record = is_grad_enabled()
        steps = []
        state = tuple(Tensor(s, requires_grad=True) for s in states0)
        T = xs.shape[0]
        hs = None
        program = None
        with cell.substituted(dict(zip(names, leaves))):
            for t in range(T):
                if program is not None:
                    arrays = tuple(s.data if isinstance(s, Tensor) else s for s in state)
                    gates, new = program.forward(xs[t], arrays, params)
                    steps.append(("replay", gates))
                    hs[t] = new[0]
                    state = new
                    continue
                x = Tensor(xs[t], requires_grad=True)
                state = tuple(s if isinstance(s, Tensor) else Tensor(s, requires_grad=True) for s in state)
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
                    steps.append(("graph", x, state, out, order))
                    if t == 1 and T > 2 and cell.step_is_static():
                        program = self._program_if_static(steps, leaves)
                state = tuple(Tensor(o.data, requires_grad=True) for o in out)
        self.steps, self.leaves, self.program = steps, leaves, program
        self.xs_shape, self.hs_shape, self.dtype = xs.shape, hs.shape, xs.dtype
        final = tuple(s.data if isinstance(s, Tensor) else s for s in state)
        return hs, final

    @staticmethod
    def _program_if_static(steps, leaves):
        """The program of step 1 when steps 0 and 1 have the same structure, else None."""
        (_, x0, s0, o0, ord0), (_, x1, s1, o1, ord1) = steps[0], steps[1]
        p0 = _Program(ord0, x0, s0, leaves, o0)
        p1 = _Program(ord1, x1, s1, leaves, o1)
        if p0.signature != p1.signature or not p1.replayable():
            return None
        p1.out_meta = [op.out_meta for op in ord1]
        return p1

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
            step = self.steps[s]
            upstream = [d[s - s0] for d in dstate]
            if step[0] == "replay":
                dx, ds, dp = self.program.backward(step[1], upstream, self.program.out_meta)
                if dx is not None:
                    dxs[s] += dx
                for k, g in dp.items():
                    dparams[k] += g
                for k, p in enumerate(prev):
                    p[s - s0] = ds.get(k, 0.0)
                continue
            _, x, state, out, order = step
            wanted = {id(v): v for v in (x, *state, *self.leaves)}
            found = _backprop(out, upstream, wanted, order)
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
