"""``TrainConfig``: every setting of a training run. Each field carries its own help text and, where
it has them, its choices (read from the one list that defines them); the command line's
``autograd-rnn train`` options are generated from these fields."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import typing
from dataclasses import dataclass, field

import numpy as np

from ..cellspec import parse_spec
from ..data import MAX_CORPUS_BYTES, parse_split
from ..errors import ConfigError, DataError
from ..models import LanguageModel
from ..nodes import CELLS, Cell
from ..optim import OPTIMIZERS, SCHEDULES, parse_schedule
from ..sequence import parse_truncation
from ..threads import ENV as THREADS_ENV
from ..threads import parse as parse_threads

MODEL_ARGS = tuple(n for n, p in inspect.signature(LanguageModel).parameters.items() if p.kind is not p.VAR_KEYWORD)

MODEL_OPTIONS = ("dropout_input", "dropout_output", "locked_dropout", "dropout_embed", "weight_drop", "tie_weights")
"""The config fields passed to LanguageModel under their own names (its other arguments have
names of their own here: embed, hidden, ...); a checkpoint stores them in its model config."""
MODEL_DEFAULTS = {n: inspect.signature(LanguageModel).parameters[n].default for n in MODEL_OPTIONS}
"""Their values in a model built without them (and in a checkpoint written before they existed)."""

MAX_PARAMETERS = 200_000_000
MAX_STEP_GB = 8

LEVELS = ("char", "word")
BATCHINGS = ("stream", "lines")
DTYPES = ("float32", "float64")
DEFAULT_CORPUS_STEPS = 4000
"""Optimizer steps on the built-in corpus when neither steps nor epochs is given (about three
minutes on two cores); on another corpus the default is one epoch."""


def option(default, help: str, *, choices=None, positive: bool = False, low=None, below=None, limit=None,
           group: str | None = None, cli: bool = True, flag: str | None = None, many: bool = False, convert=None,
           metavar: str | None = None):
    """A config field with what checking it and the command line need: help text, choices, the
    range of a number (``positive``: > 0; ``low``: at least; ``below``: less than; ``limit``: a
    sanity limit that ``no_limits`` lifts), a mutually exclusive group, the flag's name (default
    ``--field-name``), whether the flag may be repeated (``many``: the values are collected in a
    list), a function that turns what the command line collected into the value (``convert``)
    and the name of the value in ``--help`` (``metavar``; default N for an integer, X for a
    number, the field's name otherwise)."""
    meta = {"help": help, "choices": choices, "positive": positive, "low": low, "below": below, "limit": limit,
            "group": group, "cli": cli, "flag": flag, "many": many, "convert": convert, "metavar": metavar}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def parse_options(pairs: list[str] | None) -> dict:
    """``["KEY=VALUE", ...]`` -> a dict; each value is read as JSON when it parses (numbers, true,
    null, lists), else kept as a string."""
    out = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"--cell-option {pair!r}; expected KEY=VALUE with KEY a Python name")
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


@dataclass
class TrainConfig:
    """Every option of ``autograd-rnn train`` (see ``autograd-rnn train --help``)."""

    corpus: str | None = option(None, "UTF-8 text file (default: the built-in standard-library docstrings)",
                                metavar="PATH")
    level: str = option("char", "tokens are characters or words", choices=LEVELS)
    batching: str = option("stream", "stream: one text cut into --batch parallel streams, state carried across "
                           "chunks (char-rnn); lines: each line its own sequence with <s> </s>, padded and masked",
                           choices=BATCHINGS)
    cell: str | type = option("lstm", f"recurrent cell: {', '.join(CELLS)}, or your own Cell subclass named as "
                              f"package.module:Class or path/to/file.py:Class (naming it trusts its code)",
                              metavar="CELL")
    cell_options: dict = option({}, "a constructor option of the cell, KEY=VALUE (VALUE read as JSON when it parses); "
                                "repeat for more", flag="--cell-option", many=True, convert=parse_options,
                                metavar="KEY=VALUE")
    check_cell: bool = option(True, "before training a custom cell, check its gradients with gradcheck_sequence on a "
                              "tiny float64 instance", flag="--no-check-cell")
    allow_import: list = option([], "trust the code of a custom cell that a checkpoint names (a module, a package "
                                "above it, or a .py file) when resuming; repeat for more", many=True,
                                convert=lambda v: list(v or ()), metavar="SOURCE")
    embed: int = option(64, "embedding size", positive=True, limit=16384)
    hidden: int = option(256, "hidden size", positive=True, limit=16384)
    layers: int = option(1, "stacked recurrent layers", positive=True, limit=64)
    dropout: float = option(0.0, "dropout probability between layers (needs --layers 2 or more)", low=0.0, below=1.0)
    one_hot: bool = option(False, "feed one-hot vectors instead of an embedding (the tutorial)")
    seq_len: int = option(64, "time steps per chunk (stream)", positive=True, limit=65536)
    batch: int = option(32, "sequences per batch", positive=True, limit=16384)
    optimizer: str = option("adam", "optimizer", choices=tuple(OPTIMIZERS))
    lr: float | None = option(None, "learning rate (default: the optimizer's: sgd 0.005, adam 2e-3, adamw 5e-4, ...)",
                              positive=True)
    weight_decay: float | None = option(None, "L2 (decoupled for adamw; default 0.01 for adamw, else 0)", low=0.0)
    clip: float | None = option(5.0, "clip the global gradient norm to this (0 or none: off)", low=0.0)
    clip_value: float | None = option(None, "also clamp every gradient element to [-X, X]", positive=True)
    truncation: str = option("full", "BPTT inside a chunk: full, lookback:K (the tutorial's bptt_truncate) or "
                             "tbptt:K1,K2", metavar="POLICY")
    schedule: str = option("none", "learning rate: " + ", ".join(SCHEDULES) + " (halve: when validation loss rises; "
                           "warmcos: linear warm-up over WARMUP steps, then cosine to FLOOR times the lr)",
                           metavar="SCHEDULE")
    steps: int | None = option(None, f"optimizer steps (default {DEFAULT_CORPUS_STEPS} on the built-in corpus, one "
                               f"epoch otherwise)", positive=True, limit=10**8, group="length")
    epochs: float | None = option(None, "passes over the training split", positive=True, limit=10**5, group="length")
    eval_every: int = option(250, "validate, sample and checkpoint every N steps", positive=True)
    eval_tokens: int = option(60_000, "validation tokens per evaluation", positive=True)
    sample_length: int = option(200, "tokens in each periodic sample", low=0, limit=10**6)
    temperature: float = option(0.8, "sampling temperature of the periodic samples", positive=True)
    dtype: str = option("float32", "float32 trains faster", choices=DTYPES)
    max_vocab: int | None = option(None, "vocabulary size cap with <unk> (default 8000 for words, none for chars)",
                                   low=2, limit=10**7)
    lowercase: bool = option(False, "lowercase the text before building the vocabulary")
    out: str | None = option(None, "folder for last.npz, best.npz, metrics.csv, history.json and the pictures "
                             "(default: a new folder runs/YYYYMMDD-HHMMSS for each run, with runs/latest pointing at "
                             "the newest); a folder that already holds a run is refused unless --resume continues it",
                             metavar="DIR")
    resume: bool = option(False, "continue from --out/last.npz (default: the run runs/latest points at) with the "
                          "checkpoint's settings; only --steps/--epochs may extend the run")
    seed: int = option(0, "makes a run reproducible bit for bit, whatever the threads and the machine's load", low=0,
                       below=2**63)
    threads: str | None = option(None, f"threads for matrix products: auto (every core) or N (default: {THREADS_ENV}, "
                                 f"else auto); the results are the same whatever the count")
    progress: bool = option(True, "show a progress bar", flag="--no-progress")
    plot: bool = option(True, "draw loss_curve.png and gradient_flow.png (needs matplotlib)", flag="--no-plot")
    no_limits: bool = option(False, f"lift the sanity limits on sizes (embed, hidden, layers, seq_len, batch, steps, "
                             f"...), on the model ({MAX_PARAMETERS:,} parameters), a step's memory ({MAX_STEP_GB} GB) "
                             f"and the corpus file ({MAX_CORPUS_BYTES:,} bytes)")
    stop_after: int | None = option(None, "act as if Ctrl-C came after this step (for tests)", positive=True,
                                    cli=False)
    unk: bool = option(True, "give a character vocabulary an <unk> token, so that a text with characters the corpus "
                       "lacks can be evaluated or used as a --prime (a word vocabulary has one whenever --max-vocab "
                       "caps it, as by default)", flag="--no-unk")
    dropout_input: float = option(0.0, "dropout probability on the first layer's inputs (the embedded tokens)",
                                  low=0.0, below=1.0)
    dropout_output: float = option(0.0, "dropout probability on the last layer's outputs, before the projection",
                                   low=0.0, below=1.0)
    locked_dropout: bool = option(False, "every dropout (--dropout-input, --dropout, --dropout-output) draws one mask "
                                  "per sequence, kept across its time steps (variational dropout)")
    dropout_embed: float = option(0.0, "embedding dropout: drop whole rows of the embedding table (every occurrence "
                                  "of a token in a batch) with this probability", low=0.0, below=1.0)
    weight_drop: float = option(0.0, "DropConnect on the recurrent weights weight_hh: each entry dropped with this "
                                "probability, one mask per batch", low=0.0, below=1.0)
    tie_weights: bool = option(False, "the output projection's weight is the embedding table (needs --embed equal to "
                               "--hidden)")
    # what the run shows of itself (train/watch.py); metrics.csv is always written
    flow: bool = option(True, "at each evaluation, measure how the gradient falls off with the distance back in time "
                        "on a fixed validation chunk (kept in history.json; about one training step's cost) and draw "
                        "gradient_flow.png", flag="--no-flow")
    tensorboard: bool = option(True, "write the metrics as TensorBoard scalars too (events.out.tfevents.autograd_rnn) "
                               "when the tensorboard package is installed", flag="--no-tensorboard")
    split: str | None = option(None, "TRAIN,VAL[,TEST] fractions of the corpus, each part cut below (int(n * f)) as "
                               "nanoGPT's prepare.py cuts, or a name: nanogpt (0.9,0.1: its split exactly, no test "
                               "part); with --batching lines the lines are shuffled (seed 0) first (default "
                               "0.9,0.05,0.05; with --val-corpus, all of the corpus trains)", metavar="SPLIT")
    val_corpus: str | None = option(None, "validate on this UTF-8 file instead of a part of --corpus; the vocabulary "
                                    "comes from --corpus, and tokens it lacks are read as <unk>", metavar="PATH")
    patience: int | None = option(None, "stop after N evaluations in a row without a better validation loss "
                                  "(best.npz keeps the best)", positive=True)

    def model_options(self) -> dict:
        """The regularisation options, as LanguageModel's keyword arguments."""
        return {k: getattr(self, k) for k in MODEL_OPTIONS}

    def validate(self) -> TrainConfig:
        """Check every field: its type, its range or choices, the limits unless ``no_limits``, the
        truncation, schedule and cell specs. Raises ConfigError naming the option, the value and
        what was expected; returns the config."""
        hints = typing.get_type_hints(TrainConfig)
        for f in dataclasses.fields(self):
            check_field(f, hints[f.name], getattr(self, f.name), self.no_limits)
        if self.steps is not None and self.epochs is not None:
            raise ConfigError("--steps and --epochs are both set; expected one of them (or neither)")
        if isinstance(self.out, str) and not self.out.strip():
            raise ConfigError("--out ''; expected a directory name")
        try:
            parse_truncation(self.truncation)
        except ValueError as e:
            raise ConfigError(f"--truncation: {e}") from None
        try:
            parse_schedule(self.schedule)
        except ValueError as e:
            raise ConfigError(f"--schedule: {e}") from None
        if isinstance(self.cell, str):
            parse_spec(self.cell)
        elif not (isinstance(self.cell, type) and issubclass(self.cell, Cell)):
            raise ConfigError(f"--cell {self.cell!r}; expected a name ({', '.join(CELLS)}, module:Class, "
                              f"file.py:Class) or a Cell subclass")
        if not all(isinstance(k, str) and k.isidentifier() for k in self.cell_options):
            raise ConfigError(f"--cell-option: keys {list(self.cell_options)}; expected Python names")
        taken = [k for k in self.cell_options if k in MODEL_ARGS]
        if taken:
            raise ConfigError(f"--cell-option {taken[0]}: the model sets that itself (its own options are "
                              f"{', '.join(MODEL_ARGS)}); a cell option is one of the cell constructor's own")
        if self.threads is not None:
            if not isinstance(self.threads, str):
                raise ConfigError(f"--threads {self.threads!r}; expected 'auto' or a whole number of threads (text)")
            parse_threads(self.threads, "--threads", 2**20 if self.no_limits else None)
        if self.tie_weights and (self.one_hot or self.embed != self.hidden):
            raise ConfigError("--tie-weights makes the embedding table the output projection's weight, so "
                              + ("it needs an embedding: drop --one-hot" if self.one_hot else
                                 f"--embed must equal --hidden; got --embed {self.embed} and --hidden {self.hidden}: "
                                 f"set --embed {self.hidden} (or --hidden {self.embed})"))
        self._check_validation()
        if not all(isinstance(a, str) and a for a in self.allow_import):
            raise ConfigError(f"--allow-import {self.allow_import!r}; expected module names or .py paths")
        return self

    def _check_validation(self) -> None:
        """The split, the validation file and their agreement."""
        if isinstance(self.val_corpus, str) and not self.val_corpus.strip():
            raise ConfigError("--val-corpus ''; expected a file name")
        if self.split is None:
            return
        try:
            fractions, _ = parse_split(self.split, "--split")
        except DataError as e:
            raise ConfigError(str(e)) from None
        if self.val_corpus is not None and fractions[1] > 0:
            raise ConfigError(f"--split {self.split} gives {fractions[1]:g} of the corpus to validation, and "
                              f"--val-corpus {self.val_corpus} validates on another file; set the split's validation "
                              f"fraction to 0 (e.g. --split 0.95,0,0.05) or drop one of them")

    def check_size(self, vocab_size: int, gates: int = 4, steps: int | None = None) -> None:
        """The model's size and a training step's memory against the limits (unless ``no_limits``),
        from the vocabulary size; ``gates``: the cell's gate blocks (4, an LSTM's, when unknown);
        ``steps``: the time steps of the longest batch (``seq_len`` when not given; with line
        batching, the longest line's)."""
        if self.no_limits:
            return
        E = vocab_size if self.one_hot else self.embed
        H, L = self.hidden, self.layers
        params = (0 if self.one_hot else vocab_size * E) + sum(
            gates * H * ((E if k == 0 else H) + H + 2) for k in range(L)) + vocab_size * (
            (0 if self.tie_weights else H) + 1)
        if params > MAX_PARAMETERS:
            raise ConfigError(f"the model would have about {params:,} parameters (vocabulary {vocab_size:,}, embed "
                              f"{E}, hidden {H}, layers {L}); the limit for a sane run is {MAX_PARAMETERS:,}: pass "
                              f"--no-limits to lift it")
        T = self.seq_len if steps is None else steps
        floats = T * self.batch * (L * (3 * gates + 4) * H + 3 * vocab_size + E)
        gb = floats * (4 if self.dtype == "float32" else 8) / 2**30
        if gb > MAX_STEP_GB:
            what = f"seq_len {T}" if steps is None or self.batching == "stream" else f"the longest line: {T:,} steps"
            raise ConfigError(f"a training step would hold about {gb:,.1f} GB of activations ({what}, batch "
                              f"{self.batch}, hidden {H}, layers {L}, vocabulary {vocab_size:,}); the limit for a sane "
                              f"run is {MAX_STEP_GB} GB: pass --no-limits to lift it")


def check_field(f: dataclasses.Field, annotation, value, no_limits: bool, name: str | None = None) -> None:
    """One field against its annotation and its option's metadata; ConfigError naming it as ``name``
    (default: its command-line flag)."""
    meta, flag = f.metadata, name or f.metadata.get("flag") or "--" + f.name.replace("_", "-")
    kinds = typing.get_args(annotation) or (annotation,)
    if value is None:
        if type(None) in kinds:
            return
        raise ConfigError(f"{flag} is None; expected a value")
    if bool in kinds:
        if not isinstance(value, bool):
            raise ConfigError(f"{flag} {value!r}; expected true or false (a bool)")
        return
    if int in kinds and float not in kinds:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ConfigError(f"{flag} {value!r}; expected an integer")
    elif float in kinds:
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ConfigError(f"{flag} {value!r}; expected a number")
        if not math.isfinite(value):
            raise ConfigError(f"{flag} {value!r}; expected a finite number")
    elif str in kinds and not isinstance(value, str) and not (type in kinds and isinstance(value, type)):
        raise ConfigError(f"{flag} {value!r}; expected a string")
    elif dict in kinds and not isinstance(value, dict):
        raise ConfigError(f"{flag} {value!r}; expected a dict")
    elif list in kinds and not isinstance(value, list | tuple):
        raise ConfigError(f"{flag} {value!r}; expected a list")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{flag} {value!r}; expected one of {', '.join(meta['choices'])}")
    if not isinstance(value, int | float | np.integer | np.floating):
        return
    if meta.get("positive") and not value > 0:
        raise ConfigError(f"{flag} {value!r}; expected a number > 0")
    if meta.get("low") is not None and value < meta["low"]:
        raise ConfigError(f"{flag} {value!r}; expected at least {meta['low']}")
    if meta.get("below") is not None and value >= meta["below"]:
        raise ConfigError(f"{flag} {value!r}; expected less than {meta['below']}")
    if meta.get("limit") is not None and value > meta["limit"] and not no_limits:
        raise ConfigError(f"{flag} {value!r} is above the limit {meta['limit']:,} for a sane run; pass --no-limits "
                          f"to lift it")


SPLIT_BEFORE = "round:0.9,0.05,0.05"
"""The split of a run whose checkpoint predates the ``split`` field: 0.9, 0.05, 0.05, cut at the
nearest token; such a run resumes, and ``evaluate --split`` scores it, with it."""

RESUME_OWN = ("steps", "epochs", "out", "resume", "progress", "plot", "stop_after", "allow_import", "check_cell",
              "threads", "no_limits", "flow", "tensorboard")
"""The fields a resumed run takes from the command line; every other setting comes from the checkpoint
(``threads`` too, when the command line leaves it unset)."""
