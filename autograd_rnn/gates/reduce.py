"""Reductions over axes: sum, mean and variance, with ``keepdims``. ``axis`` is None (every
axis), an int or a tuple of ints, negative allowed; it is checked against the input's dimensions.

With ``n`` the number of elements reduced into each output and ``G`` the upstream gradient put
back to the input's shape (the reduced axes restored and broadcast)::

    Sum   y = sum x                          dx = G
    Mean  y = (1/n) sum x                    dx = G / n
    Var   y = (1/(n - ddof)) sum (x - m)^2   dx = G * 2 (x - m) / (n - ddof),   m = mean x
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from .base import Gate, check_float, normalize_axes, shape_str


class Reduction(Gate):
    """Base of the reductions: configuration ``axis`` and ``keepdims``."""

    abstract = True

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis = axis
        self.keepdims = bool(keepdims)

    def axes(self, x: np.ndarray) -> tuple[int, ...]:
        check_float(self.name, "x", x)
        return normalize_axes(self.name, self.axis, x.ndim)

    def spread(self, g: np.ndarray, shape: tuple, axes: tuple) -> np.ndarray:
        """``g`` put back to the input's ``shape``: the reduced axes restored, then broadcast."""
        if not self.keepdims:
            g = np.expand_dims(g, axes)
        return np.broadcast_to(g, shape)


class Sum(Reduction):
    """``y = x.sum(axis, keepdims)``. Backward: ``g`` broadcast back over the summed axes."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes = self.axes(x)
        self.save(shape=x.shape, axes=axes)
        return np.asarray(x.sum(axis=axes, keepdims=self.keepdims))

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        return (self.spread(g, s.shape, s.axes).copy(),)


class Mean(Reduction):
    """``y = x.mean(axis, keepdims)`` over at least one element. Backward: ``dx = G / n``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes = self.axes(x)
        n = int(np.prod([x.shape[a] for a in axes]))
        if n == 0:
            raise GateInputError(f"{self.name}: the reduced axes {axes} of x {shape_str(x.shape)} hold no elements; "
                                 f"expected at least one (a mean of nothing is undefined)")
        self.save(shape=x.shape, axes=axes, n=n)
        with np.errstate(over="ignore"):
            out = np.asarray(x.mean(axis=axes, keepdims=self.keepdims))
        if not np.isfinite(out).all() and np.isfinite(x).all():  # the sum overflowed, the mean need not
            out = np.asarray((x / x.dtype.type(n)).sum(axis=axes, keepdims=self.keepdims))
        return out

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        return (self.spread(g / g.dtype.type(s.n), s.shape, s.axes).copy(),)


class Var(Reduction):
    """``y = x.var(axis, keepdims, ddof)``: the mean squared deviation, divided by ``n - ddof``
    (``ddof=0``, the biased variance a layer norm uses, by default). Backward:
    ``dx = G * 2 (x - m) / (n - ddof)``."""

    def __init__(self, axis=None, keepdims: bool = False, ddof: int = 0):
        super().__init__(axis, keepdims)
        if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
            raise GateInputError(f"Var: ddof={ddof!r}; expected an int >= 0")
        self.ddof = ddof

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes = self.axes(x)
        n = int(np.prod([x.shape[a] for a in axes]))
        if n - self.ddof <= 0:
            raise GateInputError(f"{self.name}: the reduced axes {axes} of x {shape_str(x.shape)} hold {n} element(s); "
                                 f"expected more than ddof={self.ddof}")
        centered = x - x.mean(axis=axes, keepdims=True)
        self.save(axes=axes, centered=centered, scale=2 / (n - self.ddof))
        return np.asarray((centered * centered).sum(axis=axes, keepdims=self.keepdims) / (n - self.ddof))

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        G = self.spread(g, s.centered.shape, s.axes)
        return (np.asarray(G * (s.centered * s.centered.dtype.type(s.scale))),)
