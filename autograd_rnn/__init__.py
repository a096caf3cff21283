"""autograd_rnn: a numpy computational-graph micro-framework for recurrent neural networks."""

from . import gates
from .errors import GateInputError, GateTypeError, GradcheckError
from .gradcheck import GradcheckReport, gradcheck
from .graph import (
    Parameter,
    Tensor,
    apply,
    concat,
    dropout,
    embedding,
    grad,
    linear,
    no_grad,
    relu,
    sigmoid,
    softmax_cross_entropy,
    stack,
    tanh,
)

__version__ = "0.1.0"

__all__ = [
    "gates",
    "GateInputError",
    "GateTypeError",
    "GradcheckError",
    "GradcheckReport",
    "gradcheck",
    "Parameter",
    "Tensor",
    "apply",
    "concat",
    "dropout",
    "embedding",
    "grad",
    "linear",
    "no_grad",
    "relu",
    "sigmoid",
    "softmax_cross_entropy",
    "stack",
    "tanh",
]
