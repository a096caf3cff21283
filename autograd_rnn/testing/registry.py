"""Input generators for gates, written once against a small ``Draw`` interface so the same code
drives hypothesis (shrinkable, reproducible property tests) and a plain numpy Generator (the
``autograd-rnn gradcheck`` command, which must not need hypothesis).

A case function takes a ``Draw`` and returns a :class:`GateCase`::

    @register(MyGate)
    def my_gate_case(d: Draw) -> GateCase:
        n = d.integers(1, 4)
        return GateCase(MyGate(), (d.floats((n, 3)),))

Cases registered with :func:`register` keep to where finite differences are well conditioned;
those registered with :func:`register_points` sit on a gate's *special points* (a kink, a tie, the
edge of its domain, a branch of its own) and state the derivative the backward must use there.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..gates.base import Gate


@dataclass
class GateCase:
    """What one check applies: a gate (class or configured instance, or a function of Tensors),
    its inputs, and options for :func:`autograd_rnn.gradcheck`.

    At a special point, ``derivative`` states the convention: one array per input (None leaves an
    input unchecked), ``d out / d input`` elementwise in the output's shape, so that backward must
    return ``unbroadcast(g * derivative[i], inputs[i].shape)`` for every upstream ``g``, and 0
    where ``g == 0`` even beside an infinite derivative. ``edge=True``: the point lies on the edge
    of the gate's domain (``sqrt`` at 0), where central differences cannot straddle it, so only the
    stated derivative is checked (:func:`autograd_rnn.testing.check_case`)."""

    gate: object
    inputs: tuple
    options: dict = field(default_factory=dict)
    derivative: tuple | None = None
    edge: bool = False

    def describe(self) -> str:
        shapes = ", ".join(str(tuple(np.shape(x))) for x in self.inputs)
        return f"{getattr(self.gate, '__name__', None) or repr(self.gate)} on {shapes}"


class Draw:
    """What a case function may ask for. ``dtype`` is the float dtype under test."""

    dtype: np.dtype

    def integers(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def sampled_from(self, options: Sequence):
        raise NotImplementedError

    def booleans(self) -> bool:
        return bool(self.integers(0, 1))

    def floats(self, shape: tuple, lo: float = -2.0, hi: float = 2.0, away_from: Sequence[float] = (),
               margin: float = 0.05, at: Sequence[float] = ()) -> np.ndarray:
        """Array of ``shape`` with values in [lo, hi], pushed at least ``margin`` away from each
        point of ``away_from`` (kinks, ties); then, when ``at`` names points, about half of the
        elements (at least one) set exactly to one of them (special points)."""
        shape = tuple(shape)
        x = self._floats(shape, lo, hi)
        for k in away_from:
            near = np.abs(x - k) < margin
            x = np.where(near, np.where(x >= k, k + margin, k - margin), x).astype(self.dtype)
        if at and x.size:
            pick = self.indices(shape, 2 * len(at)).reshape(-1).copy()  # below len(at): that point
            first = self.integers(0, x.size - 1)
            pick[first] %= len(at)
            points = np.asarray(at, self.dtype)[np.minimum(pick, len(at) - 1)]
            x = np.where(pick < len(at), points, x.reshape(-1)).astype(self.dtype).reshape(shape)
        return x

    def indices(self, shape: tuple, upper: int) -> np.ndarray:
        """Integer array of ``shape`` with values in [0, upper)."""
        raise NotImplementedError

    def _floats(self, shape: tuple, lo: float, hi: float) -> np.ndarray:
        raise NotImplementedError


class RandomDraw(Draw):
    """Draws from a numpy Generator (no hypothesis needed, no shrinking)."""

    def __init__(self, rng: np.random.Generator, dtype=np.float64):
        self.rng, self.dtype = rng, np.dtype(dtype)

    def integers(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def sampled_from(self, options: Sequence):
        return options[int(self.rng.integers(len(options)))]

    def _floats(self, shape, lo, hi):
        return self.rng.uniform(lo, hi, size=shape).astype(self.dtype)

    def indices(self, shape, upper):
        return self.rng.integers(0, upper, size=shape).astype(np.int64)


CaseFn = Callable[[Draw], GateCase]
_REGISTRY: dict[type, CaseFn] = {}
_POINTS: dict[type, CaseFn] = {}


def register(gate_cls: type) -> Callable[[CaseFn], CaseFn]:
    """Decorator: ``case_fn(draw) -> GateCase`` generates valid inputs for ``gate_cls``."""

    def deco(fn: CaseFn) -> CaseFn:
        _REGISTRY[gate_cls] = fn
        return fn

    return deco


def case_function(gate_cls: type) -> CaseFn:
    try:
        return _REGISTRY[gate_cls]
    except KeyError:
        raise ConfigError(
            f"no input generator registered for {gate_cls.__name__}; add one with "
            f"@autograd_rnn.testing.register({gate_cls.__name__})"
        ) from None


def registered() -> dict[type, CaseFn]:
    return dict(_REGISTRY)


def register_points(gate_cls: type) -> Callable[[CaseFn], CaseFn]:
    """Decorator: ``case_fn(draw) -> GateCase`` generates inputs on ``gate_cls``'s special points,
    each case stating the ``derivative`` there (see :class:`GateCase`)."""

    def deco(fn: CaseFn) -> CaseFn:
        _POINTS[gate_cls] = fn
        return fn

    return deco


def points_function(gate_cls: type) -> CaseFn:
    try:
        return _POINTS[gate_cls]
    except KeyError:
        raise ConfigError(
            f"no special points registered for {gate_cls.__name__}; add them with "
            f"@autograd_rnn.testing.register_points({gate_cls.__name__})"
        ) from None


def registered_points() -> dict[type, CaseFn]:
    return dict(_POINTS)


def example_case(gate_cls: type, seed: int = 0, dtype=np.float64) -> GateCase:
    """One case for ``gate_cls`` from a seeded numpy Generator."""
    return case_function(gate_cls)(RandomDraw(np.random.default_rng(seed), dtype))


def is_abstract(cls: type) -> bool:
    return bool(cls.__dict__.get("abstract", False))


GATE_PACKAGES = ("autograd_rnn.gates", "autograd_rnn.sequence")
"""The packages that define gates: gates in the first layer, the sequence gate in the sequence
layer. Nothing else in autograd_rnn may define one (the test suite checks it)."""


def builtin_gate_classes() -> list[type]:
    """Every concrete Gate subclass defined inside autograd_rnn. Imports only the packages that
    define gates, so it needs nothing beyond numpy."""
    for name in GATE_PACKAGES:
        importlib.import_module(name)
    return gate_subclasses()


def gate_subclasses() -> list[type]:
    """The concrete Gate subclasses of autograd_rnn among the modules imported so far."""
    found, todo = [], [Gate]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("autograd_rnn.") and not is_abstract(sub):
                found.append(sub)
    return sorted(set(found), key=lambda c: (c.__module__, c.__name__))
