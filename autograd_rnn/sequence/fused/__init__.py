"""Fused kernels: accelerations the sequence layer picks from one table keyed by a cell's exact
class. A cell knows nothing of them.

A fused cell is run as two pieces: its input projection ``zx = x W^T + b`` over the whole
``(T, batch, input)`` block at once (an ordinary ``LinearGate``, so its gradients come from the
graph), then the kernel's recurrence on ``zx``. Both read the cell's parameters by name. A kernel
whose cell has no such projection (the layer-normalised LSTM normalises ``x W^T`` before adding a
bias) reads ``xs`` itself: its entry names no projection.

:func:`fused_for` returns the table's entry only when it computes exactly the cell's ``step``:
the class itself (not a subclass, which may override ``step``), no ``step`` assigned on the
instance, and exactly the parameters the entry names (a cell given an extra parameter runs
composed). Anything else runs the composed path, which is always the cell's own ``step``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...nodes import Cell, GRULayer, LayerNormLSTM, LSTMLayer, RNNLayer
from .gru import GRUKernel
from .lnlstm import PARAMETERS as LN_PARAMETERS
from .lnlstm import LNLSTMKernel
from .lstm import LSTMKernel
from .rnn import RNNKernel


@dataclass(frozen=True)
class FusedCell:
    """How to run one cell class fused.

    ``kernel(**options(cell))`` is one application of the recurrence; ``projection`` names the
    (weight, bias) of the input projection, or is empty when the kernel takes the inputs ``xs``
    themselves; ``recurrent`` names the parameters the kernel reads."""

    kernel: type
    projection: tuple[str, str] = ("weight_ih", "bias_ih")
    recurrent: tuple[str, ...] = ("weight_hh", "bias_hh")
    options: Callable[[Cell], dict] = field(default=lambda cell: {})

    def names(self) -> set[str]:
        return {*self.projection, *self.recurrent}


FUSED: dict[type, FusedCell] = {
    RNNLayer: FusedCell(RNNKernel, options=lambda cell: {"nonlinearity": cell.nonlinearity}),
    LSTMLayer: FusedCell(LSTMKernel),
    GRULayer: FusedCell(GRUKernel),
    LayerNormLSTM: FusedCell(LNLSTMKernel, projection=(), recurrent=LN_PARAMETERS,
                             options=lambda cell: {"eps": cell.eps}),
}


def register_fused(cls: type, entry: FusedCell) -> None:
    """Run ``cls`` (exactly that class) with ``entry``'s kernel. Its ``step`` stays the reference
    the kernel must match: property-test the two against each other."""
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise TypeError(f"register_fused: {cls!r} is not a Cell subclass")
    FUSED[cls] = entry


def fused_for(cell: Cell) -> FusedCell | None:
    """The table's entry for ``cell`` when it computes exactly the cell's ``step``, else None."""
    entry = FUSED.get(type(cell))
    if entry is None or "step" in vars(cell) or set(cell.parameters()) != entry.names():
        return None
    return entry


__all__ = ["FusedCell", "FUSED", "register_fused", "fused_for", "RNNKernel", "LSTMKernel", "GRUKernel",
           "LNLSTMKernel"]
