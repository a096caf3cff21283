"""The project's error types. Every message names the gate, node or option, the argument, what was
received and what was expected. All derive from :class:`AutogradRNNError`, and each also from the
built-in exception it refines (ValueError, TypeError, ...), so ``except ValueError`` still works."""

from __future__ import annotations


class AutogradRNNError(Exception):
    """Base class of every error autograd_rnn raises on purpose."""


class GateInputError(AutogradRNNError, ValueError):
    """An input has the wrong shape, range or value (a ValueError)."""


class NonFiniteError(GateInputError):
    """An input or a result holds NaN or infinity where finite numbers are required."""


class GateTypeError(AutogradRNNError, TypeError):
    """An input has the wrong type or dtype (a TypeError)."""


class ConfigError(AutogradRNNError, ValueError):
    """A setting (a constructor argument, a command-line option, a config field) is out of range or
    of the wrong kind."""


class CellError(ConfigError):
    """A custom cell's own code fails or breaks the cell contract: its module on import, its
    constructor, its ``step``. The message names the cell, its file and line, and what a cell
    must provide."""


class CellImportError(CellError):
    """A checkpoint or config names a cell whose code was not named as trusted, or that cannot be
    found or imported."""


class DataError(AutogradRNNError, ValueError):
    """Bad data or arguments: a missing or undecodable corpus, an unknown token, too short a corpus."""


class CheckpointError(AutogradRNNError, ValueError):
    """A checkpoint cannot be written or read: missing, truncated, corrupted, foreign or too new."""


class ExportError(AutogradRNNError, TypeError):
    """A model cannot be written in PyTorch as it is: a gate with no registered counterpart, a cell
    whose step is not the same program at every step, a truncation policy ``detach`` cannot
    express (a TypeError: the kind of object is wrong for the export, not a value)."""


class TrainingDiverged(AutogradRNNError, RuntimeError):
    """The loss, a gradient or the weights became NaN or infinite; the last good checkpoint is kept."""


class GradcheckError(AutogradRNNError, AssertionError):
    """An analytic gradient disagrees with finite differences, or a backward fails a hygiene check.

    ``report`` holds the full :class:`~autograd_rnn.gradcheck.GradcheckReport`.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
