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
