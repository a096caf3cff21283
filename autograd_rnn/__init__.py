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
from .seqcheck import gradcheck_sequence
from .sequence import Full, LookBack, Sequence, Truncated, Truncation, detach_state

__version__ = "0.1.0"

__all__ = [
    "gates",
    "Sequence",
    "Full",
    "LookBack",
    "Truncated",
    "Truncation",
    "detach_state",
    "GateInputError",
    "GateTypeError",
    "GradcheckError",
    "GradcheckReport",
    "gradcheck",
    "gradcheck_sequence",
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
