"""Nodes: named parameters plus a forward written with graph ops."""

from ..errors import ConfigError
from .cell import CONTRACT, Cell, TorchLikeCell, blame_cell, cell_failure, defined_at
from .gru import GRULayer
from .layernorm import LayerNorm
from .linear import Embedding, Linear, TiedLinear
from .lnlstm import LayerNormLSTM
from .lstm import LSTMLayer
from .node import Node, check_probability, check_size
from .rnn import RNNLayer

CELLS: dict[str, type] = {"rnn": RNNLayer, "lstm": LSTMLayer, "gru": GRULayer, "lnlstm": LayerNormLSTM}
"""The built-in cells by name: the one list the language model, the command line, checkpoints,
the PyTorch bridge and the bench read."""


def cell_class(cell) -> type:
    """``"rnn"``, ``"lstm"``, ``"gru"``, ``"lnlstm"`` (see :data:`CELLS`) or a Cell subclass."""
    if isinstance(cell, str):
        try:
            return CELLS[cell.lower()]
        except KeyError:
            raise ConfigError(f"cell={cell!r}; expected one of {sorted(CELLS)} or a Cell subclass") from None
    if isinstance(cell, type) and issubclass(cell, Cell):
        return cell
    raise ConfigError(f"cell={cell!r}; expected one of {sorted(CELLS)} or a Cell subclass")


def cell_name(cls: type) -> str | None:
    """The built-in name of exactly ``cls`` (a subclass has none), or None."""
    return next((name for name, c in CELLS.items() if c is cls), None)


__all__ = [
    "Node",
    "check_size",
    "check_probability",
    "Cell",
    "TorchLikeCell",
    "Linear",
    "TiedLinear",
    "Embedding",
    "LayerNorm",
    "RNNLayer",
    "LSTMLayer",
    "GRULayer",
    "LayerNormLSTM",
    "CELLS",
    "cell_class",
    "cell_name",
    "CONTRACT",
    "blame_cell",
    "cell_failure",
    "defined_at",
]
