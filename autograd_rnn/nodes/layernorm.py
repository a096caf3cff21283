"""``LayerNorm``: normalise each row over its last axis, then scale and shift (Ba et al. 2016)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..graph import Tensor
from ..init import constant
from .node import Node


class LayerNorm(Node):
    """``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias`` over the last axis, as
    torch.nn.LayerNorm: the biased variance, ``weight`` ones and ``bias`` zeros at the start.

    Shapes: ``x (..., size)`` -> the same. Written with graph ops (``mean``, ``var``, ``rsqrt``),
    so its backward is the graph's; with ``affine=False`` there are no parameters.
    """

    def __init__(self, size: int, eps: float = 1e-5, affine: bool = True, dtype=np.float64):
        super().__init__(dtype)
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
            raise ConfigError(f"LayerNorm: size={size!r}; expected an int >= 1")
        if not (isinstance(eps, int | float) and np.isfinite(eps) and eps >= 0):
            raise ConfigError(f"LayerNorm: eps={eps!r}; expected a finite number >= 0")
        self.size, self.eps, self.affine = int(size), float(eps), bool(affine)
        if affine:
            self.parameter("weight", constant(size, 1.0))
            self.parameter("bias", constant(size, 0.0))

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim < 1 or x.shape[-1] != self.size:
            raise ConfigError(f"LayerNorm: x has shape {x.shape}; expected (..., {self.size})")
        centered = x - x.mean(-1, keepdims=True)
        y = centered * (x.var(-1, keepdims=True) + self.eps).rsqrt()
        return y * self.weight + self.bias if self.affine else y

    def extra_repr(self) -> str:
        return f"{self.size}, eps={self.eps:g}" + ("" if self.affine else ", affine=False")
