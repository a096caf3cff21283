"""A cell's step as a torch module, read from the step's recorded program.

One step of the cell is recorded on the graph (:func:`autograd_rnn.sequence.step_program`): a
list of gate applications on numbered slots, the inputs being x_t, the state's parts and the
parameters. :class:`CellModule` runs the same list with each gate's PyTorch counterpart
(:mod:`.ops`), so PyTorch's autograd differentiates what our graph differentiates. The step is
recorded three times, on other random inputs and another batch size; a step that is not the same
program each time (Python control flow on values, a random draw, a shape fixed to one batch size)
is refused, since one program could not stand for it.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import AutogradRNNError, ExportError, GateInputError
from ..graph import Program
from ..nodes import Cell
from ..sequence.composed import X, step_program
from .ops import counterpart

PROBES = ((2, "two steps"), (3, "two batch sizes"))
"""The batch size of each further recording of a step, and what it must agree across."""


def record(cell: Cell) -> Program:
    """One step of ``cell`` as a program, after checking that it is the same program on other
    inputs and another batch size (an ExportError says where it parts otherwise)."""
    rng = np.random.default_rng(0)

    def probe(batch: int) -> Program:
        x, *state = (rng.uniform(0.1, 0.9, (batch, n)).astype(cell.dtype)
                     for n in (cell.input_size, *[cell.hidden_size] * cell.n_state))
        try:
            return step_program(cell, x, tuple(state))[0]
        except (AutogradRNNError, ValueError, TypeError) as e:
            raise ExportError(f"{type(cell).__name__}.step could not be recorded on random inputs in (0.1, 0.9), "
                              f"batch {batch}: {e}") from e

    program = probe(2)
    for batch, what in PROBES:
        difference = program.difference(probe(batch))
        if difference is not None:
            raise ExportError(f"{type(cell).__name__}.step is not the same program for {what} ({difference}); "
                              f"one program of torch operations cannot stand for it")
    return program


def as_tensor(a: np.ndarray) -> torch.Tensor:
    """A constant as a torch tensor (unsigned integers as int64, which torch indexes with)."""
    return torch.from_numpy(np.array(a, dtype=np.int64 if a.dtype.kind == "u" else a.dtype))


class CellModule(torch.nn.Module):
    """``cell.step`` in torch operations: ``module(x, state)`` takes and returns what ``cell.step``
    does, ``x (batch, input_size)`` and one tensor, or a tuple for a state of several parts
    (``state=None``: zeros). The cell's parameters are the module's, under the same dotted names;
    the constants the step reads are buffers, moved and cast with the module but not in its state
    dict."""

    def __init__(self, cell: Cell):
        super().__init__()
        self.program = program = record(cell)
        self.ops = [counterpart(e.gate, f"{type(cell).__name__}.step applies ") for e in program.eqns]
        self.names = tuple(cell.parameters())
        self.n_state, self.input_size, self.hidden_size = cell.n_state, cell.input_size, cell.hidden_size
        self.kind = type(cell).__name__
        for name, p in cell.parameters().items():
            *path, attr = name.split(".")
            owner = self
            for part in path:
                if part not in owner._modules:
                    owner.add_module(part, torch.nn.Module())
                owner = owner._modules[part]
            owner.register_parameter(attr, torch.nn.Parameter(torch.tensor(p.data)))
        for s, c in program.consts.items():
            self.register_buffer(f"const{s}", as_tensor(c), persistent=False)

    def template(self, weights: dict | None = None) -> list:
        """A value per slot, the parameters and constants filled in; ``weights`` ``{name: tensor}``
        stand in for the parameters of those names (a dropped ``weight_hh``)."""
        weights = weights or {}
        unknown = [n for n in weights if n not in self.names]
        if unknown:
            raise GateInputError(f"{self.kind} module: no parameter {', '.join(map(repr, unknown))} to stand in for; "
                                 f"its parameters are {', '.join(self.names)}")
        values = [None] * self.program.n_slots
        values[1 + self.n_state:self.program.n_in] = [weights[n] if n in weights else self.get_parameter(n)
                                                      for n in self.names]
        for s in self.program.consts:
            values[s] = self.get_buffer(f"const{s}")
        return values

    def run(self, values: list, which) -> None:
        """Apply the counterparts of the equations ``which`` (in order) to ``values``, in place."""
        eqns, ops = self.program.eqns, self.ops
        for i in which:
            ins, outs = eqns[i].ins, eqns[i].outs
            out = ops[i](*[values[s] for s in ins])
            if len(outs) == 1:
                values[outs[0]] = out
            else:
                values[outs[0]:outs[-1] + 1] = out

    def parts(self, state, x: torch.Tensor) -> tuple:
        """``state`` as a tuple of parts (zeros like ``x``'s rows for None), checked."""
        if state is None:
            return tuple(x.new_zeros(x.shape[0], self.hidden_size) for _ in range(self.n_state))
        parts = tuple(state) if isinstance(state, tuple | list) else (state,)
        if len(parts) != self.n_state or any(p.shape != (x.shape[0], self.hidden_size) for p in parts):
            raise GateInputError(f"{self.kind} module: state {[tuple(p.shape) for p in parts]}; expected "
                                 f"{self.n_state} part(s) of shape (batch={x.shape[0]}, hidden={self.hidden_size})")
        return parts

    def check(self, x: torch.Tensor, axes: str) -> None:
        if x.ndim != len(axes.split(",")) or x.shape[-1] != self.input_size or 0 in x.shape:
            raise GateInputError(f"{self.kind} module: x has shape {tuple(x.shape)}; expected ({axes}) with input "
                                 f"size {self.input_size}, none of them 0")

    def forward(self, x: torch.Tensor, state=None):
        self.check(x, "batch, input")
        values = self.template()
        values[X] = x
        values[1:1 + self.n_state] = self.parts(state, x)
        self.run(values, range(len(self.ops)))
        out = tuple(values[s] for s in self.program.outs)
        return out if self.n_state > 1 else out[0]

    def extra_repr(self) -> str:
        return f"{self.kind}, {self.input_size}, {self.hidden_size}, {len(self.ops)} operations"
