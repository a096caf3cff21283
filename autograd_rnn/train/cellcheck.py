"""Checking a custom cell before training on it: one step against the cell contract
(:func:`check_step`), then its gradients on a tiny float64 instance through
:func:`autograd_rnn.gradcheck_sequence` under a few truncation policies (:func:`check_cell`)."""

from __future__ import annotations

import numpy as np

from ..errors import CellError, ConfigError
from ..gradcheck import GradcheckReport
from ..graph import Tensor, no_grad
from ..nodes import CONTRACT, blame_cell, defined_at
from ..seqcheck import gradcheck_sequence
from ..sequence import Full, LookBack, Sequence, Truncated, Truncation, check_cell_options

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


def tiny_cell(cls: type, options: dict, input_size: int = 3, hidden_size: int = 4):
    """``cls(input_size, hidden_size, dtype=float64, rng=0, **options)``; a failure of the cell's own
    code is a CellError naming it."""
    check_cell_options(cls, options)
    with blame_cell(cls):
        return cls(input_size, hidden_size, dtype=np.float64, rng=0, **options)


def check_step(cls: type, options: dict, batch: int = 2) -> None:
    """One step of a tiny instance from its initial state against the cell contract: the new
    state has the form of the old (a Tensor, or a tuple of ``n_state`` Tensors), each part
    ``(batch, hidden_size)`` of the cell's dtype and finite. CellError naming the cell otherwise."""
    cell = tiny_cell(cls, options)
    where = f"the cell {cls.__name__} ({defined_at(cls)})"
    x = Tensor(np.random.default_rng(0).normal(size=(batch, cell.input_size)))
    with no_grad(), blame_cell(cls):
        state = cell.initial_state(batch)
        new = cell.step(x, state)
    parts = new if isinstance(new, tuple) else (new,)
    n = cell.n_state
    if len(parts) != n or not all(isinstance(p, Tensor) for p in parts):
        got = (f"a tuple of {len(parts)}: ({', '.join(type(p).__name__ for p in parts)})" if isinstance(new, tuple)
               else f"a {type(new).__name__}")
        raise CellError(f"{where}: its step returned {got}; with n_state = {n} it must return "
                        f"{'one Tensor' if n == 1 else f'a tuple of {n} Tensors'}; {CONTRACT['step']}")
    for k, p in enumerate(parts):
        if p.shape != (batch, cell.hidden_size) or p.dtype != cell.dtype:
            raise CellError(f"{where}: its step returned a state part {k} of shape {p.shape} and dtype {p.dtype}; "
                            f"expected ({batch}, {cell.hidden_size}) {cell.dtype}; {CONTRACT['step']}")
        if not np.isfinite(p.data).all():
            raise CellError(f"{where}: its step gives NaN or infinity (state part {k}) from finite inputs, a zero "
                            f"initial state and freshly initialised weights; a step must give finite values there")


def check_cell(cls: type, options: dict, extra: Truncation | None = None, T: int = 4, batch: int = 2,
               input_size: int = 3, hidden_size: int = 4) -> list[GradcheckReport]:
    """gradcheck_sequence of ``cls(input_size, hidden_size, dtype=float64, rng=0, **options)`` on
    T steps from a random state under Full, LookBack(2), Truncated(2, 3) and ``extra``. Raises
    CellCheckFailed with the first failing report; returns the reports when every check passes."""
    cell = tiny_cell(cls, options, input_size, hidden_size)
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(T, batch, input_size))
    state0 = tuple(rng.normal(size=(batch, hidden_size)) for _ in range(cell.n_state))  # a generic point
    policies = [*POLICIES, *([extra] if extra is not None and extra not in POLICIES else [])]
    reports = []
    for policy in policies:
        with blame_cell(cls):
            report = gradcheck_sequence(Sequence(cell, truncation=policy), xs, state0, seed=0, raise_exception=False)
        if not report.passed:
            raise CellCheckFailed(f"the cell {cls.__name__} fails its gradient check under {policy!r}: "
                                  f"{summary(report)}", report)
        reports.append(report)
    return reports
