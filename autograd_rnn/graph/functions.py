"""Functions of tensors that apply gates: the free-function face of the graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .. import gates as G
from ..errors import GateInputError
from ..init import as_rng
from .tensor import Tensor, apply, lift


def concat(xs: Sequence[Tensor], axis: int = -1) -> Tensor:
    return apply(G.Concat(axis), *xs)


def stack(xs: Sequence[Tensor], axis: int = 0) -> Tensor:
    return apply(G.Stack(axis), *xs)


def linear(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """``x @ W.T + b`` as one gate (x: (batch, in), W: (out, in), b: (out,))."""
    return apply(G.LinearGate(), x, W, b)


def embedding(weight: Tensor, indices) -> Tensor:
    """``weight[indices]``: rows of ``weight (V, E)`` for an integer array of any shape."""
    return apply(G.EmbeddingGate(), weight, np.asarray(indices))


def softmax_cross_entropy(logits: Tensor, targets, mask=None, reduction: str = "mean",
                          ignore_index: int | None = None) -> Tensor:
    """Scalar cross-entropy of integer ``targets (N,)`` under softmax(``logits (N, C)``)."""
    gate = G.SoftmaxCrossEntropy(reduction, ignore_index)
    extra = () if mask is None else (np.asarray(mask),)
    return apply(gate, logits, np.asarray(targets), *extra)


def dropout(x: Tensor, p: float, rng=None, training: bool = True, shared_axes: tuple[int, ...] = ()) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when
    ``training`` is False or p == 0. ``rng``: a Generator, a seed or None.

    ``shared_axes``: along these axes one mask value is shared, so whole slices are kept or
    dropped together. On a time-major ``(T, B, F)`` block, ``(0,)`` is *locked* (variational)
    dropout, one mask per sequence fixed across time steps (Gal & Ghahramani 2016); on an
    embedding table ``(V, E)``, ``(1,)`` drops whole rows, i.e. every use of a token's vector
    (embedding dropout, Merity et al. 2018)."""
    if not training or p == 0.0:
        return x
    if any(not isinstance(a, int) or not -x.ndim <= a < x.ndim for a in shared_axes):
        raise GateInputError(f"dropout: shared_axes={shared_axes!r}; expected axes of the input's {x.ndim} "
                             f"dimension(s)")
    shape = tuple(1 if axis in shared_axes or axis - x.ndim in shared_axes else n for axis, n in enumerate(x.shape))
    gate = G.Dropout.sample(shape, p, as_rng(rng), x.dtype)
    if shape != x.shape:
        gate = G.Dropout(np.broadcast_to(gate.mask, x.shape))
    return apply(gate, x)


def maximum(a, b) -> Tensor:
    """Elementwise larger of ``a`` and ``b`` (one may broadcast onto the other); at a tie the
    gradient goes half to each."""
    a, b = _pair(a, b)
    return apply(G.Maximum(), a, b)


def minimum(a, b) -> Tensor:
    """Elementwise smaller of ``a`` and ``b``; at a tie the gradient goes half to each."""
    a, b = _pair(a, b)
    return apply(G.Minimum(), a, b)


def _pair(a, b) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, lift(b, a)
    if isinstance(b, Tensor):
        return lift(a, b), b
    return Tensor(a), Tensor(b)


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def zero_grad(tensors: Iterable[Tensor]) -> None:
    for t in tensors:
        t.grad = None
