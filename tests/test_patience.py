"""Early stopping: ``patience`` evaluations in a row without a better validation loss end the run; best.npz
keeps the best; an interrupted run resumes to the same stop, bit for bit."""

import numpy as np
import pytest

from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.errors import ConfigError
from autograd_rnn.train import TrainConfig, train
from autograd_rnn.train.scoring import score_checkpoint

from .corpora import word_corpus
from .test_evaluation import cli, one_line_error

# lr 0.05 on this corpus: the validation loss falls, stalls once (one evaluation), falls again, then stops improving
STALLS = dict(hidden=12, embed=8, batch=4, seq_len=16, eval_every=2, eval_tokens=500, sample_length=0, lr=0.05,
              steps=200, patience=2, progress=False, plot=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return word_corpus(tmp_path_factory.mktemp("corpus") / "small.txt", lines=400)


def misses(vals: list) -> list[int]:
    """After each evaluation, how many in a row have not beaten the best before them (an independent count)."""
    out, best, run = [], np.inf, 0
    for v in vals:
        run = 0 if v < best else run + 1
        best = min(best, v)
        out.append(run)
    return out


def test_the_run_stops_at_the_first_evaluation_that_makes_patience_misses(corpus, tmp_path):
    result = train(TrainConfig(corpus=corpus, out=str(tmp_path / "run"), **STALLS))
    vals = [h["val"] for h in result.history]
    counts = misses(vals)
    assert result.stopped == "early" and result.steps < 200
    assert counts[-1] == 2 and max(counts[:-1]) < 2  # stopped at once, not before
    assert 1 in counts[:-1]  # a miss that was made up for did not stop it
    assert result.steps == 2 * len(vals)
    best = load_checkpoint(tmp_path / "run" / "best.npz")
    last = load_checkpoint(tmp_path / "run" / "last.npz")
    assert best.progress["best_val"] == min(vals) and best.progress["step"] == 2 * (vals.index(min(vals)) + 1)
    assert last.progress["step"] == result.steps
    assert any(not np.array_equal(best.model[k], last.model[k]) for k in best.model)
    # the run's number is best.npz's whole validation, which is not the last model's
    assert result.final_val == score_checkpoint(best, split="val").nats != score_checkpoint(last, split="val").nats
    assert result.history[-1]["final"]["step"] == best.progress["step"]


def test_an_interrupted_run_resumes_to_the_same_stop_bit_for_bit(corpus, tmp_path):
    whole = train(TrainConfig(corpus=corpus, out=str(tmp_path / "whole"), **STALLS))
    part = train(TrainConfig(corpus=corpus, out=str(tmp_path / "part"), stop_after=50, **STALLS))
    assert part.stopped == "interrupted" and 1 in misses([h["val"] for h in part.history])
    resumed = train(TrainConfig(corpus=corpus, out=str(tmp_path / "part"), resume=True, **STALLS))
    assert (resumed.stopped, resumed.steps, resumed.final_val) == (whole.stopped, whole.steps, whole.final_val)
    for name in ("last.npz", "best.npz"):
        a, b = load_checkpoint(tmp_path / "whole" / name), load_checkpoint(tmp_path / "part" / name)
        for k in a.model:
            np.testing.assert_array_equal(a.model[k], b.model[k], err_msg=f"{name} {k}")
    again = train(TrainConfig(corpus=corpus, out=str(tmp_path / "part"), resume=True, **STALLS))
    assert (again.stopped, again.steps, again.final_val) == ("early", whole.steps, whole.final_val)
    after = load_checkpoint(tmp_path / "part" / "last.npz")
    assert after.progress["step"] == whole.steps and after.progress["history"] == resumed.history


def test_patience_needs_a_validation_text_and_a_positive_count(corpus, tmp_path):
    with pytest.raises(ConfigError, match="--patience 3: the run has no validation"):
        train(TrainConfig(corpus=corpus, out=str(tmp_path / "a"), split="1,0,0", **{**STALLS, "patience": 3}))
    one_line_error(cli("train", "--corpus", corpus, "--patience", "0", "--out", tmp_path / "b"), "--patience")
    one_line_error(cli("train", "--corpus", corpus, "--split", "1,0", "--patience", "2", "--steps", "2", "--out",
                       tmp_path / "c"), "--patience 2", "no validation")
