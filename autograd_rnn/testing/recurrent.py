"""Input generators for the sequence gate (Full truncation: the exact gradient, which is what
finite differences see; truncated policies are checked by
:func:`autograd_rnn.gradcheck_sequence` against the explicitly truncated objective).

A case draws a built-in cell and a path: the fused kernel from the sequence layer's table (inputs
``(zx, *state0, *the parameters the kernel reads)``, ``zx`` the input projection or input part)
or the composed kernel (inputs ``(xs, *state0, *every cell parameter)``)."""

from __future__ import annotations

import functools

from ..nodes import CELLS, LayerNormLSTM
from ..sequence import FUSED, ComposedKernel, SequenceGate
from .registry import Draw, GateCase, register

OPTIONS = {LayerNormLSTM: {"eps": 0.1}}
"""Cell options of the cases. A layer norm curves on the scale sqrt(var + eps) of its row, and drawn
inputs and weights can make a row constant (zeros, say), where with the default eps of 1e-5 central
differences at the checker's step cannot follow it; eps = 0.1 keeps every point checkable and the
arithmetic the same."""


@register(SequenceGate)
def _sequence(d: Draw) -> GateCase:
    cls = d.sampled_from(sorted(CELLS.values(), key=lambda c: c.__name__))
    T, B, In, H = d.integers(1, 4), d.integers(1, 3), d.integers(1, 3), d.integers(1, 3)
    cell = cls(In, H, dtype=d.dtype, **OPTIONS.get(cls, {}))
    states = tuple(d.floats((B, H), -1, 1) for _ in range(cell.n_state))
    params = {name: d.floats(p.shape, -1, 1) for name, p in cell.parameters().items()}
    if d.booleans():
        entry = FUSED[cls]
        kernel = functools.partial(entry.kernel, **entry.options(cell))
        width = entry.kernel.gates * H
        gate = SequenceGate(kernel, entry.recurrent, cell.n_state)
        return GateCase(gate, (d.floats((T, B, width)), *states, *[params[n] for n in entry.recurrent]))
    gate = SequenceGate(functools.partial(ComposedKernel, cell), tuple(params), cell.n_state)
    return GateCase(gate, (d.floats((T, B, In)), *states, *params.values()))
