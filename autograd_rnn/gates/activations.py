"""Elementwise nonlinearities."""

from __future__ import annotations

import numpy as np

from .base import Gate, check_float


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigma(x) = (1 + tanh(x / 2)) / 2: no overflow for any x, exact 0 and 1 only in the limit."""
    y = np.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


class Tanh(Gate):
    """``y = tanh(x)``. Backward: ``dx = g * (1 - y**2)``, from the saved output only."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.y = np.tanh(x)
        return self.y

    def backward(self, g: np.ndarray) -> tuple:
        return (g * (1.0 - self.y * self.y),)


class Sigmoid(Gate):
    """``y = 1 / (1 + exp(-x))``, computed as ``(1 + tanh(x/2)) / 2`` so it never overflows.

    Backward: ``dx = g * y * (1 - y)``.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.y = stable_sigmoid(x)
        return self.y

    def backward(self, g: np.ndarray) -> tuple:
        return (g * self.y * (1.0 - self.y),)


class ReLU(Gate):
    """``y = max(x, 0)``. Backward: ``dx = g * [x > 0]`` (the subgradient 0 at the kink x = 0)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.positive = x > 0
        return np.where(self.positive, x, np.zeros((), x.dtype))

    def backward(self, g: np.ndarray) -> tuple:
        return (np.where(self.positive, g, np.zeros((), g.dtype)),)
