"""autograd_rnn: a numpy computational-graph micro-framework for recurrent neural networks.

``autograd_rnn.train`` is the training package (``TrainConfig``, ``train``, ...); ``fit(config)``
is its ``train``: it runs the training a ``TrainConfig`` describes."""

from . import gates, init, train
from .checkpoint import load_checkpoint
from .data import Vocabulary
from .errors import GateInputError, GateTypeError, GradcheckError
from .gradcheck import GradcheckReport, gradcheck
from .graph import (
    Parameter,
    Tensor,
    apply,
    concat,
    dropout,
    embedding,
    enable_grad,
    grad,
    is_grad_enabled,
    linear,
    maximum,
    minimum,
    no_grad,
    relu,
    sigmoid,
    softmax_cross_entropy,
    stack,
    tanh,
)
from .init import as_rng
from .models import LanguageModel, sample_ids, sample_text
from .seqcheck import gradcheck_sequence
from .sequence import Full, LookBack, Recurrent, Sequence, Truncated, Truncation, detach_state
from .train import TrainConfig, evaluate_batches, model_from_checkpoint
from .train import train as fit

__version__ = "0.1.0"

__all__ = [
    "gates",
    "init",
    "Sequence",
    "Recurrent",
    "Full",
    "LookBack",
    "Truncated",
    "Truncation",
    "detach_state",
    "LanguageModel",
    "Vocabulary",
    "sample_ids",
    "sample_text",
    "TrainConfig",
    "train",
    "fit",
    "evaluate_batches",
    "load_checkpoint",
    "model_from_checkpoint",
    "GateInputError",
    "GateTypeError",
    "GradcheckError",
    "GradcheckReport",
    "gradcheck",
    "gradcheck_sequence",
    "Parameter",
    "Tensor",
    "apply",
    "as_rng",
    "concat",
    "dropout",
    "embedding",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "linear",
    "maximum",
    "minimum",
    "no_grad",
    "relu",
    "sigmoid",
    "softmax_cross_entropy",
    "stack",
    "tanh",
]
