"""What a training checkpoint's metadata must look like, checked before anything is built from it:
types, ranges, required keys, and sizes that agree with the arrays stored beside them (so a
damaged or hand-edited ``hidden_size`` cannot make loading allocate terabytes)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..cellspec import parse_spec
from ..checkpoint import Checkpoint
from ..data import Vocabulary
from ..errors import AutogradRNNError, CheckpointError
from .config import DTYPES, MODEL_ARGS, MODEL_DEFAULTS, SPLIT_BEFORE, TrainConfig

MAX_LAYERS = 1024


def _fail(where: str, value, expected: str):
    shown = repr(value)
    raise CheckpointError(f"checkpoint: {where} is {shown[:80]}{'...' if len(shown) > 80 else ''}; expected {expected}")


def _get(d: dict, key: str, where: str):
    if not isinstance(d, dict):
        _fail(where, d, "a dict")
    if key not in d:
        raise CheckpointError(f"checkpoint: {where}.{key} is missing")
    return d[key]


def _int(d: dict, key: str, where: str, low: int, high: int) -> int:
    v = _get(d, key, where)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        _fail(f"{where}.{key}", v, f"an integer in [{low}, {high}]")
    return v


def _number(v, where: str, low: float, below: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not (math.isfinite(v) and low <= v < below):
        _fail(where, v, f"a finite number in [{low}, {below})")
    return v


def check_model(ck: Checkpoint) -> dict:
    """The ``config.model`` section, checked against the stored weights; returns it."""
    model = _get(ck.config, "model", "config")
    vocab = _int(model, "vocab_size", "config.model", 1, 10**8)
    cell = _get(model, "cell", "config.model")
    if not isinstance(cell, str):
        _fail("config.model.cell", cell, "a cell name or spec (a string)")
    parse_spec(cell)
    options = model.get("cell_options", {})
    if not isinstance(options, dict) or any(not isinstance(k, str) or k in MODEL_ARGS for k in options):
        _fail("config.model.cell_options", options,
              f"a dict of the cell's own options (none of {', '.join(MODEL_ARGS)})")
    one_hot = _get(model, "one_hot", "config.model")
    if not isinstance(one_hot, bool):
        _fail("config.model.one_hot", one_hot, "true or false")
    embed = _int(model, "embed_size", "config.model", 0 if one_hot else 1, 2**20)
    hidden = _int(model, "hidden_size", "config.model", 1, 2**20)
    _int(model, "layers", "config.model", 1, MAX_LAYERS)
    _number(_get(model, "dropout", "config.model"), "config.model.dropout", 0.0, 1.0)
    if _get(model, "dtype", "config.model") not in DTYPES:
        _fail("config.model.dtype", model["dtype"], f"one of {', '.join(DTYPES)}")
    for key, default in MODEL_DEFAULTS.items():
        value = model.get(key, default)
        if isinstance(default, bool) and not isinstance(value, bool):
            _fail(f"config.model.{key}", value, "true or false")
        if not isinstance(default, bool):
            _number(value, f"config.model.{key}", 0.0, 1.0)
    tied = model.get("tie_weights", False)
    if tied and (one_hot or embed != hidden):
        _fail("config.model.tie_weights", tied, f"false for embed {embed} and hidden {hidden} (tying needs them equal)")
    stored = sum(a.size for a in ck.model.values())
    if (0 if one_hot else vocab * embed) + vocab * ((0 if tied else hidden) + 1) > stored:
        raise CheckpointError(f"checkpoint: config.model says vocabulary {vocab}, embed {embed}, hidden {hidden}, "
                              f"which needs more weights than the {stored:,} values stored; the metadata is damaged")
    return model


def check_training(ck: Checkpoint) -> TrainConfig:
    """Every section a resumed run reads: the model, the training config (types, ranges and
    choices of every field), the vocabulary, the progress and the RNG states."""
    check_model(ck)
    check_vocab(ck)
    train = _get(ck.config, "train", "config")
    if not isinstance(train, dict):
        _fail("config.train", train, "a dict")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    train = {"split": SPLIT_BEFORE, **train}  # a run from before splits could be chosen: its cut
    try:
        cfg = TrainConfig(**{k: v for k, v in train.items() if k in fields})
        cfg = dataclasses.replace(cfg, no_limits=True).validate()
    except AutogradRNNError as e:
        raise CheckpointError(f"checkpoint: config.train: {e}") from None
    for key in ("corpus", "corpus_sha256"):
        if not isinstance(_get(ck.config, key, "config"), str):
            _fail(f"config.{key}", ck.config[key], "a string")
    if not isinstance(ck.config.get("val_corpus_sha256"), str | None):
        _fail("config.val_corpus_sha256", ck.config["val_corpus_sha256"], "a string or null")
    p = ck.progress
    total = _int(p, "total", "progress", 1, 10**12)
    _int(p, "schedule_total", "progress", 1, 10**12)
    _int(p, "step", "progress", 0, total)
    if not isinstance(_get(p, "history", "progress"), list) or not all(isinstance(h, dict) for h in p["history"]):
        _fail("progress.history", p["history"], "a list of dicts")
    best = _get(p, "best_val", "progress")
    if best is not None:
        _number(best, "progress.best_val", -math.inf, math.inf)
    ema = _get(p, "ema", "progress")
    if not (isinstance(ema, list) and len(ema) == 2):
        _fail("progress.ema", ema, "a list of two numbers")
    for v in ema:
        _number(v, "progress.ema", -math.inf, math.inf)
    for key in ("elapsed", "started"):  # absent from the checkpoints of earlier versions
        if p.get(key) is not None:
            _number(p[key], f"progress.{key}", 0.0, math.inf)
    for key in ("seconds", "tokens"):
        _number(p.get(key, 0.0), f"progress.{key}", 0.0, math.inf)
    if p.get("schedule") is not None and not isinstance(p["schedule"], dict):
        _fail("progress.schedule", p["schedule"], "a dict or null")
    _check_carry(_get(p, "carry", "progress"), ck.config["model"])
    rng = ck.rng_state
    if not isinstance(rng, dict) or set(rng) != {"model", "sample"}:
        _fail("rng_state", rng, "the states of the 'model' and 'sample' generators")
    for key, state in rng.items():
        try:
            np.random.default_rng().bit_generator.state = state
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"checkpoint: rng_state.{key} is not a generator's state ({e})") from None
    return cfg


def check_vocab(ck: Checkpoint) -> Vocabulary:
    try:
        vocab = Vocabulary.from_dict(ck.vocab)
    except (AutogradRNNError, TypeError, KeyError, AttributeError) as e:
        raise CheckpointError(f"checkpoint: the vocabulary is damaged ({e})") from None
    if len(vocab) != ck.config["model"]["vocab_size"]:
        raise CheckpointError(f"checkpoint: the vocabulary has {len(vocab)} tokens; config.model.vocab_size says "
                              f"{ck.config['model']['vocab_size']}")
    return vocab


def _check_carry(carry, model: dict) -> None:
    if carry is None:
        return
    if not isinstance(carry, list) or len(carry) != model["layers"]:
        _fail("progress.carry", carry, f"one state per layer ({model['layers']})")
    for k, layer in enumerate(carry):
        if not isinstance(layer, list) or not all(isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype.kind == "f"
                                                  and a.shape[1] == model["hidden_size"] for a in layer):
            _fail(f"progress.carry[{k}]", layer, f"arrays of shape (batch, {model['hidden_size']})")
        if not all(np.isfinite(a).all() for a in layer):
            raise CheckpointError(f"checkpoint: the state carried into the next chunk (progress.carry[{k}]) holds "
                                  f"NaN or infinity; the run cannot continue from it: use an earlier checkpoint")
