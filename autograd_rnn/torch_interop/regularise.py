"""The language model's regularisers as torch modules: dropout with shared axes (plain, locked
across time, whole rows of a table; also DropConnect on a weight) and the tied projection.

The masks are PyTorch's own random numbers, drawn at every call while training, with the shapes
and the meaning of the masks :func:`autograd_rnn.dropout` draws from the model's generator (see
docs/language-model.md, Regularisation): the same kind of regularisation, not the same draws.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def keep(shape: tuple, p: float, like: torch.Tensor) -> torch.Tensor:
    """A boolean mask of ``shape``, each entry kept (True) with probability ``1 - p``, on ``like``'s
    device; drawn with torch's generator (``torch.manual_seed`` fixes it)."""
    return torch.rand(shape, dtype=like.dtype, device=like.device) >= p


class Dropout(torch.nn.Module):
    """``x * m`` while training, with ``m = keep / (1 - p)``, ``keep ~ Bernoulli(1 - p)`` drawn at
    every call, of ``x``'s shape except 1 along the ``shared`` axes (one mask value for the whole
    slice along them); the identity in eval mode or at ``p = 0`` (nothing drawn). Backward:
    ``dx = g * m``.

    ``shared=(0,)`` on a time-major ``(T, B, F)`` block is locked (variational) dropout, one mask
    ``(1, B, F)`` per sequence for all its steps; ``shared=(1,)`` on a table ``(V, E)`` drops whole
    rows (embedding dropout); ``shared=()`` on a weight is DropConnect (weight drop)."""

    def __init__(self, p: float, shared: tuple[int, ...] = ()):
        super().__init__()
        self.p, self.shared = float(p), tuple(shared)

    def active(self) -> bool:
        return self.training and self.p > 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active():
            return x
        shape = tuple(1 if axis in self.shared else n for axis, n in enumerate(x.shape))
        return x * (keep(shape, self.p, x).to(x.dtype) / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}" + (f", shared={self.shared}" if self.shared else "")


class TiedLinear(torch.nn.Module):
    """``y = x W^T + b`` where ``W (out, in)`` is another module's parameter, given at each call
    (the embedding table of a model with tied weights); only ``bias (out,)`` is this module's, so
    the state dict holds the table once, under its owner's name. Autograd adds the gradients of
    the table's two uses."""

    def __init__(self, in_features: int, out_features: int, dtype: torch.dtype):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.bias = torch.nn.Parameter(torch.zeros(out_features, dtype=dtype))

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, tied"
