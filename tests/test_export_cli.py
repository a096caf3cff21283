"""``autograd-rnn export``: a run of a custom cell goes to a PyTorch file, is trained further in
PyTorch, comes back as a checkpoint that ``sample`` and ``evaluate`` read; and the .pt files are
checked like our own checkpoints."""

import pathlib
import sys

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.cli import main
from autograd_rnn.errors import CheckpointError
from tests.torch_referee import load_torch

torch = load_torch()
from autograd_rnn.torch_interop import load_pt, save_pt, to_torch  # noqa: E402

CELLS = str(pathlib.Path(__file__).resolve().parents[1] / "examples" / "cells.py")


class Result:
    def __init__(self, capsys, code):
        captured = capsys.readouterr()
        self.returncode, self.stdout, self.stderr = code, captured.out, captured.err


@pytest.fixture
def cli(capsys):
    """The command line in this process: ``cli(*args, code=0)`` -> its exit code and output."""

    def call(*args, code=0):
        capsys.readouterr()
        try:
            returned = main(list(args))
        except SystemExit as e:
            returned = e.code
        result = Result(capsys, returned)
        assert result.returncode == code, result.stderr
        return result

    return call


@pytest.fixture
def run(tmp_path_factory, cli):
    root = tmp_path_factory.mktemp("export")
    corpus = root / "c.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log.\n" * 40)
    cli("train", "--corpus", str(corpus), "--cell", f"{CELLS}:PeepholeLSTM", "--hidden", "8", "--embed", "4",
        "--batch", "4", "--seq-len", "8", "--steps", "4", "--eval-every", "4", "--out", str(root / "run"),
        "--no-progress", "--no-plot", "--no-check-cell")
    return root, corpus


def test_a_custom_cell_goes_to_pytorch_trains_there_and_comes_back(run, cli):
    root, corpus = run
    source, pt = root / "run" / "last.npz", root / "model.pt"
    refused = cli("export", "--checkpoint", str(source), "--out", str(pt), code=2)
    assert "--allow-import" in refused.stderr and "Traceback" not in refused.stderr and not pt.exists()
    cli("export", "--checkpoint", str(source), "--out", str(pt), "--allow-import", CELLS)

    saved = torch.load(pt, weights_only=True)
    ck = load_pt(pt)
    model, vocab = ar.model_from_checkpoint(ck, allow_import=[CELLS])
    assert set(saved["state_dict"]) == set(model.state_dict()) and ck.optimizer is None
    original = ar.load_checkpoint(source)
    for k, v in saved["state_dict"].items():
        np.testing.assert_array_equal(v.numpy(), original.model[k], err_msg=k)

    module = to_torch(model)
    module.load_state_dict(saved["state_dict"])
    ids = np.array(vocab.encode(corpus.read_text()))
    opt = torch.optim.Adam(module.parameters(), lr=0.01)
    for step in range(3):
        chunk = ids[step * 16:step * 16 + 33].reshape(-1, 1)
        opt.zero_grad()
        module.loss(chunk[:-1], chunk[1:])[0].backward()
        opt.step()
    trained = root / "trained.pt"
    save_pt(trained, module, ck)
    with pytest.raises(CheckpointError, match="exists"):
        save_pt(trained, module, ck)

    back = root / "trained.npz"
    cli("export", "--checkpoint", str(trained), "--out", str(back), "--allow-import", CELLS)
    loaded = ar.load_checkpoint(back)
    for k, v in module.state_dict().items():
        np.testing.assert_array_equal(loaded.model[k], v.numpy(), err_msg=k)
    assert not np.array_equal(loaded.model["proj.weight"], original.model["proj.weight"])
    text = cli("sample", "--checkpoint", str(back), "--prime", "the", "--length", "20", "--seed", "0",
               "--allow-import", CELLS).stdout
    assert text.startswith("the")
    assert "bits per token" in cli("evaluate", "--checkpoint", str(back), "--corpus", str(corpus), "--allow-import",
                                   CELLS).stdout
    again = cli("export", "--checkpoint", str(trained), "--out", str(back), "--allow-import", CELLS, code=2)
    assert "exists" in again.stderr


def test_export_says_what_it_expects(run, cli, tmp_path):
    root, _ = run
    assert "usage: autograd-rnn export" in cli("export", "--help").stdout
    wrong = cli("export", "--checkpoint", str(root / "run" / "last.npz"), "--out", str(tmp_path / "m.npz"), code=2)
    assert "expected a .npz and a .pt" in wrong.stderr
    missing = cli("export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "m.npz"), code=2)
    assert "no such file" in missing.stderr


def test_foreign_or_newer_pt_files_are_refused(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="not a model written by autograd-rnn export"):
        load_pt(tmp_path / "tensor.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch file"):
        load_pt(tmp_path / "text.pt")
    torch.save({"state_dict": {}, "autograd_rnn": '{"format": "autograd_rnn-torch", "version": 99}'},
               tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer"):
        load_pt(tmp_path / "new.pt")


def test_without_torch_the_verb_says_so_in_one_line(monkeypatch, cli, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)
    result = cli("export", "--checkpoint", str(tmp_path / "a.npz"), "--out", str(tmp_path / "b.pt"), code=2)
    assert "needs PyTorch: pip install torch" in result.stderr and "Traceback" not in result.stderr
