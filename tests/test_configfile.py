"""Config files: ``train --config FILE.toml`` (TrainConfig's fields by name, every wrong key or value refused in
one line naming the file and the key, the flags given on the command line over the file), the resolved
config.toml a run keeps (it trains the same run again), and the recipes shipped in recipes/."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.cli import parser, train_config_of
from autograd_rnn.errors import ConfigError
from autograd_rnn.train import TrainConfig
from autograd_rnn.train.configfile import config_toml, read_config, settable

from .corpora import word_corpus
from .test_evaluation import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return word_corpus(tmp_path_factory.mktemp("corpus") / "small.txt", lines=400)


def toml(tmp_path, text: str, name: str = "recipe.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_of(*argv) -> TrainConfig:
    return train_config_of(parser().parse_args(["train", *map(str, argv)]))


# ----- reading -------------------------------------------------------------------------------------------------------
def test_a_file_sets_the_fields_by_name(tmp_path):
    path = toml(tmp_path, 'cell = "gru"\nhidden = 24\nlr = 1\nclip = "none"\nschedule = "warmcos:10,0.1"\n'
                          'split = "nanogpt"\nlocked_dropout = true\nallow_import = ["m"]\n'
                          '[cell_options]\nk = 3\n')
    cfg = config_of("--config", path)
    assert (cfg.cell, cfg.hidden, cfg.lr, cfg.clip, cfg.schedule, cfg.split) == ("gru", 24, 1.0, None,
                                                                                  "warmcos:10,0.1", "nanogpt")
    assert cfg.locked_dropout is True and cfg.allow_import == ["m"] and cfg.cell_options == {"k": 3}
    assert isinstance(cfg.lr, float)  # an integer where a number goes is that number
    assert cfg == dataclasses.replace(TrainConfig(), **read_config(path))


@pytest.mark.parametrize("line, words", [
    ('seq_len = "64"', ["seq_len", "expected an integer"]),
    ("seq_len = 6.4", ["seq_len", "expected an integer"]),
    ("hidden = true", ["hidden", "expected an integer"]),
    ('lr = "fast"', ["lr", "expected a number"]),
    ("lr = nan", ["lr", "finite"]),
    ("tie_weights = 1", ["tie_weights", "true or false"]),
    ('cell_options = "k=3"', ["cell_options", "dict"]),
    ('allow_import = "m"', ["allow_import", "list"]),
    ('threads = 2', ["threads", "expected a string"]),
    ('corpus = ["a"]', ["corpus", "expected a string"]),
    ("hidden = 0", ["hidden", "> 0"]),
    ("dropout = 1.0", ["dropout", "less than 1"]),
    ("hidden = 20000", ["hidden", "above the limit", "--no-limits"]),
    ('optimizer = "adamx"', ["optimizer", "expected one of"]),
    ('batching = "words"', ["batching", "stream, lines"]),
    ('truncation = "lookback:x"', ["truncation"]),
    ('schedule = "warmcos:x"', ["schedule"]),
    ('split = "0.5,0.6"', ["split", "sum to 1"]),
    ('cell = "foo"', ["cell", "lstm"]),
    ("cell_options = { 1k = 2 }", ["cell_options", "Python names"]),
    ("seq-len = 64", ["unknown key 'seq-len'", "did you mean seq_len?"]),
    ("colour = 3", ["unknown key 'colour'"]),
    ("stop_after = 3", ["unknown key 'stop_after'"]),
    ("resume = true", ["resume", "pass --resume"]),
    ("hidden = ", ["not valid TOML", "line 1"]),
    ('steps = 1\n[model]\nhidden = 3', ["unknown key 'model'"]),
])
def test_every_wrong_key_or_value_is_one_line_naming_the_file_and_the_key(tmp_path, line, words):
    path = toml(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as e:
        read_config(path)
    for word in [str(path), *words]:
        assert word in str(e.value), (word, str(e.value))
    one_line_error(cli("train", "--config", path, "--out", tmp_path / "o"), str(path), *words)


def test_the_limits_are_lifted_by_the_file_or_the_command_line(tmp_path):
    big = toml(tmp_path, "hidden = 20000\n")
    assert read_config(big, no_limits=True)["hidden"] == 20000
    assert read_config(toml(tmp_path, "hidden = 20000\nno_limits = true\n", "lifted.toml"))["hidden"] == 20000
    assert config_of("--config", big, "--no-limits").hidden == 20000


def test_files_that_cannot_be_read_are_one_line(tmp_path):
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "latin1.toml").write_bytes(b'corpus = "caf\xe9"\n')
    for path, words in [(tmp_path / "nope.toml", ["nope.toml", "does not exist"]),
                        (tmp_path / "folder.toml", ["folder.toml", "directory"]),
                        (tmp_path / "latin1.toml", ["latin1.toml", "not UTF-8"])]:
        one_line_error(cli("train", "--config", path, "--out", tmp_path / "o"), "--config", *words)
    one_line_error(cli("train", "--config", toml(tmp_path, "hidden = 8\n"), "--resume", "--out", tmp_path / "o"),
                   "--config", "--resume")


# ----- the command line over the file --------------------------------------------------------------------------------
def test_the_flags_given_win_over_the_file_even_at_their_default_values(tmp_path):
    path = toml(tmp_path, 'hidden = 24\nseq_len = 16\nprogress = false\nunk = false\nclip = "none"\n'
                          'allow_import = ["a"]\ncell = "gru"\n[cell_options]\nk = 1\n')
    cfg = config_of("--config", path)
    assert (cfg.hidden, cfg.seq_len, cfg.progress, cfg.unk, cfg.clip, cfg.cell) == (24, 16, False, False, None, "gru")
    cfg = config_of("--config", path, "--hidden", 12, "--seq-len", 64, "--clip", 5, "--cell", "lstm")
    assert (cfg.hidden, cfg.seq_len, cfg.clip, cfg.cell) == (12, 64, 5.0, "lstm")  # 64 and 5 are the defaults
    assert (cfg.progress, cfg.unk) == (False, False)  # what the command line left alone comes from the file
    cfg = config_of("--config", path, "--allow-import", "b", "--allow-import", "c", "--cell-option", "k=2")
    assert cfg.allow_import == ["b", "c"] and cfg.cell_options == {"k": 2}  # a repeated option replaces the list
    assert config_of("--hidden", 12) == TrainConfig(hidden=12)  # without --config, nothing changes


def test_steps_or_epochs_on_the_command_line_set_aside_the_files_other_length(tmp_path):
    """--steps and --epochs are one choice: the command line's wins over the file's, whichever the file names."""
    epochs, steps = toml(tmp_path, "epochs = 3.0\n", "epochs.toml"), toml(tmp_path, "steps = 7\n", "steps.toml")
    assert (config_of("--config", epochs, "--steps", 5).steps, config_of("--config", epochs, "--steps", 5).epochs) \
        == (5, None)
    assert (config_of("--config", steps, "--epochs", 2).steps, config_of("--config", steps, "--epochs", 2).epochs) \
        == (None, 2.0)
    assert (config_of("--config", epochs).steps, config_of("--config", epochs).epochs) == (None, 3.0)
    one_line_error(cli("train", "--config", toml(tmp_path, "steps = 7\nepochs = 1.0\n", "both.toml"), "--out",
                       tmp_path / "o"), "--steps and --epochs")


def test_a_config_file_trains_the_run_its_flags_would(corpus, tmp_path):
    path = toml(tmp_path, f'corpus = "{corpus}"\nhidden = 12\nembed = 8\nbatch = 4\nseq_len = 16\nsteps = 6\n'
                          f'eval_every = 3\nsample_length = 5\nprogress = false\nplot = false\ncell = "lnlstm"\n'
                          f'schedule = "warmcos:2,0.1"\n')
    assert cli("train", "--config", path, "--out", tmp_path / "a").returncode == 0
    assert cli("train", "--corpus", corpus, "--hidden", 12, "--embed", 8, "--batch", 4, "--seq-len", 16, "--steps",
               6, "--eval-every", 3, "--sample-length", 5, "--no-progress", "--no-plot", "--cell", "lnlstm",
               "--schedule", "warmcos:2,0.1", "--out", tmp_path / "b").returncode == 0
    a, b = load_checkpoint(tmp_path / "a" / "last.npz"), load_checkpoint(tmp_path / "b" / "last.npz")
    for k in a.model:
        np.testing.assert_array_equal(a.model[k], b.model[k], err_msg=k)


# ----- the resolved config a run keeps -------------------------------------------------------------------------------
def test_the_saved_config_trains_the_same_run_again_bit_for_bit(corpus, tmp_path):
    """Every setting that is not its default, an optional one unset (--clip none), a cell option, a split: the
    config.toml of the run rebuilds its config exactly, and training with it gives the same weights."""
    first = cli("train", "--corpus", corpus, "--cell", "examples/cells.py:IndRNN", "--cell-option",
                "activation=tanh", "--hidden", 12, "--embed", 8, "--batch", 4, "--seq-len", 16, "--steps", 6,
                "--eval-every", 3, "--clip", "none", "--lr", "0.003", "--schedule", "warmcos:2,0.1", "--split",
                "0.8,0.1,0.1", "--dropout-output", 0.2, "--locked-dropout", "--seed", 5, "--no-check-cell",
                "--no-progress", "--no-plot", "--out", tmp_path / "a", cwd=ROOT)
    assert first.returncode == 0, first.stderr
    saved = tmp_path / "a" / "config.toml"
    ck = load_checkpoint(tmp_path / "a" / "last.npz")
    expected = {k: v for k, v in ck.config["train"].items() if k in settable() and k != "out"}
    assert read_config(saved) == {k: v for k, v in expected.items() if v is not None or k == "clip"}
    again = cli("train", "--config", saved, "--out", tmp_path / "b", cwd=tmp_path)  # another folder, another cwd
    assert again.returncode == 0, again.stderr
    b = load_checkpoint(tmp_path / "b" / "last.npz")
    for k in ck.model:
        np.testing.assert_array_equal(ck.model[k], b.model[k], err_msg=k)
    assert b.config["train"] == {**ck.config["train"], "out": str(tmp_path / "b")}
    assert (tmp_path / "b" / "config.toml").read_text().splitlines()[2:] == saved.read_text().splitlines()[2:]


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
VALUES = st.fixed_dictionaries({
    "corpus": st.none() | TEXT.filter(bool), "lr": st.none() | st.floats(1e-12, 1e3),
    "clip": st.none() | st.floats(0, 1e3), "seed": st.integers(0, 2**63 - 1), "dropout": st.floats(0, 0.999),
    "cell_options": st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True),
                                    st.integers() | st.booleans() | TEXT | st.lists(st.floats(-1e9, 1e9)), max_size=3),
    "allow_import": st.lists(TEXT.filter(bool), max_size=3), "threads": st.none() | st.sampled_from(["auto", "1"]),
    "locked_dropout": st.booleans(), "split": st.none() | st.sampled_from(["nanogpt", "0.8,0.1,0.1", "1,0"]),
})


@settings(max_examples=80, deadline=None)
@given(values=VALUES)
def test_the_toml_written_reads_back_as_the_same_settings(tmp_path_factory, values):
    cfg = dataclasses.replace(TrainConfig(), **values)
    path = tmp_path_factory.mktemp("toml") / "config.toml"
    path.write_text(config_toml(dataclasses.asdict(cfg), "a header\nof two lines"), encoding="utf-8")
    back = dataclasses.replace(TrainConfig(), **read_config(path))
    assert dataclasses.replace(back, out=cfg.out, resume=cfg.resume, stop_after=cfg.stop_after) == cfg


def test_a_value_toml_cannot_hold_becomes_a_comment(tmp_path):
    text = config_toml({"cell_options": {"k": None}, "hidden": 12})
    assert "# cell_options:" in text and "hidden = 12" in text
    assert read_config(toml(tmp_path, text)) == {"hidden": 12}


# ----- the recipes ---------------------------------------------------------------------------------------------------
def test_the_recipes_read_and_say_what_they_are_for():
    assert {p.name for p in RECIPES} >= {"shakespeare-3min.toml", "shakespeare-10min.toml", "names-lines.toml"}
    for path in RECIPES:
        cfg = dataclasses.replace(TrainConfig(), **read_config(path)).validate()
        text = path.read_text()
        assert "# measured: " in text and "autograd-rnn train --config recipes/" in text
        assert cfg.cell == "lnlstm"
    shakespeare = [p for p in RECIPES if p.name.startswith("shakespeare")]
    assert all(read_config(p)["split"] == "nanogpt" for p in shakespeare)
    assert read_config(ROOT / "recipes" / "names-lines.toml")["batching"] == "lines"


def test_the_names_recipe_trains_a_list_of_names_line_by_line(tmp_path):
    rng = np.random.default_rng(0)
    parts = ["an", "na", "el", "la", "ri", "mo", "ja", "son", "ka", "li", "th", "or", "be", "ck", "em", "ma"]
    names = sorted({"".join(rng.choice(parts, size=rng.integers(2, 5))) for _ in range(1500)})
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    result = cli("train", "--config", ROOT / "recipes" / "names-lines.toml", "--corpus", tmp_path / "names.txt",
                 "--hidden", 16, "--embed", 8, "--epochs", 1, "--eval-every", 5, "--out", tmp_path / "run",
                 "--no-progress", "--no-plot")
    assert result.returncode == 0, result.stderr
    assert "lines of the corpus's" in result.stderr and "16 lines at a time" in result.stderr
    assert "the run stops after 4 evaluations in a row" in result.stderr
    ck = load_checkpoint(tmp_path / "run" / "last.npz")
    assert ck.config["train"]["batching"] == "lines" and ck.config["model"]["weight_drop"] == 0.2
    assert "final" in ck.progress["history"][-1]
