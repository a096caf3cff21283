"""Invariant 2: every Gate subclass in the package is discovered and property-checked against
finite differences, in float64 and float32."""

import numpy as np
import pytest
from hypothesis import given, settings

from autograd_rnn import gradcheck
from autograd_rnn.testing import builtin_gate_classes, cases, registered

GATES = builtin_gate_classes()


def test_discovery_finds_the_core_gates():
    names = {c.__name__ for c in GATES}
    assert {"MultiplyGate", "AddGate", "Tanh", "Sigmoid", "SoftmaxCrossEntropy", "EmbeddingGate"} <= names


def test_every_gate_has_an_input_generator():
    missing = [c.__name__ for c in GATES if c not in registered()]
    assert not missing, f"gates without a registered input generator (autograd_rnn.testing.register): {missing}"


@pytest.mark.parametrize("gate_cls", GATES, ids=lambda c: c.__name__)
def test_gate_matches_finite_differences_float64(gate_cls):
    @given(cases(gate_cls, np.float64))
    def prop(case):
        report = gradcheck(case.gate, case.inputs, **case.options)
        assert report.passed and report.max_rel_err < 1e-6 and not report.kinks

    prop()


@pytest.mark.parametrize("gate_cls", GATES, ids=lambda c: c.__name__)
def test_gate_matches_finite_differences_float32(gate_cls):
    @settings(max_examples=15)
    @given(cases(gate_cls, np.float32))
    def prop(case):
        assert gradcheck(case.gate, case.inputs, **case.options).passed

    prop()
