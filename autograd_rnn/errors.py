"""Errors raised on bad input. Every message names the gate or node, the argument, what was
received and what was expected."""

from __future__ import annotations


class GateInputError(ValueError):
    """An input has the wrong shape, range or value (a ValueError)."""


class GateTypeError(TypeError):
    """An input has the wrong type or dtype (a TypeError)."""


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences, or a backward fails a hygiene check.

    ``report`` holds the full :class:`~autograd_rnn.gradcheck.GradcheckReport`.
    """

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
