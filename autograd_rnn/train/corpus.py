"""The data of a run: the corpus text, its vocabulary, splits and batches for a config."""

from __future__ import annotations

import hashlib

import numpy as np

from ..data import (
    DEFAULT_SPLIT,
    MAX_CORPUS_BYTES,
    SPLITS,
    LineBatches,
    StreamBatches,
    Vocabulary,
    default_corpus,
    lines_of,
    load_text,
    parse_split,
    split_lines,
    split_stream,
)
from ..errors import ConfigError, DataError
from .config import BATCHINGS, LEVELS, TrainConfig
from .evaluate import evaluation_batches

LIFT = "pass --no-limits"
"""How a limit is lifted, said in the command line's terms (``no_limits=True`` in a TrainConfig)."""


def corpus_text(cfg: TrainConfig) -> tuple[str, str]:
    """(text, a name for messages) of the config's corpus, the built-in one by default. A corpus
    file above :data:`~autograd_rnn.data.MAX_CORPUS_BYTES` is refused unless ``no_limits``."""
    if cfg.corpus is None:
        return default_corpus(verbose=True), "default corpus (Python standard library docstrings)"
    return load_text(cfg.corpus, None if cfg.no_limits else MAX_CORPUS_BYTES, LIFT), str(cfg.corpus)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


PARTS = ("train", "val", "test")
"""The parts of a run's data, as ``autograd-rnn evaluate --split`` names them."""


def split_of(cfg: TrainConfig) -> tuple[tuple[float, float, float], str]:
    """The config's split of its corpus: (train, val, test) fractions and the cut (see
    :func:`~autograd_rnn.data.parse_split`); by default 0.9, 0.05, 0.05, or all of it for training
    when ``val_corpus`` is the validation text."""
    if cfg.split is not None:
        return parse_split(cfg.split)
    return ((1.0, 0.0, 0.0) if cfg.val_corpus is not None else DEFAULT_SPLIT), "floor"


def split_text(cfg: TrainConfig) -> str:
    """The config's split in words: its name or fractions, and where the cuts fall."""
    if cfg.split is None and cfg.val_corpus is not None:
        return "none: all of the corpus trains, the validation text is --val-corpus"
    fractions, cut = split_of(cfg)
    shown = ",".join(f"{f:g}" for f in (fractions if fractions[2] else fractions[:2]))
    name = (cfg.split or "").strip().lower().removeprefix("round:").strip()
    return (f"{name} = " if name in SPLITS else "") + shown + ("" if cfg.split else " (the default)") + (
        ", cut below: int(n * fraction)" if cut == "floor" else ", cut at the nearest index")


def val_corpus_text(cfg: TrainConfig) -> str | None:
    """The text of ``val_corpus`` (None without one), read with the corpus's bounds."""
    if cfg.val_corpus is None:
        return None
    try:
        return load_text(cfg.val_corpus, None if cfg.no_limits else MAX_CORPUS_BYTES, LIFT)
    except DataError as e:
        raise DataError(f"--val-corpus: {e}") from None


def encode_parts(cfg: TrainConfig, text: str, vocab: Vocabulary, val_text: str | None = None) -> dict:
    """``{"train", "val", "test"}``: the config's parts of ``text`` (the validation part from
    ``val_text`` when given), each a stream of ids ``(n,)``, or a list of encoded lines with line
    batching (the corpus's lines shuffled with seed 0 before the cut: ``--seed`` never changes the
    validation set)."""
    fractions, cut = split_of(cfg)
    try:
        if cfg.batching == "lines":
            encoded = [vocab.encode_line(line) for line in lines_of(text)]
            parts = dict(zip(PARTS, split_lines(encoded, fractions, seed=0, cut=cut)))
        else:
            parts = dict(zip(PARTS, split_stream(vocab.encode(text), fractions, cut=cut)))
    except DataError as e:
        raise DataError(f"--split {cfg.split}: {e}" if cfg.split is not None else str(e)) from None
    if val_text is not None:
        try:
            parts["val"] = [vocab.encode_line(line) for line in lines_of(val_text)] if cfg.batching == "lines" \
                else vocab.encode(val_text)
        except DataError as e:
            raise DataError(f"--val-corpus {cfg.val_corpus}: {e}") from None
    return parts


def ids_of(part) -> np.ndarray:
    """The ids of a part: the stream itself, or its lines one after another."""
    if isinstance(part, np.ndarray):
        return part
    return np.concatenate(part) if part else np.zeros(0, dtype=np.int64)


def describe_split(cfg: TrainConfig, parts: dict, vocab: Vocabulary) -> str:
    """One line: where the validation text comes from and how much of it there is, and what the
    test and training parts hold."""
    unit = "lines" if cfg.batching == "lines" else "tokens"
    n = {k: len(v) for k, v in parts.items()}
    if cfg.val_corpus is not None:
        unknown = vocab.unknown(ids_of(parts["val"]))
        where = f"{cfg.val_corpus}, {n['val']:,} {unit} ({unknown:,} unknown to --corpus's vocabulary, read as <unk>)"
    else:
        at = f"{unit} {n['train']:,} to {n['train'] + n['val']:,}" if unit == "tokens" else "shuffled with seed 0"
        where = f"{n['val']:,} {unit} of the corpus's {sum(n.values()):,} ({at}; split {split_text(cfg)})"
    test = f"{n['test']:,} {unit} held out" if n["test"] else "none"
    return f"validation: {where}; test: {test}; training: {n['train']:,} {unit}"


class Data:
    """Vocabulary, splits and batches for a config; ``batch(step)`` gives any step's batch.
    ``vocab``: the vocabulary to use (a resumed run's, from its checkpoint) instead of building one;
    ``val_text``: the text of ``cfg.val_corpus``. The vocabulary is built from the whole corpus
    text, the validation and test parts of its split included (so they hold no <unk> that training
    never saw), and never from a ``val_corpus``, whose unseen tokens are <unk>. ``val`` batches the
    validation part as the run trains (its periodic validation), ``val_full`` as ``evaluate`` does
    (the final score); None when it is too short to score. ``steps``: the time steps of the longest
    batch (``seq_len`` for streams, the longest line's targets for lines), which sizes a step's
    memory."""

    def __init__(self, cfg: TrainConfig, text: str, vocab: Vocabulary | None = None, val_text: str | None = None):
        if cfg.level not in LEVELS:
            raise DataError(f"--level {cfg.level!r}; expected one of {', '.join(LEVELS)}")
        if cfg.batching not in BATCHINGS:
            raise DataError(f"--batching {cfg.batching!r}; expected one of {', '.join(BATCHINGS)}")
        self.cfg = cfg
        markers = cfg.batching == "lines"
        max_size = cfg.max_vocab if cfg.max_vocab is not None else (8000 if cfg.level == "word" else None)
        if max_size is not None and markers and max_size < 5:
            raise ConfigError(f"--max-vocab {max_size}; expected at least 5 with --batching lines (room for <pad>, "
                              f"<unk>, <s>, </s> and one token)")
        self.vocab = vocab or Vocabulary.build(text if not markers else lines_of(text), cfg.level, max_size=max_size,
                                               sentence_markers=markers, lowercase=cfg.lowercase, unk=cfg.unk)
        self.parts = encode_parts(cfg, text, self.vocab, val_text)
        train = self.parts["train"]
        self.val_full = evaluation_batches(self.parts["val"], self.vocab.pad_id)
        self.val = evaluation_batches(self.parts["val"], self.vocab.pad_id, cfg.batch, cfg.seq_len)
        if self.val is None and cfg.val_corpus is not None:
            raise DataError(f"--val-corpus {cfg.val_corpus}: {len(self.parts['val'])} "
                            f"{'lines' if markers else 'tokens'}; expected at least two tokens to validate on")
        self.describe = describe_split(cfg, self.parts, self.vocab)
        if markers:
            self.train = LineBatches(train, cfg.batch, self.vocab.pad_id, shuffle=True, seed=cfg.seed)
            self.train_ids = np.concatenate(train)
            self.steps = max((len(line) for part in self.parts.values() for line in part), default=2) - 1
            self._epoch, self._epoch_batches = None, None
        else:
            self.train = StreamBatches(train, cfg.batch, cfg.seq_len)
            self.train_ids = train
            self.steps = cfg.seq_len
        self.steps_per_epoch = len(self.train)

    def batch(self, step: int):
        """(inputs, targets, mask or None, starts_new_stream) of global ``step``."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if isinstance(self.train, StreamBatches):
            x, y = self.train.chunk(i)
            return x, y, None, i == 0
        if self._epoch != epoch:
            self._epoch, self._epoch_batches = epoch, list(self.train.epoch(epoch))
        x, y, m = self._epoch_batches[i]
        return x, y, m, True
