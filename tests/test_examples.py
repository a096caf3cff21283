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


@pytest.fixture(scope="module")
def sentences(tmp_path_factory):
    import numpy as np

    rng = np.random.default_rng(0)
    words = "we like to play and they like to read while the sun is out in the park".split()
    path = tmp_path_factory.mktemp("sentences") / "sentences.txt"
    path.write_text("\n".join(" ".join(rng.choice(words, rng.integers(3, 8))) + " ." for _ in range(300)))
    return str(path)


def test_tutorial_example_learns_the_sentence(tmp_path, capsys):
    tutorial = load("tutorial")
    losses = tutorial.run(epochs=40, quiet=True)
    assert losses[-1] < 0.1 * losses[0]
    one_hot = tutorial.run(epochs=100, one_hot=True, quiet=True)
    assert one_hot[-1] < 0.1 * one_hot[0]
    tutorial.main(["--epochs", "20", "--plot", str(tmp_path / "loss.png")])
    out = capsys.readouterr().out
    assert "inputs [0, 1, 2, 3, 4]" in out and "epoch" in out
    assert (tmp_path / "loss.png").exists()


def test_word_lm_example_runs(sentences, tmp_path, capsys):
    load("word_lm").main([sentences, "--epochs", "0.3", "--batch", "8", "--hidden", "16", "--out", str(tmp_path)])
    assert capsys.readouterr().out.count("sample:") == 3
    assert (tmp_path / "last.npz").exists()


def test_char_lm_example_runs(sentences, tmp_path, capsys):
    load("char_lm").main([sentences, "--steps", "8", "--hidden", "16", "--out", str(tmp_path), "--prime", "we "])
    assert capsys.readouterr().out.startswith("we ")
