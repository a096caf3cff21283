"""Nodes: named parameters plus a forward written with graph ops."""

from .cell import Cell, TorchLikeCell
from .gru import GRULayer
from .linear import Embedding, Linear
from .lstm import LSTMLayer
from .node import Node
from .recurrent import CELLS, Recurrent, cell_class
from .rnn import RNNLayer

__all__ = [
    "Node",
    "Cell",
    "TorchLikeCell",
    "Linear",
    "Embedding",
    "RNNLayer",
    "LSTMLayer",
    "GRULayer",
    "Recurrent",
    "CELLS",
    "cell_class",
]
