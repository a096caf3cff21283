"""Fuzzing the Python API: under hostile arguments the only allowed outcomes are a correct result or a
documented error (an instance of ``autograd_rnn.errors.AutogradRNNError``). Valid inputs are checked
against numpy, and finite inputs must never give NaN or infinity without an error.

An undocumented exception is re-raised as it is (its traceback shows where the package let it
through), with a note saying what was called; a silently wrong result fails an assertion.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings

import numpy as np
import pytest
from hypothesis import Phase, assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_rnn as ar
from autograd_rnn.errors import AutogradRNNError, GradcheckError
from autograd_rnn.gates import Gate
from autograd_rnn.nodes import Embedding, GRULayer, LayerNorm, Linear, LSTMLayer, RNNLayer

from .limits import TimeLimitExceeded, time_limit

FAST = settings(max_examples=60, deadline=None)
SLOW = settings(max_examples=20, deadline=None)
TIMED = settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
"""For tests where a failing example may be a hang: shrinking would rerun it until the time limit many times."""


# ----- the rule ---------------------------------------------------------------------------------------------------
NO_RESULT = object()


def attempt(what: str, fn, *args, seconds: float = 10.0, **kwargs):
    """``(result, None)``, or ``(NO_RESULT, error)`` when ``fn`` raised a documented error. Any other
    exception propagates with a note naming the call (so each distinct one is reported)."""
    try:
        with time_limit(seconds, what), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs), None
    except AutogradRNNError as e:
        return NO_RESULT, e
    except TimeLimitExceeded:
        raise
    except BaseException as e:
        e.add_note(f"undocumented {type(e).__name__} (not an AutogradRNNError) from: {what}")
        raise


def outcome(what: str, fn, *args, seconds: float = 10.0, **kwargs):
    """``fn(*args, **kwargs)``'s result, or NO_RESULT when it raised a documented error."""
    return attempt(what, fn, *args, seconds=seconds, **kwargs)[0]


def refused(what: str, fn, *args, **kwargs) -> bool:
    return outcome(what, fn, *args, **kwargs) is NO_RESULT


def must_refuse(what: str, fn, *args, **kwargs) -> None:
    result = outcome(what, fn, *args, **kwargs)
    assert result is NO_RESULT, f"{what}: expected a documented error, got a result {_short(result)}"


def _short(x) -> str:
    text = repr(x)
    return text if len(text) < 300 else text[:300] + "..."


def tol(dtype) -> dict:
    return {"rtol": 1e-4, "atol": 1e-5} if np.dtype(dtype) == np.float32 else {"rtol": 1e-10, "atol": 1e-12}


def assert_finite(what: str, arr) -> None:
    arr = np.asarray(arr)
    assert np.isfinite(arr).all(), f"{what}: NaN or inf from finite inputs without an error: {_short(arr)}"


def close(what: str, got, want, dtype, scale: float = 1.0) -> None:
    """``got`` has ``want``'s shape, is finite and agrees with it to the dtype's precision (``scale``: the
    magnitude of the terms summed into each element, for the absolute tolerance)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, numpy gives {want.shape}"
    assert_finite(what, got)
    t = tol(dtype)
    with np.errstate(all="ignore"):
        ok = np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=t["rtol"],
                         atol=t["atol"] * max(1.0, float(scale)))
    assert ok, f"{what}: result differs from numpy:\n got  {_short(got)}\n want {_short(want)}"


# ----- strategies -------------------------------------------------------------------------------------------------
DTYPES = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def well_conditioned(dtype):
    """Values that keep every op well inside the dtype's range: 0, or |x| in [0.25, 8]."""
    mag = st.floats(0.25, 8.0, width=32)
    return st.one_of(st.just(0.0), mag, mag.map(lambda v: -v)).map(np.dtype(dtype).type)


@st.composite
def float_arrays(draw, shape=None, dtype=None, elements=None):
    dtype = draw(DTYPES) if dtype is None else dtype
    shape = draw(shapes) if shape is None else shape
    return draw(hnp.arrays(dtype, shape, elements=elements or well_conditioned(dtype)))


# ----- binary operators -------------------------------------------------------------------------------------------
BINARY = {
    "+": (lambda a, b: a + b, np.add),
    "-": (lambda a, b: a - b, np.subtract),
    "*": (lambda a, b: a * b, np.multiply),
    "/": (lambda a, b: a / b, np.divide),
    "@": (lambda a, b: a @ b, np.matmul),
    "maximum": (lambda a, b: ar.graph.maximum(a, b), np.maximum),
    "minimum": (lambda a, b: ar.graph.minimum(a, b), np.minimum),
}


@st.composite
def operand_pairs(draw):
    dtype_a = draw(DTYPES)
    dtype_b = draw(st.sampled_from([dtype_a, dtype_a, dtype_a, np.float32, np.float64]))
    a = draw(float_arrays(dtype=dtype_a))
    shape_b = draw(st.one_of(st.just(a.shape), st.just(a.shape[1:]), st.just(a.shape[::-1]), shapes))
    b = draw(float_arrays(shape=shape_b, dtype=dtype_b))
    return a, b


@FAST
@given(op=st.sampled_from(sorted(BINARY)), pair=operand_pairs(),
       b_kind=st.sampled_from(["tensor", "ndarray", "number"]))
@example(op="+", pair=(np.ones((2, 3), np.float32), np.ones((2, 3))), b_kind="tensor")
@example(op="*", pair=(np.ones(3, np.float32), np.ones(3)), b_kind="ndarray")
@example(op="/", pair=(np.ones(3), np.zeros(3)), b_kind="tensor")
@example(op="@", pair=(np.ones((2, 3)), np.ones(3)), b_kind="tensor")
@example(op="maximum", pair=(np.ones((3, 1)), np.ones(3)), b_kind="tensor")
def test_binary_ops_give_numpys_result_or_a_documented_error(op, pair, b_kind):
    a, b = pair
    if b_kind == "number":
        b = float(b.flat[0]) if b.size else 2.0
    fn, ref = BINARY[op]
    what = f"Tensor({a.dtype} {a.shape}) {op} {b_kind} {getattr(b, 'dtype', 'float')} {np.shape(b)}"
    rhs = ar.Tensor(b) if b_kind == "tensor" else b
    out = outcome(what, fn, ar.Tensor(a), rhs)
    if out is NO_RESULT:
        return
    b_dtype = a.dtype if b_kind == "number" else b.dtype
    assert a.dtype == b_dtype, f"{what}: mixed float32/float64 operands gave {out.dtype} instead of a documented error"
    assert out.dtype == a.dtype, f"{what}: result dtype {out.dtype}; expected {a.dtype}"
    a64, b64 = a.astype(np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        want = ref(a64, b64)
        scale = np.max(np.abs(a64) @ np.abs(b64), initial=1.0) if op == "@" else 1.0
    close(what, out.data, want, a.dtype, scale)


@FAST
@given(op=st.sampled_from(["+", "-", "*", "/", "maximum", "minimum"]), pair=operand_pairs())
def test_binary_op_gradients_match_finite_differences(op, pair):
    a, b = (x.astype(np.float64) for x in pair)
    fn, ref = BINARY[op]
    ta, tb = ar.Tensor(a, requires_grad=True), ar.Tensor(b, requires_grad=True)
    out = outcome(f"{op} on {a.shape} and {b.shape}", fn, ta, tb)
    if out is NO_RESULT:
        return
    assume(op != "/" or (np.abs(b) >= 0.25).all())
    assume(op not in ("maximum", "minimum") or not np.isclose(*np.broadcast_arrays(a, b)).any())
    u = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
    da, db = ar.grad(out, [ta, tb], [u])

    def numeric(x, k):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            hi, lo = x.copy(), x.copy()
            hi[i] += 1e-6
            lo[i] -= 1e-6
            args_hi, args_lo = ((hi, b), (lo, b)) if k == 0 else ((a, hi), (a, lo))
            g[i] = ((u * ref(*args_hi)).sum() - (u * ref(*args_lo)).sum()) / 2e-6
        return g

    for k, (x, g) in enumerate(((a, da), (b, db))):
        assert g is not None and g.shape == x.shape, f"{op}: gradient of input {k} has shape {np.shape(g)}"
        np.testing.assert_allclose(g, numeric(x, k), rtol=1e-5, atol=1e-6, err_msg=f"d({op})/d(input {k})")


# ----- unary functions --------------------------------------------------------------------------------------------
def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY = {  # name -> (apply, value, derivative); numpy in float64
    "exp": (lambda t: t.exp(), np.exp, np.exp),
    "log": (lambda t: t.log(), np.log, lambda x: 1 / x),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, lambda x: 0.5 / np.sqrt(x)),
    "rsqrt": (lambda t: t.rsqrt(), lambda x: 1 / np.sqrt(x), lambda x: -0.5 * x**-1.5),
    "reciprocal": (lambda t: t.reciprocal(), lambda x: 1 / x, lambda x: -1 / x**2),
    "abs": (lambda t: abs(t), np.abs, np.sign),
    "tanh": (lambda t: t.tanh(), np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (lambda t: t.sigmoid(), _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
}
EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.0, float("nan"), float("inf"), True, "2", None, 1e10]


@FAST
@given(name=st.sampled_from(sorted(UNARY) + ["pow"]), p=st.sampled_from(EXPONENTS), x=float_arrays())
@example(name="log", p=0, x=np.array([-1.0, 0.0]))
@example(name="sqrt", p=0, x=np.array([-1.0]))
@example(name="pow", p=1e10, x=np.array([2.0]))
@example(name="pow", p="2", x=np.array([2.0]))
@example(name="pow", p=0.5, x=np.array([-1.0]))
@example(name="exp", p=0, x=np.array([100.0], np.float32))
def test_unary_functions_give_numpys_value_and_derivative_or_a_documented_error(name, p, x):
    t = ar.Tensor(x, requires_grad=True)
    if name == "pow":
        what = f"Tensor({x.dtype} {x.shape}) ** {p!r}"
        out = outcome(what, lambda: t**p)
        if out is NO_RESULT:
            return
        assert isinstance(p, int | float) and not isinstance(p, bool), f"{what}: a non-number exponent was accepted"
        value, deriv = (lambda v: v**p), (lambda v: p * v ** (p - 1) if p else np.zeros_like(v))
    else:
        what = f"{name}(Tensor({x.dtype} {x.shape}))"
        out = outcome(what, UNARY[name][0], t)
        if out is NO_RESULT:
            return
        _, value, deriv = UNARY[name]
    assert out.dtype == x.dtype, f"{what}: result dtype {out.dtype}; expected {x.dtype}"
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        want, dwant = value(x64), deriv(x64)
    if not (np.abs(want) <= np.finfo(x.dtype).max).all():
        return  # beyond the dtype's range: +-inf is IEEE's rounding of it (docs/reliability.md)
    close(what, out.data, want, x.dtype)
    (g,) = ar.grad(out, [t], [np.ones(out.shape, x.dtype)])
    assert g.dtype == x.dtype, f"{what}: gradient dtype {g.dtype}; expected {x.dtype}"
    if name == "sqrt" or (name == "pow" and 0 < p < 1):
        return  # the derivative at 0 is infinite, as documented
    close(f"d/dx {what}", g, dwant, x.dtype)


# ----- finite inputs never overflow silently ----------------------------------------------------------------------
def _huge(dtype):
    return st.floats(allow_nan=False, allow_infinity=False, width=np.finfo(dtype).bits).map(np.dtype(dtype).type)


OVERFLOWING = {  # name -> (apply, exact reference in long double)
    "a + b": (lambda a, b: a + b, lambda a, b: a + b),
    "a * b": (lambda a, b: a * b, lambda a, b: a * b),
    "a / b": (lambda a, b: a / b, lambda a, b: a / b),
    "a @ b": (lambda a, b: a @ b.T, lambda a, b: a @ b.T),
    "a ** 2": (lambda a, b: a**2, lambda a, b: a * a),
    "exp(a)": (lambda a, b: a.exp(), lambda a, b: np.exp(a)),
    "reciprocal(a)": (lambda a, b: a.reciprocal(), lambda a, b: 1 / a),
    "a.sum()": (lambda a, b: a.sum(), lambda a, b: a.sum()),
    "a.mean()": (lambda a, b: a.mean(), lambda a, b: a.sum() / a.size),
}


@st.composite
def huge_pairs(draw):
    dtype = draw(DTYPES)
    return tuple(draw(hnp.arrays(dtype, (2, 3), elements=_huge(dtype))) for _ in range(2))


BIG = np.finfo(np.float64).max


@FAST
@given(op=st.sampled_from(sorted(OVERFLOWING)), pair=huge_pairs())
@example(op="a * b", pair=(np.array([[2.0]]), np.array([[BIG]])))
@example(op="a + b", pair=(np.array([[BIG]]), np.array([[BIG]])))
@example(op="a / b", pair=(np.array([[1e10]]), np.array([[1e-300]])))
@example(op="a @ b", pair=(np.array([[1e200, 1e200]]), np.array([[1e200, 1e200]])))
@example(op="a ** 2", pair=(np.array([[1e200]]), np.array([[1.0]])))
@example(op="reciprocal(a)", pair=(np.array([[1e-310]]), np.array([[1.0]])))
@example(op="a.mean()", pair=(np.array([[BIG, BIG]]), np.array([[1.0, 1.0]])))
@example(op="a * b", pair=(np.array([[3e38]], np.float32), np.array([[2.0]], np.float32)))
def test_a_representable_result_is_never_inf_or_nan(op, pair):
    """Finite inputs whose exact result the dtype can hold give a finite result (or a documented
    error). A result beyond the dtype's range may round to +-inf, as IEEE 754 says: the loss,
    gradient and weight checks catch it downstream (docs/reliability.md)."""
    a, b = pair
    dtype = a.dtype.type
    fn, exact = OVERFLOWING[op]
    what = f"{op} with {dtype.__name__} a={a.tolist()} b={b.tolist()}"
    out = outcome(what, fn, ar.Tensor(a), ar.Tensor(b))
    with np.errstate(all="ignore"):
        want = np.asarray(exact(a.astype(np.longdouble), b.astype(np.longdouble)))
    representable = np.isfinite(want).all() and (np.abs(want) <= np.finfo(dtype).max / 2).all()
    if out is NO_RESULT or not representable:
        return
    assert_finite(what, out.data)


# ----- reductions -------------------------------------------------------------------------------------------------
AXES = st.one_of(st.sampled_from([None, 1.0, "0", True, (0, 1.5), [0]]), st.integers(-4, 4),
                 st.lists(st.integers(-4, 4), max_size=3).map(tuple))


@FAST
@given(x=float_arrays(), which=st.sampled_from(["sum", "mean", "var"]), axis=AXES, keepdims=st.booleans(),
       ddof=st.one_of(st.integers(-2, 5), st.sampled_from([0.5, True, None])))
@example(x=np.ones((2, 3)), which="sum", axis=1.0, keepdims=False, ddof=0)
@example(x=np.ones((2, 3)), which="mean", axis=(0, 0), keepdims=False, ddof=0)
@example(x=np.ones((2, 3)), which="var", axis=None, keepdims=False, ddof=6)
@example(x=np.ones((0, 3)), which="mean", axis=None, keepdims=False, ddof=0)
@example(x=np.ones((0, 3)), which="var", axis=0, keepdims=True, ddof=0)
def test_reductions_give_numpys_result_or_a_documented_error(x, which, axis, keepdims, ddof):
    t = ar.Tensor(x)
    kw = {"axis": axis, "keepdims": keepdims} | ({"ddof": ddof} if which == "var" else {})
    what = f"Tensor({x.dtype} {x.shape}).{which}(**{kw})"
    out = outcome(what, getattr(t, which), **kw)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            want = getattr(np, which)(x.astype(np.float64), **kw)
    except Exception:
        want = None  # numpy refuses these arguments, or warns (a mean of nothing, ddof >= n)
    if out is NO_RESULT:
        return
    assert want is not None, f"{what}: numpy refuses (or warns), but the call returned {_short(out.data)}"
    assert out.dtype == x.dtype, f"{what}: result dtype {out.dtype}; expected {x.dtype}"
    close(what, out.data, want, x.dtype, scale=np.sum(np.abs(x)) + np.max(np.abs(x), initial=0.0) ** 2)


# ----- shape operations -------------------------------------------------------------------------------------------
AXIS_LISTS = st.one_of(st.lists(st.integers(-4, 4), max_size=4).map(tuple), st.sampled_from([(0.0,), ("0",), (None,)]))


@FAST
@given(x=float_arrays(), axes=AXIS_LISTS, style=st.sampled_from(["*axes", "tuple", "T"]))
@example(x=np.ones((2, 3)), axes=(0, 5), style="*axes")
@example(x=np.ones((2, 3)), axes=(0, 0), style="*axes")
@example(x=np.ones((2, 3)), axes=(-3, 0), style="tuple")
@example(x=np.ones((2, 3)), axes=(), style="tuple")
@example(x=np.ones((2, 3)), axes=(1,), style="*axes")
@example(x=np.array(1.0), axes=(0,), style="*axes")
def test_transpose_permutes_like_numpy_and_never_wraps_axes(x, axes, style):
    t = ar.Tensor(x)
    call = {"*axes": lambda: t.transpose(*axes), "tuple": lambda: t.transpose(axes), "T": lambda: t.T}[style]
    what = f"Tensor{x.shape}.transpose({axes})" if style != "T" else f"Tensor{x.shape}.T"
    out = outcome(what, call)
    try:
        want = {"*axes": lambda: x.transpose(*axes), "tuple": lambda: x.transpose(axes), "T": lambda: x.T}[style]()
    except Exception:
        want = None  # numpy refuses: an axis out of range, repeated, or not one per dimension
    if out is NO_RESULT:
        return
    if want is None:
        ints = [a for a in axes if isinstance(a, int)]
        assert all(-x.ndim <= a < x.ndim for a in ints), f"{what}: an axis out of range was wrapped to {out.shape}"
        assert len({a % max(x.ndim, 1) for a in ints}) == len(ints), f"{what}: a repeated axis gave {out.shape}"
        raise AssertionError(f"{what}: numpy refuses these axes (not one per dimension), yet it returned {out.shape}")
    assert out.shape == want.shape and np.array_equal(out.data, want), f"{what}: differs from numpy"


@FAST
@given(x=float_arrays(), new=st.one_of(st.lists(st.integers(-2, 13), min_size=1, max_size=4).map(tuple),
                                       st.sampled_from([("a",), (2.0, 3.0), (None,), ((2, 3),)])))
@example(x=np.ones((2, 3)), new=("a",))
@example(x=np.ones((2, 3)), new=(-1, -1))
@example(x=np.ones((2, 3)), new=(4, 2))
def test_reshape_gives_numpys_result_or_a_documented_error(x, new):
    what = f"Tensor{x.shape}.reshape{new}"
    out = outcome(what, ar.Tensor(x).reshape, *new)
    try:
        want = x.reshape(*new)
    except Exception:
        want = None
    if out is NO_RESULT:
        return
    assert want is not None, f"{what}: numpy refuses, yet it returned shape {out.shape}"
    assert out.shape == want.shape and np.array_equal(out.data, want), f"{what}: differs from numpy"


KEYS = st.one_of(
    st.integers(-6, 6),
    st.tuples(st.integers(-6, 6), st.integers(-6, 6)),
    st.builds(slice, st.one_of(st.none(), st.integers(-6, 6)), st.one_of(st.none(), st.integers(-6, 6)),
              st.sampled_from([None, 1, 2, -1])),
    hnp.arrays(np.int64, st.integers(0, 4), elements=st.integers(-6, 6)),
    hnp.arrays(np.bool_, st.integers(0, 5)),
    st.sampled_from([None, Ellipsis, 1.5, "a", (0, None), [0, 0, 1], (Ellipsis, 0), (slice(None), [1, 0])]),
)


@FAST
@given(x=float_arrays(shape=nonempty_shapes, dtype=np.float64), key=KEYS)
@example(x=np.ones((2, 3)), key=None)
@example(x=np.ones((2, 3)), key=(0, None))
@example(x=np.ones((2, 3)), key=(5,))
@example(x=np.ones((2, 3)), key=np.array([True, False, True]))
@example(x=np.ones((2, 3)), key=[0, 0, 1])
def test_indexing_gives_numpys_values_and_counts_gradients_or_a_documented_error(x, key):
    t = ar.Tensor(x, requires_grad=True)
    what = f"Tensor{x.shape}[{key!r}]"
    out = outcome(what, lambda: t[key])
    try:
        want = x[key]
        ids = np.arange(x.size).reshape(x.shape)[key]
    except Exception:
        want = None
    if out is NO_RESULT:
        return
    assert want is not None, f"{what}: numpy refuses this key, yet it returned shape {out.shape}"
    assert out.shape == np.shape(want) and np.array_equal(out.data, want), f"{what}: differs from numpy"
    (g,) = ar.grad(out, [t], [np.ones(out.shape)])
    counts = np.bincount(np.ravel(ids), minlength=x.size).reshape(x.shape)
    assert np.array_equal(g, counts), f"d/dx {what}: {g}, expected how often each element is selected {counts}"


@FAST
@given(n=st.integers(0, 3), shape=nonempty_shapes, dtypes=st.lists(DTYPES, min_size=3, max_size=3),
       axis=st.one_of(st.integers(-5, 5), st.sampled_from([1.0, "0", None])),
       which=st.sampled_from(["concat", "stack"]), ragged=st.booleans())
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=5, which="concat", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=-3, which="concat", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=-4, which="stack", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=3, which="stack", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=None, which="concat", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=None, which="stack", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float64] * 3, axis=1.0, which="concat", ragged=False)
@example(n=2, shape=(2, 3), dtypes=[np.float32, np.float64, np.float64], axis=0, which="concat", ragged=False)
def test_concat_and_stack_follow_numpy_axes_or_refuse(n, shape, dtypes, axis, which, ragged):
    pieces = [np.full(shape if not (ragged and k == 1 and shape) else (shape[0] + 1, *shape[1:]), k + 1.0, dtypes[k])
              for k in range(n)]
    what = f"ar.{which}([{', '.join(f'{p.dtype} {p.shape}' for p in pieces)}], axis={axis!r})"
    out = outcome(what, getattr(ar, which), [ar.Tensor(p) for p in pieces], axis=axis)
    try:
        want = (np.concatenate if which == "concat" else np.stack)(pieces, axis=axis) if pieces else None
    except Exception:
        want = None
    if out is NO_RESULT:
        return
    assert want is not None, f"{what}: numpy refuses (axis out of range, or pieces that do not fit), got {out.shape}"
    assert len({p.dtype for p in pieces}) == 1, f"{what}: mixed dtypes gave a result instead of a documented error"
    assert out.shape == want.shape and np.array_equal(out.data, want), f"{what}: differs from numpy"


@FAST
@given(x=float_arrays(shape=nonempty_shapes),
       p=st.one_of(st.floats(-0.5, 1.5), st.sampled_from([0.0, 0.5, 1.0, float("nan"), float("inf"), "0.5", None])),
       rng=st.sampled_from(["none", 0, 7, -1, 1.5, "seed", "generator"]))
@example(x=np.ones((2, 3)), p="0.5", rng='none')
@example(x=np.ones((2, 3)), p=None, rng='none')
@example(x=np.ones((2, 3)), p=1.0, rng='none')
@example(x=np.ones((2, 3)), p=float("nan"), rng=0)
@example(x=np.ones((2, 3)), p=-0.1, rng=0)
@example(x=np.ones((2, 3)), p=0.5, rng=-1)
@example(x=np.ones((2, 3)), p=0.5, rng='generator')
@example(x=np.ones((2, 3)), p=0.5, rng=1.5)
def test_dropout_keeps_or_scales_each_element_or_refuses(x, p, rng):
    gen = {"none": None, "generator": np.random.default_rng(3)}.get(rng, rng)
    what = f"ar.dropout(Tensor({x.dtype} {x.shape}), p={p!r}, rng={rng!r})"
    out = outcome(what, ar.dropout, ar.Tensor(x), p, gen)
    if out is NO_RESULT:
        return
    assert isinstance(p, float) and 0.0 <= p < 1.0, f"{what}: an invalid drop probability was accepted"
    assert out.shape == x.shape and out.dtype == x.dtype, f"{what}: gave {out.dtype} {out.shape}"
    assert_finite(what, out.data)
    scaled = (x / x.dtype.type(1 - p)).astype(np.float64)
    kept_or_dropped = np.isclose(out.data, scaled, **tol(x.dtype)) | (out.data == 0)
    assert kept_or_dropped.all(), f"{what}: elements neither dropped nor scaled by 1/(1-p): {out.data} from {x}"


@FAST
@given(x=float_arrays(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
@example(x=np.array(1.0))
@example(x=np.ones((0, 2)))
def test_iterating_a_tensor_gives_its_rows_or_a_documented_error(x):
    t = ar.Tensor(x)
    rows = outcome(f"list(Tensor of shape {x.shape})", list, t)
    if x.ndim == 0:
        assert rows is NO_RESULT, "list() of a 0-d Tensor returned instead of raising a documented error"
        must_refuse("len() of a 0-d Tensor", len, t)
        return
    assert rows is not NO_RESULT, f"list(Tensor of shape {x.shape}) was refused"
    assert len(rows) == len(x) == len(t)
    for row, want in zip(rows, x):
        assert row.shape == want.shape and np.array_equal(row.data, want)


# ----- gradients: grad() and backward() ---------------------------------------------------------------------------
@st.composite
def upstream_arrays(draw):
    """An upstream gradient: a bounded array of any small shape, float or integer."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    return np.linspace(-2, 2, int(np.prod(shape))).reshape(shape).round().astype(dtype) + dtype(1)


UPSTREAM = st.one_of(st.none(), st.lists(st.one_of(upstream_arrays(), st.sampled_from([1.0, "a", None])), max_size=3))


@FAST
@given(dtype=DTYPES, shape=nonempty_shapes, n_out=st.integers(1, 2), scalar=st.booleans(), grad_outputs=UPSTREAM)
@example(dtype=np.float32, shape=(2,), n_out=2, scalar=True, grad_outputs=[np.ones(())])
@example(dtype=np.float32, shape=(2,), n_out=1, scalar=True, grad_outputs=[np.ones(())])
@example(dtype=np.float64, shape=(2,), n_out=1, scalar=False, grad_outputs=[np.ones(3)])
@example(dtype=np.float64, shape=(2,), n_out=1, scalar=True, grad_outputs=["a"])
def test_grad_gives_gradients_in_the_graphs_dtype_or_a_documented_error(dtype, shape, n_out, scalar, grad_outputs):
    x = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape).astype(dtype)
    t = ar.Tensor(x, requires_grad=True)
    outs = [((t * t).sum() if scalar else t * t) for _ in range(n_out)]
    what = f"ar.grad({n_out} outputs of shape {outs[0].shape}, [x {dtype.__name__}], {_short(grad_outputs)})"
    got = outcome(what, ar.grad, outs, [t], grad_outputs)
    if got is NO_RESULT:
        return
    ups = [np.ones(o.shape) for o in outs] if grad_outputs is None else grad_outputs
    assert len(ups) == n_out, f"{what}: {len(ups)} upstream gradients for {n_out} outputs were accepted"
    for u, o in zip(ups, outs):
        assert np.shape(u) == o.shape, f"{what}: upstream of shape {np.shape(u)} for an output {o.shape} accepted"
    (g,) = got
    assert g.dtype == x.dtype, f"{what}: a {x.dtype} graph gave a {g.dtype} gradient"
    want = sum(2 * x.astype(np.float64) * np.asarray(u, dtype=np.float64) for u in ups)
    close(what, g, want, dtype)


@FAST
@given(dtype=DTYPES, shape=nonempty_shapes,
       upstream=st.one_of(st.none(), upstream_arrays(), st.sampled_from(["a", [1.0, 2.0], 3, None])))
@example(dtype=np.float64, shape=(2,), upstream=None)
@example(dtype=np.float64, shape=(2,), upstream="a")
@example(dtype=np.float32, shape=(2,), upstream=np.ones(2))
def test_backward_fills_grad_or_refuses_a_non_scalar_without_upstream(dtype, shape, upstream):
    x = np.linspace(-1, 1, int(np.prod(shape))).reshape(shape).astype(dtype)
    t = ar.Tensor(x, requires_grad=True)
    y = t * t
    what = f"(x*x).backward({_short(upstream)}) with x {dtype.__name__} {shape}"
    if refused(what, y.backward, upstream):
        assert t.grad is None, f"{what}: refused, but left a gradient behind"
        return
    if upstream is None:
        assert y.size == 1, f"{what}: backward() without an upstream gradient on a {y.shape} tensor was accepted"
    u = np.ones(y.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    assert u.shape == y.shape, f"{what}: an upstream of shape {u.shape} for a {y.shape} tensor was accepted"
    assert t.grad.dtype == x.dtype, f"{what}: a {x.dtype} graph gave a {t.grad.dtype} gradient"
    close(what, t.grad, 2 * x.astype(np.float64) * u, dtype)


# ----- nodes ------------------------------------------------------------------------------------------------------
SIZES = [0, 1, 3, -1, -3, 10**12, 2**62, 2.5, 3.0, float("nan"), float("inf"), True, False, "4", None]
NODES = {
    "RNNLayer": lambda a, b: RNNLayer(a, b, rng=0),
    "LSTMLayer": lambda a, b: LSTMLayer(a, b, rng=0),
    "GRULayer": lambda a, b: GRULayer(a, b, rng=0),
    "Linear": lambda a, b: Linear(a, b, rng=0),
    "Embedding": lambda a, b: Embedding(a, b, rng=0),
    "LayerNorm": lambda a, b: LayerNorm(a),
}


def _is_size(v) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= 10**6


@pytest.mark.parametrize("name", sorted(NODES))
@TIMED
@given(a=st.sampled_from(SIZES), b=st.sampled_from(SIZES))
@example(a=10**12, b=3)
@example(a=3, b=10**12)
@example(a=2**62, b=3)
@example(a=True, b=3)
@example(a="4", b=3)
@example(a=3, b="4")
@example(a=float("nan"), b=3)
@example(a=2.5, b=3)
@example(a=-3, b=3)
@example(a=0, b=3)
@example(a=3, b=0)
def test_node_sizes_are_refused_quickly_or_build_a_working_node(name, a, b):
    what = f"{name}({a!r}, {b!r})"
    node = outcome(what, NODES[name], a, b, seconds=3.0)
    if node is NO_RESULT:
        return
    used = (a,) if name == "LayerNorm" else (a, b)
    assert all(_is_size(v) for v in used), f"{what}: a size that is not a non-negative int was accepted"
    params = node.parameters()
    for p in params.values():
        assert_finite(f"{what} parameter {p.name}", p.data)
    if name in ("RNNLayer", "LSTMLayer", "GRULayer"):
        hs = outcome(f"Sequence({what})(ones(2, 1, {a}))", lambda: ar.Sequence(node)(np.ones((2, 1, a)))[0])
        if hs is not NO_RESULT:
            assert hs.shape == (2, 1, b)
            assert_finite(f"Sequence({what})", hs.data)
    elif name == "Linear":
        y = outcome(f"{what}(ones(2, {a}))", node, ar.Tensor(np.ones((2, a))))
        if y is not NO_RESULT:
            close(f"{what}(ones(2, {a}))", y.data, np.ones((2, a)) @ node.weight.data.T + node.bias.data, np.float64)
    elif name == "Embedding":
        assert node.weight.shape == (a, b)
    else:
        y = outcome(f"{what}(x)", node, ar.Tensor(np.arange(2.0 * a).reshape(2, a)))
        if y is not NO_RESULT:
            x = np.arange(2.0 * a).reshape(2, a)
            want = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + node.eps)
            close(f"{what}(x)", y.data, want, np.float64)


TRUNCATIONS = {
    "5": lambda: 5, "2.5": lambda: 2.5, "'lookback:-1'": lambda: "lookback:-1", "'tbptt:0'": lambda: "tbptt:0",
    "'bogus'": lambda: "bogus", "'lookback:'": lambda: "lookback:", "'tbptt:3,2'": lambda: "tbptt:3,2",
    "'tbptt:1,2,3'": lambda: "tbptt:1,2,3", "b'full'": lambda: b"full", "'lookback:1e3'": lambda: "lookback:1e3",
    "LookBack(inf)": lambda: ar.LookBack(float("inf")), "LookBack(nan)": lambda: ar.LookBack(float("nan")),
    "LookBack(2.5)": lambda: ar.LookBack(2.5), "LookBack(-1)": lambda: ar.LookBack(-1),
    "LookBack('3')": lambda: ar.LookBack("3"), "Truncated(3, 2)": lambda: ar.Truncated(3, 2),
    "Truncated(0)": lambda: ar.Truncated(0), "Truncated(inf)": lambda: ar.Truncated(float("inf")),
    # valid ones, with the policy they must mean
    "None": lambda: None, "'full'": lambda: "full", "' Lookback:2 '": lambda: " Lookback:2 ",
    "'tbptt:2,3'": lambda: "tbptt:2,3", "'tbptt:2'": lambda: "tbptt:2", "LookBack(0)": lambda: ar.LookBack(0),
    "Truncated(1, 4)": lambda: ar.Truncated(1, 4),
}
MEANS = {"None": ar.Full(), "'full'": ar.Full(), "' Lookback:2 '": ar.LookBack(2), "'tbptt:2,3'": ar.Truncated(2, 3),
         "'tbptt:2'": ar.Truncated(2, 2), "LookBack(0)": ar.LookBack(0), "Truncated(1, 4)": ar.Truncated(1, 4)}


@pytest.mark.parametrize("spec", sorted(TRUNCATIONS))
@settings(max_examples=3, deadline=None)
@given(cell=st.sampled_from([RNNLayer, LSTMLayer, GRULayer]))
def test_sequence_truncation_is_parsed_exactly_or_refused(spec, cell):
    what = f"Sequence({cell.__name__}(3, 4), truncation={spec})"
    seq, error = attempt(what, lambda: ar.Sequence(cell(3, 4, rng=0), truncation=TRUNCATIONS[spec]()))
    if error is not None:
        assert spec not in MEANS or spec == "' Lookback:2 '", f"{what}: a valid truncation was refused: {error}"
        return
    assert spec in MEANS, f"{what}: an invalid truncation was accepted as {seq.truncation!r}"
    assert seq.truncation == MEANS[spec], f"{what}: parsed as {seq.truncation!r}, expected {MEANS[spec]!r}"


def _rnn_reference(cell, xs, h0):
    W_ih, W_hh, b_ih, b_hh = (cell.resolve(n).data.astype(np.float64) for n in
                              ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h, hs = h0.astype(np.float64), []
    for x in xs.astype(np.float64):
        h = np.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        hs.append(h)
    return np.stack(hs)


@FAST
@given(xs_shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=4),
       xs_dtype=st.sampled_from([np.float64, np.float32, np.int64]),
       state=st.one_of(st.none(), hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                       st.sampled_from(["pair", "string"])),
       fused=st.booleans())
@example(xs_shape=(2, 3), xs_dtype=np.float64, state=None, fused=True)
@example(xs_shape=(2, 2, 5), xs_dtype=np.float64, state=None, fused=True)
@example(xs_shape=(2, 2, 3), xs_dtype=np.float32, state=None, fused=False)
@example(xs_shape=(2, 2, 3), xs_dtype=np.float64, state=(3, 4), fused=True)
@example(xs_shape=(2, 2, 3), xs_dtype=np.float64, state='pair', fused=False)
@example(xs_shape=(2, 2, 3), xs_dtype=np.float64, state='string', fused=True)
@example(xs_shape=(0, 2, 3), xs_dtype=np.float64, state=None, fused=True)
def test_sequence_refuses_misshaped_inputs_and_states_or_matches_a_reference(xs_shape, xs_dtype, state, fused):
    cell = RNNLayer(3, 4, rng=1)
    seq = ar.Sequence(cell, fused=fused)
    xs = np.linspace(-1, 1, int(np.prod(xs_shape))).reshape(xs_shape).astype(xs_dtype)
    h0 = {None: None, "string": "h0", "pair": (np.zeros((2, 4)), np.zeros((2, 4)))}.get(state) if not isinstance(
        state, tuple) else np.full(state, 0.5)
    what = f"Sequence(RNNLayer(3, 4), fused={fused})(xs {xs.dtype} {xs.shape}, state0={_short(state)})"
    out = outcome(what, seq, xs, h0)
    if out is NO_RESULT:
        return
    hs, h = out
    assert xs.ndim == 3 and xs.shape[2] == 3 and xs.dtype == np.float64, f"{what}: misshaped xs were accepted"
    assert not isinstance(h0, str | tuple), f"{what}: a state0 of the wrong kind was accepted"
    start = np.zeros((xs.shape[1], 4)) if h0 is None else h0
    assert start.shape == (xs.shape[1], 4), f"{what}: a misshaped state0 was accepted"
    want = _rnn_reference(cell, xs, start)
    close(what, hs.data, want, np.float64)
    close(f"{what} final state", h.data, want[-1], np.float64)


LAYERS = [0, -1, 1, 2, 2.5, True, 10**9, 10**12, "2", None]
DROPOUTS = [-0.1, 0.0, 0.5, 1.0, 1.5, float("nan"), float("inf"), "0.1", None]


@TIMED
@given(layers=st.sampled_from(LAYERS), p=st.sampled_from(DROPOUTS), cell=st.sampled_from(["rnn", "gru", "junk", 3]))
@example(layers=10**9, p=0.0, cell="rnn")
@example(layers=0, p=0.0, cell="rnn")
@example(layers=2, p=1.0, cell="rnn")
@example(layers=2.5, p=0.0, cell="gru")
@example(layers=1, p=0.0, cell="junk")
@example(layers=1, p=0.0, cell=3)
def test_recurrent_refuses_bad_layers_and_dropout_quickly(layers, p, cell):
    what = f"Recurrent({cell!r}, 3, 4, layers={layers!r}, dropout={p!r})"
    rec = outcome(what, lambda: ar.Recurrent(cell, 3, 4, layers=layers, dropout=p, rng=0), seconds=3.0)
    if rec is NO_RESULT:
        return
    assert cell in ("rnn", "gru"), f"{what}: an unknown cell was accepted"
    assert _is_size(layers) and layers >= 1, f"{what}: layers={layers!r} was accepted"
    assert isinstance(p, float) and 0.0 <= p < 1.0, f"{what}: dropout={p!r} was accepted"
    hs, states = rec(np.ones((2, 1, 3)))
    assert hs.shape == (2, 1, 4) and len(states) == layers
    assert_finite(what, hs.data)


@st.composite
def token_arrays(draw):
    dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8, np.float64, np.bool_]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    low = 0 if dtype in (np.uint8, np.bool_) else -2
    values = draw(hnp.arrays(np.int64, shape, elements=st.integers(low, 8)))
    return values.astype(dtype)


@TIMED
@given(vocab=st.sampled_from([0, -1, 1, 5, 2.5, "5", True, 10**12, 2**62, None, float("nan")]), one_hot=st.booleans(),
       layers=st.sampled_from([1, 2]))
@example(vocab=0, one_hot=False, layers=1)
@example(vocab=10**12, one_hot=False, layers=1)
@example(vocab="5", one_hot=False, layers=1)
@example(vocab=2.5, one_hot=False, layers=1)
@example(vocab=None, one_hot=False, layers=1)
def test_language_model_refuses_bad_vocab_sizes_quickly(vocab, one_hot, layers):
    what = f"LanguageModel({vocab!r}, one_hot={one_hot}, layers={layers})"
    lm = outcome(what, lambda: ar.LanguageModel(vocab, "lstm", embed_size=2, hidden_size=4, layers=layers,
                                                one_hot=one_hot, dtype=np.float64, rng=0), seconds=3.0)
    if lm is NO_RESULT:
        return
    assert _is_size(vocab) and vocab >= 1, f"{what}: vocab_size={vocab!r} was accepted"
    logits, _ = lm(np.zeros((2, 1), np.int64))
    assert logits.shape == (2, 1, vocab)
    assert_finite(what, logits.data)


LM = ar.LanguageModel(5, "lstm", embed_size=2, hidden_size=4, dtype=np.float64, rng=0)
LM_ONE_HOT = ar.LanguageModel(5, "gru", hidden_size=4, one_hot=True, dtype=np.float64, rng=0)


@FAST
@given(tokens=token_arrays(), one_hot=st.booleans(), targets_shape=st.sampled_from(["same", "flat", "short", "3-d"]))
@example(tokens=np.array([[1], [2]]), one_hot=False, targets_shape="flat")
@example(tokens=np.array([[1], [2]]), one_hot=False, targets_shape="3-d")
@example(tokens=np.array([[1.0]]), one_hot=False, targets_shape="same")
@example(tokens=np.array([[5]]), one_hot=True, targets_shape="same")
@example(tokens=np.array([-1]), one_hot=False, targets_shape="same")
def test_language_model_refuses_bad_tokens_and_targets_or_gives_finite_logits(tokens, one_hot, targets_shape):
    lm, vocab = (LM_ONE_HOT if one_hot else LM), 5
    what = f"LanguageModel(5, one_hot={one_hot})"
    call = f"{what}(tokens {tokens.dtype} {tokens.shape} {tokens.tolist()})"
    out = outcome(call, lm, tokens)
    valid = (tokens.dtype.kind in "iu" and tokens.ndim == 2 and tokens.size > 0
             and 0 <= tokens.min() <= tokens.max() < vocab)
    if out is not NO_RESULT:
        assert valid, f"{call}: invalid tokens were accepted"
        logits, _ = out
        assert logits.shape == (*tokens.shape, vocab)
        assert_finite(call, logits.data)
    targets = {"same": tokens, "flat": tokens.reshape(-1), "short": tokens.reshape(-1)[:1],
               "3-d": tokens.reshape(*tokens.shape, 1)}[targets_shape]
    loss = outcome(f"{what}.loss(inputs {tokens.dtype} {tokens.shape}, targets {targets.shape})", lm.loss, tokens,
                   targets)
    if loss is not NO_RESULT:
        assert valid and np.shape(targets) == tokens.shape, f"{what}.loss: targets of shape {targets.shape} for " \
                                                           f"inputs {tokens.shape} were accepted"
        assert_finite("loss", loss[0].data)


# ----- gradcheck options ------------------------------------------------------------------------------------------
GRADCHECK_OPTIONS = {
    "eps": [0, 0.0, -1e-3, float("inf"), float("nan"), "a", None, 1e-6],
    "atol": [-1.0, float("nan"), None, 1e-7],
    "rtol": [-1.0, float("nan"), None, 1e-6],
    "mode": ["bogus", 3, "auto", "full", "vjp", "projection"],
    "wrt": [[3], [-5], [0.5], ["0"], None, [0]],
}


def _valid_option(key, value) -> bool:
    if key == "mode":
        return value in ("auto", "full", "vjp", "projection")
    if key == "wrt":
        return value in (None, [0])
    if value is None:
        return True
    ok = isinstance(value, float) and math.isfinite(value)
    return ok and (value > 0 if key == "eps" else value >= 0)


@FAST
@given(options=st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in GRADCHECK_OPTIONS.items()}))
@example(options={"eps": 0})
@example(options={"eps": -1e-3})
@example(options={"eps": float("inf")})
@example(options={"eps": float("nan")})
@example(options={"atol": -1.0})
@example(options={"rtol": float("nan")})
@example(options={"mode": "bogus"})
@example(options={"wrt": [3]})
@example(options={"wrt": [0.5]})
def test_gradcheck_refuses_bad_options_with_an_option_error(options):
    what = f"ar.gradcheck(lambda a: (a * a).sum(), [[1.0, -2.0, 0.5]], **{options})"
    report, error = attempt(what, ar.gradcheck, lambda a: (a * a).sum(), [np.array([1.0, -2.0, 0.5])], **options)
    valid = all(_valid_option(k, v) for k, v in options.items())
    if error is not None:
        assert not valid, f"{what}: valid options on a correct gradient were refused: {error}"
        assert not isinstance(error, GradcheckError), (
            f"{what}: a bad option was reported as a wrong gradient (GradcheckError) instead of an option error: "
            f"{str(error).splitlines()[0]}")
        return
    assert valid, f"{what}: invalid options were accepted (report.passed={report.passed})"
    assert report.passed, f"{what}: the exact gradient of a quadratic failed:\n{report}"


# ----- state dicts ------------------------------------------------------------------------------------------------
@st.composite
def state_edits(draw):
    return draw(st.lists(st.sampled_from(["drop", "extra", "reshape", "int", "huge", "list", "string", "nan",
                                          "float64", "float32", "scalar"]), min_size=0, max_size=2))


def _cast(value, dtype):
    """``value`` as an array of ``dtype``, or unchanged where it is not numeric (an earlier edit made it a string)."""
    try:
        with np.errstate(over="ignore"):  # a huge value cast to float32 becomes inf, which loading must refuse
            return np.asarray(value, dtype)
    except (TypeError, ValueError):
        return value


def _edited(edit: str, value, shape: tuple):
    return {
        "reshape": lambda: np.ones(int(np.prod(shape)) + 1), "int": lambda: np.ones(shape, np.int64),
        "huge": lambda: np.full(shape, 1e300), "list": lambda: np.asarray(value).tolist(), "string": lambda: "abc",
        "nan": lambda: np.full(shape, np.nan), "float64": lambda: _cast(value, np.float64),
        "float32": lambda: _cast(value, np.float32), "scalar": lambda: 0.5,
    }[edit]()


@FAST
@given(dtype=DTYPES, edits=state_edits(), key=st.sampled_from(["weight", "bias"]), not_a_dict=st.booleans())
@example(dtype=np.float32, edits=['huge'], key="bias", not_a_dict=False)
@example(dtype=np.float64, edits=[], key="bias", not_a_dict=True)
@example(dtype=np.float64, edits=['drop'], key="weight", not_a_dict=False)
@example(dtype=np.float64, edits=['extra'], key="bias", not_a_dict=False)
@example(dtype=np.float64, edits=['reshape'], key="bias", not_a_dict=False)
@example(dtype=np.float64, edits=['int'], key="weight", not_a_dict=False)
@example(dtype=np.float64, edits=['scalar'], key="bias", not_a_dict=False)
def test_load_state_dict_loads_exactly_or_refuses_and_changes_nothing(dtype, edits, key, not_a_dict):
    node = Linear(3, 2, dtype=dtype, rng=0)
    before = node.state_dict()
    state = {k: v.astype(np.float64) + 0.25 for k, v in before.items()}
    for edit in edits:
        if edit == "drop":
            state.pop(key, None)
        elif edit == "extra":
            state["extra.weight"] = np.ones(2)
        else:
            state[key] = _edited(edit, state.get(key, before[key]), before[key].shape)
    arg = list(state.items()) if not_a_dict else state
    what = f"Linear(3, 2, dtype={dtype.__name__}).load_state_dict(edits {edits} on {key!r}, as a {type(arg).__name__})"
    if refused(what, node.load_state_dict, arg):
        for k, v in node.state_dict().items():
            assert np.array_equal(v, before[k]), f"{what}: refused, but parameter {k!r} was changed"
        return
    for k, p in node.parameters().items():
        given_value = np.asarray(state[k])
        assert given_value.dtype.kind == "f" and given_value.shape == p.shape, f"{what}: {k} loaded from {given_value}"
        if not np.isfinite(given_value).all():
            assert np.array_equal(p.data, given_value.astype(dtype), equal_nan=True), f"{what}: {k} is {p.data}"
            continue
        close(f"{what}: {k}", p.data, given_value, dtype)


# ----- user gates -------------------------------------------------------------------------------------------------
class Twice(Gate):
    """y = 2x; ``variant`` picks what backward returns."""

    def __init__(self, variant: str):
        self.variant = variant

    def forward(self, x):
        self.save(x=x)
        return np.asarray(x * x.dtype.type(2))

    def backward(self, g):
        d = np.asarray(g * g.dtype.type(2))
        return {
            "tuple": lambda: (d,), "list": lambda: [d], "float32": lambda: (d.astype(np.float32),),
            "float64": lambda: (d.astype(np.float64),), "shape": lambda: (np.ones(d.size + 1, d.dtype),),
            "transposed": lambda: (d.T.copy() if d.ndim == 2 and d.shape[0] != d.shape[1] else np.ones(d.size + 1),),
            "scalar": lambda: (float(d.sum()),), "two": lambda: (d, d), "none": lambda: None,
        }[self.variant]()


GOOD_VARIANTS = ("tuple", "list")


@FAST
@given(variant=st.sampled_from(["tuple", "list", "float32", "float64", "shape", "transposed", "scalar", "two", "none"]),
       dtype=DTYPES, shape=nonempty_shapes, via=st.sampled_from(["backward", "grad"]))
@example(variant="list", dtype=np.float64, shape=(2, 3), via="backward")
@example(variant="list", dtype=np.float32, shape=(2, 3), via="grad")
@example(variant="float32", dtype=np.float64, shape=(2, 3), via="backward")
@example(variant="float32", dtype=np.float64, shape=(2, 3), via="grad")
@example(variant="shape", dtype=np.float64, shape=(2, 3), via="backward")
@example(variant="transposed", dtype=np.float32, shape=(2, 3), via="grad")
def test_user_gate_backward_is_checked_and_errors_name_the_gate(variant, dtype, shape, via):
    x = ar.Tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape).astype(dtype), requires_grad=True)
    y = ar.apply(Twice(variant), x)
    what = f"a user gate whose backward returns {variant!r}, on a {dtype.__name__} input {shape}, via {via}"
    try:
        with time_limit(10, what):
            if via == "backward":
                y.sum().backward()
                g = x.grad
            else:
                (g,) = ar.grad(y.sum(), [x])
    except AutogradRNNError as e:
        bad = variant not in GOOD_VARIANTS and not (variant == f"{np.dtype(dtype)}")
        assert bad, f"{what}: refused a valid backward: {e}"
        assert "Twice" in str(e), f"{what}: the error does not name the gate: {e}"
        return
    except BaseException as e:
        e.add_note(f"undocumented {type(e).__name__} (not an AutogradRNNError) from: {what}")
        raise
    assert variant in GOOD_VARIANTS or variant == f"{np.dtype(dtype)}", f"{what}: accepted, gradient {_short(g)}"
    assert g.dtype == np.dtype(dtype) and g.shape == shape, f"{what}: gradient {g.dtype} {g.shape}"
    assert np.array_equal(g, np.full(shape, 2, dtype)), f"{what}: gradient {g}"


# ----- grad mode --------------------------------------------------------------------------------------------------
@SLOW
@given(depth=st.integers(0, 30), fail_at=st.one_of(st.none(), st.integers(0, 30)))
@example(depth=5, fail_at=None)
@example(depth=5, fail_at=2)
def test_no_grad_decorator_on_a_recursive_function_restores_grad_mode(depth, fail_at):
    @ar.no_grad()
    def walk(n):
        assert not ar.is_grad_enabled()
        if n == fail_at:
            raise KeyError("stop")
        return 0 if n == 0 else 1 + walk(n - 1)

    with contextlib.suppress(KeyError):
        walk(depth)
    assert ar.is_grad_enabled(), f"grad mode is off after a recursive @no_grad() function (depth {depth})"
    x = ar.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    assert x.grad is not None and np.array_equal(x.grad, [2.0, 4.0])


def test_no_grad_in_one_thread_does_not_stop_another_thread_recording():
    inside, done, seen = threading.Event(), threading.Event(), {}

    def other():
        inside.wait(5)
        x = ar.Tensor(np.array([3.0]), requires_grad=True)
        (x * x).sum().backward()
        seen["enabled"], seen["grad"] = ar.is_grad_enabled(), x.grad
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with ar.no_grad():
        inside.set()
        assert done.wait(10), "the other thread did not finish"
        assert not ar.is_grad_enabled()
    thread.join(10)
    assert seen["enabled"] is True and seen["grad"] is not None and np.array_equal(seen["grad"], [6.0])
    assert ar.is_grad_enabled()


@SLOW
@given(kind=st.sampled_from(["no_grad", "enable_grad"]), n=st.integers(0, 4),
       actions=st.lists(st.sampled_from(["next", "send", "throw", "close"]), max_size=6),
       outer=st.booleans(), via=st.sampled_from(["plain", "yield from"]))
@example(kind="no_grad", n=3, actions=["next", "throw", "send"], outer=True, via="plain")
def test_grad_mode_decorators_on_generators_hold_in_the_body_and_only_there(kind, n, actions, outer, via):
    """Each stretch of the generator's body runs in the decorator's mode, whatever its caller's mode and
    however it is resumed (next, send, throw, close, or delegated to by ``yield from``); the caller, between
    two values and after the generator ends, is in its own mode."""
    decorator = getattr(ar, kind)
    inside = kind == "enable_grad"
    seen = []

    @decorator()
    def body(count):
        try:
            for i in range(count):
                try:
                    seen.append(ar.is_grad_enabled())
                    yield i
                except ValueError:
                    seen.append(ar.is_grad_enabled())
        finally:
            seen.append(ar.is_grad_enabled())
        return "end"

    def delegate(count):
        return (yield from body(count))

    with contextlib.ExitStack() as stack:
        if outer:
            stack.enter_context(ar.no_grad() if inside else ar.enable_grad())
        caller = ar.is_grad_enabled()
        gen = body(n) if via == "plain" else delegate(n)
        for action in actions:
            try:
                if action == "next":
                    next(gen)
                elif action == "send":
                    gen.send(None)
                elif action == "throw":
                    gen.throw(ValueError("resume with an error"))
                else:
                    gen.close()
            except (StopIteration, ValueError, RuntimeError):
                pass
            assert ar.is_grad_enabled() == caller, f"{kind}: the caller's mode changed after {action}"
        gen.close()
        assert ar.is_grad_enabled() == caller
    assert all(mode == inside for mode in seen), f"{kind}: the body saw the modes {seen}"
    assert ar.is_grad_enabled()


@FAST
@given(logits=hnp.arrays(np.float64, st.integers(1, 6), elements=st.one_of(
           st.floats(-1e308, 1e308), st.sampled_from([0.0, 1e308, -1e308, 3.0]))),
       temperature=st.one_of(st.floats(5e-324, 1e-290), st.floats(1e-3, 1e3), st.floats(1e290, 1.7e308)),
       top_k=st.one_of(st.none(), st.integers(1, 8)), seed=st.integers(0, 3))
@example(logits=np.array([0.0, 3.0, 3.0, -1.0]), temperature=1e-310, top_k=3, seed=0)
@example(logits=np.array([1e308, -1e308, 1e308]), temperature=1e308, top_k=None, seed=0)
@example(logits=np.array([5e-324, 0.0]), temperature=5.05e-291, top_k=None, seed=0)  # a gap of 1e-33 temperatures
def test_sampling_with_extreme_logits_and_temperatures_draws_a_valid_token(logits, temperature, top_k, seed):
    """A draw is always a token among the top_k; at a vanishing temperature it is one of the largest logits
    (greedy) wherever softmax(z / T) leaves the others no probability, never the last token by default because
    of a NaN."""
    from autograd_rnn.models.sampling import _draw

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning on the way
        token = _draw(logits, temperature, top_k, np.random.default_rng(seed))
    assert 0 <= token < logits.size
    kept = np.sort(logits)[-min(top_k or logits.size, logits.size)]
    assert logits[token] >= kept, f"token {token} ({logits[token]}) is outside the top {top_k} of {logits}"
    with np.errstate(over="ignore"):  # a gap of inf temperatures is simply large
        gap = logits.max() - np.where(logits < logits.max(), logits, -np.inf).max()  # to the next largest logit
        decisive = gap / temperature > 800  # every other token's probability below e^-800: none
    if temperature < 1e-290 and decisive:
        assert logits[token] == logits.max(), f"T={temperature}: token {token} of {logits} is not greedy"
