"""Gates that move values around without arithmetic: concatenate, split, index, stack, reshape,
transpose. Each backward routes the upstream gradient back to where the values came from."""

from __future__ import annotations

import functools

import numpy as np

from ..errors import GateInputError, GateTypeError
from .base import Gate, check_float, normalize_axes, shape_str


def check_pieces(gate: str, xs: tuple) -> None:
    """At least one input, each a float ndarray (the inputs of Concat and Stack)."""
    if not xs:
        raise GateInputError(f"{gate}: got no inputs; expected at least one array")
    for i, x in enumerate(xs):
        check_float(gate, f"xs[{i}]", x)


def check_axis(gate: str, axis) -> int:
    """An axis given to a constructor: an int (its range is checked against the input)."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise GateInputError(f"{gate}: axis={axis!r}; expected an int")
    return int(axis)


class Concat(Gate):
    """``out = concatenate(xs, axis)``. Backward: ``g`` split back into pieces of the input sizes."""

    def __init__(self, axis: int = -1):
        self.axis = check_axis("Concat", axis)

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        check_pieces(self.name, xs)
        for i, x in enumerate(xs):
            if x.ndim == 0:
                raise GateInputError(f"{self.name}: input 'xs[{i}]' is 0-d; expected arrays with an axis {self.axis}")
        ref = xs[0]
        (ax,) = normalize_axes(self.name, self.axis, ref.ndim)
        for i, x in enumerate(xs):
            if x.ndim != ref.ndim or x.shape[:ax] + x.shape[ax + 1 :] != ref.shape[:ax] + ref.shape[ax + 1 :]:
                raise GateInputError(
                    f"{self.name}: input 'xs[{i}]' has shape {shape_str(x.shape)}; expected the shape "
                    f"of xs[0] {shape_str(ref.shape)} except along axis {self.axis}"
                )
            if x.dtype != ref.dtype:
                raise GateTypeError(f"{self.name}: input 'xs[{i}]' has dtype {x.dtype}; expected {ref.dtype}")
        self.save(splits=np.cumsum([x.shape[ax] for x in xs])[:-1], axis=ax)
        return np.concatenate(xs, axis=ax)

    def batches_over_rows(self, rows, shapes) -> bool:
        return all(rows) and len(shapes[0]) >= 2 and self.axis % len(shapes[0]) != 0

    def backward(self, g: np.ndarray) -> tuple:
        return tuple(p.copy() for p in np.split(g, self.saved.splits, axis=self.saved.axis))


@functools.lru_cache(maxsize=256)
def split_bounds(gate: str, sections: int | tuple, axis: int, n: int) -> tuple:
    """``(start, stop)`` of each piece when a size ``n`` is split into ``sections`` (a count of
    equal pieces, or their sizes); refuses a split that does not fit ``n``. Made once per size."""
    if isinstance(sections, int):
        if n % sections:
            raise GateInputError(
                f"{gate}: input 'x' has size {n} along axis {axis}; expected a multiple of sections={sections}"
            )
        size = n // sections
        return tuple((k * size, (k + 1) * size) for k in range(sections))
    if sum(sections) != n or min(sections) < 1:
        raise GateInputError(
            f"{gate}: sizes {list(sections)} sum to {sum(sections)}; expected positive sizes summing to x's size "
            f"{n} along axis {axis}"
        )
    ends = np.cumsum(sections).tolist()
    return tuple(zip([0, *ends[:-1]], ends))


class Split(Gate):
    """``outs = split(x, sections, axis)``: ``sections`` pieces of equal size, or a list of sizes.

    Multi-output. Backward: ``dx = concatenate(gs, axis)``.
    """

    def __init__(self, sections: int | list[int], axis: int = -1):
        ints = [sections] if isinstance(sections, int | np.integer) else list(sections) if isinstance(
            sections, list | tuple) else None
        if not ints or any(isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 1 for s in ints):
            raise GateInputError(f"Split: sections={sections!r}; expected a count >= 1 or a non-empty list of sizes "
                                 f">= 1")
        self.sections = int(sections) if isinstance(sections, int | np.integer) else [int(s) for s in sections]
        self.axis = check_axis("Split", axis)
        self.n_outputs = self.sections if isinstance(self.sections, int) else len(self.sections)

    def forward(self, x: np.ndarray):
        check_float(self.name, "x", x)
        (axis,) = normalize_axes(self.name, self.axis, x.ndim)
        sections = self.sections if isinstance(self.sections, int) else tuple(self.sections)
        bounds = split_bounds(self.name, sections, self.axis, x.shape[axis])
        lead = (slice(None),) * axis
        parts = tuple(x[(*lead, slice(a, b))] for a, b in bounds)
        return parts if self.n_outputs > 1 else parts[0]

    def batches_over_rows(self, rows, shapes) -> bool:
        return rows == (True,) and len(shapes[0]) >= 2 and self.axis % len(shapes[0]) != 0

    def backward(self, gs) -> tuple:
        gs = gs if self.n_outputs > 1 else (gs,)
        return (np.concatenate(gs, axis=self.axis),)


class Index(Gate):
    """``out = x[key]`` for basic indexing (ints, slices) and integer-array indexing.

    Backward: zeros of x's shape with ``g`` added at ``key`` (``np.add.at``, so repeated indices
    accumulate).
    """

    def __init__(self, key):
        self.key = key

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        if not all(map(_index_part, self.key if isinstance(self.key, tuple) else (self.key,))):
            raise GateTypeError(f"{self.name}: key {self.key!r} cannot index x of shape {shape_str(x.shape)}; "
                                f"expected ints, slices or an integer array")
        try:
            out = x[self.key]
        except IndexError as e:
            raise GateInputError(
                f"{self.name}: key {self.key!r} is out of range for x of shape {shape_str(x.shape)}: {e}"
            ) from None
        except (TypeError, ValueError) as e:
            raise GateTypeError(f"{self.name}: key {self.key!r} cannot index x of shape {shape_str(x.shape)}: {e}; "
                                f"expected ints, slices or an integer array") from None
        self.save(shape=x.shape, dtype=x.dtype)
        return np.array(out, copy=True)

    def backward(self, g: np.ndarray) -> tuple:
        dx = np.zeros(self.saved.shape, self.saved.dtype)
        np.add.at(dx, self.key, g)
        return (dx,)


def _index_part(k) -> bool:
    """One part of an Index key: an int, a slice, None, Ellipsis, or an integer or boolean array
    (or list); numpy reports a part of another kind as an IndexError, which is not out of range."""
    if isinstance(k, int | np.integer) or k is None or k is Ellipsis or isinstance(k, slice):
        return not isinstance(k, bool)
    return isinstance(k, np.ndarray | list) and np.asarray(k).dtype.kind in "iub"


class Stack(Gate):
    """``out = stack(xs, axis)``: k arrays of one shape -> one array with a new axis of size k.
    Backward: ``g`` taken apart along that axis."""

    def __init__(self, axis: int = 0):
        self.axis = check_axis("Stack", axis)

    def forward(self, *xs: np.ndarray) -> np.ndarray:
        check_pieces(self.name, xs)
        for i, x in enumerate(xs):
            if x.dtype != xs[0].dtype:
                raise GateTypeError(f"{self.name}: input 'xs[{i}]' has dtype {x.dtype}; expected {xs[0].dtype}")
            if x.shape != xs[0].shape:
                raise GateInputError(
                    f"{self.name}: input 'xs[{i}]' is {x.dtype} {shape_str(x.shape)}; expected "
                    f"{xs[0].dtype} {shape_str(xs[0].shape)} like xs[0]"
                )
        (axis,) = normalize_axes(self.name, self.axis, xs[0].ndim + 1)
        self.save(n=len(xs), axis=axis)
        return np.stack(xs, axis=axis)

    def backward(self, g: np.ndarray) -> tuple:
        return tuple(np.asarray(np.take(g, i, axis=self.saved.axis)) for i in range(self.saved.n))


class Reshape(Gate):
    """``out = x.reshape(shape)``. Backward: ``g.reshape(x.shape)`` (a copy)."""

    def __init__(self, shape: tuple):
        self.shape = tuple(shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        try:
            out = x.reshape(self.shape)
        except (ValueError, TypeError):
            raise GateInputError(
                f"{self.name}: input 'x' of shape {shape_str(x.shape)} ({x.size} values) cannot be "
                f"reshaped to {self.shape}"
            ) from None
        self.save(in_shape=x.shape)
        return out

    def backward(self, g: np.ndarray) -> tuple:
        return (g.reshape(self.saved.in_shape).copy(),)


class Transpose(Gate):
    """``out = x.transpose(axes)`` (reversed axes by default, ``W.T``). Backward: the inverse
    permutation of ``g`` (a copy)."""

    def __init__(self, axes: tuple | None = None):
        self.axes = axes

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_float(self.name, "x", x)
        if self.axes is None:
            perm = tuple(reversed(range(x.ndim)))
        else:
            perm = normalize_axes(self.name, self.axes, x.ndim)
            if len(perm) != x.ndim:
                raise GateInputError(f"{self.name}: axes={self.axes!r} for x of shape {shape_str(x.shape)}; expected "
                                     f"a permutation of all {x.ndim} axes")
        self.save(perm=perm)
        return x.transpose(perm)

    def backward(self, g: np.ndarray) -> tuple:
        return (g.transpose(np.argsort(self.saved.perm)).copy(),)
