"""Checks at special points: where a gate's derivative is a convention (a kink, a tie), infinite
(the edge of its domain) or computed by a branch of its own (``x ** 0``). A case registered with
:func:`~autograd_rnn.testing.register_points` states in ``GateCase.derivative`` what backward must
return there (docs/gates.md, "Special points"); :func:`check_case` checks it. Needs only numpy."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, GradcheckError
from ..gates.base import unbroadcast
from ..gates.elementwise import times
from ..gradcheck import GradcheckReport, Subject, gradcheck
from .registry import GateCase


def check_case(case: GateCase, **gradcheck_options) -> GradcheckReport | None:
    """gradcheck the case (finite differences and hygiene; a kink passes when the backward's value
    lies between the one-sided derivatives) unless it is an ``edge`` point, then its stated
    ``derivative``, if any (:func:`check_derivative`). Raises GradcheckError on failure; returns
    gradcheck's report, or None for an edge point."""
    report = None if case.edge else gradcheck(case.gate, case.inputs, **{**case.options, **gradcheck_options})
    if case.derivative is not None:
        check_derivative(case)
    return report


def check_derivative(case: GateCase, seed: int = 0) -> None:
    """The backward at ``case.inputs`` against the stated ``case.derivative``.

    For three upstream gradients ``g`` of the output's shape (random with ``|g|`` in [0.5, 1],
    the same with about half its elements 0, all 0), input i's gradient must be
    ``unbroadcast(times(g, derivative[i]), inputs[i].shape)``: within round-off of the sum of the
    terms' magnitudes where that is finite, and exactly equal where it is infinite or 0 (a NaN
    never passes). Raises GradcheckError naming the gate, the input, the element, the value
    returned and the value stated."""
    arrays = [np.array(x) for x in case.inputs]
    if len(case.derivative) != len(arrays):
        raise ConfigError(f"check_derivative: {len(case.derivative)} derivative(s) for {len(arrays)} inputs; expected "
                          f"one per input (None for an input left unchecked)")
    subject = Subject(case.gate, len(arrays))
    stated = [i for i, d in enumerate(case.derivative) if d is not None]
    outs, vjp, _ = subject.record(arrays, stated)
    if len(outs) != 1:
        raise ConfigError(f"check_derivative: {subject.name} has {len(outs)} outputs; a stated derivative is "
                          f"elementwise, for a subject with one output")
    out = outs[0]
    for i in stated:
        d = np.shape(case.derivative[i])
        if d not in (out.shape, ()):
            raise ConfigError(f"check_derivative: derivative[{i}] has shape {d}; expected the output's shape "
                              f"{out.shape} (or a number)")
    stated = {i: np.broadcast_to(np.asarray(case.derivative[i], np.float64), out.shape) for i in stated}
    rng = np.random.default_rng(seed)
    u = (0.5 + 0.5 * rng.random(out.shape)) * rng.choice([-1.0, 1.0], out.shape)
    upstreams = {"random": u, "random with zeros": np.where(rng.random(out.shape) < 0.5, 0.0, u),
                 "zero": np.zeros(out.shape)}
    for kind, g in upstreams.items():
        grads = vjp([g.astype(out.dtype)])
        for (i, d), got in zip(stated.items(), grads):
            _compare(subject, i, arrays[i], np.asarray(got), d, g, kind)


def _compare(subject, i: int, x: np.ndarray, got: np.ndarray, d: np.ndarray, g: np.ndarray, kind: str) -> None:
    name = f"{subject.name}: at a special point, the gradient for input '{subject.arg_names[i]}'"
    if got.shape != x.shape:
        raise GradcheckError(f"{name} has shape {got.shape}; expected {x.shape}")
    expected = unbroadcast(times(g, d), x.shape)
    scale = unbroadcast(np.abs(times(g, d)), x.shape)
    rtol = 1e-12 if got.dtype == np.float64 else 1e-5
    with np.errstate(invalid="ignore"):
        ok = np.where(np.isfinite(expected), np.abs(got - expected) <= rtol * scale, got == expected)
    if ok.all():
        return
    idx = tuple(int(k) for k in np.argwhere(~ok)[0])
    at = f" (x = {float(x[idx])!r})" if x.shape == d.shape else ""
    want = float(expected[idx]) + 0.0  # (never -0.0)
    raise GradcheckError(f"{name} is {float(got[idx])!r} at index {idx}{at} for the {kind} upstream gradient; the "
                         f"stated derivative gives {want!r} ({int((~ok).sum())} element(s) differ)")


__all__ = ["check_case", "check_derivative"]
