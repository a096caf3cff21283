"""Fused kernels: accelerations the sequence layer picks from one table keyed by a cell's exact
class. A cell knows nothing of them.

A fused cell is run as two pieces: its *input part*, the state-independent part of the step, over
the whole ``(T, batch, input)`` block at once with graph ops (so its gradients come from the
graph): the input projection ``zx = x W^T + b``, one ``LinearGate``, or a cell's own
``input_part`` (the layer-normalised LSTM's ``gain * N(x W^T) + bias``); then the kernel's
recurrence on ``zx``. Both read the cell's parameters by name.

:func:`fused_for` returns the table's entry only when it computes exactly the cell's ``step``:
the class itself (not a subclass, which may override ``step``), no ``step`` assigned on the
instance, and exactly the parameters the entry names (a cell given an extra parameter runs
composed). Anything else runs the composed path, which is always the cell's own ``step``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import GateTypeError
from ...graph import Tensor, linear
from ...nodes import Cell, GRULayer, LayerNormLSTM, LSTMLayer, RNNLayer
from .gru import GRUKernel
from .lnlstm import RECURRENT as LN_RECURRENT
from .lnlstm import LNLSTMKernel
from .lstm import LSTMKernel
from .rnn import RNNKernel


@dataclass(frozen=True)
class FusedCell:
    """How to run one cell class fused.

    ``kernel(**options(cell))`` is one application of the recurrence; ``recurrent`` names the
    parameters the kernel reads, ``projection`` those the input part reads: by default the
    (weight, bias) of the input projection ``x W^T + b``; ``input_part(cell, x)``, when given,
    computes the input part instead (with graph ops, row by row: ``x (..., input)`` ->
    ``(..., G*H)``)."""

    kernel: type
    projection: tuple[str, ...] = ("weight_ih", "bias_ih")
    recurrent: tuple[str, ...] = ("weight_hh", "bias_hh")
    options: Callable[[Cell], dict] = field(default=lambda cell: {})
    input_part: Callable[[Cell, Tensor], Tensor] | None = None

    def names(self) -> set[str]:
        return {*self.projection, *self.recurrent}

    def project(self, cell: Cell, x: Tensor) -> Tensor:
        """The input part of ``x (..., input)``, ``(..., G*H)``, with graph ops."""
        if self.input_part is not None:
            return self.input_part(cell, x)
        W, b = (cell.resolve(n) for n in self.projection)
        return linear(x, W, b)


FUSED: dict[type, FusedCell] = {
    RNNLayer: FusedCell(RNNKernel, options=lambda cell: {"nonlinearity": cell.nonlinearity}),
    LSTMLayer: FusedCell(LSTMKernel),
    GRULayer: FusedCell(GRUKernel),
    LayerNormLSTM: FusedCell(LNLSTMKernel, projection=("weight_ih", "gain_ih", "bias"), recurrent=LN_RECURRENT,
                             options=lambda cell: {"eps": cell.eps}, input_part=LayerNormLSTM.input_part),
}


def register_fused(cls: type, entry: FusedCell) -> None:
    """Run ``cls`` (exactly that class) with ``entry``'s kernel. Its ``step`` stays the reference
    the kernel must match: property-test the two against each other."""
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise GateTypeError(f"register_fused: {cls!r} is not a Cell subclass; expected the class of a cell")
    FUSED[cls] = entry


def fused_for(cell: Cell) -> FusedCell | None:
    """The table's entry for ``cell`` when it computes exactly the cell's ``step``, else None."""
    entry = FUSED.get(type(cell))
    if entry is None or "step" in vars(cell) or set(cell.parameters()) != entry.names():
        return None
    return entry


__all__ = ["FusedCell", "FUSED", "register_fused", "fused_for", "RNNKernel", "LSTMKernel", "GRUKernel",
           "LNLSTMKernel"]
