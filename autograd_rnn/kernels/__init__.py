"""Sequence gates: fused kernels for the built-in cells and the composed kernel for any cell."""

from .base import CellGate, SequenceGate
from .composed import ComposedSequenceGate
from .gru import GRUCellGate, GRUSequenceGate
from .lstm import LSTMCellGate, LSTMSequenceGate
from .rnn import RNNCellGate, RNNSequenceGate

__all__ = [
    "SequenceGate",
    "CellGate",
    "ComposedSequenceGate",
    "RNNSequenceGate",
    "LSTMSequenceGate",
    "GRUSequenceGate",
    "RNNCellGate",
    "LSTMCellGate",
    "GRUCellGate",
]
