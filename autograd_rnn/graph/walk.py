"""The reverse-mode walk, the only one in the package: every backward (``Tensor.backward``,
``grad``, each time step of a composed sequence, replayed steps included) runs
:meth:`Tape.backward`.

A recorded gate application is an :class:`Op`. A :class:`Tape` lists the applications that feed
some roots in topological order (found with an explicit stack, no recursion: a 10,000-step
unrolled graph is fine) and, for every input of every application, where that input's gradient
goes: into another application's output slot, to a *key* (a leaf whose gradient is wanted), or
nowhere (a constant). :meth:`Tape.backward` visits the applications in reverse, calls each gate's
``backward`` with the summed gradient of its outputs, checks what it returns (a user gate's: the
package's own, ``gates.BUILTIN``, are checked by the test suite) and routes it on. It
never writes into an array it did not allocate (fan-in is ``a + b``, a new array) and never changes
the graph, so it can run again, and a tape recorded once can be walked with other applications of
the same gates (a replayed time step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import GateInputError, GateTypeError
from ..gates import BUILTIN
from ..gates.base import shape_str


class Op:
    """One recorded gate application: the gate (holding what its backward needs), its input
    tensors, and ``out_meta`` ((shape, dtype) of each output) for a multi-output gate."""

    __slots__ = ("gate", "inputs", "out_meta")

    def __init__(self, gate, inputs: tuple, out_meta: tuple | None):
        self.gate, self.inputs, self.out_meta = gate, inputs, out_meta


def topological_order(roots: Iterable) -> list[Op]:
    """The ops reachable from the tensors ``roots``, every one after all that feed it."""
    order, seen = [], set()
    stack = [(t._op, False) for t in roots if t._op is not None]
    while stack:
        op, expanded = stack.pop()
        if expanded:
            order.append(op)
            continue
        if id(op) in seen:
            continue
        seen.add(id(op))
        stack.append((op, True))
        for t in op.inputs:
            if t._op is not None and id(t._op) not in seen:
                stack.append((t._op, False))
    return order


class Tape:
    """Gate applications in topological order and the routes of their gradients.

    ``routes[i][j]``: where the gradient of application i's input j goes: ``(k, slot)`` for output
    ``slot`` of application k, ``(-1, key)`` for a wanted leaf, None for nothing. ``entry``: the
    route of each root. ``taps``: application -> ``[(slot, key)]`` for wanted tensors that are
    outputs of an application. ``in_meta[i][j]``: (shape, dtype) of an input whose gradient is
    routed; ``out_meta[i]``: those of each output of a multi-output application, else None.
    """

    __slots__ = ("gates", "routes", "in_meta", "out_meta", "n_out", "entry", "taps", "leaves")

    def __init__(self, gates: list, routes: list, in_meta: list, out_meta: list, entry: list, taps: dict,
                 leaves: dict | None = None):
        self.gates, self.routes, self.in_meta, self.out_meta = gates, routes, in_meta, out_meta
        self.n_out = [1 if m is None else len(m) for m in out_meta]
        self.entry, self.taps, self.leaves = entry, taps, leaves or {}

    @classmethod
    def record(cls, roots: Sequence, wanted: dict | None = None, order: list[Op] | None = None) -> Tape:
        """The tape of the graph that made ``roots``. ``wanted=None``: every leaf that requires a
        gradient is a key (its id; ``leaves`` maps it back to the tensor). Otherwise ``wanted``
        maps ``id(tensor) -> (tensor, key)`` for the tensors whose gradients are wanted, leaves or
        not. ``order``: the topological order when the caller knows it."""
        order = topological_order(roots) if order is None else order
        index = {id(op): i for i, op in enumerate(order)}
        leaves: dict = {}
        taps: dict = {}
        for t, key in (wanted or {}).values():
            if t._op is not None and id(t._op) in index:
                taps.setdefault(index[id(t._op)], []).append((t._index, key))

        def route(t):
            if t._op is not None and id(t._op) in index:
                return (index[id(t._op)], t._index)
            if wanted is None:
                if not t.requires_grad:
                    return None
                leaves[id(t)] = t
                return (-1, id(t))
            if t._op is not None or id(t) not in wanted:
                return None
            return (-1, wanted[id(t)][1])

        routes, in_meta = [], []
        for op in order:
            r = tuple(route(t) for t in op.inputs)
            routes.append(r)
            in_meta.append(tuple(None if d is None else (t.data.shape, t.data.dtype) for d, t in zip(r, op.inputs)))
        entry = [route(t) for t in roots]
        return cls([op.gate for op in order], routes, in_meta, [op.out_meta for op in order], entry, taps, leaves)

    def backward(self, root_grads: Sequence[np.ndarray], gates: list | None = None) -> dict:
        """Gradients by key for upstream ``root_grads`` of the roots. ``gates``: other applications
        of the same gates, in the same order (a replayed step); default the recorded ones."""
        gates = self.gates if gates is None else gates
        slots: list = [None] * len(gates)
        found: dict = {}
        n_out, taps = self.n_out, self.taps
        for dest, g in zip(self.entry, root_grads):
            if dest is not None:
                _give(dest, g, slots, found, n_out)
        for i in range(len(gates) - 1, -1, -1):
            s = slots[i]
            if s is None:
                continue
            for slot, key in taps.get(i, ()):
                if s[slot] is not None:
                    found[key] = s[slot] if key not in found else found[key] + s[slot]
            gate, meta = gates[i], self.out_meta[i]
            g = s[0] if meta is None else tuple(x if x is not None else np.zeros(*m) for x, m in zip(s, meta))
            routes = self.routes[i]
            grads = gate.backward(g)
            if type(gate) not in BUILTIN:  # (the package's own gates are checked by its tests)
                grads = _checked(gate, grads, routes, self.in_meta[i])
            for dest, dg in zip(routes, grads):
                if dest is not None and dg is not None:
                    _give(dest, dg, slots, found, n_out)
        return found


def _give(dest: tuple, g: np.ndarray, slots: list, found: dict, n_out: list) -> None:
    k, where = dest
    if k >= 0:
        s = slots[k]
        if s is None:
            s = slots[k] = [None] * n_out[k]
        s[where] = g if s[where] is None else s[where] + g
    else:
        found[where] = g if where not in found else found[where] + g


def _checked(gate, grads, routes: tuple, in_meta: tuple) -> tuple:
    """The gate's gradients, checked: one per input, each None or an ndarray of that input's shape
    and dtype (only where a gradient is routed)."""
    if type(grads) is tuple and len(grads) == len(routes):
        for g, m in zip(grads, in_meta):
            if m is not None and g is not None and (type(g) is not np.ndarray or g.shape != m[0] or g.dtype != m[1]):
                break
        else:
            return grads
    name = type(gate).__name__
    if not isinstance(grads, tuple | list):
        raise GateTypeError(f"{name}.backward returned a {type(grads).__name__}; expected a tuple with one "
                            f"gradient per input ({len(routes)}), None for a constant")
    if len(grads) != len(routes):
        raise GateInputError(f"{name}.backward returned {len(grads)} gradients for {len(routes)} inputs; "
                             f"expected one per input (None for a constant)")
    for i, (g, m) in enumerate(zip(grads, in_meta)):
        if g is None or m is None:
            continue
        if type(g) is not np.ndarray:
            raise GateTypeError(f"{name}.backward returned a {type(g).__name__} for input {i}; expected an ndarray")
        if g.shape != m[0]:
            raise GateInputError(f"{name}.backward returned a gradient of shape {shape_str(g.shape)} for input "
                                 f"{i}; expected that input's shape {shape_str(m[0])}")
        if g.dtype != m[1]:
            raise GateTypeError(f"{name}.backward returned a {g.dtype} gradient for input {i}; expected that "
                                f"input's dtype {m[1]} (gradients are never silently up- or downcast)")
    return grads


def _check_roots(roots: Sequence, root_grads: Sequence) -> None:
    for t, g in zip(roots, root_grads):
        if g.shape != t.shape:
            raise GateInputError(f"backward: upstream gradient has shape {shape_str(g.shape)}; expected "
                                 f"{shape_str(t.shape)}")


def backprop(roots: Sequence, root_grads: Sequence[np.ndarray], wanted: dict | None = None) -> dict | None:
    """Reverse-mode walk from ``roots`` with upstream gradients ``root_grads``.

    ``wanted=None``: every leaf that requires a gradient gets its gradient added to ``leaf.grad``.
    Otherwise ``wanted`` maps ``id(tensor) -> tensor`` and the gradients of exactly those tensors
    (leaves or not) are returned by id; nothing is written to ``.grad``.
    """
    _check_roots(roots, root_grads)
    tape = Tape.record(roots, None if wanted is None else {i: (t, i) for i, t in wanted.items()})
    found = tape.backward(root_grads)
    if wanted is not None:
        return found
    for key, g in found.items():
        t = tape.leaves[key]
        t.grad = g if t.grad is None else t.grad + g
    return None


def grad(outputs, inputs, grad_outputs=None) -> list[np.ndarray | None]:
    """Gradients of ``sum_i <grad_outputs_i, outputs_i>`` with respect to each of ``inputs``,
    without touching any ``.grad`` (``None`` where an input is not reached). Like
    ``torch.autograd.grad``; the graph is kept, so this can run any number of times.

    ``outputs``: a Tensor or a sequence of them; ``inputs``: a Tensor or a sequence of them (one
    Tensor gives a list of one gradient, as ``torch.autograd.grad`` gives a tuple of one);
    ``grad_outputs``: one array per output, of its shape (default: ones), used in the output's dtype.
    """
    outputs = [outputs] if hasattr(outputs, "_op") else list(outputs)
    inputs = [inputs] if hasattr(inputs, "_op") else list(inputs)
    for k, t in enumerate([*outputs, *inputs]):
        if not hasattr(t, "_op"):
            where = f"outputs[{k}]" if k < len(outputs) else f"inputs[{k - len(outputs)}]"
            raise GateTypeError(f"grad: {where} is a {type(t).__name__}; expected a Tensor")
    if grad_outputs is None:
        grad_outputs = [np.ones_like(o.data) for o in outputs]
    elif isinstance(grad_outputs, np.ndarray) or np.isscalar(grad_outputs):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise GateInputError(f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; expected one "
                             f"upstream gradient per output")
    upstream = []
    for k, (o, g) in enumerate(zip(outputs, grad_outputs)):
        g = np.asarray(g)
        if g.dtype.kind not in "fiub":
            raise GateTypeError(f"grad: grad_outputs[{k}] has dtype {g.dtype}; expected numbers")
        if g.shape != o.shape:
            raise GateInputError(f"grad: grad_outputs[{k}] has shape {shape_str(g.shape)}; expected the "
                                 f"output's shape {shape_str(o.shape)}")
        upstream.append(g.astype(o.dtype, copy=False))
    found = backprop(outputs, upstream, {id(t): t for t in inputs})
    return [found.get(id(t)) for t in inputs]
