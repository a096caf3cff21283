"""Property-testing kit for gates: input generators (``register``, ``Draw``, ``GateCase``),
hypothesis strategies over them, and one-call checks for a user's own gate.

The generator registry needs only numpy; the hypothesis parts (``cases``, ``float_arrays``,
``property_check``, ``find_failure``) need hypothesis, installed with ``autograd_rnn[dev]``.
"""

from . import builtin, recurrent  # noqa: F401  (registers the built-in gates' input generators)
from .points import check_case, check_derivative
from .registry import (
    Draw,
    GateCase,
    RandomDraw,
    builtin_gate_classes,
    case_function,
    example_case,
    points_function,
    register,
    register_points,
    registered,
    registered_points,
)

_HYPOTHESIS_NAMES = ("cases", "float_arrays", "property_check", "find_failure", "check_gate", "HypothesisDraw")


def __getattr__(name):
    if name in _HYPOTHESIS_NAMES:
        try:
            from . import strategies
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"autograd_rnn.testing.{name} needs hypothesis: pip install 'autograd_rnn[dev]'"
            ) from e
        return getattr(strategies, name)
    raise AttributeError(f"module 'autograd_rnn.testing' has no attribute {name!r}")


__all__ = [
    "Draw",
    "GateCase",
    "RandomDraw",
    "register",
    "registered",
    "case_function",
    "register_points",
    "registered_points",
    "points_function",
    "check_case",
    "check_derivative",
    "example_case",
    "builtin_gate_classes",
    *_HYPOTHESIS_NAMES,
]
