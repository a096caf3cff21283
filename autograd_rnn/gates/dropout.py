"""Dropout as a gate with its mask fixed at construction, so forward is a deterministic function
(a finite-difference check sees the same mask on every evaluation)."""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from .base import Gate, check_float, shape_str


class Dropout(Gate):
    """``out = x * mask`` where ``mask`` holds 0 (dropped) or ``1 / (1 - p)`` (kept), so the
    expected output equals x. Backward: ``dx = g * mask``. The mask is used in x's dtype (its
    values, 0 and 1/(1-p), are the same in float32 and float64 up to rounding of 1/(1-p)).

    Build one with :meth:`sample` (draws the mask from a numpy Generator) or pass a mask.
    """

    def __init__(self, mask: np.ndarray):
        self.mask = mask

    @classmethod
    def sample(cls, shape: tuple, p: float, rng: np.random.Generator, dtype=np.float64) -> Dropout:
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating) or not 0.0 <= p < 1.0:
            raise GateInputError(f"Dropout: p={p!r}; expected a drop probability in [0, 1)")
        keep = rng.random(shape) >= p
        return cls(keep.astype(dtype) / np.dtype(dtype).type(1.0 - p))

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        if self.mask.shape != x.shape:
            raise GateInputError(
                f"{self.name}: input 'x' has shape {shape_str(x.shape)}; expected the mask's shape "
                f"{shape_str(self.mask.shape)}"
            )
        m = self.mask.astype(x.dtype, copy=False)
        self.save(m=m)
        return np.asarray(x * m)

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g * self.saved.m),)
