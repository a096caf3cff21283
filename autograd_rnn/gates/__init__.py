"""Differentiable primitives on plain ndarrays. See :mod:`autograd_rnn.gates.base` for the contract."""

from .activations import ReLU, Sigmoid, Tanh
from .arithmetic import AddGate, HadamardGate, LinearGate, MultiplyGate, SubtractGate
from .base import Gate
from .dropout import Dropout
from .embedding import EmbeddingGate
from .loss import SoftmaxCrossEntropy
from .shape import Concat, Index, Reshape, Split, Stack, Sum, Transpose

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
    "EmbeddingGate",
    "Dropout",
]
