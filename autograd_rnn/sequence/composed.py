"""Any cell: each step's forward is recorded as a small graph from fresh leaves (x_t, the previous
state, the parameters), and each step backward is the graph's one walk,
:func:`autograd_rnn.graph.backprop`, over that step's ops.

The parameters are substituted by leaves holding the gate's parameter inputs, so the recorded
steps are a function of exactly the gate's inputs (gradcheck can perturb them) and nothing is
written to any ``.grad``. A cell's ``step`` may read only x_t, the state and its own parameters:
any other tensor that requires a gradient is refused with an error naming the cell.

**Replay.** A cell that declares ``static_step = True`` has steps 0 and 1 recorded by running its
``step``. When the two recorded graphs are the same (the same gates with equal configurations,
wired the same way, with equal constants), every later step *replays* step 1's list of
applications: a fresh copy of each gate (``gate.fresh()``) runs its forward on that step's arrays,
in the recorded order, and the step's backward is the same walk over step 1's tape with the
step's own applications. Replay skips the Python of ``step``, the Tensor objects and the
topological sort, nothing else: the gates and the walk are the ones every other step uses.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..gates.base import Saved
from ..graph import Tape, Tensor, is_grad_enabled, topological_order
from ..nodes import Cell
from .kernel import Kernel


class Program:
    """A recorded step as a list of gate applications, ``(gate, input refs)``, replayable on new
    arrays. A ref is ``("x",)``, ``("s", k)``, ``("p", name)``, ``("c", tensor)`` for a constant,
    or ``("op", i, output index)``; ``outs`` are the refs of the new state.

    Each application is classed as ``"step"`` (it reads the state, so it runs every step),
    ``"rows"`` (it reads x_t but not the state, and its gate batches over rows: it runs once for
    all replayed steps on their stacked rows, like a fused cell's input projection) or ``"const"``
    (parameters and constants only: it runs once). ``tape`` routes the gradients of one replayed
    step: keys ``"x"``, ``("s", k)``, ``("p", name)``, and ``("h", i, slot)`` for the value of a
    hoisted application, whose gradients add up over the steps until :meth:`Hoisted.backward`.
    """

    def __init__(self, order: list, x: Tensor, state: tuple, leaves: dict, out: tuple):
        slot = {id(x): ("x",)}
        slot.update({id(s): ("s", k) for k, s in enumerate(state)})
        slot.update({id(p): ("p", name) for name, p in leaves.items()})
        index = {id(op): i for i, op in enumerate(order)}

        def ref(t: Tensor) -> tuple:
            if t._op is not None:
                return ("op", index[id(t._op)], t._index)
            return slot.get(id(t), ("c", t))

        self.ops = [(op.gate, tuple(ref(t) for t in op.inputs)) for op in order]
        self.outs = tuple(ref(o) for o in out)
        self.out_meta = [op.out_meta for op in order]
        meta = [tuple((t.data.shape, t.data.dtype) for t in op.inputs) for op in order]
        self.kinds = self._classify(meta)
        self.step_ops = [i for i, k in enumerate(self.kinds) if k == "step"]
        self.step_plan = [(i, *self.ops[i], self.ops[i][0].n_outputs > 1) for i in self.step_ops]
        self.hoisted = [i for i, k in enumerate(self.kinds) if k != "step"]
        pos = {i: p for p, i in enumerate(self.step_ops)}

        def route(r: tuple):
            if r[0] == "op":
                return (pos[r[1]], r[2]) if r[1] in pos else (-1, ("h", r[1], r[2]))
            return None if r[0] == "c" else (-1, "x" if r[0] == "x" else r)

        routes = [tuple(route(r) for r in self.ops[i][1]) for i in self.step_ops]
        in_meta = [tuple(None if d is None else m for d, m in zip(rt, meta[i])) for rt, i in zip(routes, self.step_ops)]
        self.tape = Tape([self.ops[i][0] for i in self.step_ops], routes, in_meta,
                         [self.out_meta[i] for i in self.step_ops], [route(r) for r in self.outs], {})
        refs = [r for i in self.step_ops for r in self.ops[i][1]] + list(self.outs)
        self.needed = sorted({(r[1], r[2]) for r in refs if r[0] == "op" and r[1] not in pos})

    def _classify(self, meta: list) -> list[str]:
        kinds = []
        for (gate, refs), m in zip(self.ops, meta):
            of = [kinds[r[1]] if r[0] == "op" else {"x": "rows", "s": "step"}.get(r[0], "const") for r in refs]
            if "step" in of:
                kinds.append("step")
            elif "rows" in of:
                rows = tuple(k == "rows" for k in of)
                kinds.append("rows" if gate.batches_over_rows(rows, tuple(s for s, _ in m)) else "step")
            else:
                kinds.append("const")
        return kinds

    def same_as(self, other: Program) -> bool:
        """The same gates with equal configurations, wired alike, with equal constants."""
        return (len(self.ops) == len(other.ops) and _same_refs(self.outs, other.outs)
                and all(g.same_config(h) and _same_refs(r, q) for (g, r), (h, q) in zip(self.ops, other.ops)))

    def hoist(self, xs: np.ndarray, params: dict) -> Hoisted:
        """Run the hoisted applications once for the replayed steps' inputs ``xs (T', B, ...)``."""
        return Hoisted(self, xs, params)

    def run(self, x: np.ndarray, state: tuple, params: dict, hoisted: Hoisted, t: int) -> tuple[tuple, list]:
        """Apply fresh copies of the step's gates to this step's arrays (replayed step ``t``);
        returns (the new state's arrays, the applications in order)."""
        values, gates = {}, []

        def value(r):
            kind = r[0]
            if kind == "op":
                return values[r[1]][r[2]] if r[1] in values else hoisted.at(r[1], r[2], t)
            if kind == "x":
                return x
            if kind == "s":
                return state[r[1]]
            return params[r[1]] if kind == "p" else r[1].data

        for i, template, refs, many in self.step_plan:
            gate = template.fresh()
            out = gate.forward(*[values[r[1]][r[2]] if r[0] == "op" and r[1] in values else value(r) for r in refs])
            values[i] = out if many else (out,)
            gates.append(gate)
        return tuple(value(r) for r in self.outs), gates


class Hoisted:
    """The hoisted applications of a program, run once: ``"rows"`` ones on the replayed steps'
    stacked rows, ``"const"`` ones as they are; and, for backward, their tape (keys ``"x"`` for
    the stacked inputs and ``("p", name)``) and the gradients of their values summed over steps."""

    def __init__(self, program: Program, xs: np.ndarray, params: dict):
        self.program, self.steps, self.batch = program, xs.shape[0], xs.shape[1]
        X = xs.reshape(-1, *xs.shape[2:])
        pos = {i: p for p, i in enumerate(program.hoisted)}
        values, gates, routes, in_meta, out_meta = {}, [], [], [], []
        for i in program.hoisted:
            template, refs = program.ops[i]
            args = [values[r[1]][r[2]] if r[0] == "op" else X if r[0] == "x" else params[r[1]] if r[0] == "p"
                    else r[1].data for r in refs]
            gate = template.fresh()
            out = gate.forward(*args)
            values[i] = out if gate.n_outputs > 1 else (out,)
            gates.append(gate)
            rt = tuple((pos[r[1]], r[2]) if r[0] == "op" else None if r[0] == "c" else (-1, "x" if r[0] == "x" else r)
                       for r in refs)
            routes.append(rt)
            in_meta.append(tuple(None if d is None else (a.shape, a.dtype) for d, a in zip(rt, args)))
            out_meta.append(None if gate.n_outputs == 1 else tuple((o.shape, o.dtype) for o in out))
        self.values = values
        self.tape = Tape(gates, routes, in_meta, out_meta, [(pos[i], k) for i, k in program.needed], {})

    def at(self, i: int, slot: int, t: int) -> np.ndarray:
        """Value ``slot`` of hoisted application ``i`` as replayed step ``t`` sees it."""
        v = self.values[i][slot]
        if self.program.kinds[i] == "const":
            return v
        return v.reshape(self.steps, self.batch, *v.shape[1:])[t]

    def new_acc(self) -> dict:
        """Zeros for the summed gradient of every needed value: ``(T', B, ...)`` for rows."""
        acc = {}
        for i, slot in self.program.needed:
            v = self.values[i][slot]
            rows = self.program.kinds[i] == "rows"
            acc[("h", i, slot)] = np.zeros((self.steps, self.batch, *v.shape[1:]) if rows else v.shape, v.dtype)
        return acc

    def backward(self, acc: dict) -> dict:
        """Gradients by key (``"x"``: of the stacked inputs, ``(T' * B, ...)``; ``("p", name)``)."""
        grads = []
        for i, slot in self.program.needed:
            g = acc[("h", i, slot)]
            grads.append(g.reshape(-1, *g.shape[2:]) if self.program.kinds[i] == "rows" else g)
        return self.tape.backward(grads)


def step_keys(x: Tensor, state: tuple, leaves: dict) -> dict:
    """The gradients a step's backward wants, by the keys every step uses: ``"x"``, ``("s", k)``
    and ``("p", name)``."""
    keys = {id(x): (x, "x")}
    keys.update({id(s): (s, ("s", k)) for k, s in enumerate(state)})
    keys.update({id(p): (p, ("p", name)) for name, p in leaves.items()})
    return keys


def _same_refs(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for r, q in zip(a, b):
        if r[0] != q[0]:
            return False
        if r[0] == "c":
            u, v = r[1].data, q[1].data
            if u.dtype != v.dtype or u.shape != v.shape or not np.array_equal(u, v):
                return False
        elif r != q:
            return False
    return True


class ComposedKernel(Kernel):
    """Runs ``cell.step`` at every time step (replaying step 1 when the cell is static, see the
    module docstring) and backpropagates each step through its recorded graph."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell = cell

    def forward(self, xs, states0, params):
        cell = self.cell
        leaves = {n: Tensor(p, requires_grad=True, name=n) for n, p in params.items()}
        record = is_grad_enabled()
        replayable = record and xs.shape[0] > 2 and cell.step_is_static()
        steps, recorded, program, hoisted = [], [], None, None
        state = tuple(s for s in states0)
        hs = None
        with cell.substituted(leaves):
            for t in range(xs.shape[0]):
                if program is not None:
                    state, gates = program.run(xs[t], state, params, hoisted, t - 2)
                    steps.append((program.tape, gates))
                else:
                    state = self._step(xs[t], state, leaves, record, steps, recorded if replayable and t < 2 else None)
                    if replayable and t == 1 and recorded[0].same_as(recorded[1]):
                        program = recorded[1]
                        hoisted = program.hoist(xs[2:], params)
                if hs is None:
                    hs = np.empty((xs.shape[0], *state[0].shape), state[0].dtype)
                hs[t] = state[0]
        self.saved = Saved(steps=steps, xs_shape=xs.shape, dtype=xs.dtype, hoisted=hoisted,
                           params={n: p.shape for n, p in params.items()}, replayed=program is not None)
        return hs, state

    def _step(self, x_t, state: tuple, leaves: dict, record: bool, steps: list, programs: list | None) -> tuple:
        """One step through ``cell.step`` on fresh leaves; records its tape (and its program)."""
        x = Tensor(x_t, requires_grad=record)
        state = tuple(Tensor(s, requires_grad=record) for s in state)
        out = self.cell.step(x, state if len(state) > 1 else state[0])
        out = self._check_out(tuple(out) if isinstance(out, tuple | list) else (out,), state)
        if record:
            order = topological_order(out)
            self._check_leaves(order, {id(v) for v in (x, *state, *leaves.values())})
            steps.append((Tape.record(out, step_keys(x, state, leaves), order), None))
            if programs is not None:
                programs.append(Program(order, x, state, leaves, out))
        return tuple(o.data for o in out)

    def _check_out(self, out: tuple, state: tuple) -> tuple:
        if len(out) != len(state) or any(not isinstance(o, Tensor) or o.shape != s.shape for o, s in zip(out, state)):
            got = [tuple(o.shape) if isinstance(o, Tensor) else type(o).__name__ for o in out]
            raise GateInputError(f"{type(self.cell).__name__}.step returned {got}; expected a state like its input, "
                                 f"{[tuple(s.shape) for s in state]} (Tensors)")
        if any(o.dtype != s.dtype for o, s in zip(out, state)):
            raise GateInputError(f"{type(self.cell).__name__}.step returned dtypes {[str(o.dtype) for o in out]}; "
                                 f"expected the state's {state[0].dtype}")
        return out

    def _check_leaves(self, order: list, allowed: set) -> None:
        for op in order:
            for t in op.inputs:
                if t._op is None and t.requires_grad and id(t) not in allowed:
                    raise GateInputError(
                        f"{type(self.cell).__name__}.step reads a tensor that requires a gradient but is not "
                        f"x_t, the state or one of the cell's parameters ({t!r:.80}); register it as a "
                        f"Parameter of the cell, or detach() it"
                    )

    def new_acc(self):
        s = self.saved
        hoisted = {} if s.hoisted is None else s.hoisted.new_acc()
        return np.zeros(s.xs_shape, s.dtype), {n: np.zeros(shape, s.dtype) for n, shape in s.params.items()}, hoisted

    def step_back(self, acc, s0: int, s1: int, dstate: tuple) -> tuple:
        dxs, dparams, dhoisted = acc
        steps = self.saved.steps
        prev = [np.empty_like(d) for d in dstate]
        for s in range(s0, s1):
            tape, gates = steps[s]
            found = tape.backward([d[s - s0] for d in dstate], gates)
            for key, g in found.items():
                if key == "x":
                    dxs[s] += g
                elif key[0] == "p":
                    dparams[key[1]] += g
                elif key[0] == "h":
                    target = dhoisted[key]
                    if target.ndim == g.ndim:
                        target += g
                    else:
                        target[s - 2] += g
            for k, p in enumerate(prev):
                g = found.get(("s", k))
                p[s - s0] = 0 if g is None else g
        return tuple(prev)

    def finish(self, acc):
        dxs, dparams, dhoisted = acc
        if dhoisted:
            for key, g in self.saved.hoisted.backward(dhoisted).items():
                if key == "x":
                    dxs[2:] += g.reshape(dxs[2:].shape)
                else:
                    dparams[key[1]] += g
        return dxs, dparams
