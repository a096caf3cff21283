"""The Gate contract and the input checks every gate shares.

A gate is a differentiable primitive on plain ndarrays. One gate *instance* is one application
(Chainer's FunctionNode, MyGrad's Operation): ``forward(*inputs)`` computes the output and keeps
exactly what backward needs in ``self.saved`` (Chainer's retained inputs and outputs);
``backward(grad_output)`` returns one gradient per input and only *reads* ``self.saved``, so it can
be called any number of times with different upstream gradients (truncated BPTT look-back and
gradcheck rely on that). Configuration (an axis, a reduction) is passed to the constructor and
kept apart from ``saved``; ``gate.fresh()`` is a new application with the same configuration.

Contract, checked by :func:`autograd_rnn.gradcheck`:

* ``forward(*inputs) -> ndarray`` (or a tuple of ndarrays when ``n_outputs > 1``), keeping what
  backward needs with ``self.save(name=value, ...)``;
* ``backward(grad_output) -> tuple`` with one entry per input: an array of that input's shape and
  dtype, or ``None`` for an input that is not differentiable (integer indices, masks).
  ``grad_output`` has the output's shape (a tuple of arrays when ``n_outputs > 1``);
* backward never mutates its argument, the inputs or what forward kept, and never returns an array
  that shares memory with any of them.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from ..errors import GateInputError, GateTypeError


class Saved(SimpleNamespace):
    """What one application's forward kept for its backward (arrays, shapes, flags), by name."""


class Gate:
    """Base class of every differentiable primitive. Subclasses set ``n_outputs`` when > 1.

    Two places, never mixed: the **configuration** is what the constructor sets (an axis, a
    reduction, a dropout mask) and is the same for every application; what one application's
    forward keeps for its backward goes into ``self.saved`` through :meth:`save`, and nowhere
    else. ``repr``, :meth:`fresh` (a new application with the same configuration) and gradcheck's
    hygiene checks read the two places by name and never guess.
    """

    n_outputs: int = 1
    saved: Saved | None = None

    def forward(self, *inputs: np.ndarray):
        raise NotImplementedError

    def backward(self, grad_output) -> tuple:
        raise NotImplementedError

    def save(self, **values) -> None:
        """Keep ``values`` for backward (read back as ``self.saved.name``)."""
        self.saved = Saved(**values)

    def batches_over_rows(self, rows: tuple[bool, ...], shapes: tuple[tuple, ...]) -> bool:
        """Whether one application to inputs stacked along their first axis equals stacking the
        applications to each slice, when the inputs flagged in ``rows`` are stacked and the others
        shared (``shapes``: the inputs' shapes in one slice). A replayed time loop then applies the
        gate once to all its steps. False unless a gate says so."""
        return False

    @property
    def name(self) -> str:
        return type(self).__name__

    def config(self) -> dict:
        """The configuration: every attribute the constructor set (everything but ``saved``)."""
        return {k: v for k, v in vars(self).items() if k != "saved"}

    def fresh(self) -> Gate:
        """A new, unapplied gate with this one's configuration (nothing saved is carried over)."""
        gate = object.__new__(type(self))
        config = self.__dict__.copy()
        config.pop("saved", None)
        gate.__dict__ = config
        return gate

    def same_config(self, other: Gate) -> bool:
        """Same class and equal configuration (arrays compared by dtype, shape and value)."""
        if type(self) is not type(other):
            return False
        a, b = self.config(), other.config()
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.config().items() if k != "n_outputs"}
        return f"{self.name}({', '.join(f'{k}={_short(v)}' for k, v in shown.items())})"


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return a is b


def _short(v) -> str:
    if isinstance(v, np.ndarray):
        return f"array(shape={shape_str(v.shape)}, dtype={v.dtype})"
    return repr(v)


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
    values = list(arrays.values())
    first = values[0]
    if type(first) is np.ndarray and first.dtype.kind == "f":
        dtype = first.dtype
        for a in values:
            if type(a) is not np.ndarray or a.dtype != dtype:
                break
        else:
            return
    for name, a in arrays.items():
        check_float(gate, name, a)
    check_same_dtype(gate, **arrays)


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
    if idx.size <= 4:  # one token at a time (sampling): Python's min and max are cheaper than numpy's
        flat = idx.ravel().tolist()
        ok = not flat or (min(flat) >= 0 and max(flat) < upper)
    else:  # a negative index is a huge unsigned one: one comparison
        unsigned = idx.view(np.dtype(f"u{idx.dtype.itemsize}")) if idx.dtype.kind == "i" else idx
        ok = not (unsigned >= upper).any()
    if not ok:
        bad = idx[(idx < 0) | (idx >= upper)]
        where = np.argwhere((idx < 0) | (idx >= upper))[0]
        raise GateInputError(
            f"{gate}: input '{arg}' holds {int(bad[0])} at index {tuple(int(i) for i in where)} "
            f"({bad.size} value(s) out of range); expected {what} in [0, {upper})"
        )


def normalize_axes(gate: str, axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes as non-negative ints; refuses an axis out of range or repeated."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int | np.integer) and not isinstance(axis, bool):
        axes = (axis,)
    elif isinstance(axis, tuple):
        axes = axis
    else:
        axes = None
    if axes is None or not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in axes):
        raise GateInputError(f"{gate}: axis={axis!r}; expected None, an int or a tuple of ints")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise GateInputError(f"{gate}: axis {a} is out of range for an input with {ndim} dimension(s); expected "
                                 f"an axis in [{-ndim}, {ndim})")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise GateInputError(f"{gate}: axis={axis!r} names an axis twice")
    return tuple(out)


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


def check_elementwise(gate: str, a, b) -> None:
    """The inputs of a binary elementwise gate: float ndarrays of one dtype, one broadcasting onto
    the other's shape (:func:`broadcast_to_larger`). The common case, equal shapes or a 0-d
    constant, is checked at once; every other case goes through the named checks."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype and a.dtype.kind == "f"
            and (a.shape == b.shape or not a.ndim or not b.ndim)):
        return
    check_floats(gate, a=a, b=b)
    broadcast_to_larger(gate, a, b)


def unbroadcast(grad: np.ndarray, shape: tuple, copy: bool = True) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.
    Returns a new array, never a view of ``grad``, unless ``copy=False`` says ``grad`` is already
    a fresh temporary."""
    if grad.shape == shape:
        return np.array(grad, copy=True) if copy else np.asarray(grad)
    extra = grad.ndim - len(shape)
    stretched = tuple(extra + i for i, s in enumerate(shape) if s == 1 and grad.shape[extra + i] != 1)
    axes = tuple(range(extra)) + stretched
    return np.asarray(grad.sum(axis=axes)).reshape(shape)


def elementwise_over_rows(rows: tuple[bool, ...], shapes: tuple[tuple, ...]) -> bool:
    """For an elementwise gate: the stacked inputs have one shape, and a shared one broadcasts
    along the rows (fewer axes, or a leading axis of 1)."""
    stacked = [s for r, s in zip(rows, shapes) if r]
    if not stacked or any(s != stacked[0] or not s for s in stacked):
        return False
    return all(len(s) < len(stacked[0]) or (len(s) == len(stacked[0]) and s[0] == 1)
               for r, s in zip(rows, shapes) if not r)
