"""benchmarks/quality.py runs the recipes through the command line and reports what the runs report."""

import subprocess
import sys
from pathlib import Path

import pytest

from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.train.scoring import score_checkpoint

from .test_evaluation import one_line_error

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "quality.py"


def quality(*args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "tiny.txt"
    path.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 700)
    return path


def test_the_quick_run_reports_every_evaluation_and_the_runs_own_final_validation(tiny, tmp_path):
    out = tmp_path / "q"
    result = quality("--quick", "--corpus", tiny, "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = (out / "quality.md").read_text()
    for name in ("shakespeare-3min", "shakespeare-10min"):
        run = out / "runs" / name
        best = load_checkpoint(run / "best.npz")
        assert best.config["train"]["split"] == "nanogpt" and best.config["train"]["cell"] == "lnlstm"
        history = load_checkpoint(run / "last.npz").progress["history"]
        final = history[-1]["final"]["val"]
        assert final == score_checkpoint(best, split="val").nats  # what `autograd-rnn evaluate --split val` says
        assert final != history[-1]["val"]  # the periodic evaluations score the first 2,000 tokens only
        assert f"{name}: final validation {round(final, 4)} nats" in result.stdout
        assert f"| {name} | " in table and f"**{final:.4f}**" in table
        for h in history:
            assert f"{name}: step {h['step']:,}, {h['seconds']:.1f} s, validation {h['val']:.4f}" in result.stdout
            assert f"| {name} | {h['step']:,} | {h['seconds']:.1f} | {h['val']:.4f} |" in table
        peak = float(result.stdout.split(f"{name}: final validation")[1].split("peak ")[1].split(" MB")[0])
        assert peak > 10
    for anchor in ("1.88", "1.898", "161-171 s", "1.4697", "372 MB"):
        assert anchor in table
    pytest.importorskip("matplotlib")
    assert (out / "quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_times_the_recipe_and_prints_the_steps_its_budget_fits(tiny):
    result = quality("--fit", "1", "--corpus", tiny, "--recipes", ROOT / "recipes" / "shakespeare-3min.toml")
    assert result.returncode == 0, result.stderr
    assert "shakespeare-3min.toml: " in result.stdout and "180 s fit " in result.stdout


def test_a_missing_corpus_or_a_used_out_folder_is_one_line(tiny, tmp_path):
    one_line_error(quality("--corpus", tmp_path / "nope.txt"), "nope.txt", "missing", "--corpus")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "quality.md").write_text("earlier results")
    one_line_error(quality("--quick", "--corpus", tiny, "--out", tmp_path / "used"), "not empty")
    assert (tmp_path / "used" / "quality.md").read_text() == "earlier results"
    one_line_error(quality("--corpus", tiny, "--recipes", tmp_path / "none.toml"), "none.toml")
