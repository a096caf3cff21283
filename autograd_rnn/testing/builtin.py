"""Input generators for the built-in gates. Every Gate subclass in the package needs one here
(the test suite fails otherwise); values stay in ranges where finite differences are well
conditioned and away from kinks, and the draws reach every branch of a gate's code (1-D and 3-D
inputs of LinearGate, each way EmbeddingGate sums its rows, Mean's overflowing sum, every kind of
exponent of Power).

The special points, registered with ``register_points``, come last: each case sits on the points
where a gate's derivative is a convention or infinite and states the derivative there, as
docs/gates.md ("Special points") gives it."""

from __future__ import annotations

import numpy as np

from .. import gates as G
from .registry import Draw, GateCase, register, register_points


@register(G.MultiplyGate)
def _multiply(d: Draw) -> GateCase:
    m, n, p = d.integers(1, 4), d.integers(1, 4), d.integers(1, 4)
    a_shape = d.sampled_from([(m, n), (n,)])
    b_shape = d.sampled_from([(n, p), (n,)])
    return GateCase(G.MultiplyGate, (d.floats(a_shape), d.floats(b_shape)))


@register(G.LinearGate)
def _linear(d: Draw) -> GateCase:
    """x of 2 axes (batch, in), 1 (one row) or 3 (T, batch, in): the gate flattens all but 2-D."""
    i, o = d.integers(1, 4), d.integers(1, 4)
    lead = d.sampled_from([(d.integers(1, 4),), (), (d.integers(1, 3), d.integers(1, 3))])
    return GateCase(G.LinearGate, (d.floats((*lead, i)), d.floats((o, i)), d.floats((o,))))


def _broadcast_pair(d: Draw) -> tuple:
    """A full shape of 0 to 4 axes and one that broadcasts onto it: some leading axes dropped, any
    of the rest set to 1 (in either order of the two inputs)."""
    shape = tuple(d.integers(1, 3) for _ in range(d.integers(0, 4)))
    small = [1 if d.booleans() else s for s in shape[d.integers(0, len(shape)):]]
    pair = (d.floats(shape), d.floats(tuple(small)))
    return pair if d.booleans() else pair[::-1]


@register(G.AddGate)
def _add(d: Draw) -> GateCase:
    return GateCase(G.AddGate, _broadcast_pair(d))


@register(G.SubtractGate)
def _sub(d: Draw) -> GateCase:
    return GateCase(G.SubtractGate, _broadcast_pair(d))


@register(G.HadamardGate)
def _hadamard(d: Draw) -> GateCase:
    return GateCase(G.HadamardGate, _broadcast_pair(d))


def _any_shape(d: Draw) -> tuple:
    return tuple(d.integers(1, 4) for _ in range(d.integers(0, 2)))


@register(G.Tanh)
def _tanh(d: Draw) -> GateCase:
    """Values in [-3, 3], or in [-40, 40] where tanh saturates (y rounds to +-1, derivative 0)."""
    return GateCase(G.Tanh, (d.floats(_any_shape(d), *d.sampled_from([(-3, 3), (-40, 40)])),))


@register(G.Sigmoid)
def _sigmoid(d: Draw) -> GateCase:
    """Values in [-4, 4], or in [-50, 50] where sigmoid saturates (y rounds to 0 or 1)."""
    return GateCase(G.Sigmoid, (d.floats(_any_shape(d), *d.sampled_from([(-4, 4), (-50, 50)])),))


@register(G.ReLU)
def _relu(d: Draw) -> GateCase:
    return GateCase(G.ReLU, (d.floats(_any_shape(d), away_from=(0.0,)),))


@register(G.SoftmaxCrossEntropy)
def _softmax_ce(d: Draw) -> GateCase:
    n, c = d.integers(1, 5), d.integers(1, 5)
    reduction = d.sampled_from(["mean", "sum"])
    logits = d.floats((n, c), -3, 3)
    targets = d.indices((n,), c)
    variant = d.sampled_from(["plain", "ignore", "mask"])
    if variant == "ignore":
        keep = d.indices((n,), 2).astype(bool)
        keep[d.integers(0, n - 1)] = True
        targets = np.where(keep, targets, -1)
        return GateCase(G.SoftmaxCrossEntropy(reduction, ignore_index=-1), (logits, targets))
    if variant == "mask":
        mask = d.indices((n,), 2).astype(d.dtype)
        mask[d.integers(0, n - 1)] = 1
        return GateCase(G.SoftmaxCrossEntropy(reduction), (logits, targets, mask))
    return GateCase(G.SoftmaxCrossEntropy(reduction), (logits, targets))


@register(G.Concat)
def _concat(d: Draw) -> GateCase:
    rows, k = d.integers(1, 3), d.integers(1, 3)
    axis = d.sampled_from([0, -1])
    xs = tuple(d.floats((rows, d.integers(1, 3)) if axis == -1 else (d.integers(1, 3), rows)) for _ in range(k))
    return GateCase(G.Concat(axis), xs)


@register(G.Split)
def _split(d: Draw) -> GateCase:
    rows, k, w = d.integers(1, 3), d.integers(1, 4), d.integers(1, 3)
    sections = d.sampled_from([k, [w] * k, [w + i for i in range(k)]])
    width = k * w if isinstance(sections, int) or len(set(sections)) == 1 else sum(sections)
    return GateCase(G.Split(sections, axis=-1), (d.floats((rows, width)),))


@register(G.Index)
def _index(d: Draw) -> GateCase:
    r, c = d.integers(1, 4), d.integers(1, 4)
    key = d.sampled_from([
        (slice(0, d.integers(1, r)),),
        (d.integers(0, r - 1),),
        (slice(None), d.integers(0, c - 1)),
        (d.indices((d.integers(1, 5),), r),),
    ])
    return GateCase(G.Index(key if len(key) > 1 else key[0]), (d.floats((r, c)),))


@register(G.Stack)
def _stack(d: Draw) -> GateCase:
    shape, k = _any_shape(d), d.integers(1, 4)
    axis = d.integers(0, len(shape))
    return GateCase(G.Stack(axis), tuple(d.floats(shape) for _ in range(k)))


@register(G.Reshape)
def _reshape(d: Draw) -> GateCase:
    a, b = d.integers(1, 4), d.integers(1, 4)
    return GateCase(G.Reshape(d.sampled_from([(b, a), (a * b,), (a, 1, b)])), (d.floats((a, b)),))


@register(G.Transpose)
def _transpose(d: Draw) -> GateCase:
    shape = tuple(d.integers(1, 3) for _ in range(3))
    axes = d.sampled_from([None, (1, 0, 2), (2, 0, 1)])
    return GateCase(G.Transpose(axes), (d.floats(shape),))


def _reduction(d: Draw) -> tuple:
    """A shape of 1 to 3 axes, and an axis spec valid for it: None, one axis (maybe negative) or a
    tuple of distinct axes."""
    shape = tuple(d.integers(1, 3) for _ in range(d.integers(1, 3)))
    n = len(shape)
    one = d.integers(-n, n - 1)
    axis = d.sampled_from([None, one, (one % n,), tuple(range(n)), tuple(a for a in range(n) if a != one % n) or None])
    return shape, axis


@register(G.Sum)
def _sum(d: Draw) -> GateCase:
    shape, axis = _reduction(d)
    return GateCase(G.Sum(axis, d.booleans()), (d.floats(shape),))


@register(G.Mean)
def _mean(d: Draw) -> GateCase:
    """Values in [-2, 2], or above half the dtype's largest value, where the sum of two overflows
    and the gate averages another way."""
    shape, axis = _reduction(d)
    x = d.floats(shape)
    if d.booleans():
        x = (np.abs(x) / 5 + 0.55) * np.finfo(d.dtype).max
    return GateCase(G.Mean(axis, d.booleans()), (x.astype(d.dtype),))


@register(G.Var)
def _var(d: Draw) -> GateCase:
    shape, axis = _reduction(d)
    n = int(np.prod([shape[a] for a in (range(len(shape)) if axis is None else np.atleast_1d(axis))]))
    return GateCase(G.Var(axis, d.booleans(), d.integers(0, min(1, n - 1))), (d.floats(shape),))


@register(G.Exp)
def _exp(d: Draw) -> GateCase:
    return GateCase(G.Exp, (d.floats(_any_shape(d), -3, 3),))


@register(G.Log)
def _log(d: Draw) -> GateCase:
    return GateCase(G.Log, (d.floats(_any_shape(d), 0.2, 3),))


@register(G.Sqrt)
def _sqrt(d: Draw) -> GateCase:
    return GateCase(G.Sqrt, (d.floats(_any_shape(d), 0.2, 3),))


@register(G.Rsqrt)
def _rsqrt(d: Draw) -> GateCase:
    return GateCase(G.Rsqrt, (d.floats(_any_shape(d), 0.2, 3),))


POWERS = (2, 1, 0, 3, -1, -2, 0.5, 1.5, -0.5, 2.5, 0.25)
"""Exponents of every kind: the branch ``p = 0``, ``p = 1`` (``x ** 0``), integers of both signs
(any sign of x), fractions below and above 1 and negative ones (x > 0)."""


@register(G.Power)
def _power(d: Draw) -> GateCase:
    p = d.sampled_from(POWERS)
    lo = -2.0 if float(p) == int(p) else 0.3
    return GateCase(G.Power(p), (d.floats(_any_shape(d), lo, 2, away_from=(0.0,), margin=0.3),))


@register(G.Reciprocal)
def _reciprocal(d: Draw) -> GateCase:
    return GateCase(G.Reciprocal, (d.floats(_any_shape(d), -2, 2, away_from=(0.0,), margin=0.3),))


@register(G.Abs)
def _abs(d: Draw) -> GateCase:
    return GateCase(G.Abs, (d.floats(_any_shape(d), away_from=(0.0,)),))


@register(G.Divide)
def _divide(d: Draw) -> GateCase:
    a, b = _broadcast_pair(d)
    b = np.where(np.abs(b) < 0.4, np.where(b < 0, b - 0.4, b + 0.4), b).astype(b.dtype)
    return GateCase(G.Divide, (a, b))


def _untied_pair(d: Draw) -> tuple:
    """A broadcast pair whose elements are at least 0.1 apart (no ties: maximum's kinks)."""
    a, b = _broadcast_pair(d)
    full = np.broadcast_shapes(a.shape, b.shape)
    diff = np.broadcast_to(a, full) - np.broadcast_to(b, full)
    shift = np.where(np.abs(diff) < 0.1, np.where(diff < 0, -0.2, 0.2), 0.0).astype(a.dtype)
    return (np.asarray(a + shift), b) if a.shape == full else (a, np.asarray(b - shift))


@register(G.Maximum)
def _maximum(d: Draw) -> GateCase:
    return GateCase(G.Maximum, _untied_pair(d))


@register(G.Minimum)
def _minimum(d: Draw) -> GateCase:
    return GateCase(G.Minimum, _untied_pair(d))


@register(G.EmbeddingGate)
def _embedding(d: Draw) -> GateCase:
    """Each way the backward sums rows: a few indices into a larger table (``np.add.at``), many
    into a small one (sorted runs summed one by one), and more than 256 distinct ones (runs summed
    by ``reduceat``)."""
    way = d.sampled_from(["runs", "few", "many"])
    if way == "runs":
        v, e = d.integers(1, 5), d.integers(1, 3)
        idx = d.indices(tuple(d.integers(1, 4) for _ in range(d.integers(1, 2))), v)
    elif way == "few":
        v, e = d.integers(9, 16), d.integers(1, 3)
        idx = d.indices((d.integers(1, 2),), v)
    else:
        v, e = d.integers(257, 270), 1
        idx = np.concatenate([np.arange(v), d.indices((d.integers(0, 8),), v)])
    return GateCase(G.EmbeddingGate, (d.floats((v, e)), idx))


@register(G.Dropout)
def _dropout(d: Draw) -> GateCase:
    shape = _any_shape(d)
    p = d.sampled_from([0.1, 0.5])
    mask = (d.indices(shape, 2) / (1 - p)).astype(d.dtype)
    return GateCase(G.Dropout(mask), (d.floats(shape),))


# ----- special points (docs/gates.md, "Special points") ---------------------------------------
@register_points(G.Abs)
def _abs_points(d: Draw) -> GateCase:
    """The kink x = 0: the subgradient 0, the middle of [-1, 1]."""
    x = d.floats(_any_shape(d), at=(0.0,))
    return GateCase(G.Abs, (x,), derivative=(np.sign(x),))


@register_points(G.ReLU)
def _relu_points(d: Draw) -> GateCase:
    """The kink x = 0: the subgradient 0, in [0, 1] (PyTorch's choice)."""
    x = d.floats(_any_shape(d), at=(0.0,))
    return GateCase(G.ReLU, (x,), derivative=((x > 0).astype(x.dtype),))


def _tied_pair(d: Draw) -> tuple:
    """A broadcast pair with about half of the elements tied (at least one): the full-shape input
    takes the other's value there; the others at least 0.1 apart (:func:`_untied_pair`), so that no
    finite difference of an untied element crosses the kink."""
    a, b = _untied_pair(d)
    full = np.broadcast_shapes(a.shape, b.shape)
    tie = d.indices(full, 2).astype(bool)
    tie.reshape(-1)[d.integers(0, tie.size - 1)] = True
    if a.shape == full:
        return np.where(tie, np.broadcast_to(b, full), a).astype(a.dtype), b
    return a, np.where(tie, np.broadcast_to(a, full), b).astype(b.dtype)


def _pick(first: np.ndarray, tie: np.ndarray) -> tuple:
    """Derivatives of a binary max or min: 1 for the input picked, 0 for the other, 1/2 each at a tie."""
    da = np.where(tie, 0.5, first.astype(np.float64))
    return da, 1 - da


@register_points(G.Maximum)
def _maximum_points(d: Draw) -> GateCase:
    """Ties a == b (clamp's edges, maximum(x, lo) at x = lo): half of g to each input."""
    a, b = _tied_pair(d)
    return GateCase(G.Maximum, (a, b), derivative=_pick(np.greater(a, b), np.equal(a, b)))


@register_points(G.Minimum)
def _minimum_points(d: Draw) -> GateCase:
    """Ties a == b (clamp's edges, minimum(x, hi) at x = hi): half of g to each input."""
    a, b = _tied_pair(d)
    return GateCase(G.Minimum, (a, b), derivative=_pick(np.less(a, b), np.equal(a, b)))


def power_derivative(x: np.ndarray, p: float) -> np.ndarray:
    """``d x**p / dx`` in float64 as Power defines it: 0 for p = 0, 1 for p = 1 (0 ** 0 = 1),
    ``p * x ** (p - 1)`` otherwise, +inf at x = 0 for 0 < p < 1."""
    x = x.astype(np.float64)
    if p == 0:
        return np.zeros_like(x)
    if p == 1:
        return np.ones_like(x)
    with np.errstate(divide="ignore"):
        return p * x ** (p - 1)


@register_points(G.Power)
def _power_points(d: Draw) -> GateCase:
    """x = 0 for every exponent defined there: p = 0 (derivative 0), p = 1 (1), integers >= 2 (0),
    fractions above 1 (0) and below (+inf), the last two at the edge of the domain x >= 0."""
    p = d.sampled_from([0, 1, 2, 3, 1.5, 2.5, 0.5, 0.25])
    integer = float(p) == int(p)
    x = d.floats(_any_shape(d), -2.0 if integer else 0.0, 2.0, at=(0.0,))
    return GateCase(G.Power(p), (x,), derivative=(power_derivative(x, p),), edge=not integer)


@register_points(G.Sqrt)
def _sqrt_points(d: Draw) -> GateCase:
    """x = 0, the edge of the domain, where the derivative 1 / (2 sqrt x) is +inf."""
    x = d.floats(_any_shape(d), 0.0, 3.0, at=(0.0,))
    return GateCase(G.Sqrt, (x,), derivative=(power_derivative(x, 0.5),), edge=True)
