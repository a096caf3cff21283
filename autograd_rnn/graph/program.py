"""A recorded function as a linear program (a jaxpr): every value an integer slot in one list.

A function of some input tensors, recorded on the graph, becomes:

* slots ``0 .. n_in-1``: the inputs, in the order given;
* then the constants it read (leaf tensors that are not inputs), with their values in ``consts``;
* then the outputs of each equation, in order. An equation ``(gate, ins, outs)`` applies the gate
  to the values of the slots ``ins`` and writes the slots ``outs`` (consecutive, one per output);
* ``outs``: the slots of the function's outputs.

``meta[slot]`` is the (shape, dtype) of every value as recorded. Two recordings of the same
function on other arrays give the same program (:meth:`Program.difference` says where they part).
:meth:`Program.tape` routes the gradients of any run of some of the equations for the one walk;
:meth:`Program.run` runs them on arrays. The composed sequence path replays a time step this way,
and the PyTorch export reads the same program, gate by gate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from ..gates import Gate
from .walk import Op, Tape, topological_order


class Eqn(NamedTuple):
    """One gate application: the gate (its configuration), its input slots, its output slots."""

    gate: Gate
    ins: tuple[int, ...]
    outs: tuple[int, ...]


class Program:
    """See the module docstring. Build one with :meth:`record`."""

    def __init__(self, n_in: int, consts: dict[int, np.ndarray], eqns: list[Eqn], outs: tuple[int, ...],
                 meta: list[tuple]):
        self.n_in, self.consts, self.eqns, self.outs, self.meta = n_in, consts, eqns, outs, meta

    @classmethod
    def record(cls, inputs: Sequence, outputs: Sequence, order: list[Op] | None = None) -> Program:
        """The program that made the tensors ``outputs`` from the tensors ``inputs`` (a tensor given
        twice is its first slot). ``order``: the topological order when the caller knows it."""
        order = topological_order(outputs) if order is None else order
        slot: dict[int, int] = {}
        for i, t in enumerate(inputs):
            slot.setdefault(id(t), i)
        meta = [(t.data.shape, t.data.dtype) for t in inputs]
        consts: dict[int, np.ndarray] = {}
        first: dict[int, int] = {}  # id(op) -> its first output slot

        def slot_of(t) -> int:
            op = t._op
            if op is not None:
                s = first[id(op)] + t._index
                if meta[s] is None:
                    meta[s] = (t.data.shape, t.data.dtype)
                return s
            s = slot.get(id(t))
            if s is None:
                s = slot[id(t)] = len(meta)
                meta.append((t.data.shape, t.data.dtype))
                consts[s] = t.data
            return s

        eqns = []
        for op in order:
            ins = tuple([slot_of(t) for t in op.inputs])
            n = len(meta)
            first[id(op)] = n
            meta.extend(op.out_meta or (None,))
            eqns.append(Eqn(op.gate, ins, tuple(range(n, len(meta)))))
        outs = tuple([slot_of(t) for t in outputs])
        return cls(len(inputs), consts, eqns, outs, meta)

    @property
    def n_slots(self) -> int:
        return len(self.meta)

    def tape(self, which: Sequence[int], keys: Iterable[int], roots: Sequence[int] | None = None,
             gates: list | None = None, meta: list | None = None) -> Tape:
        """The tape of the equations ``which`` (indices, in order), for the one walk: the gradient
        of an input made by one of them goes to it, of a slot in ``keys`` out under that slot
        number, of anything else nowhere. ``roots``: the slots whose upstream gradients the walk
        starts from (default ``outs``); ``gates``: the applications (default the recorded ones);
        ``meta``: the values' (shape, dtype) in that run (default as recorded)."""
        keys, meta = set(keys), self.meta if meta is None else meta
        where: dict[int, tuple] = {}  # slot -> (position in the tape, output index), as the tape grows

        def route(s: int):
            return where.get(s) or ((-1, s) if s in keys else None)

        routes, in_meta, out_meta = [], [], []
        for p, i in enumerate(which):
            ins, outs = self.eqns[i].ins, self.eqns[i].outs
            rt = tuple([route(s) for s in ins])
            routes.append(rt)
            in_meta.append(tuple([None if r is None else meta[s] for r, s in zip(rt, ins)]))
            out_meta.append(None if len(outs) == 1 else tuple([meta[s] for s in outs]))
            for k, s in enumerate(outs):
                where[s] = (p, k)
        gates = [self.eqns[i].gate for i in which] if gates is None else gates
        return Tape(gates, routes, in_meta, out_meta, [route(s) for s in (self.outs if roots is None else roots)], {})

    def run(self, values: list, which: Iterable[int]) -> list:
        """Apply fresh copies of the equations ``which`` (in order) to ``values`` (one entry per
        slot, the inputs and constants they read filled in), writing their outputs there; returns
        the applications."""
        gates = []
        for i in which:
            gate, ins, outs = self.eqns[i]
            gate = gate.fresh()
            out = gate.forward(*[values[s] for s in ins])
            if len(outs) == 1:
                values[outs[0]] = out
            else:
                values[outs[0]:outs[-1] + 1] = out
            gates.append(gate)
        return gates

    def difference(self, other: Program) -> str | None:
        """Where ``other`` parts from this program (a sentence naming the first equation that
        differs), or None when both are the same: the same gates with equal configurations, wired
        alike, with equal constants."""
        if (self.n_in, len(self.eqns)) != (other.n_in, len(other.eqns)):
            return (f"{len(self.eqns)} gate applications on {self.n_in} inputs, then {len(other.eqns)} on "
                    f"{other.n_in}")
        for i, (a, b) in enumerate(zip(self.eqns, other.eqns)):
            if not a.gate.same_config(b.gate):
                return f"application {i}: {a.gate!r}, then {b.gate!r}"
            if a.ins != b.ins or a.outs != b.outs:
                return f"application {i} ({a.gate.name}) reads other values"
            bad = [s for s in a.ins if s in self.consts and not _same_const(self.consts[s], other.consts.get(s))]
            if bad:
                return (f"application {i} ({a.gate.name}) reads a constant whose value changed (a value made "
                        f"outside the graph: detach(), a random draw, a number from the data)")
        if self.outs != other.outs:
            return "the outputs come from other values"
        bad = [s for s in self.outs if s in self.consts and not _same_const(self.consts[s], other.consts.get(s))]
        return "an output is a constant whose value changed" if bad else None

    def same_as(self, other: Program) -> bool:
        return self.difference(other) is None

    def __repr__(self) -> str:
        lines = [f"Program({self.n_in} inputs, {len(self.consts)} constants, {len(self.eqns)} equations)"]
        lines += [f"  [{s}] = {c.tolist() if c.size <= 4 else f'array{c.shape}'} ({c.dtype})"
                  for s, c in self.consts.items()]
        lines += [f"  {list(e.outs)} = {e.gate!r}{list(e.ins)}" for e in self.eqns]
        return "\n".join(lines + [f"  return {list(self.outs)}"])


def _same_const(a: np.ndarray, b: np.ndarray | None) -> bool:
    return b is not None and a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
