"""``TrainConfig``: every setting of a training run. Each field carries its own help text and, where
it has them, its choices (read from the one list that defines them); the command line's
``autograd-rnn train`` options are generated from these fields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..nodes import CELLS
from ..optim import OPTIMIZERS, SCHEDULES

LEVELS = ("char", "word")
BATCHINGS = ("stream", "lines")
DTYPES = ("float32", "float64")
DEFAULT_CORPUS_STEPS = 4000
"""Optimizer steps on the built-in corpus when neither steps nor epochs is given (about three
minutes on two cores); on another corpus the default is one epoch."""


def option(default, help: str, *, choices=None, positive: bool = False, group: str | None = None,
           cli: bool = True, flag: str | None = None, many: bool = False, convert=None):
    """A config field with what the command line needs to offer it: help text, choices, whether the
    value must be > 0, a mutually exclusive group, the flag's name (default ``--field-name``),
    whether the flag may be repeated (``many``; the values are collected in a list) and a function
    that turns what the command line collected into the field's value (``convert``)."""
    meta = {"help": help, "choices": choices, "positive": positive, "group": group, "cli": cli, "flag": flag,
            "many": many, "convert": convert}
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

    corpus: str | None = option(None, "UTF-8 text file (default: the built-in standard-library docstrings)")
    level: str = option("char", "tokens are characters or words", choices=LEVELS)
    batching: str = option("stream", "stream: one text cut into --batch parallel streams, state carried across "
                           "chunks (char-rnn); lines: each line its own sequence with <s> </s>, padded and masked",
                           choices=BATCHINGS)
    cell: str | type = option("lstm", f"recurrent cell: {', '.join(CELLS)}, or your own Cell subclass named as "
                              f"package.module:Class or path/to/file.py:Class (naming it trusts its code)")
    cell_options: dict = option({}, "a constructor option of the cell, KEY=VALUE (VALUE read as JSON when it parses); "
                                "repeat for more", flag="--cell-option", many=True, convert=parse_options)
    check_cell: bool = option(True, "before training a custom cell, check its gradients with gradcheck_sequence on a "
                              "tiny float64 instance", flag="--no-check-cell")
    allow_import: list = option([], "trust the code of a custom cell that a checkpoint names (a module, a package "
                                "above it, or a .py file) when resuming; repeat for more", many=True,
                                convert=lambda v: list(v or ()))
    embed: int = option(64, "embedding size", positive=True)
    hidden: int = option(256, "hidden size", positive=True)
    layers: int = option(1, "stacked recurrent layers", positive=True)
    dropout: float = option(0.0, "dropout probability between layers (needs --layers 2 or more)")
    one_hot: bool = option(False, "feed one-hot vectors instead of an embedding (the tutorial)")
    seq_len: int = option(64, "time steps per chunk (stream)", positive=True)
    batch: int = option(32, "sequences per batch", positive=True)
    optimizer: str = option("adam", "optimizer", choices=tuple(OPTIMIZERS))
    lr: float | None = option(None, "learning rate (default: the optimizer's: sgd 0.005, adam 2e-3, adamw 5e-4, ...)",
                              positive=True)
    weight_decay: float | None = option(None, "L2 (decoupled for adamw; default 0.01 for adamw, else 0)")
    clip: float | None = option(5.0, "clip the global gradient norm to this (0 or none: off)")
    clip_value: float | None = option(None, "also clamp every gradient element to [-X, X]")
    truncation: str = option("full", "BPTT inside a chunk: full, lookback:K (the tutorial's bptt_truncate) or "
                             "tbptt:K1,K2")
    schedule: str = option("none", "learning rate: " + ", ".join(SCHEDULES) + " (halve: when validation loss rises)")
    steps: int | None = option(None, f"optimizer steps (default {DEFAULT_CORPUS_STEPS} on the built-in corpus, one "
                               f"epoch otherwise)", positive=True, group="length")
    epochs: float | None = option(None, "passes over the training split", positive=True, group="length")
    eval_every: int = option(250, "validate, sample and checkpoint every N steps", positive=True)
    eval_tokens: int = option(60_000, "validation tokens per evaluation", positive=True)
    sample_length: int = option(200, "tokens in each periodic sample")
    temperature: float = option(0.8, "sampling temperature of the periodic samples", positive=True)
    dtype: str = option("float32", "float32 trains faster", choices=DTYPES)
    max_vocab: int | None = option(None, "vocabulary size cap with <unk> (default 8000 for words, none for chars)",
                                   positive=True)
    lowercase: bool = option(False, "lowercase the text before building the vocabulary")
    out: str = option("runs/latest", "directory for last.npz, best.npz, loss_curve.png, history.json")
    resume: bool = option(False, "continue from --out/last.npz with the checkpoint's settings; only "
                          "--steps/--epochs may extend the run")
    seed: int = option(0, "makes a run reproducible bit for bit")
    progress: bool = option(True, "show a progress bar", flag="--no-progress")
    plot: bool = option(True, "draw loss_curve.png (needs matplotlib)", flag="--no-plot")
    stop_after: int | None = option(None, "act as if Ctrl-C came after this step (for tests)", cli=False)


RESUME_OWN = ("steps", "epochs", "out", "resume", "progress", "plot", "stop_after", "allow_import", "check_cell")
"""The fields a resumed run takes from the command line; every other setting comes from the checkpoint."""
