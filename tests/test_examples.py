"""The examples run, and their property tests pass."""

import importlib.util
import pathlib

import pytest
from hypothesis import given, settings

import autograd_rnn as ar
from autograd_rnn.testing import cases, property_check

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def custom_cell():
    return load("custom_cell")


def test_custom_gate_example_runs(capsys):
    load("custom_gate").main()
    assert "property check: 50 generated cases passed" in capsys.readouterr().out


def test_custom_cell_example_runs_and_learns(custom_cell, capsys):
    custom_cell.main()
    losses = custom_cell.train(steps=60)
    assert sum(losses[-10:]) / 10 < 0.7 * losses[0]
    assert "passed" in capsys.readouterr().out


def test_custom_cell_step_property(custom_cell):
    property_check(custom_cell.step_case, max_examples=25)


def test_custom_cell_sequence_property(custom_cell):
    @settings(max_examples=15)
    @given(cases(custom_cell.sequence_case))
    def prop(case):
        seq, xs, h0 = case
        assert ar.gradcheck_sequence(seq, xs, h0).passed

    prop()
