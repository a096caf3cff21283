"""``autograd-rnn plot``: runs side by side, a table of what each reached, a figure that never replaces a file,
and one line for every folder it cannot use."""

import hashlib
import math
import sys

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.cli import main
from autograd_rnn.train import TrainConfig, train
from autograd_rnn.train.metrics import HEADER, METRICS_FILE, read_metrics

from .test_reliability import cli, one_error_line


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Two short runs of different cells on the same corpus and budget."""
    root = tmp_path_factory.mktemp("runs")
    for cell in ("lstm", "gru"):
        train(TrainConfig(corpus=corpus, cell=cell, hidden=12, embed=6, batch=3, seq_len=10, steps=12, eval_every=4,
                          eval_tokens=300, sample_length=5, out=str(root / cell), progress=False, plot=False))
    return root


def plot(*args, cwd, capsys, monkeypatch):
    monkeypatch.chdir(cwd)
    code = main(["plot", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_table_says_what_each_run_reached(runs, tmp_path, capsys, monkeypatch):
    code, out, err = plot(runs / "lstm", runs / "gru", "--out", "cmp.png", cwd=tmp_path, capsys=capsys,
                          monkeypatch=monkeypatch)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["run", "cell", "parameters", "best"] and lines[-1] == "figure: cmp.png"
    for cell in ("lstm", "gru"):
        (row,) = [line for line in lines if line[:24].rstrip().endswith(f"/{cell}")]  # long paths: their end
        m = read_metrics(runs / cell / METRICS_FILE)
        best = int(np.nanargmin(m["val_loss"]))
        params = sum(a.size for a in ar.load_checkpoint(runs / cell / "last.npz").model.values())
        fields = row[24:].split()
        assert fields[0] == cell and fields[1] == f"{params:,}"
        assert float(fields[2]) == round(m["val_loss"][best], 4) and float(fields[3]) == round(
            m["val_loss"][best] / math.log(2), 4)
        assert int(fields[4]) == m["step"][best] and fields[-3] == "12"  # at step; steps
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figure_has_both_panels_and_each_run(runs, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    assert plot(runs / "lstm", runs / "gru", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    image = imread(tmp_path / "runs-compared.png")[..., :3]
    half = image.shape[1] // 2
    for color in ((0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)):  # C0 and C1: one line per run, in each panel
        match = np.all(np.abs(image - np.array(color) / 255) < 0.08, axis=-1)
        assert match[:, :half].sum() > 50 and match[:, half:].sum() > 50, color


def test_the_default_figure_never_replaces_one(runs, tmp_path, capsys, monkeypatch):
    first = plot(runs / "lstm", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    kept = hashlib.sha256((tmp_path / "runs-compared.png").read_bytes()).hexdigest()
    second = plot(runs / "gru", runs / "lstm", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert first[1].endswith("figure: runs-compared.png\n") and second[1].endswith("figure: runs-compared-2.png\n")
    assert hashlib.sha256((tmp_path / "runs-compared.png").read_bytes()).hexdigest() == kept
    code, out, err = plot(runs / "lstm", "--out", "runs-compared.png", cwd=tmp_path, capsys=capsys,
                          monkeypatch=monkeypatch)
    assert code == 2 and "exists; choose another file" in err and out == ""
    assert plot(runs / "lstm", "--out", "f.svg", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)[0] == 0
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")


def bad_folders(runs, tmp_path):
    """(arguments, what the one line must say) for every kind of folder plot cannot use."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    old = tmp_path / "old"  # a run from before metrics were kept
    old.mkdir()
    (old / "last.npz").write_bytes((runs / "lstm" / "last.npz").read_bytes())
    fresh = tmp_path / "fresh"  # a run whose metrics hold no evaluation yet
    fresh.mkdir()
    (fresh / METRICS_FILE).write_text(HEADER + "1,0.010,5.0,0.1,2.5,0.3,0,\n")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / METRICS_FILE).write_text("epoch;loss\n")
    return [
        (["nowhere"], "nowhere does not exist"),
        (["file.txt"], "file.txt is not a folder"),
        (["empty"], "empty holds no run"),
        (["old"], "has no metrics.csv (it was trained by an earlier version"),
        (["fresh"], "has no validation loss in its metrics.csv (no evaluation has run yet"),
        (["foreign"], "does not start with the metrics header"),
        ([runs / "lstm", runs / "lstm"], "are the same run; name each run once"),
        ([runs / "lstm", "--out", "x.jpg"], "expected a file name ending in .png, .svg, .pdf"),
        ([runs / "lstm", "--out", "no/such/x.png"], "the folder no/such does not exist"),
        ([], "the following arguments are required: RUN_DIR"),
    ]


def test_every_folder_plot_cannot_use_is_one_line(runs, tmp_path):
    for args, says in bad_folders(runs, tmp_path):
        line = one_error_line(cli("plot", *map(str, args), cwd=tmp_path))
        assert says in line, (args, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file.txt", "foreign", "fresh", "old"]  # no figure


def test_without_matplotlib_the_table_is_printed_and_the_figure_refused(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, out, err = plot(runs / "lstm", cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "lstm" in out and err.startswith("error: plot: no figure: matplotlib is not installed")
    assert not (tmp_path / "runs-compared.png").exists()
