"""The computational graph: ``Tensor`` values, the gate applications that made them (``apply``),
the one reverse-mode walk (``walk``), recorded functions as programs (``program``) and the
gradient mode (``mode``)."""

from .functions import (
    concat,
    dropout,
    embedding,
    linear,
    maximum,
    minimum,
    relu,
    sigmoid,
    softmax_cross_entropy,
    stack,
    tanh,
    zero_grad,
)
from .mode import enable_grad, is_grad_enabled, no_grad
from .program import Eqn, Program
from .tensor import Parameter, Tensor, apply, lift, make_tensor
from .walk import Op, Tape, backprop, grad, topological_order

__all__ = [
    "Tensor",
    "Parameter",
    "apply",
    "lift",
    "make_tensor",
    "Op",
    "Tape",
    "Program",
    "Eqn",
    "backprop",
    "topological_order",
    "grad",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "concat",
    "stack",
    "linear",
    "maximum",
    "minimum",
    "embedding",
    "softmax_cross_entropy",
    "dropout",
    "tanh",
    "sigmoid",
    "relu",
    "zero_grad",
]
