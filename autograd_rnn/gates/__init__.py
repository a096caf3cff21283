"""Differentiable primitives on plain ndarrays. See :mod:`autograd_rnn.gates.base` for the contract."""

from .activations import ReLU, Sigmoid, Tanh
from .arithmetic import AddGate, HadamardGate, LinearGate, MultiplyGate, SubtractGate
from .base import Gate
from .dropout import Dropout
from .elementwise import Abs, Divide, Exp, Log, Maximum, Minimum, Power, Reciprocal, Rsqrt, Sqrt
from .embedding import EmbeddingGate
from .loss import SoftmaxCrossEntropy
from .reduce import Mean, Sum, Var
from .shape import Concat, Index, Reshape, Split, Stack, Transpose

__all__ = [
    "Gate",
    "MultiplyGate",
    "LinearGate",
    "AddGate",
    "SubtractGate",
    "HadamardGate",
    "Tanh",
    "Sigmoid",
    "ReLU",
    "SoftmaxCrossEntropy",
    "Concat",
    "Split",
    "Index",
    "Stack",
    "Reshape",
    "Transpose",
    "Sum",
    "Mean",
    "Var",
    "Exp",
    "Log",
    "Sqrt",
    "Rsqrt",
    "Power",
    "Reciprocal",
    "Abs",
    "Divide",
    "Maximum",
    "Minimum",
    "EmbeddingGate",
    "Dropout",
]

BUILTIN: frozenset[type] = frozenset(globals()[name] for name in __all__ if name != "Gate")
"""The package's own gates (these exact classes, not subclasses). The test suite checks their
backwards against finite differences, shapes and dtypes included, so the walk trusts what they
return; every other gate's backward is checked each time it runs (:mod:`autograd_rnn.graph.walk`)."""
