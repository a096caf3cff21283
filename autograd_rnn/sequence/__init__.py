"""The sequence layer: truncation policies, the sequence gate and its kernels (composed for any
cell, fused for the built-in ones, chosen from one table), ``Sequence`` and ``Recurrent``."""

from .composed import ComposedKernel, Replay, step_program
from .frozen import FrozenSequence
from .fused import FUSED, FusedCell, fused_for, register_fused
from .hooks import HookHandle, Hooks
from .kernel import GradientRecord, SequenceGate, StepGradients, step_norms
from .recurrent import Recurrent, check_cell_options
from .sequence import Sequence, detach_state
from .truncation import Full, LookBack, Truncated, Truncation, parse_truncation

__all__ = [
    "Sequence",
    "Recurrent",
    "check_cell_options",
    "FrozenSequence",
    "detach_state",
    "Truncation",
    "Full",
    "LookBack",
    "Truncated",
    "parse_truncation",
    "SequenceGate",
    "StepGradients",
    "GradientRecord",
    "step_norms",
    "Hooks",
    "HookHandle",
    "ComposedKernel",
    "Replay",
    "step_program",
    "FUSED",
    "FusedCell",
    "fused_for",
    "register_fused",
]
