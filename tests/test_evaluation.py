"""Evaluation a user can compare: the splits (nanoGPT's exactly), a validation file, evaluate on each
part of a run's data, the final validation over the whole part, and their refusals in one line."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_rnn.checkpoint import load_checkpoint, save_checkpoint
from autograd_rnn.data import Vocabulary, parse_split, split_lines, split_stream
from autograd_rnn.errors import ConfigError, DataError
from autograd_rnn.train import TrainConfig, train
from autograd_rnn.train.config import SPLIT_BEFORE
from autograd_rnn.train.corpus import encode_parts
from autograd_rnn.train.schema import check_training
from autograd_rnn.train.scoring import score_checkpoint

from .corpora import word_corpus

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return word_corpus(tmp_path_factory.mktemp("corpus") / "small.txt", lines=400)


def small(corpus, out, **kw):
    base = dict(corpus=corpus, hidden=12, embed=8, batch=4, seq_len=16, eval_every=4, eval_tokens=500,
                sample_length=10, out=str(out), progress=False, plot=False)
    return TrainConfig(**{**base, **kw})


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "autograd_rnn", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def one_line_error(result, *words):
    """The CLI's refusal: exit 2, one "error: " line on stderr naming every word, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


# ----- the splits ----------------------------------------------------------------------------------------------------
def nanogpt(text: str) -> tuple[str, str]:
    """nanoGPT's data/shakespeare_char/prepare.py, verbatim."""
    data = text
    n = len(data)
    train_data = data[:int(n * 0.9)]
    val_data = data[int(n * 0.9):]
    return train_data, val_data


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=2, max_size=400), spec=st.sampled_from(["nanogpt", "0.9,0.1", "NanoGPT", "0.9,0.1,0"]))
def test_the_nanogpt_split_is_prepare_py_on_the_characters_exactly(text, spec):
    vocab = Vocabulary.build(text, "char")
    parts = encode_parts(TrainConfig(split=spec), text, vocab)
    train_text, val_text = nanogpt(text)
    assert vocab.decode(parts["train"]) == train_text and vocab.decode(parts["val"]) == val_text
    assert len(parts["test"]) == 0


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason="needs ../shared/data/tinyshakespeare.txt")
def test_the_nanogpt_split_of_tinyshakespeare_has_the_sizes_nanogpt_prints():
    """prepare.py prints "train has 1,003,854 tokens" and "val has 111,540 tokens"."""
    text = SHAKESPEARE.read_text(encoding="utf-8")
    parts = encode_parts(TrainConfig(split="nanogpt"), text, Vocabulary.build(text, "char"))
    assert (len(parts["train"]), len(parts["val"])) == (1_003_854, 111_540)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), a=st.integers(1, 1000), b=st.integers(0, 1000), c=st.integers(0, 1000))
def test_every_cut_is_int_of_n_times_the_fraction(n, a, b, c):
    """Any fractions: train ``ids[:int(n*f0)]``, validation up to ``int(n*(f0+f1))`` (to the end when there is
    no test part), the rest test; lines are cut the same way after their shuffle."""
    total = a + b + c
    fr = (a / total, b / total, c / total)
    if int(n * fr[0]) == 0:
        with pytest.raises(DataError, match="train part is empty"):
            split_stream(np.arange(n), fr)
        return
    end = n if c == 0 else int(n * (fr[0] + fr[1]))
    tr, va, te = split_stream(np.arange(n), fr)
    assert (len(tr), len(va), len(te)) == (int(n * fr[0]), end - int(n * fr[0]), n - end)
    assert np.concatenate([tr, va, te]).tolist() == list(range(n))
    assert [len(p) for p in split_lines(list(range(n)), fr)] == [len(tr), len(va), len(te)]


def test_fractions_that_sum_to_one_only_within_the_tolerance_lose_no_token():
    """0.33333333333 + 0.66666666666 is 1 - 1e-11: the last part still ends at the last token."""
    assert [len(p) for p in split_stream(np.arange(1000), (0.33333333333, 0.66666666666, 0))] == [333, 667, 0]
    fractions, _ = parse_split("0.33333333333,0.66666666666")
    assert sum(len(p) for p in split_lines(list(range(1000)), fractions)) == 1000


def test_the_old_cut_rounds_and_differs_from_the_floor():
    """15 tokens: 15 * 0.9 = 13.5 and 15 * 0.95 = 14.25; the old cut rounded both to 14, leaving no validation."""
    assert [len(p) for p in split_stream(np.arange(15), cut="round")] == [14, 0, 1]
    assert [len(p) for p in split_stream(np.arange(15))] == [13, 1, 1]
    assert parse_split(SPLIT_BEFORE) == ((0.9, 0.05, 0.05), "round")
    assert parse_split(" Round:NanoGPT ") == ((0.9, 0.1, 0.0), "round")


@pytest.mark.parametrize("spec, match", [("0.9", "TRAIN,VAL"), ("a,b", "TRAIN,VAL"), ("0.9,0.2", "sum to 1"),
                                         ("1.1,-0.1", "non-negative"), ("0,1", "nothing to training"),
                                         ("shakespeare", "nanogpt"), ("0.5,0.25,0.25,0", "TRAIN,VAL")])
def test_a_bad_split_is_refused_in_one_line(corpus, tmp_path, spec, match):
    with pytest.raises((ConfigError, DataError), match=match):
        train(small(corpus, tmp_path / "o", split=spec, steps=2))
    result = cli("train", "--corpus", corpus, "--split", spec, "--steps", "2", "--out", tmp_path / "c")
    one_line_error(result, "--split")


# ----- a validation file ---------------------------------------------------------------------------------------------
def test_a_validation_file_with_unseen_characters_is_scored_with_unk(corpus, tmp_path):
    val = tmp_path / "val.txt"
    val.write_text("the cat sat on a mat. zebra QUIZ \u2603\n" * 20, encoding="utf-8")
    result = cli("train", "--corpus", corpus, "--val-corpus", val, "--hidden", 12, "--embed", 8, "--batch", 4,
                 "--seq-len", 16, "--steps", 8, "--eval-every", 4, "--no-progress", "--no-plot", "--out",
                 tmp_path / "run")
    assert result.returncode == 0, result.stderr
    seen = set(Path(corpus).read_text())
    unseen = sum(ch not in seen for ch in val.read_text(encoding="utf-8"))
    assert unseen > 0
    opening = next(line for line in result.stderr.splitlines() if line.startswith("validation:"))
    assert f"{val}, {len(val.read_text(encoding='utf-8')):,} tokens ({unseen:,} unknown" in opening
    assert "all of" in opening or "training: " in opening
    ck = load_checkpoint(tmp_path / "run" / "best.npz")
    vocab = Vocabulary.from_dict(ck.vocab)
    assert set(vocab.tokens) - {"<unk>"} == seen  # the vocabulary is the corpus's, never the validation file's
    score = score_checkpoint(ck, split="val")
    assert score.unknown == unseen and score.label.startswith(str(val))
    assert score.nats == score_checkpoint(ck, corpus=str(val)).nats
    last = load_checkpoint(tmp_path / "run" / "last.npz")
    assert last.progress["history"][-1]["final"]["val"] == score.nats  # the run's number is evaluate's
    assert last.progress["history"][-1]["final"]["unknown"] == unseen
    train_part = score_checkpoint(ck, split="train")  # all of the corpus trains
    assert train_part.tokens == len(Path(corpus).read_text()) // 16 * 16 - 16
    one_line_error(cli("evaluate", "--checkpoint", tmp_path / "run" / "best.npz", "--split", "test"), "no test part")


def test_a_validation_file_needs_unk_for_unseen_characters_and_agrees_with_the_split(corpus, tmp_path):
    val = tmp_path / "val.txt"
    val.write_text("the dog ran. xylophone\n", encoding="utf-8")
    common = ["--corpus", corpus, "--val-corpus", val, "--steps", 2, "--no-progress", "--out"]
    one_line_error(cli("train", *common, tmp_path / "a", "--no-unk"), "--val-corpus", "'x'", "<unk>")
    one_line_error(cli("train", *common, tmp_path / "b", "--split", "nanogpt"), "--split", "--val-corpus")
    one_line_error(cli("train", *common[:2], "--val-corpus", tmp_path / "nope.txt", "--steps", 2, "--out",
                       tmp_path / "c"), "--val-corpus", "nope.txt")
    (tmp_path / "empty.txt").write_text("")
    one_line_error(cli("train", *common[:2], "--val-corpus", tmp_path / "empty.txt", "--steps", 2, "--out",
                       tmp_path / "d"), "--val-corpus", "empty")
    (tmp_path / "one.txt").write_text("t")
    one_line_error(cli("train", *common[:2], "--val-corpus", tmp_path / "one.txt", "--steps", 2, "--out",
                       tmp_path / "d"), "--val-corpus", "at least two")
    assert cli("train", *common, tmp_path / "e", "--split", "0.95,0,0.05", "--hidden", 8).returncode == 0


# ----- evaluate on each part, and the final validation ---------------------------------------------------------------
@pytest.mark.parametrize("batching", ["stream", "lines"])
def test_evaluate_scores_each_part_of_the_run_as_the_same_text_given_as_a_file(corpus, tmp_path, batching):
    """``evaluate --split P`` equals ``evaluate --corpus`` on a file holding exactly the part P of the text,
    cut by hand (streams: characters; lines: the shuffled lines), for train, val and test."""
    out = tmp_path / "run"
    result = train(small(corpus, out, steps=8, split="0.8,0.1,0.1", batching=batching))
    ck = load_checkpoint(out / "best.npz")
    text = Path(corpus).read_text()
    if batching == "stream":
        n = len(text)
        pieces = {"train": text[:int(n * 0.8)], "val": text[int(n * 0.8):int(n * 0.9)], "test": text[int(n * 0.9):]}
    else:
        lines = text.splitlines()
        order = np.random.default_rng(0).permutation(len(lines))
        shuffled = [lines[i] for i in order]
        n = len(lines)
        a, b = int(n * 0.8), int(n * 0.9)
        pieces = {"train": shuffled[:a], "val": shuffled[a:b], "test": shuffled[b:]}
        pieces = {k: "\n".join(v) + "\n" for k, v in pieces.items()}
    for name, piece in pieces.items():
        (tmp_path / f"{name}.txt").write_text(piece)
        ours, theirs = score_checkpoint(ck, split=name), score_checkpoint(ck, corpus=str(tmp_path / f"{name}.txt"))
        assert (ours.nats, ours.tokens, ours.unknown) == (theirs.nats, theirs.tokens, 0), name
        shown = cli("evaluate", "--checkpoint", out / "best.npz", "--split", name)
        assert shown.returncode == 0, shown.stderr
        assert f"the {name} part of " in shown.stdout and f"{ours.tokens:,} tokens" in shown.stdout
        assert f"loss {ours.nats:.4f} nats = " in shown.stdout and "bits per token, perplexity" in shown.stdout
    assert result.final_val == score_checkpoint(ck, split="val").nats


def test_the_final_validation_is_the_whole_part_with_best_and_evaluate_gives_it(corpus, tmp_path):
    """eval_tokens scores only a piece every eval_every steps; the end of the run scores the whole part with
    best.npz's weights, says it, keeps it, and it is evaluate's number for best.npz."""
    out = tmp_path / "run"
    result = train(small(corpus, out, steps=12, eval_tokens=50, split="nanogpt"))
    ck = load_checkpoint(out / "best.npz")
    whole = score_checkpoint(ck, split="val")
    final = result.history[-1]["final"]
    assert result.final_val == final["val"] == whole.nats and final["tokens"] == whole.tokens
    assert whole.tokens > 50 * 4  # more than any periodic evaluation scored
    assert load_checkpoint(out / "last.npz").progress["history"][-1]["final"] == final
    import json

    assert json.loads((out / "history.json").read_text())[-1]["final"] == final
    assert all("seconds" in h and "tokens" in h for h in result.history)
    assert [h["tokens"] for h in result.history] == [4 * 16 * h["step"] for h in result.history]


def test_a_run_interrupted_has_no_final_and_a_resumed_one_gets_it(corpus, tmp_path):
    out = tmp_path / "run"
    part = train(small(corpus, out, steps=8, stop_after=4))
    assert part.final_val is None and "final" not in part.history[-1]
    resumed = train(small(corpus, out, steps=8, resume=True))
    assert resumed.final_val == score_checkpoint(load_checkpoint(out / "best.npz"), split="val").nats
    assert resumed.history[-1]["seconds"] >= part.history[-1]["seconds"]


def test_evaluate_refuses_a_changed_corpus_and_a_missing_part_in_one_line(corpus, tmp_path):
    copy = tmp_path / "corpus.txt"
    copy.write_text(Path(corpus).read_text())
    out = tmp_path / "run"
    train(small(str(copy), out, steps=4, split="0.9,0.1"))
    best = out / "best.npz"
    one_line_error(cli("evaluate", "--checkpoint", best, "--split", "test"), "no test part", "--corpus")
    one_line_error(cli("evaluate", "--checkpoint", best), "--corpus", "--split")
    one_line_error(cli("evaluate", "--checkpoint", best, "--split", "val", "--corpus", copy), "--corpus")
    one_line_error(cli("evaluate", "--checkpoint", best, "--split", "dev"), "invalid choice")
    copy.write_text(copy.read_text() + "one more line.\n")
    one_line_error(cli("evaluate", "--checkpoint", best, "--split", "val"), str(copy), "sha256", "--corpus")
    (tmp_path / "one.txt").write_text("t")
    one_line_error(cli("evaluate", "--checkpoint", best, "--corpus", tmp_path / "one.txt"), "at least two")


def test_a_checkpoint_from_before_splits_resumes_with_its_rounded_cut(corpus, tmp_path):
    """A run written before the split could be chosen keeps the cut it had (at the nearest token): resumed,
    it ends with the weights of an uninterrupted run with that cut."""
    text = Path(corpus).read_text()
    cuts = [[len(p) for p in split_stream(np.arange(len(text)), cut=cut)] for cut in ("round", "floor")]
    assert cuts[0][0] // 4 != cuts[1][0] // 4  # a corpus where the cuts give other streams of batch 4
    train(small(corpus, tmp_path / "full", steps=8, split=SPLIT_BEFORE))
    out = tmp_path / "old"
    train(small(corpus, out, steps=8, stop_after=4, split=SPLIT_BEFORE))  # then written without the new keys
    ck = load_checkpoint(out / "last.npz")
    for key in ("split", "val_corpus", "patience"):
        del ck.config["train"][key]
    del ck.config["val_corpus_sha256"]
    save_checkpoint(out / "last.npz", model=ck.model, optimizer=ck.optimizer, rng_state=ck.rng_state,
                    vocab=ck.vocab, config=ck.config, progress=ck.progress)
    assert check_training(load_checkpoint(out / "last.npz")).split == SPLIT_BEFORE
    train(small(corpus, out, steps=8, resume=True))
    a, b = load_checkpoint(tmp_path / "full" / "last.npz").model, load_checkpoint(out / "last.npz").model
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
