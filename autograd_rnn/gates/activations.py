"""Elementwise nonlinearities."""

from __future__ import annotations

import numpy as np

from .base import Gate, check_float, elementwise_over_rows


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = (1 + tanh(x / 2)) / 2: no overflow or NaN for any x. It rounds to exactly 0 below
    about x = -38 and to 1 above about x = 37 in float64 (-20 and 18 in float32), where the true
    value is within round-off of them."""
    y = np.asarray(np.multiply(x, 0.5))
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


class Elementwise(Gate):
    """A gate applied to each element on its own: any stack of rows is fine."""

    abstract = True

    def batches_over_rows(self, rows, shapes) -> bool:
        return elementwise_over_rows(rows, shapes)


class Tanh(Elementwise):
    """``y = tanh(x)``. Backward: ``dx = g * (1 - y**2)``, from the saved output only."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        y = np.asarray(np.tanh(x))
        self.save(y=y)
        return y

    def backward(self, g: np.ndarray) -> tuple:
        y = self.saved.y
        d = np.asarray(np.multiply(y, y))
        np.subtract(1.0, d, out=d)
        d *= g
        return (d,)


class Sigmoid(Elementwise):
    """``y = 1 / (1 + exp(-x))``, computed as ``(1 + tanh(x/2)) / 2`` so it never overflows.

    Backward: ``dx = g * y * (1 - y)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        y = stable_sigmoid(x)
        self.save(y=y)
        return y

    def backward(self, g: np.ndarray) -> tuple:
        y = self.saved.y
        d = np.asarray(np.subtract(1.0, y))
        d *= y
        d *= g
        return (d,)


class ReLU(Elementwise):
    """``y = max(x, 0)``. Backward: ``dx = g * [x > 0]`` (the subgradient 0 at the kink x = 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        positive = x > 0
        self.save(positive=positive)
        return np.where(positive, x, np.zeros((), x.dtype))

    def backward(self, g: np.ndarray) -> tuple:
        return (np.where(self.saved.positive, g, np.zeros((), g.dtype)),)
