"""The Gate contract and the input checks every gate shares.

A gate is a differentiable primitive on plain ndarrays. One gate *instance* is one application
(Chainer's FunctionNode, MyGrad's Operation): ``forward(*inputs)`` computes the output and keeps on
``self`` exactly what backward needs; ``backward(grad_output)`` returns one gradient per input and
only *reads* what forward kept, so it can be called any number of times with different upstream
gradients (truncated BPTT look-back and gradcheck rely on that). Configuration (an axis, a
reduction) is passed to the constructor; ``copy.copy(gate)`` of an unused gate is a fresh
application with the same configuration.

Contract, checked by :func:`autograd_rnn.gradcheck`:

* ``forward(*inputs) -> ndarray`` (or a tuple of ndarrays when ``n_outputs > 1``);
* ``backward(grad_output) -> tuple`` with one entry per input: an array of that input's shape and
  dtype, or ``None`` for an input that is not differentiable (integer indices, masks).
  ``grad_output`` has the output's shape (a tuple of arrays when ``n_outputs > 1``);
* backward never mutates its argument, the inputs or what forward kept, and never returns an array
  that shares memory with any of them.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError, GateTypeError


class Gate:
    """Base class of every differentiable primitive. Subclasses set ``n_outputs`` when > 1."""

    n_outputs: int = 1

    def forward(self, *inputs: np.ndarray):
        raise NotImplementedError

    def backward(self, grad_output) -> tuple:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        config = {k: v for k, v in vars(self).items() if not isinstance(v, np.ndarray)}
        config = {k: v for k, v in config.items() if not k.startswith("_") and k != "n_outputs"}
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{self.name}({args})"


def shape_str(shape: tuple) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_float(gate: str, arg: str, x) -> None:
    """Raise GateTypeError unless ``x`` is a floating-point ndarray."""
    if not isinstance(x, np.ndarray):
        raise GateTypeError(f"{gate}: input '{arg}' is a {type(x).__name__}; expected a numpy ndarray")
    if x.dtype.kind != "f":
        raise GateTypeError(
            f"{gate}: input '{arg}' has dtype {x.dtype}; expected a floating-point array "
            f"(float32 or float64). Convert it with x.astype(np.float64)."
        )


def check_same_dtype(gate: str, **arrays: np.ndarray) -> None:
    """Raise GateTypeError when float inputs mix dtypes (numpy would silently upcast)."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"'{n}' is {d}" for n, d in dtypes.items())
        raise GateTypeError(
            f"{gate}: inputs mix dtypes ({listing}); expected one dtype. The dtype is chosen once "
            f"(Node(dtype=...) or Tensor(..., dtype=...)) and never upcast silently."
        )


def check_floats(gate: str, **arrays) -> None:
    """Every input a float ndarray, all of one dtype (the common case is checked first, cheaply)."""
    it = iter(arrays.values())
    first = next(it)
    if type(first) is np.ndarray and first.dtype.kind == "f" and all(
        type(a) is np.ndarray and a.dtype == first.dtype for a in it
    ):
        return
    for name, a in arrays.items():
        check_float(gate, name, a)
    check_same_dtype(gate, **arrays)


def outer_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a.T @ b`` for 2-D ``a (k, m)``, ``b (k, n)``: the weight gradient of a batch. np.dot, which
    numpy routes to BLAS even for k = 1, where ``@`` takes a slow path (~9x slower at k = 1)."""
    return np.dot(a.T, b)


def check_ndim(gate: str, arg: str, x: np.ndarray, ndims: tuple[int, ...], what: str) -> None:
    if x.ndim not in ndims:
        raise GateInputError(
            f"{gate}: input '{arg}' has shape {shape_str(x.shape)} ({x.ndim}-D); expected {what}"
        )


def check_indices(gate: str, arg: str, idx, upper: int, what: str) -> None:
    """Integer array with every value in [0, upper)."""
    if not isinstance(idx, np.ndarray) or idx.dtype.kind not in "iu":
        kind = idx.dtype if isinstance(idx, np.ndarray) else type(idx).__name__
        raise GateTypeError(f"{gate}: input '{arg}' has dtype {kind}; expected an integer array of {what}")
    if idx.size and (idx.min() < 0 or idx.max() >= upper):
        bad = idx[(idx < 0) | (idx >= upper)]
        where = np.argwhere((idx < 0) | (idx >= upper))[0]
        raise GateInputError(
            f"{gate}: input '{arg}' holds {int(bad[0])} at index {tuple(int(i) for i in where)} "
            f"({bad.size} value(s) out of range); expected {what} in [0, {upper})"
        )


def broadcast_to_larger(gate: str, a: np.ndarray, b: np.ndarray) -> tuple:
    """Shape of a binary elementwise result, allowing broadcasting only of one input onto the
    other's full shape: (B, H) + (H,) is fine, (3, 1) + (3,) -> (3, 3) is refused as a likely bug."""
    if a.shape == b.shape:
        return a.shape
    try:
        out = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise GateInputError(
            f"{gate}: inputs 'a' {shape_str(a.shape)} and 'b' {shape_str(b.shape)} do not broadcast; "
            f"expected equal shapes, or one that broadcasts onto the other (e.g. (B, H) and (H,))"
        ) from None
    if out != a.shape and out != b.shape:
        raise GateInputError(
            f"{gate}: inputs 'a' {shape_str(a.shape)} and 'b' {shape_str(b.shape)} would broadcast to "
            f"{shape_str(out)}, larger than both; expected one input to have the result's shape "
            f"(reshape explicitly if an outer broadcast is really meant)"
        )
    return out


def unbroadcast(grad: np.ndarray, shape: tuple, copy: bool = True) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.
    Returns a new array, never a view of ``grad``, unless ``copy=False`` says ``grad`` is already
    a fresh temporary."""
    if grad.shape == shape:
        return np.array(grad, copy=True) if copy else np.asarray(grad)
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, s in enumerate(shape) if s == 1 and grad.shape[extra + i] != 1
    )
    return np.asarray(grad.sum(axis=axes)).reshape(shape)
