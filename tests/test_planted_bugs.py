"""Invariant 3: the checker can fail. Each planted wrong backward is caught by gradcheck with a
message naming the gate, the input, the worst element, analytic vs numeric and the relative
error; the hypothesis property finds it and shrinks it to a small example."""

import re

import numpy as np
import pytest

from autograd_rnn import GradcheckError, gates, gradcheck
from autograd_rnn.gates.base import unbroadcast
from autograd_rnn.testing import Draw, GateCase, find_failure, property_check


class SignFlipMultiply(gates.MultiplyGate):
    def backward(self, g):
        da, db = super().backward(g)
        return -da, db


class MissingTransposeMultiply(gates.MultiplyGate):
    def backward(self, g):
        return g @ self.saved.b, self.saved.a.T @ g  # should be g @ b.T


class MissingFactorTanh(gates.Tanh):
    def backward(self, g):
        return (g.copy(),)  # forgot (1 - y**2)


class MeanInsteadOfSumAdd(gates.AddGate):
    def backward(self, g):
        da = unbroadcast(g, self.saved.shapes[0])
        db = g.mean(axis=0) if self.saved.shapes[1] != g.shape else g.copy()
        return da, db.reshape(self.saved.shapes[1])


def square_case(cls):
    def case(d: Draw) -> GateCase:
        n = d.integers(1, 4)
        return GateCase(cls, (d.floats((n, n)), d.floats((n, n))))
    return case


def any_multiply_case(cls):
    def case(d: Draw) -> GateCase:
        m, n, p = d.integers(1, 4), d.integers(1, 4), d.integers(1, 4)
        return GateCase(cls, (d.floats((m, n)), d.floats((n, p))))
    return case


def tanh_case(cls):
    def case(d: Draw) -> GateCase:
        return GateCase(cls, (d.floats((d.integers(1, 4), d.integers(1, 4)), -3, 3),))
    return case


def bias_case(cls):
    def case(d: Draw) -> GateCase:
        n, m = d.integers(1, 4), d.integers(1, 4)
        return GateCase(cls, (d.floats((n, m)), d.floats((m,))))
    return case


rng = np.random.default_rng(0)
PLANTED = [
    # (gate, fixed failing inputs, input that must be named, case fn, max elements after shrinking)
    (SignFlipMultiply, (rng.normal(size=(2, 3)), rng.normal(size=(3, 2))), "a", any_multiply_case, 2),
    (MissingTransposeMultiply, (rng.normal(size=(3, 3)), rng.normal(size=(3, 3))), "a", square_case, 8),
    (MissingFactorTanh, (rng.normal(size=(2, 3)),), "x", tanh_case, 1),
    (MeanInsteadOfSumAdd, (rng.normal(size=(4, 3)), rng.normal(size=(3,))), "b", bias_case, 3),
]


@pytest.mark.parametrize("gate,inputs,bad_input,case_fn,small", PLANTED, ids=lambda p: getattr(p, "__name__", ""))
def test_gradcheck_reports_planted_bug(gate, inputs, bad_input, case_fn, small):
    with pytest.raises(GradcheckError) as info:
        gradcheck(gate, inputs)
    msg = str(info.value)
    assert gate.__name__ in msg
    assert "worst first" in msg and "analytic" in msg and "numeric" in msg and "rel err" in msg
    worst = info.value.report.failures[0]
    assert worst.input == bad_input
    assert f"{bad_input}{list(worst.index)}" in msg
    assert abs(worst.analytic - worst.numeric) > 1e-3
    assert re.search(r"step sweep for the worst element", msg)


@pytest.mark.parametrize("gate,inputs,bad_input,case_fn,small", PLANTED, ids=lambda p: getattr(p, "__name__", ""))
def test_property_finds_and_shrinks_planted_bug(gate, inputs, bad_input, case_fn, small):
    found = find_failure(case_fn(gate))
    assert found is not None, f"hypothesis did not find the planted bug in {gate.__name__}"
    total = sum(np.size(x) for x in found.inputs)
    assert total <= small, f"shrunk example still has {total} elements: {found.describe()}"
    with pytest.raises(GradcheckError):
        property_check(case_fn(gate), max_examples=100)


def test_correct_gates_pass_the_same_properties():
    for cls, case_fn in [(gates.MultiplyGate, any_multiply_case), (gates.MultiplyGate, square_case),
                         (gates.Tanh, tanh_case), (gates.AddGate, bias_case)]:
        assert find_failure(case_fn(cls)) is None
