"""Invariant 2: every Gate subclass in the package is discovered and property-checked against
finite differences, in float64 and float32; and at its special points (kinks, ties, the edges of
its domain, separate branches), against the convention docs/gates.md states."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd_rnn import GateInputError, gradcheck
from autograd_rnn.testing import (
    builtin_gate_classes,
    cases,
    check_case,
    points_function,
    registered,
    registered_points,
)

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


# ----- special points: conventions, infinite derivatives, separate branches --------------------
CONVENTIONS = {"Abs", "ReLU", "Maximum", "Minimum", "Power", "Sqrt"}
"""The gates whose derivative is a convention somewhere (a kink or a tie), infinite at the edge of
their domain, or computed by a branch of its own (docs/gates.md, "Special points")."""


def test_every_gate_with_a_special_point_registers_it():
    names = {c.__name__ for c in registered_points()}
    assert CONVENTIONS <= names, f"special points not registered (register_points): {CONVENTIONS - names}"


@pytest.mark.parametrize("gate_cls", list(registered_points()), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_gate_at_its_special_points(gate_cls, dtype):
    """Finite differences (a kink passes only with a subgradient between the one-sided slopes) and
    the stated convention, exactly, for upstream gradients with and without zeros."""

    @settings(max_examples=40 if dtype == np.float64 else 15)
    @given(cases(points_function(gate_cls), dtype))
    def prop(case):
        check_case(case)

    prop()


SPECIAL_VALUES = (0.0, 1.0, -1.0)


def on_special_values(data, case, values: tuple) -> list:
    """The case's inputs with about half of each float input's elements replaced by ``values``,
    and, where two float inputs have one shape, some elements of the second tied to the first."""
    inputs = [np.array(x) for x in case.inputs]
    floats = [i for i, x in enumerate(inputs) if x.dtype.kind == "f" and x.size]
    for i in floats:
        x = inputs[i]
        pick = data.draw(hnp.arrays(np.int64, x.shape, elements=st.integers(0, 2 * len(values) - 1)))
        chosen = np.asarray(values, x.dtype)[np.minimum(pick, len(values) - 1)]
        inputs[i] = np.where(pick < len(values), chosen, x).astype(x.dtype)
    if len(floats) >= 2 and inputs[floats[0]].shape == inputs[floats[1]].shape:
        a, b = inputs[floats[0]], inputs[floats[1]]
        tie = data.draw(hnp.arrays(bool, a.shape))
        inputs[floats[1]] = np.where(tie, a, b).astype(b.dtype)
    return inputs


@pytest.mark.parametrize("gate_cls", GATES, ids=lambda c: c.__name__)
def test_backward_is_never_nan_at_special_values(gate_cls):
    """At 0, +-1 and ties (wherever the forward accepts them) every gate's backward is a number
    (an infinite derivative may give inf, never NaN) and a zero upstream gives exactly zero: the
    class of a backward that divides by the input, or multiplies an infinite factor by g."""

    @settings(max_examples=25)
    @given(cases(gate_cls), st.data())
    def prop(case, data):
        fresh = case.gate if isinstance(case.gate, type) else case.gate.fresh
        for values in (SPECIAL_VALUES, (1.0,)):  # (1 where 0 or -1 is outside the domain: log, a divisor)
            inputs = on_special_values(data, case, values)
            gate = fresh()
            try:
                out = gate.forward(*inputs)
                break
            except GateInputError:
                continue
        else:
            assume(False)
        outs = out if isinstance(out, tuple) else (out,)
        rng = np.random.default_rng(0)
        for g in ([np.zeros_like(o) for o in outs], [rng.uniform(0.5, 1, o.shape).astype(o.dtype) for o in outs]):
            grads = gate.backward(tuple(g) if isinstance(out, tuple) else g[0])
            for k, d in enumerate(grads):
                if d is None:
                    continue
                assert not np.isnan(d).any(), f"{gate.name}: NaN in the gradient of input {k} at {inputs}"
                if not any(x.any() for x in g):
                    assert not d.any(), f"{gate.name}: a zero upstream gives {d} for input {k} at {inputs}"

    prop()
