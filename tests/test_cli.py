"""The command line: every verb has --help, train documents every option, the verbs work together."""

import subprocess
import sys

import pytest

from autograd_rnn.cli import main

TRAIN_OPTIONS = ["--corpus", "--level", "--batching", "--cell", "--embed", "--hidden", "--layers", "--dropout",
                 "--seq-len", "--batch", "--optimizer", "--lr", "--weight-decay", "--clip", "--truncation", "--steps",
                 "--epochs", "--eval-every", "--dtype", "--out", "--resume", "--seed"]


def run(*args, check=True):
    result = subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("verb", ["train", "sample", "evaluate", "gradcheck", "bench", "export", "plot"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as e:
        main([verb, "--help"])
    assert e.value.code == 0
    assert "usage: autograd-rnn " + verb in capsys.readouterr().out


def test_train_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    missing = [o for o in TRAIN_OPTIONS if o not in text]
    assert not missing, missing
    for choice in ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw", "lookback:K", "tbptt:K1,K2"):
        assert choice in text


def test_flags_that_turn_something_off_say_so(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag, what in [("--no-progress", "show a progress bar"), ("--no-plot", "draw loss_curve.png"),
                       ("--no-check-cell", "before training a custom cell"),
                       ("--no-flow", "at each evaluation, measure how the gradient falls off"),
                       ("--no-tensorboard", "write the metrics as TensorBoard scalars")]:
        assert f"{flag} turns off what is on by default: {what}" in text
    assert "(default: True)" not in text and "(default: False)" not in text


def test_gradcheck_prints_a_passing_table():
    result = run("gradcheck", "--cases", "1")
    assert "all passed" in result.stdout and "FAIL" not in result.stdout
    for name in ("MultiplyGate", "SoftmaxCrossEntropy", "SequenceGate", "GRULayer LookBack(2) composed"):
        assert name in result.stdout


def test_train_sample_evaluate_round_trip(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a small corpus of repeated words, and some more words to learn from.\n" * 60)
    out = tmp_path / "run"
    result = run("train", "--corpus", str(corpus), "--hidden", "16", "--batch", "4", "--seq-len", "16",
                 "--steps", "10", "--eval-every", "5", "--out", str(out), "--no-progress")
    assert "validation" in result.stderr and "bits per token" in result.stderr and "perplexity" in result.stderr
    assert "--- sample ---" in result.stderr
    sample = run("sample", "--checkpoint", str(out / "best.npz"), "--prime", "a small", "--length", "30", "--seed", "1")
    assert sample.stdout.startswith("a small")
    again = run("sample", "--checkpoint", str(out / "best.npz"), "--prime", "a small", "--length", "30", "--seed", "1")
    assert again.stdout == sample.stdout
    evaluation = run("evaluate", "--checkpoint", str(out / "last.npz"), "--corpus", str(corpus))
    assert "bits per token" in evaluation.stdout and "perplexity" in evaluation.stdout


def test_missing_corpus_is_a_clear_error(tmp_path):
    result = run("train", "--corpus", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o"), check=False)
    assert result.returncode == 2 and "nope.txt" in result.stderr and "Traceback" not in result.stderr


def test_unseen_characters_are_unk_by_default_and_a_clear_error_without_it(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabcabc " * 50)
    tiny = ["--corpus", str(corpus), "--hidden", "8", "--batch", "2", "--seq-len", "8", "--steps", "2",
            "--eval-every", "2", "--no-progress"]
    run("train", *tiny, "--out", str(tmp_path / "run"))
    other = tmp_path / "other.txt"
    other.write_text("xyz abc")
    result = run("evaluate", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--corpus", str(other))
    assert "(3 unknown to the vocabulary" in result.stdout and "bits per token" in result.stdout
    sample = run("sample", "--checkpoint", str(tmp_path / "run" / "last.npz"), "--prime", "xyz", "--length", "5")
    assert sample.stdout.startswith("xyz")
    run("train", *tiny, "--out", str(tmp_path / "nounk"), "--no-unk")
    result = run("evaluate", "--checkpoint", str(tmp_path / "nounk" / "last.npz"), "--corpus", str(other),
                 check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "'x'" in result.stderr
    assert "max_size" not in result.stderr and "<unk>" in result.stderr


def test_default_corpus_main_job_starts(tmp_path):
    result = run("train", "--steps", "3", "--eval-every", "3", "--hidden", "16", "--out", str(tmp_path / "d"),
                 "--no-progress")
    assert "standard library" in result.stderr and "validation" in result.stderr


def test_no_command_prints_help():
    result = run(check=False)
    assert result.returncode == 2 and "train" in result.stdout


BLOCK_EXTRAS = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"hypothesis", "tqdm", "matplotlib", "torch", "pytest"}:
            raise ImportError(f"{name} is made unimportable for this test")
sys.meta_path.insert(0, Blocked())
"""


def test_gradcheck_needs_only_numpy():
    """`autograd-rnn gradcheck` and `import autograd_rnn` with every extra made unimportable."""
    code = BLOCK_EXTRAS + "from autograd_rnn.cli import main\nsys.exit(main(['gradcheck', '--cases', '1']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "all passed" in result.stdout and "SequenceGate" in result.stdout
    code = BLOCK_EXTRAS + "import hypothesis"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0


def test_train_options_are_the_config_fields():
    import dataclasses

    from autograd_rnn.cli import config_from_args, parser
    from autograd_rnn.train import TrainConfig

    args = parser().parse_args(["train"])
    cli = {f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True)}
    assert cli <= set(vars(args)), cli - set(vars(args))
    assert config_from_args(args, TrainConfig) == TrainConfig()
    args = parser().parse_args(["train", "--no-progress", "--clip", "none", "--steps", "7", "--cell", "gru",
                                "--cell-option", "activation=relu", "--cell-option", "k=3", "--allow-import", "m"])
    cfg = config_from_args(args, TrainConfig)
    assert (cfg.progress, cfg.clip, cfg.steps, cfg.cell) == (False, None, 7, "gru")
    assert cfg.cell_options == {"activation": "relu", "k": 3} and cfg.allow_import == ["m"]
