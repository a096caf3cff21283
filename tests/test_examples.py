"""The examples run, and their property tests pass."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
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


def test_to_pytorch_example_exports_trains_there_and_samples_back(torch, sentences, tmp_path, capsys):
    out = tmp_path / "to_pytorch"
    load("to_pytorch").main([sentences, "--steps", "3", "--torch-steps", "3", "--hidden", "8", "--batch", "4",
                             "--seq-len", "8", "--out", str(out)])
    text = capsys.readouterr().out
    assert "gradcheck Sequence(JANET, truncation=Truncated(2, 3))" in text and "PyTorch step 3: loss" in text
    assert text.count("$ autograd-rnn export") == 2 and "$ autograd-rnn sample" in text
    back = ar.load_checkpoint(out / "janet_trained.npz")
    assert back.config["model"]["cell_options"] == {"beta": 0.5}
    assert not np.array_equal(back.model["rnn.l0.cell.U"], ar.load_checkpoint(out / "here" / "last.npz").model[
        "rnn.l0.cell.U"])  # trained further in PyTorch
    with pytest.raises(SystemExit, match="not empty"):
        load("to_pytorch").main([sentences, "--out", str(out)])


def test_word_lm_examples_settings_get_below_the_unigram_baseline(sentences, tmp_path, capsys):
    """The example's defaults (SGD at the learning rate for a mean loss, LookBack(4), halving) learn:
    a small model on the test sentences passes the unigram baseline within a few epochs."""
    word_lm = load("word_lm")
    word_lm.main([sentences, "--epochs", "4", "--batch", "8", "--hidden", "32", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "below the unigram baseline" in out and "not yet" not in out, out


@pytest.mark.parametrize("name", ["char_lm", "word_lm"])
def test_language_model_examples_default_to_the_built_in_corpus_and_say_a_missing_file_in_one_line(name, tmp_path):
    assert load(name).config().corpus is None  # no file: the built-in corpus
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), str(tmp_path / "missing.txt")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: corpus file {str(tmp_path / 'missing.txt')!r} does not "
                                                  f"exist; expected a UTF-8 text file"]


def test_char_lm_example_trains_on_the_built_in_corpus_without_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    load("char_lm").main(["--steps", "2", "--hidden", "8"])
    assert len(capsys.readouterr().out) > 0
    assert (tmp_path / "runs" / "latest" / "last.npz").exists()


def test_the_scaling_benchmarks_help_runs_nothing():
    result = subprocess.run([sys.executable, str(EXAMPLES.parent / "benchmarks" / "scaling.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "How cost grows" in result.stdout and "LSTM, batch 32" not in result.stdout


# ----- custom cells from the command line -----------------------------------------------------------------------
SHAKESPEARE = EXAMPLES.parents[1] / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def shakespeare(tmp_path_factory):
    if not SHAKESPEARE.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but {SHAKESPEARE} is missing")
        pytest.skip(f"{SHAKESPEARE} is not on this machine")
    path = tmp_path_factory.mktemp("shakespeare") / "slice.txt"
    path.write_text(SHAKESPEARE.read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    return str(path)


def cli(*args):
    result = subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("name, options", [("PeepholeLSTM", []), ("IndRNN", ["--cell-option", "activation=tanh"]),
                                           ("LayerNormLSTM", [])])
def test_example_cell_is_checked_trained_sampled_and_resumed_from_the_cli(name, options, shakespeare, tmp_path):
    cells = load("cells")
    cls = getattr(cells, name)
    rng = np.random.default_rng(0)
    cell = cls(3, 4, rng=0)
    state0 = tuple(rng.normal(size=(2, 4)) for _ in range(cell.n_state))
    for policy in (ar.Full(), ar.LookBack(2), ar.Truncated(2, 3)):
        assert ar.gradcheck_sequence(ar.Sequence(cell, truncation=policy), rng.normal(size=(5, 2, 3)), state0).passed
    source = str(EXAMPLES / "cells.py")
    args = ["train", "--cell", f"{source}:{name}", *options, "--corpus", shakespeare, "--hidden", "64", "--embed",
            "16", "--batch", "16", "--seq-len", "32", "--eval-every", "75", "--no-progress", "--no-plot"]
    full = cli(*args, "--steps", "150", "--out", str(tmp_path / "full"))
    best, unigram = map(float, re.search(r"best validation loss ([\d.]+) .*unigram entropy ([\d.]+)",
                                         full.stdout).groups())
    assert best < unigram - 0.5, full.stdout
    text = cli("sample", "--checkpoint", str(tmp_path / "full" / "last.npz"), "--length", "40", "--seed", "1",
               "--allow-import", source).stdout
    assert len(text.strip()) > 10
    cli(*args, "--steps", "75", "--out", str(tmp_path / "part"))
    cli("train", "--resume", "--out", str(tmp_path / "part"), "--steps", "150", "--no-progress", "--allow-import",
        source)
    a = ar.load_checkpoint(tmp_path / "full" / "last.npz")
    b = ar.load_checkpoint(tmp_path / "part" / "last.npz")
    assert a.config["model"]["cell_options"] == b.config["model"]["cell_options"] == cls(1, 1).config() | (
        {"activation": "tanh"} if options else {})
    for k in a.model:
        np.testing.assert_array_equal(a.model[k], b.model[k], err_msg=k)
