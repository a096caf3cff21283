"""Hypothesis strategies over the case functions, and one-call property checks.

Needs hypothesis (``pip install "autograd_rnn[dev]"``)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from hypothesis.extra import numpy as hnp

from ..errors import ConfigError, GradcheckError
from ..gradcheck import GradcheckReport, gradcheck
from .points import check_case
from .registry import Draw, GateCase, case_function


def representable_bounds(lo: float, hi: float, dtype) -> tuple[float, float]:
    """``[lo, hi]`` rounded inward to values the float ``dtype`` holds exactly (0.05 is not a
    float32: its bound becomes the next float32 above it), so hypothesis accepts them as bounds of
    ``width``-bit floats."""
    t = np.dtype(dtype).type
    lo32, hi32 = t(lo), t(hi)
    if float(lo32) < lo:
        lo32 = np.nextafter(lo32, t(np.inf))
    if float(hi32) > hi:
        hi32 = np.nextafter(hi32, t(-np.inf))
    if lo32 > hi32:
        raise ConfigError(f"floats: no {np.dtype(dtype)} value lies in [{lo}, {hi}]")
    return float(lo32), float(hi32)


class HypothesisDraw(Draw):
    """Adapts hypothesis' ``draw`` to the Draw interface, so examples shrink."""

    def __init__(self, draw, dtype=np.float64):
        self.draw, self.dtype = draw, np.dtype(dtype)

    def integers(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def sampled_from(self, options):
        return options[self.draw(st.integers(0, len(options) - 1))]

    def _floats(self, shape, lo, hi):
        width = 8 * self.dtype.itemsize
        lo, hi = representable_bounds(lo, hi, self.dtype)
        elements = st.floats(lo, hi, width=width, allow_nan=False, allow_infinity=False, allow_subnormal=False)
        return self.draw(hnp.arrays(self.dtype, shape, elements=elements))

    def indices(self, shape, upper):
        return self.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, upper - 1)))


def float_arrays(shape: tuple, dtype=np.float64, lo: float = -2.0, hi: float = 2.0,
                 away_from: tuple = (), margin: float = 0.05) -> st.SearchStrategy:
    """Arrays of ``shape`` with finite values in [lo, hi], kept ``margin`` away from ``away_from``."""

    @st.composite
    def strat(draw):
        return HypothesisDraw(draw, dtype).floats(shape, lo, hi, away_from, margin)

    return strat()


def cases(case_fn_or_gate, dtype=np.float64) -> st.SearchStrategy:
    """Strategy of GateCase from a case function, or from a registered gate class."""
    fn = case_fn_or_gate if not isinstance(case_fn_or_gate, type) else case_function(case_fn_or_gate)

    @st.composite
    def strat(draw):
        return fn(HypothesisDraw(draw, dtype))

    return strat()


def check_gate(gate, inputs, **gradcheck_options) -> GradcheckReport:
    """gradcheck with hygiene; raises GradcheckError with the full report on failure."""
    return gradcheck(gate, inputs, **gradcheck_options)


def property_check(subject, strategy: st.SearchStrategy | None = None, *, dtype=np.float64,
                   max_examples: int | None = None, **gradcheck_options) -> None:
    """Property-test a gate: :func:`check_case` (gradcheck, and the stated derivative of a case at a
    special point) must pass on every case hypothesis generates.

    ``subject`` is a registered gate class (its case function supplies inputs), a case function
    ``draw -> GateCase`` (such as ``points_function(GateCls)``), or a gate together with
    ``strategy``, a strategy of input tuples. Failures are shrunk by hypothesis and raised as
    GradcheckError.
    """
    if strategy is not None:
        strat = strategy.map(lambda inputs: GateCase(subject, tuple(inputs)))
    else:
        strat = cases(subject, dtype)
    options = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
               "report_multiple_bugs": False}  # one GradcheckError, even when cases fail in two ways
    if max_examples is not None:
        options["max_examples"] = max_examples

    @settings(**options)
    @given(strat)
    def run(case: GateCase):
        check_case(case, **gradcheck_options)

    run()


def find_failure(subject, strategy: st.SearchStrategy | None = None, *, dtype=np.float64, max_examples: int = 200,
                 **gradcheck_options) -> GateCase | None:
    """The smallest case (after hypothesis shrinks) on which gradcheck fails, or None.

    ``subject`` and ``strategy`` as in :func:`property_check`; the result is always a GateCase.
    """
    if strategy is not None:
        strat = strategy.map(lambda inputs: GateCase(subject, tuple(inputs)))
    else:
        strat = cases(subject, dtype)

    def fails(case: GateCase) -> bool:
        try:
            check_case(case, **gradcheck_options)
        except GradcheckError:
            return True
        return False

    try:
        return find(strat, fails, settings=settings(max_examples=max_examples, deadline=None, database=None))
    except NoSuchExample:
        return None

