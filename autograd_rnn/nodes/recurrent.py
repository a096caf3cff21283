"""``Recurrent``: stacked Sequences with dropout between layers, like torch.nn.RNN/LSTM/GRU."""

from __future__ import annotations

import numpy as np

from ..graph import Tensor, dropout
from ..truncation import Truncation
from .cell import Cell
from .gru import GRULayer
from .lstm import LSTMLayer
from .node import Node, as_rng
from .rnn import RNNLayer

CELLS = {"rnn": RNNLayer, "lstm": LSTMLayer, "gru": GRULayer}


def cell_class(cell) -> type:
    """``"rnn"``, ``"lstm"``, ``"gru"`` or a Cell subclass."""
    if isinstance(cell, str):
        try:
            return CELLS[cell.lower()]
        except KeyError:
            raise ValueError(f"cell={cell!r}; expected one of {sorted(CELLS)} or a Cell subclass") from None
    if isinstance(cell, type) and issubclass(cell, Cell):
        return cell
    raise TypeError(f"cell={cell!r}; expected one of {sorted(CELLS)} or a Cell subclass")


class Recurrent(Node):
    """``layers`` stacked :class:`~autograd_rnn.sequence.Sequence` s (children ``l0``, ``l1``, ...),
    dropout with probability ``dropout`` between layers (not after the last, as in PyTorch) while
    training.

    ``hs, states = rec(xs, states0=None)``: ``xs (T, batch, input_size)``, ``hs (T, batch,
    hidden_size)`` from the top layer, ``states`` a list with each layer's final state.
    Parameter names: ``l{k}.cell.weight_ih`` ...; :mod:`autograd_rnn.torch_interop` maps them to
    PyTorch's ``weight_ih_l{k}`` ...
    """

    def __init__(self, cell, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0,
                 truncation: Truncation | str | None = None, dtype=np.float64, rng=None, fused: bool = True,
                 **cell_kwargs):
        from ..sequence import Sequence

        super().__init__(dtype)
        if layers < 1:
            raise ValueError(f"Recurrent: layers={layers}; expected >= 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Recurrent: dropout={dropout}; expected a probability in [0, 1)")
        if dropout and layers == 1:
            import warnings

            warnings.warn(f"Recurrent: dropout={dropout} with layers=1 does nothing (dropout acts between layers)",
                          stacklevel=2)
        rng = as_rng(rng)
        cls = cell_class(cell)
        self.cell_type, self.layers, self.p_drop = cls, layers, dropout
        self.input_size, self.hidden_size = input_size, hidden_size
        self.rng = rng
        for k in range(layers):
            c = cls(input_size if k == 0 else hidden_size, hidden_size, dtype=dtype, rng=rng, **cell_kwargs)
            setattr(self, f"l{k}", Sequence(c, truncation=truncation, fused=fused))

    def sequences(self) -> list:
        return [getattr(self, f"l{k}") for k in range(self.layers)]

    def forward(self, xs: Tensor, states0: list | None = None):
        states = []
        h = xs
        for k, seq in enumerate(self.sequences()):
            if k > 0:
                h = dropout(h, self.p_drop, self.rng, self.training)
            h, state = seq(h, None if states0 is None else states0[k])
            states.append(state)
        return h, states

    def extra_repr(self) -> str:
        return f"{self.cell_type.__name__}, {self.input_size}, {self.hidden_size}, layers={self.layers}"
