"""Checking a custom cell's gradients before training on it: a tiny float64 instance through
:func:`autograd_rnn.gradcheck_sequence` under a few truncation policies."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..gradcheck import GradcheckReport
from ..seqcheck import gradcheck_sequence
from ..sequence import Full, LookBack, Sequence, Truncated, Truncation

POLICIES = (Full(), LookBack(2), Truncated(2, 3))


class CellCheckFailed(ConfigError):
    """A custom cell's backward disagrees with finite differences; ``report`` is the checker's."""

    def __init__(self, message: str, report: GradcheckReport):
        super().__init__(message)
        self.report = report


def summary(report: GradcheckReport) -> str:
    """One line: the worst element (parameter and index), analytic against numeric, and the bad
    time steps, or the failed hygiene check."""
    parts = []
    if report.failures:
        m = report.failures[0]
        parts.append(f"{m.where()}: analytic {m.analytic:.6g}, numeric {m.numeric:.6g} (rel err {m.rel_err:.2g}, "
                     f"{len(report.failures)} of {report.n_checked} elements disagree)")
        param = next((f for f in report.failures if not f.input.startswith(("xs", "state0"))), None)
        if param is not None and param is not m:
            parts.append(f"worst parameter {param.where()}: analytic {param.analytic:.6g}, numeric "
                         f"{param.numeric:.6g}")
    if report.bad_steps:
        parts.append(f"a single step's backward is wrong at t = {report.bad_steps}")
    elif report.failures:
        parts.append("every single step is right: the steps are combined wrongly")
    parts += [f"hygiene {k}: {v}" for k, v in report.hygiene.items() if v != "ok"]
    if report.inconclusive:
        parts.append(f"inconclusive: {report.inconclusive}")
    return "; ".join(parts)


def check_cell(cls: type, options: dict, extra: Truncation | None = None, T: int = 4, batch: int = 2,
               input_size: int = 3, hidden_size: int = 4) -> list[GradcheckReport]:
    """gradcheck_sequence of ``cls(input_size, hidden_size, dtype=float64, rng=0, **options)`` on
    T steps from a random state under Full, LookBack(2), Truncated(2, 3) and ``extra``. Raises
    CellCheckFailed with the first failing report."""
    try:
        cell = cls(input_size, hidden_size, dtype=np.float64, rng=0, **options)
    except Exception as e:
        raise ConfigError(f"{cls.__name__}({input_size}, {hidden_size}, dtype=float64, rng=0, **{options!r}) "
                          f"failed for the gradient check ({type(e).__name__}: {e})") from None
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(T, batch, input_size))
    state0 = tuple(rng.normal(size=(batch, hidden_size)) for _ in range(cell.n_state))  # a generic point
    policies = [*POLICIES, *([extra] if extra is not None and extra not in POLICIES else [])]
    reports = []
    for policy in policies:
        report = gradcheck_sequence(Sequence(cell, truncation=policy), xs, state0, seed=0, raise_exception=False)
        if not report.passed:
            raise CellCheckFailed(f"the cell {cls.__name__} fails its gradient check under {policy!r}: "
                                  f"{summary(report)}", report)
        reports.append(report)
    return reports
