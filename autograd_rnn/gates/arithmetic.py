"""Linear-algebra gates: matrix product, affine map, and elementwise add, subtract, multiply."""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from .base import (
    Gate,
    broadcast_to_larger,
    check_floats,
    check_ndim,
    outer_sum,
    shape_str,
    unbroadcast,
)


class MultiplyGate(Gate):
    """Matrix product ``out = a @ b``.

    Shapes: ``a (m, n) or (n,)``, ``b (n, p) or (n,)``; numpy's matmul rules for 1-D operands, so
    the tutorial's column-vector ``W @ x`` and the batched ``x @ W`` are the same gate.

    Backward (2-D): ``da = g @ b.T`` (m, n), ``db = a.T @ g`` (n, p). A 1-D operand is treated as a
    row (a) or column (b) matrix and the gradient reshaped back.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_floats(self.name, a=a, b=b)
        check_ndim(self.name, "a", a, (1, 2), "a vector (n,) or a matrix (m, n)")
        check_ndim(self.name, "b", b, (1, 2), "a vector (n,) or a matrix (n, p)")
        if a.shape[-1] != b.shape[0]:
            raise GateInputError(
                f"{self.name}: input 'b' has shape {shape_str(b.shape)}; expected first dimension "
                f"{a.shape[-1]} to match the last dimension of 'a' (a has shape {shape_str(a.shape)})"
            )
        self.a, self.b = a, b
        return np.asarray(a @ b)

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.a, self.b
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
        return (g2 @ b2.T).reshape(a.shape), outer_sum(a2, g2).reshape(b.shape)



class LinearGate(Gate):
    """Affine map ``out = x @ W.T + b``, PyTorch's layout (weights ``(out, in)``).

    Shapes: ``x (batch, in)``, ``W (out, in)``, ``b (out,)`` -> ``(batch, out)``.
    Backward: ``dx = g @ W``, ``dW = g.T @ x``, ``db = g.sum(0)``.
    """

    def forward(self, x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_floats(self.name, x=x, W=W, b=b)
        check_ndim(self.name, "x", x, (2,), "(batch, in_features)")
        check_ndim(self.name, "W", W, (2,), "(out_features, in_features)")
        if W.shape[1] != x.shape[1]:
            raise GateInputError(
                f"{self.name}: input 'W' has shape {shape_str(W.shape)}; expected (out, {x.shape[1]}) "
                f"to match x's features (x has shape {shape_str(x.shape)})"
            )
        if b.shape != (W.shape[0],):
            raise GateInputError(
                f"{self.name}: input 'b' has shape {shape_str(b.shape)}; expected ({W.shape[0]},)"
            )
        self.x, self.W = x, W
        out = x @ W.T
        out += b
        return out

    def backward(self, g: np.ndarray) -> tuple:
        return g @ self.W, outer_sum(g, self.x), g.sum(axis=0)


class AddGate(Gate):
    """``out = a + b`` with broadcasting of one input onto the other's shape.

    Backward: ``da = g`` and ``db = g``, each summed over the axes it was broadcast along; fresh
    arrays, never ``g`` itself (returning ``(g, g)`` aliases once anyone accumulates in place).
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_floats(self.name, a=a, b=b)
        broadcast_to_larger(self.name, a, b)
        self.shapes = (a.shape, b.shape)
        return np.asarray(a + b)

    def backward(self, g: np.ndarray) -> tuple:
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class SubtractGate(Gate):
    """``out = a - b`` with broadcasting as AddGate. Backward: ``da = g``, ``db = -g`` (unbroadcast)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_floats(self.name, a=a, b=b)
        broadcast_to_larger(self.name, a, b)
        self.shapes = (a.shape, b.shape)
        return np.asarray(a - b)

    def backward(self, g: np.ndarray) -> tuple:
        return unbroadcast(g, self.shapes[0]), unbroadcast(-g, self.shapes[1], copy=False)


class HadamardGate(Gate):
    """Elementwise product ``out = a * b`` (broadcasting as AddGate).

    Backward: ``da = g * b``, ``db = g * a``, each unbroadcast to its input's shape.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_floats(self.name, a=a, b=b)
        broadcast_to_larger(self.name, a, b)
        self.a, self.b = a, b
        return np.asarray(a * b)

    def backward(self, g: np.ndarray) -> tuple:
        return (
            unbroadcast(g * self.b, self.a.shape, copy=False),
            unbroadcast(g * self.a, self.b.shape, copy=False),
        )
