"""Any cell: each step's forward is recorded from fresh leaves (x_t, the previous state, the
parameters), and each step backward is the graph's one walk over that step's tape.

**Slots.** A step is a function of its inputs in one order: x_t (slot ``X = 0``), the state's
parts (slots ``1 .. n_state``), then the parameters in the cell's order; as a
:class:`~autograd_rnn.graph.Program`, every value of a step is a slot. A step's backward hands
back gradients by slot, recorded or replayed.

The parameters are substituted by leaves holding the gate's parameter inputs, so the recorded
steps are a function of exactly the gate's inputs (gradcheck can perturb them) and nothing is
written to any ``.grad``. A cell's ``step`` may read only x_t, the state and its own parameters:
any other tensor that requires a gradient is refused with an error naming the cell.

**Replay.** A cell that declares ``static_step = True`` has its first ``RECORDED`` steps run
through its ``step``. When their programs are the same (the same gates with equal configurations,
wired the same way, with equal constants), every later step *replays* the last one's program
(:class:`Replay`): a fresh copy of each gate (``gate.fresh()``) runs its forward on that step's
arrays, in the recorded order, and the step's backward is the same walk over one tape with the
step's own applications. Replay skips the Python of ``step``, the Tensor objects and the
topological sort, nothing else: the gates and the walk are the ones every other step uses.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..gates.base import Saved
from ..graph import Program, Tape, Tensor, enable_grad, is_grad_enabled, topological_order
from ..nodes import Cell
from .kernel import Kernel

RECORDED = 2
"""Steps run through the cell's ``step`` before replay may start: two, so that two recorded
programs can be compared (the first step of a stream often starts from a zero state)."""

X = 0
"""The slot of x_t in a step's program (then the state's parts, then the parameters)."""

CONST, ROWS, STEP = 0, 1, 2
"""What a value of a replayed step depends on, from least to most: parameters and constants only;
x_t, not the state (it can run once over the stacked rows of all replayed steps); the state."""


def trace_step(cell: Cell, inputs: list[Tensor]) -> tuple[tuple, list]:
    """``cell.step`` on the step's input tensors (x_t, the state's parts, then the leaves the cell's
    parameters are substituted by), checked: the new state's tensors and the applications that made
    them, in topological order."""
    x, state = inputs[X], tuple(inputs[1:1 + cell.n_state])
    out = cell.step(x, state if len(state) > 1 else state[0])
    out = _check_out(cell, tuple(out) if isinstance(out, tuple | list) else (out,), state)
    order = topological_order(out)
    _check_leaves(cell, order, {id(v) for v in inputs})
    return out, order


def step_program(cell: Cell, x_t: np.ndarray, state: tuple) -> tuple[Program, tuple]:
    """One step of ``cell`` on the arrays ``x_t (batch, input)`` and ``state`` (one array per
    part), recorded: ``(program, the new state's arrays)``. The program's inputs are x_t, the
    state's parts and ``cell.parameters()`` in order."""
    leaves = {n: Tensor(p.data, requires_grad=True, name=n) for n, p in cell.parameters().items()}
    inputs = [Tensor(a, requires_grad=True) for a in (x_t, *state)] + list(leaves.values())
    with enable_grad(), cell.substituted(leaves):
        out, order = trace_step(cell, inputs)
    return Program.record(inputs, out, order), tuple(o.data for o in out)


def _check_out(cell: Cell, out: tuple, state: tuple) -> tuple:
    if len(out) != len(state) or any(not isinstance(o, Tensor) or o.shape != s.shape for o, s in zip(out, state)):
        got = [tuple(o.shape) if isinstance(o, Tensor) else type(o).__name__ for o in out]
        raise GateInputError(f"{type(cell).__name__}.step returned {got}; expected a state like its input, "
                             f"{[tuple(s.shape) for s in state]} (Tensors)")
    if any(o.dtype != s.dtype for o, s in zip(out, state)):
        raise GateInputError(f"{type(cell).__name__}.step returned dtypes {[str(o.dtype) for o in out]}; "
                             f"expected the state's {state[0].dtype}")
    return out


def _check_leaves(cell: Cell, order: list, allowed: set) -> None:
    for op in order:
        for t in op.inputs:
            if t._op is None and t.requires_grad and id(t) not in allowed:
                raise GateInputError(
                    f"{type(cell).__name__}.step reads a tensor that requires a gradient but is not "
                    f"x_t, the state or one of the cell's parameters ({t!r:.80}); register it as a "
                    f"Parameter of the cell, or detach() it"
                )


def dependence(program: Program, n_state: int) -> list[int]:
    """What each slot of a step's program depends on (``CONST``, ``ROWS`` or ``STEP``): an
    equation's outputs depend on the most of its inputs, except that one reading x_t but not the
    state depends on ``ROWS`` only when its gate batches over rows (``STEP`` otherwise)."""
    depends = [CONST] * program.n_slots
    depends[X] = ROWS
    depends[1:1 + n_state] = [STEP] * n_state
    for gate, ins, outs in program.eqns:
        d = max(depends[s] for s in ins)
        if d == ROWS and not gate.batches_over_rows(tuple(depends[s] == ROWS for s in ins),
                                                     tuple(program.meta[s][0] for s in ins)):
            d = STEP
        depends[outs[0]:outs[-1] + 1] = [d] * len(outs)
    return depends


def needed(program: Program, step_eqns: list[int]) -> list[int]:
    """The values made by the other equations that the equations ``step_eqns`` or the outputs read."""
    chosen = set(step_eqns)
    made = {s for i, e in enumerate(program.eqns) if i not in chosen for s in e.outs}
    return sorted({s for i in step_eqns for s in program.eqns[i].ins if s in made} | (made & set(program.outs)))


class Replay:
    """A step's program run for the replayed steps ``xs (T', B, ...)`` (steps ``RECORDED ..``):
    the ``STEP`` equations (:func:`dependence`) every step, the others once, ``ROWS`` ones on the
    stacked rows of all replayed steps, like a fused cell's input projection. The hoisted values a
    step reads (``needed``) get gradients summed over the steps, ``(T', B, ...)`` for rows, which
    flow back once in :meth:`backward`."""

    def __init__(self, program: Program, n_state: int, params: dict, xs: np.ndarray):
        p, self.program = program, program
        first = 1 + n_state  # the first parameter's slot
        depends = dependence(p, n_state)
        self.step_eqns = [i for i, e in enumerate(p.eqns) if depends[e.outs[0]] == STEP]
        hoisted = [i for i, e in enumerate(p.eqns) if depends[e.outs[0]] != STEP]
        self.needed = needed(p, self.step_eqns)
        self.rows = {s for s in self.needed if depends[s] == ROWS}

        self.steps, self.batch = xs.shape[0], xs.shape[1]
        values = [None] * p.n_slots
        values[first:p.n_in] = params.values()
        for s, c in p.consts.items():
            values[s] = c
        self.template = values.copy()
        values[X] = xs.reshape(-1, *xs.shape[2:])
        self.values = values
        gates = p.run(values, hoisted)
        stacked = [m if v is None else (v.shape, v.dtype) for v, m in zip(values, p.meta)]  # rows: (T' * B, ...)
        self.hoisted = p.tape(hoisted, [X, *range(first, p.n_in)], self.needed, gates, stacked)
        for s in self.needed:
            if s not in self.rows:
                self.template[s] = values[s]
        self.stacked = [(s, values[s].reshape(self.steps, self.batch, *values[s].shape[1:])) for s in self.rows]
        self.tape = p.tape(self.step_eqns, [X, *range(1, p.n_in), *self.needed])

    def run(self, x: np.ndarray, state: tuple, t: int) -> tuple[tuple, list]:
        """Replayed step ``t`` (counted from the first replayed one): (the new state's arrays,
        the applications in order)."""
        values = self.template.copy()
        values[X] = x
        values[1:1 + len(state)] = state
        for s, stacked in self.stacked:
            values[s] = stacked[t]
        gates = self.program.run(values, self.step_eqns)
        return tuple(values[s] for s in self.program.outs), gates

    def new_acc(self) -> dict:
        """Zeros for the summed gradient of every needed value, by slot."""
        return {s: np.zeros((self.steps, self.batch, *self.values[s].shape[1:]) if s in self.rows else
                            self.values[s].shape, self.values[s].dtype) for s in self.needed}

    def backward(self, acc: dict) -> dict:
        """Gradients by slot (``X``: of the stacked inputs, ``(T' * B, ...)``; the parameters')."""
        return self.hoisted.backward([acc[s].reshape(-1, *acc[s].shape[2:]) if s in self.rows else acc[s]
                                      for s in self.needed])


class ComposedKernel(Kernel):
    """Runs ``cell.step`` at every time step (replaying a recorded step when the cell is static,
    see the module docstring) and backpropagates each step through its program's tape."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.cell = cell

    def forward(self, xs, states0, params):
        cell = self.cell
        leaves = {n: Tensor(p, requires_grad=True, name=n) for n, p in params.items()}
        record = is_grad_enabled()
        replayable = record and xs.shape[0] > RECORDED and cell.step_is_static()
        steps, programs, replay = [], [], None
        state = tuple(states0)
        hs = None
        with cell.substituted(leaves):
            for t in range(xs.shape[0]):
                if replay is not None:
                    state, gates = replay.run(xs[t], state, t - RECORDED)
                    steps.append((replay.tape, gates))
                elif not record:
                    state = self._step(xs[t], state)
                else:
                    inputs = [Tensor(a, requires_grad=True) for a in (xs[t], *state)] + list(leaves.values())
                    out, order = trace_step(cell, inputs)
                    state = tuple(o.data for o in out)
                    steps.append((Tape.record(out, {id(v): (v, s) for s, v in enumerate(inputs)}, order), None))
                    if replayable:
                        programs.append(Program.record(inputs, out, order))
                        if t == RECORDED - 1 and all(programs[-1].same_as(p) for p in programs[:-1]):
                            replay = Replay(programs[-1], len(state), params, xs[RECORDED:])
                if hs is None:
                    hs = np.empty((xs.shape[0], *state[0].shape), state[0].dtype)
                hs[t] = state[0]
        self.saved = Saved(steps=steps, xs_shape=xs.shape, dtype=xs.dtype, replay=replay, first=1 + len(states0),
                           names=tuple(params), shapes=[p.shape for p in params.values()],
                           replayed=replay is not None)
        return hs, state

    def _step(self, x_t, state: tuple) -> tuple:
        """One step through ``cell.step`` with gradients off."""
        state = tuple(Tensor(s) for s in state)
        out = self.cell.step(Tensor(x_t), state if len(state) > 1 else state[0])
        return tuple(o.data for o in _check_out(self.cell, tuple(out) if isinstance(out, tuple | list) else (out,),
                                                state))

    def new_acc(self):
        """``(dxs, gradients by slot)``: the parameters' and the replay's needed values'."""
        s = self.saved
        by_slot = {s.first + j: np.zeros(shape, s.dtype) for j, shape in enumerate(s.shapes)}
        return np.zeros(s.xs_shape, s.dtype), {**by_slot, **({} if s.replay is None else s.replay.new_acc())}

    def step_back(self, acc, s0: int, s1: int, dstate: tuple) -> tuple:
        dxs, by_slot = acc
        steps, n = self.saved.steps, len(dstate)
        rows = () if self.saved.replay is None else self.saved.replay.rows
        prev = [np.empty_like(d) for d in dstate]
        for s in range(s0, s1):
            tape, gates = steps[s]
            found = tape.backward([d[s - s0] for d in dstate], gates)
            for k, p in enumerate(prev):
                g = found.get(1 + k)
                p[s - s0] = 0 if g is None else g
            for slot, g in found.items():
                if slot == X:
                    dxs[s] += g
                elif slot > n:
                    if slot in rows:
                        by_slot[slot][s - RECORDED] += g
                    else:
                        by_slot[slot] += g
        return tuple(prev)

    def finish(self, acc):
        dxs, by_slot = acc
        s = self.saved
        if s.replay is not None:
            for slot, g in s.replay.backward(by_slot).items():
                if slot == X:
                    dxs[RECORDED:] += g.reshape(dxs[RECORDED:].shape)
                else:
                    by_slot[slot] += g
        return dxs, {name: by_slot[s.first + j] for j, name in enumerate(s.names)}
