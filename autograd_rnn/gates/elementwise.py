"""Elementwise math: exp, log, sqrt, rsqrt, a scalar power, reciprocal, abs; and the binary
divide, maximum and minimum (broadcasting as AddGate). Each forward refuses inputs outside its
domain with the first bad element named; each backward is written from the saved output where it
can be (``exp``: ``dx = g * y``).

Special points (each stated in docs/gates.md, "Special points"): ``abs`` at 0 and ``maximum``/``minimum``
at a tie are kinks, where backward returns the subgradient in the middle (0 for abs, half to each
input for a tie), between the one-sided derivatives, so gradcheck reports such a point as a kink,
not as an error. ``sqrt`` and ``x ** p`` with ``0 < p < 1`` at 0, the edge of their domain, have an
infinite derivative: backward returns ``g * inf`` (signed) where ``g != 0`` and 0 where ``g == 0``,
never NaN (:func:`times`).
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError, NonFiniteError
from .activations import Elementwise
from .base import Gate, check_elementwise, check_float, elementwise_over_rows, unbroadcast


def times(g: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``g * d``, and exactly 0 where ``g == 0`` even where the derivative ``d`` is infinite (an
    output that nothing reads passes no gradient: never ``0 * inf = NaN``)."""
    return np.multiply(g, d, out=np.zeros(np.broadcast_shapes(np.shape(g), np.shape(d)), np.result_type(g, d)),
                       where=g != 0)


def _refuse(gate: str, arg: str, x: np.ndarray, bad: np.ndarray, expected: str) -> None:
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0]) if x.ndim else ()
        value = x[where] if x.ndim else x
        raise GateInputError(f"{gate}: input '{arg}' holds {float(value)!r} at index {where} ({int(bad.sum())} "
                             f"value(s)); expected {expected}")


class Exp(Elementwise):
    """``y = exp(x)``. Backward: ``dx = g * y``. An overflow to infinity is refused."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        with np.errstate(over="ignore"):
            y = np.exp(x)
        if not np.isfinite(y).all():
            _refuse(self.name, "x", x, ~np.isfinite(y) & np.isfinite(x), f"x <= {np.log(np.finfo(x.dtype).max):.4g} "
                    f"(exp overflows in {x.dtype} above it)")
            raise NonFiniteError(f"{self.name}: input 'x' holds NaN or inf; expected finite values")
        self.save(y=y)
        return y

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g * self.saved.y),)


class Log(Elementwise):
    """``y = log(x)``, ``x > 0``. Backward: ``dx = g / x``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        _refuse(self.name, "x", x, ~(x > 0), "x > 0 (log is defined for positive numbers)")
        self.save(x=x)
        return np.log(x)

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g / self.saved.x),)


class Sqrt(Elementwise):
    """``y = sqrt(x)``, ``x >= 0``. Backward: ``dx = g / (2 y)``; at x = 0, where the derivative
    is infinite, ``g * inf`` for ``g != 0`` and 0 for ``g == 0`` (:func:`times`)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        _refuse(self.name, "x", x, ~(x >= 0), "x >= 0")
        y = np.sqrt(x)
        self.save(y=y)
        return y

    def backward(self, g: np.ndarray) -> tuple:
        y = self.saved.y
        with np.errstate(divide="ignore"):
            return (times(g, y.dtype.type(0.5) / y),)


class Rsqrt(Elementwise):
    """``y = 1 / sqrt(x)``, ``x > 0`` (a layer norm's ``(var + eps) ** -1/2``). Backward:
    ``dx = -g * y**3 / 2``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        _refuse(self.name, "x", x, ~(x > 0), "x > 0")
        y = 1 / np.sqrt(x)
        self.save(y=y)
        return y

    def backward(self, g: np.ndarray) -> tuple:
        y = self.saved.y
        return (np.asarray(g * (-0.5 * y * y * y)),)


class Power(Elementwise):
    """``y = x ** p`` for a scalar exponent ``p`` (configuration). Backward:
    ``dx = g * p * x ** (p - 1)``, with ``0 ** 0 = 1`` (so ``p = 1`` gives ``g`` everywhere), 0 for
    ``p = 0``, and for ``0 < p < 1`` at x = 0 the infinite derivative as :class:`Sqrt` has it
    (:func:`times`). A non-integer ``p`` needs ``x >= 0`` (``x > 0`` when ``p < 0``, where ``y`` is
    infinite at 0); a negative integer ``p`` needs ``x != 0``."""

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, int | float) or not np.isfinite(p):
            raise GateInputError(f"Power: exponent p={p!r}; expected a finite number (a scalar)")
        self.p = p

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        p = self.p
        if float(p) != int(p):
            _refuse(self.name, "x", x, ~(x > 0) if p < 0 else ~(x >= 0), f"x > 0 for the negative non-integer "
                    f"exponent {p}" if p < 0 else f"x >= 0 for the non-integer exponent {p}")
        elif p < 0:
            _refuse(self.name, "x", x, x == 0, f"x != 0 for the negative exponent {p}")
        self.save(x=x)
        return np.asarray(x ** x.dtype.type(p))

    def backward(self, g: np.ndarray) -> tuple:
        x, p = self.saved.x, self.p
        if p == 0:
            return (np.zeros_like(g),)
        t = x.dtype.type
        with np.errstate(divide="ignore"):
            return (times(g, t(p) * x ** t(p - 1)),)


class Reciprocal(Elementwise):
    """``y = 1 / x``, ``x != 0``. Backward: ``dx = -g * y**2``."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        _refuse(self.name, "x", x, x == 0, "x != 0")
        y = 1 / x
        self.save(y=y)
        return np.asarray(y)

    def backward(self, g: np.ndarray) -> tuple:
        y = self.saved.y
        return (np.asarray(-g * y * y),)


class Abs(Elementwise):
    """``y = |x|``. Backward: ``dx = g * sign(x)``, 0 at the kink x = 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        self.save(sign=np.sign(x))
        return np.abs(x)

    def backward(self, g: np.ndarray) -> tuple:
        return (np.asarray(g * self.saved.sign),)


class Binary(Gate):
    """An elementwise gate of two inputs, one of which may broadcast onto the other's full shape
    (as AddGate)."""

    abstract = True

    def batches_over_rows(self, rows, shapes) -> bool:
        return elementwise_over_rows(rows, shapes)

    def check(self, a: np.ndarray, b: np.ndarray) -> None:
        check_elementwise(self.name, a, b)


class Divide(Binary):
    """``out = a / b``, ``b != 0``. Backward: ``da = g / b``, ``db = -g * a / b**2``, each
    unbroadcast to its input's shape."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        _refuse(self.name, "b", b, b == 0, "a divisor without zeros")
        out = np.asarray(a / b)
        self.save(a_shape=a.shape, b=b, out=out)
        return out

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        da = np.asarray(g / s.b)
        return unbroadcast(da, s.a_shape, copy=False), unbroadcast(np.asarray(-da * s.out), s.b.shape, copy=False)


class Maximum(Binary):
    """``out = maximum(a, b)``. Backward: ``g`` goes to the larger input; at a tie (a kink) half
    to each."""

    pick = staticmethod(np.greater)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.check(a, b)
        picked, tie = self.pick(a, b), a == b
        first = np.where(tie, a.dtype.type(0.5), picked.astype(a.dtype))
        self.save(shapes=(a.shape, b.shape), first=first)
        return np.where(picked | tie, a, b)

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        da = np.asarray(g * s.first)
        return unbroadcast(da, s.shapes[0], copy=False), unbroadcast(np.asarray(g - da), s.shapes[1], copy=False)


class Minimum(Maximum):
    """``out = minimum(a, b)``. Backward: ``g`` goes to the smaller input; at a tie half to each."""

    pick = staticmethod(np.less)
