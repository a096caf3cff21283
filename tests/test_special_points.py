"""Special points (docs/gates.md, "Special points"): gradcheck accepts any valid convention at a
kink (a value between the one-sided derivatives) and refuses a wrong one (NaN, inf, a value
outside them); a case's stated ``derivative`` pins the project's own convention, which gradcheck
alone cannot (a tie giving the whole of g to both inputs passes it, element by element); planted
wrong conventions are found and shrunk; the convention of a composition (clamp's edges) follows
from its gates'."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings

from autograd_rnn import GradcheckError, gates, gradcheck
from autograd_rnn import errors as ar_errors
from autograd_rnn.gates.base import unbroadcast
from autograd_rnn.graph import maximum, minimum
from autograd_rnn.testing import (
    GateCase,
    RandomDraw,
    cases,
    check_case,
    check_derivative,
    find_failure,
    points_function,
    property_check,
)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the planted backwards make NaN and inf


def abs_with(at_zero: float):
    """Abs whose backward uses ``at_zero`` as the derivative at x = 0."""

    class AbsAtZero(gates.Abs):
        def backward(self, g):
            x_sign = self.saved.sign
            return (np.asarray(g * np.where(x_sign == 0, at_zero, x_sign)),)

    AbsAtZero.__name__ = f"Abs(at 0: {at_zero})"
    return AbsAtZero


X = np.array([[0.0, 1.5], [-0.7, 0.0]])


@pytest.mark.parametrize("at_zero", [0.0, 1.0, -1.0, 0.3])
def test_gradcheck_accepts_any_subgradient_at_a_kink(at_zero):
    report = gradcheck(abs_with(at_zero), [X])
    assert report.passed and not report.failures
    assert {m.index for m in report.kinks} == (set() if at_zero == 0 else {(0, 0), (1, 1)})


@pytest.mark.parametrize("at_zero", [np.nan, np.inf, 2.0, -1.5])
def test_gradcheck_refuses_nan_inf_or_a_value_outside_the_subdifferential(at_zero):
    with pytest.raises(GradcheckError) as info:
        gradcheck(abs_with(at_zero), [X])
    report = info.value.report
    assert {m.index for m in report.failures} >= {(0, 0), (1, 1)}
    assert all(m.index in {(0, 0), (1, 1)} for m in report.failures)


class AbsDividesBySign(gates.Abs):
    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.asarray(g / self.saved.sign),)  # should be g * sign: inf (g != 0) or NaN (g = 0) at x = 0


def test_dividing_by_the_sign_is_caught_by_gradcheck_and_by_the_stated_derivative():
    with pytest.raises(GradcheckError) as info:
        gradcheck(AbsDividesBySign, [X])
    assert info.value.report.hygiene["zero_in_zero_out"] != "ok"
    with pytest.raises(GradcheckError, match=r"input 'x' is (inf|-inf|nan) at index \(0, 0\) \(x = 0.0\)"):
        check_derivative(GateCase(AbsDividesBySign, (X,), derivative=(np.sign(X),)))


class ReLURightSlope(gates.ReLU):
    """The right slope 1 at x = 0: a valid subgradient, but not the project's convention."""

    def forward(self, x):
        out = super().forward(x)
        self.save(nonneg=x >= 0)
        return out

    def backward(self, g):
        return (np.where(self.saved.nonneg, g, np.zeros((), g.dtype)),)


def test_a_valid_but_different_convention_passes_gradcheck_and_fails_the_stated_one():
    x = np.array([0.0, 1.0, -1.0, 0.0])
    assert gradcheck(ReLURightSlope, [x]).passed
    with pytest.raises(GradcheckError, match=r"ReLURightSlope: at a special point, the gradient for input 'x' is "
                                             r"-?[0-9.]+ at index \(0,\) \(x = 0.0\).*stated derivative gives 0.0"):
        check_case(GateCase(ReLURightSlope, (x,), derivative=((x > 0).astype(float),)))


class MaximumWholeToBoth(gates.Maximum):
    """At a tie, the whole of g to each input: each input's entry lies in [0, 1], so an element-by-
    element check passes; their sum, 2 g, is not the gradient of anything."""

    def backward(self, g):
        s = self.saved
        da = np.where(s.first == 0.5, 1.0, s.first)
        db = np.where(s.first == 0.5, 1.0, 1 - s.first)
        return unbroadcast(g * da, s.shapes[0]), unbroadcast(g * db, s.shapes[1])


def test_a_tie_must_split_g_not_copy_it():
    a = np.array([1.0, 2.0, 0.5])
    b = np.array([1.0, 1.0, 0.7])
    assert gradcheck(MaximumWholeToBoth, [a, b]).passed  # why the convention is stated, not only bounded
    tie = np.where(a == b, 0.5, (a > b).astype(float))
    with pytest.raises(GradcheckError, match=r"input 'a' is -?[0-9.]+ at index \(0,\)"):
        check_case(GateCase(MaximumWholeToBoth, (a, b), derivative=(tie, 1 - tie)))
    check_case(GateCase(gates.Maximum, (a, b), derivative=(tie, 1 - tie)))


class PowerBranchOnOne(gates.Power):
    """The branch for p = 0 taken for p = 1: x ** 1 gets derivative 0, and x ** 0 at 0 gets 0 * inf."""

    def backward(self, g):
        x, p = self.saved.x, self.p
        if p == 1:
            return (np.zeros_like(g),)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.asarray(g * (p * x ** (p - 1))),)


class SqrtNaNAtZero(gates.Sqrt):
    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.asarray(g / (2 * self.saved.y)),)  # 0 / 0 = NaN where g = 0 at x = 0


def planted(gate_cls, planted_cls):
    """The registered special points of ``gate_cls``, applied to ``planted_cls`` (same configuration)."""

    def case(d):
        c = points_function(gate_cls)(d)
        gate = c.gate
        if not isinstance(gate, type):
            moved = object.__new__(planted_cls)
            moved.__dict__ = gate.fresh().__dict__
            gate = moved
        else:
            gate = planted_cls
        return replace(c, gate=gate)

    return case


@pytest.mark.parametrize("gate_cls,planted_cls,small", [
    (gates.Abs, AbsDividesBySign, 1),
    (gates.ReLU, ReLURightSlope, 1),
    (gates.Maximum, MaximumWholeToBoth, 2),
    (gates.Power, PowerBranchOnOne, 1),
    (gates.Sqrt, SqrtNaNAtZero, 1),
], ids=lambda p: getattr(p, "__name__", ""))
def test_planted_conventions_are_found_and_shrunk(gate_cls, planted_cls, small):
    found = find_failure(planted(gate_cls, planted_cls), max_examples=100)
    assert found is not None, f"the special points of {gate_cls.__name__} did not catch {planted_cls.__name__}"
    assert sum(np.size(x) for x in found.inputs) <= small, found.describe()
    with pytest.raises(GradcheckError):
        property_check(planted(gate_cls, planted_cls), max_examples=100)


def test_draw_puts_at_least_one_element_on_the_points():
    for seed in range(30):
        d = RandomDraw(np.random.default_rng(seed))
        x = d.floats((2, 3), -2, 2, at=(0.0, 1.0))
        assert np.isin(x, [0.0, 1.0]).any() and ((-2 <= x) & (x <= 2)).all()
        assert d.floats((), at=(0.0,)) == 0.0


@settings(max_examples=30)
@given(cases(points_function(gates.Abs)))
def test_hypothesis_draws_reach_the_points(case):
    assert (case.inputs[0] == 0).any()


def clamp(x, lo, hi):
    return minimum(maximum(x, lo), hi)


def test_clamp_edges_follow_the_tie_convention():
    """clamp(x, lo, hi) = minimum(maximum(x, lo), hi): at an edge x ties with lo or hi and each gets
    half of g; inside x gets g, outside the bound it meets does. The central difference measures
    exactly these halves, so gradcheck agrees without reporting a kink."""
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
    lo, hi = np.array(-0.5), np.array(0.5)
    dx = np.array([0.0, 0.5, 1.0, 0.5, 0.0, 0.0])
    dlo = np.array([1.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    dhi = np.array([0.0, 0.0, 0.0, 0.5, 1.0, 1.0])
    report = check_case(GateCase(clamp, (x, lo, hi), derivative=(dx, dlo, dhi)))
    assert report.passed and not report.kinks


@pytest.mark.parametrize("derivative,message", [
    ((np.ones(3), np.ones(3)), r"2 derivative\(s\) for 1 inputs"),
    ((np.ones(4),), r"derivative\[0\] has shape \(4,\); expected the output's shape \(3,\)"),
])
def test_a_badly_stated_derivative_is_refused_by_name(derivative, message):
    with pytest.raises(ar_errors.ConfigError, match=message):
        check_derivative(GateCase(gates.Abs, (np.array([0.0, 1.0, -1.0]),), derivative=derivative))
