"""The data of a run: the corpus text, its vocabulary, splits and batches for a config."""

from __future__ import annotations

import hashlib

import numpy as np

from ..data import (
    MAX_CORPUS_BYTES,
    LineBatches,
    StreamBatches,
    Vocabulary,
    default_corpus,
    lines_of,
    load_text,
    split_lines,
    split_stream,
)
from ..errors import ConfigError, DataError
from .config import BATCHINGS, LEVELS, TrainConfig

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


class Data:
    """Vocabulary, splits and batches for a config; ``batch(step)`` gives any step's batch.
    ``vocab``: the vocabulary to use (a resumed run's, from its checkpoint) instead of building one.
    ``steps``: the time steps of the longest batch (``seq_len`` for streams, the longest line's
    targets for lines), which sizes a step's memory."""

    def __init__(self, cfg: TrainConfig, text: str, vocab: Vocabulary | None = None):
        if cfg.level not in LEVELS:
            raise DataError(f"--level {cfg.level!r}; expected one of {', '.join(LEVELS)}")
        if cfg.batching not in BATCHINGS:
            raise DataError(f"--batching {cfg.batching!r}; expected one of {', '.join(BATCHINGS)}")
        self.cfg = cfg
        markers = cfg.batching == "lines"
        # the vocabulary is built from the whole text (validation included), so validation has no <unk>
        # that training never saw; --max-vocab still caps it by frequency
        max_size = cfg.max_vocab if cfg.max_vocab is not None else (8000 if cfg.level == "word" else None)
        if max_size is not None and markers and max_size < 5:
            raise ConfigError(f"--max-vocab {max_size}; expected at least 5 with --batching lines (room for <pad>, "
                              f"<unk>, <s>, </s> and one token)")
        self.vocab = vocab or Vocabulary.build(text if not markers else lines_of(text), cfg.level, max_size=max_size,
                                               sentence_markers=markers, lowercase=cfg.lowercase, unk=cfg.unk)
        if markers:
            encoded = [self.vocab.encode_line(line) for line in lines_of(text)]
            train, val, _ = split_lines(encoded, seed=0)  # fixed: --seed never changes the validation set
            self.train = LineBatches(train, cfg.batch, self.vocab.pad_id, shuffle=True, seed=cfg.seed)
            self.val = LineBatches(val, cfg.batch, self.vocab.pad_id, shuffle=False) if val else None
            self.train_ids = np.concatenate(train)
            self.steps = max((len(line) for line in encoded), default=2) - 1
            self._epoch, self._epoch_batches = None, None
        else:
            ids = self.vocab.encode(text)
            train, val, _ = split_stream(ids)
            self.train = StreamBatches(train, cfg.batch, cfg.seq_len)
            self.val = None if len(val) < 2 else StreamBatches(val, min(cfg.batch, max(1, len(val) // 2)), cfg.seq_len)
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
