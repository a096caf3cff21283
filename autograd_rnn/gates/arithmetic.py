"""Linear-algebra gates: matrix product, affine map, and elementwise add, subtract, multiply."""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..products import matmul
from .base import (
    Gate,
    check_elementwise,
    check_floats,
    check_ndim,
    elementwise_over_rows,
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
        self.save(a=a, b=b)
        return np.asarray(matmul(a, b))

    def batches_over_rows(self, rows, shapes) -> bool:
        return rows == (True, False) and len(shapes[0]) == 2

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.saved.a, self.saved.b
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = np.reshape(g, (a2.shape[0], b2.shape[1]))
        return matmul(g2, b2.T).reshape(a.shape), matmul(a2.T, g2).reshape(b.shape)


def affine(rows: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``rows (n, in) @ W.T + b`` with ``W (out, in)``, ``b (out,)``, unchecked: LinearGate's forward,
    and inference on arrays that already know their shapes. One row meets ``b`` as a row of its own
    shape (numpy's equal-shape case, about twice as fast as broadcasting it)."""
    out = matmul(rows, W.T)
    out += b if len(rows) > 1 else b.reshape(1, -1)
    return out


class LinearGate(Gate):
    """Affine map ``out = x @ W.T + b``, PyTorch's layout (weights ``(out, in)``).

    Shapes: ``x (..., in)`` (any leading axes, e.g. ``(batch, in)`` or ``(T, batch, in)``),
    ``W (out, in)``, ``b (out,)`` -> ``(..., out)``. With ``X``, ``G`` the inputs and the upstream
    gradient flattened to rows: ``dx = g @ W``, ``dW = G.T @ X``, ``db = G.sum(0)``.
    """

    def forward(self, x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        if not (type(x) is type(W) is type(b) is np.ndarray and x.dtype == W.dtype == b.dtype and x.dtype.kind == "f"
                and x.ndim >= 1 and W.ndim == 2 and W.shape[1] == x.shape[-1] and b.shape == (W.shape[0],)):
            self.check(x, W, b)  # the common case passes the test above; this names what is wrong
        rows = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        self.save(rows=rows, x_shape=x.shape, W=W)
        out = affine(rows, W, b)
        return out if x.ndim == 2 else out.reshape(*x.shape[:-1], W.shape[0])

    def check(self, x: np.ndarray, W: np.ndarray, b: np.ndarray) -> None:
        check_floats(self.name, x=x, W=W, b=b)
        if x.ndim < 1:
            raise GateInputError(f"{self.name}: input 'x' is 0-d; expected (..., in_features)")
        check_ndim(self.name, "W", W, (2,), "(out_features, in_features)")
        if W.shape[1] != x.shape[-1]:
            raise GateInputError(
                f"{self.name}: input 'W' has shape {shape_str(W.shape)}; expected (out, {x.shape[-1]}) "
                f"to match x's features (x has shape {shape_str(x.shape)})"
            )
        if b.shape != (W.shape[0],):
            raise GateInputError(
                f"{self.name}: input 'b' has shape {shape_str(b.shape)}; expected ({W.shape[0]},)"
            )

    def batches_over_rows(self, rows, shapes) -> bool:
        return rows == (True, False, False) and len(shapes[0]) >= 2

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        g_rows = g if g.ndim == 2 else g.reshape(-1, s.W.shape[0])
        dx = matmul(g_rows, s.W)
        return dx if g.ndim == 2 else dx.reshape(s.x_shape), matmul(g_rows.T, s.rows), g_rows.sum(axis=0)


class AddGate(Gate):
    """``out = a + b`` with broadcasting of one input onto the other's shape.

    Backward: ``da = g`` and ``db = g``, each summed over the axes it was broadcast along; fresh
    arrays, never ``g`` itself (returning ``(g, g)`` aliases once anyone accumulates in place).
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_elementwise(self.name, a, b)
        self.save(shapes=(a.shape, b.shape))
        return np.asarray(a + b)

    def batches_over_rows(self, rows, shapes) -> bool:
        return elementwise_over_rows(rows, shapes)

    def backward(self, g: np.ndarray) -> tuple:
        a_shape, b_shape = self.saved.shapes
        return unbroadcast(g, a_shape), unbroadcast(g, b_shape)


class SubtractGate(Gate):
    """``out = a - b`` with broadcasting as AddGate. Backward: ``da = g``, ``db = -g`` (unbroadcast)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_elementwise(self.name, a, b)
        self.save(shapes=(a.shape, b.shape))
        return np.asarray(a - b)

    def batches_over_rows(self, rows, shapes) -> bool:
        return elementwise_over_rows(rows, shapes)

    def backward(self, g: np.ndarray) -> tuple:
        a_shape, b_shape = self.saved.shapes
        return unbroadcast(g, a_shape), unbroadcast(-g, b_shape, copy=False)


class HadamardGate(Gate):
    """Elementwise product ``out = a * b`` (broadcasting as AddGate).

    Backward: ``da = g * b``, ``db = g * a``, each unbroadcast to its input's shape.
    """

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        check_elementwise(self.name, a, b)
        self.save(a=a, b=b)
        return np.asarray(a * b)

    def batches_over_rows(self, rows, shapes) -> bool:
        return elementwise_over_rows(rows, shapes)

    def backward(self, g: np.ndarray) -> tuple:
        a, b = self.saved.a, self.saved.b
        return unbroadcast(g * b, a.shape, copy=False), unbroadcast(g * a, b.shape, copy=False)
