"""``Recurrent``: stacked Sequences with dropout between layers, like torch.nn.RNN/LSTM/GRU, and
the recurrent regularisers of AWD-LSTM (locked dropout, weight drop)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from ..errors import CellError, ConfigError, GateInputError
from ..graph import Tensor, dropout
from ..init import as_rng
from ..nodes import Node, blame_cell, cell_class, check_probability, check_size, defined_at
from .sequence import Sequence
from .truncation import Truncation

MAX_LAYERS = 1024
SIZES = ("input_size", "hidden_size", "dtype", "rng")  # what Recurrent itself passes to every cell


def check_cell_options(cls: type, options: dict) -> None:
    """ConfigError, before any cell is built, when ``cls``'s constructor cannot be called as every
    layer calls it, ``cls(input_size, hidden_size, dtype=, rng=, **options)`` (naming the cell,
    where it is defined and what it lacks), or does not take one of the options (naming those it
    does); an option named like a size, dtype or rng is refused, since the model sets those."""
    sizes = [k for k in options if k in SIZES]
    if sizes:
        raise ConfigError(f"{cls.__name__}: no cell option {', '.join(map(repr, sizes))}: the model sets "
                          f"{', '.join(SIZES)} for every layer itself")
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return
    keywords = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    lacking = [f"{k}=" for k in ("dtype", "rng") if k not in named and not keywords]
    if len(positional) < 2 and not any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        lacking.insert(0, "input_size and hidden_size as its first two arguments")
    if lacking:
        raise CellError(f"the cell {cls.__name__} ({defined_at(cls)}): its constructor takes no "
                        f"{' and no '.join(lacking)}; every layer builds its cell as "
                        f"{cls.__name__}(input_size, hidden_size, dtype=..., rng=..., **options), so a cell's "
                        f"constructor must take those (and pass rng to the initialisers it uses)")
    if keywords:
        return
    takes = [n for n in named if n not in SIZES]
    bad = [k for k in options if k not in takes]
    if bad:
        raise ConfigError(f"{cls.__name__}: no cell option {', '.join(map(repr, bad))}; its options are "
                          f"{', '.join(takes) if takes else 'none'} (input and hidden sizes, dtype and rng are set "
                          f"by the model)")


class Recurrent(Node):
    """``layers`` stacked :class:`~autograd_rnn.sequence.Sequence` s (children ``l0``, ``l1``, ...),
    dropout with probability ``dropout`` between layers (not after the last, as in PyTorch) while
    training.

    Regularisation while training (all off in ``eval()``; masks drawn from ``rng``):

    * ``locked=True``: the between-layer dropout draws one mask per sequence, ``(1, batch,
      hidden)``, and applies it at every time step (variational dropout, Gal & Ghahramani 2016),
      instead of a fresh mask per element.
    * ``weight_drop``: DropConnect on every layer's recurrent weight ``weight_hh`` (Wan et al.
      2013, as AWD-LSTM): each forward draws one mask of the weight's shape, and the layer runs
      with ``W_hh * mask / (1 - p)`` in place of ``W_hh``, the product made with graph ops, so
      ``dL/dW_hh = mask / (1 - p) * dL/dW'`` and the fused kernels run as they do without it.
      The cell must have a parameter named ``weight_hh``.

    ``hs, states = rec(xs, states0=None)``: ``xs (T, batch, input_size)``, ``hs (T, batch,
    hidden_size)`` from the top layer, ``states`` a list with each layer's final state.
    Parameter names: ``l{k}.cell.weight_ih`` ...; :mod:`autograd_rnn.torch_interop` maps them to
    PyTorch's ``weight_ih_l{k}`` ...

    ``cell_options`` go to every layer's cell constructor (``RNNLayer``'s ``nonlinearity``, or a
    custom cell's own options).
    """

    def __init__(self, cell, input_size: int, hidden_size: int, layers: int = 1, dropout: float = 0.0,
                 truncation: Truncation | str | None = None, dtype=np.float64, rng=None, fused: bool = True,
                 locked: bool = False, weight_drop: float = 0.0, **cell_options):
        super().__init__(dtype)
        layers = check_size("Recurrent", "layers", layers)
        if layers > MAX_LAYERS:
            raise ConfigError(f"Recurrent: layers={layers}; expected at most {MAX_LAYERS}")
        dropout = check_probability("Recurrent", "dropout", dropout)
        self.weight_drop = check_probability("Recurrent", "weight_drop", weight_drop)
        if not isinstance(locked, bool):
            raise ConfigError(f"Recurrent: locked={locked!r}; expected True or False")
        self.locked = locked
        if dropout and layers == 1:
            warnings.warn(f"Recurrent: dropout={dropout} with layers=1 does nothing (dropout acts between layers)",
                          stacklevel=2)
        rng = as_rng(rng)
        cls = cell_class(cell)
        check_cell_options(cls, cell_options)
        self.cell_type, self.layers, self.p_drop = cls, layers, dropout
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell_options = dict(cell_options)
        self.rng = rng
        for k in range(layers):
            with blame_cell(cls):
                c = cls(input_size if k == 0 else hidden_size, hidden_size, dtype=dtype, rng=rng, **cell_options)
            setattr(self, f"l{k}", Sequence(c, truncation=truncation, fused=fused))
        if self.weight_drop and "weight_hh" not in c.parameters():
            raise ConfigError(f"Recurrent: weight_drop={self.weight_drop} drops entries of the recurrent weight "
                              f"'weight_hh', and {cls.__name__} has none (its parameters: "
                              f"{', '.join(c.parameters())}); expected weight_drop=0 for this cell")

    def sequences(self) -> list[Sequence]:
        return [getattr(self, f"l{k}") for k in range(self.layers)]

    def forward(self, xs: Tensor, states0: list | None = None, projected: bool = False):
        """``projected=True``: ``xs`` is already the first layer's input projection (see
        :meth:`Sequence.forward_projected`)."""
        if states0 is not None and (not isinstance(states0, list | tuple) or len(states0) != self.layers):
            got = f"{len(states0)} states" if isinstance(states0, list | tuple) else f"a {type(states0).__name__}"
            raise GateInputError(f"Recurrent: states0 is {got}; expected a list with one state per layer "
                                 f"({self.layers}), None for a layer that starts from zeros")
        states = []
        h = xs
        for k, seq in enumerate(self.sequences()):
            s0 = None if states0 is None else states0[k]
            if k > 0:
                h = dropout(h, self.p_drop, self.rng, self.training, (0,) if self.locked else ())
            with seq.cell.substituted(self.dropped_weights(seq)):
                h, state = seq.forward_projected(h, s0) if k == 0 and projected else seq(h, s0)
            states.append(state)
        return h, states

    def dropped_weights(self, seq: Sequence) -> dict:
        """``{"weight_hh": W_hh * mask / (1 - p)}`` with a fresh mask while training with
        ``weight_drop``, else ``{}``: what the layer runs with in place of its parameters."""
        if not (self.weight_drop and self.training):
            return {}
        return {"weight_hh": dropout(seq.cell.weight_hh, self.weight_drop, self.rng)}

    def extra_repr(self) -> str:
        return f"{self.cell_type.__name__}, {self.input_size}, {self.hidden_size}, layers={self.layers}"
