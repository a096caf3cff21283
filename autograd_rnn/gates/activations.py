"""Elementwise nonlinearities."""

from __future__ import annotations

import numpy as np

from .base import Gate, check_float


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = (1 + tanh(x / 2)) / 2: no overflow or NaN for any x. It rounds to exactly 0 below
    about x = -38 and to 1 above about x = 37 in float64 (-20 and 18 in float32), where the true
    value is within round-off of them."""
    y = np.asarray(np.tanh(x * 0.5))
    y *= 0.5
    y += 0.5
    return y


class Tanh(Gate):
    """``y = tanh(x)``. Backward: ``dx = g * (1 - y**2)``, from the saved output only."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.y = np.asarray(np.tanh(x))
        return self.y

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g * (1.0 - self.y * self.y)),)


class Sigmoid(Gate):
    """``y = 1 / (1 + exp(-x))``, computed as ``(1 + tanh(x/2)) / 2`` so it never overflows.

    Backward: ``dx = g * y * (1 - y)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g * self.y * (1.0 - self.y)),)


class ReLU(Gate):
    """``y = max(x, 0)``. Backward: ``dx = g * [x > 0]`` (the subgradient 0 at the kink x = 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.positive = x > 0
        return np.where(self.positive, x, np.zeros((), x.dtype))

    def backward(self, g: np.ndarray) -> tuple:
        return (np.where(self.positive, g, np.zeros((), g.dtype)),)
