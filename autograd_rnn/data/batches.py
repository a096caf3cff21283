"""Splits and batches of token ids for language models. Batches are time-major like the rest of
the package: ``inputs`` and ``targets`` are int64 arrays of shape ``(T, B)``.

* :func:`split_stream`, :func:`split_lines`: train / validation / test splits; :func:`parse_split`
  reads a split as the command line writes it.
* :class:`StreamBatches` (char-rnn style, hidden state carried across chunks) and
  :class:`LineBatches` (one padded, masked sequence per line).
* :func:`unigram_entropy`: the baseline loss a language model must beat.

Every error is a :class:`DataError` (a ValueError) whose message names what was wrong and what was
expected.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from ..errors import DataError

SPLITS = {"nanogpt": (0.9, 0.1, 0.0)}
"""Named splits: ``nanogpt`` is nanoGPT's ``prepare.py`` (``train = data[:int(n*0.9)]``, the rest
validation, no test part)."""
DEFAULT_SPLIT = (0.9, 0.05, 0.05)
CUTS = ("floor", "round")
"""Where a cut falls: ``floor``, at ``int(n * fraction)`` (nanoGPT's, Python slicing's); ``round``,
at the nearest index (how this package cut before splits could be chosen)."""


def parse_split(text: str, where: str = "split") -> tuple[tuple[float, float, float], str]:
    """``"TRAIN,VAL[,TEST]"`` fractions, a name from :data:`SPLITS`, either of them after ``round:``
    -> (three fractions, the cut). DataError naming ``where``, the text and the forms expected
    otherwise."""
    if not isinstance(text, str):
        raise DataError(f"{where} {text!r}; expected text: TRAIN,VAL[,TEST] fractions or {', '.join(SPLITS)}")
    body = text.strip().lower()
    cut = "floor"
    if body.startswith("round:"):
        cut, body = "round", body[len("round:"):].strip()
    if body in SPLITS:
        return SPLITS[body], cut
    parts = body.split(",")
    try:
        fractions = [float(p) for p in parts]
    except ValueError:
        fractions = []
    if len(parts) not in (2, 3) or len(fractions) != len(parts):
        raise DataError(f"{where} {text!r}; expected TRAIN,VAL[,TEST] fractions summing to 1 (e.g. 0.9,0.05,0.05) "
                        f"or a name: {', '.join(SPLITS)}")
    fr = _check_fractions((*fractions, 0.0)[:3], f"{where} {text!r}")
    if fr[0] == 0:
        raise DataError(f"{where} {text!r} gives nothing to training; expected a train fraction above 0")
    return fr, cut


def _check_fractions(fractions, where: str) -> tuple[float, float, float]:
    try:
        fr = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise DataError(f"{where}: fractions must be three numbers (train, valid, test), got {fractions!r}") from None
    if len(fr) != 3:
        raise DataError(f"{where}: fractions must be three numbers (train, valid, test), got {len(fr)}: {fractions!r}")
    if not all(math.isfinite(f) and f >= 0 for f in fr):
        raise DataError(f"{where}: fractions must be finite and non-negative, got {fractions!r}")
    if abs(sum(fr) - 1.0) > 1e-9:
        raise DataError(f"{where}: fractions must sum to 1 (within 1e-9), got {fractions!r} summing to {sum(fr)!r}")
    return fr  # type: ignore[return-value]


def _bounds(n: int, fr: tuple[float, float, float], cut: str, where: str, what: str) -> tuple[int, int]:
    """The two cuts: ``a = int(n * f_train)`` (floor) or ``round(n * f_train)``; ``b`` the same at
    ``f_train + f_valid``, or ``n`` when there is no test part (so no rounding of the sum drops a
    token), ``a`` when there is no validation part."""
    if cut not in CUTS:
        raise DataError(f"{where}: cut {cut!r}; expected one of {', '.join(CUTS)}")
    at = int if cut == "floor" else round
    a = at(n * fr[0])
    b = n if fr[2] == 0 else a if fr[1] == 0 else max(a, min(n, at(n * (fr[0] + fr[1]))))
    if a == 0:
        raise DataError(
            f"{where}: the train part is empty ({n} {what} x train fraction {fr[0]}); expected at least one "
            f"(more data or a larger train fraction)"
        )
    return a, b


def split_stream(ids: np.ndarray, fractions=DEFAULT_SPLIT, cut: str = "floor") -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray]:
    """Cut a token stream ``(n,)`` into contiguous train, validation and test parts (views).

    A stream is not shuffled: its order is the data (and shuffling would leak context across the
    splits). The cuts are at ``int(n * f_train)`` and ``int(n * (f_train + f_valid))`` (``cut="round"``:
    the nearest index), the second at ``n`` when ``f_test`` is 0: with ``(0.9, 0.1, 0)`` on the
    characters this is nanoGPT's split exactly. Validation and test may be empty, train may not.
    """
    arr = _as_ids(ids, "split_stream")
    fr = _check_fractions(fractions, "split_stream")
    a, b = _bounds(len(arr), fr, cut, "split_stream", "tokens")
    return arr[:a], arr[a:b], arr[b:]


def split_lines(lines: list, fractions=DEFAULT_SPLIT, seed: int = 0, cut: str = "floor") -> tuple[list, list, list]:
    """Shuffle ``lines`` with ``np.random.default_rng(seed)`` and cut them into train, validation and
    test lists (same cut rule as :func:`split_stream`). Deterministic for a given seed."""
    fr = _check_fractions(fractions, "split_lines")
    lines = list(lines)
    a, b = _bounds(len(lines), fr, cut, "split_lines", "lines")
    order = np.random.default_rng(seed).permutation(len(lines))
    shuffled = [lines[i] for i in order]
    return shuffled[:a], shuffled[a:b], shuffled[b:]


# --------------------------------------------------------------------------------------------------
# Batches


def _as_ids(ids, where: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise DataError(f"{where}: ids must be 1-D, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise DataError(f"{where}: ids must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_positive(value, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


class StreamBatches:
    """char-rnn batches of one long token stream, for a model that carries its hidden state.

    The stream ``(n,)`` is cut into ``batch_size`` contiguous parallel streams of length
    ``L = n // batch_size`` (the last ``n % batch_size`` tokens are dropped): column ``b`` is
    ``ids[b*L : (b+1)*L]``. Iterating yields ``(inputs, targets)``, int64 arrays of shape
    ``(T, batch_size)``, ``T = seq_len`` except possibly for the last chunk (``1 <= T``), where
    ``targets[t, b]`` is the token after ``inputs[t, b]`` in stream ``b`` and chunk ``k + 1``
    continues where chunk ``k`` stopped. Every epoch is the same sequence of chunks.

    ``len()`` is the number of chunks, ``ceil((L - 1) / seq_len)``; ``tokens_per_epoch`` is the
    number of targets, ``(L - 1) * batch_size``.
    """

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int):
        where = "StreamBatches"
        ids = _as_ids(ids, where)
        self.batch_size = _check_positive(batch_size, "batch_size", where)
        self.seq_len = _check_positive(seq_len, "seq_len", where)
        n, b, t = len(ids), self.batch_size, self.seq_len
        if n < 2 * b:
            raise DataError(
                f"{where}: the corpus is too short: {n} tokens, but batch_size={b} needs at least {2 * b} "
                f"(one input and its target per parallel stream), and {b * (t + 1)} for one full chunk of "
                f"seq_len={t}; use a smaller --batch or --seq-len, or a longer corpus"
            )
        self.stream_len = n // b
        self.streams = np.ascontiguousarray(ids[: self.stream_len * b].reshape(b, self.stream_len).T)  # (L, B)
        self.tokens_per_epoch = (self.stream_len - 1) * b

    def __len__(self) -> int:
        return -(-(self.stream_len - 1) // self.seq_len)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for i in range(len(self)):
            yield self.chunk(i)

    def chunk(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk ``i`` of the epoch (0 <= i < len): ``(inputs, targets)``, each ``(T, batch_size)``."""
        if not 0 <= i < len(self):
            raise DataError(f"StreamBatches.chunk: i={i}; expected 0 <= i < {len(self)}")
        s, last = self.streams, self.stream_len - 1
        start = i * self.seq_len
        stop = min(start + self.seq_len, last)
        return s[start:stop].copy(), s[start + 1 : stop + 1].copy()


class LineBatches:
    """Batches of independent lines, padded and masked, for a model that resets its hidden state.

    Each line is an encoded sequence ``(n,)`` that already holds its ``<s>``/``</s>``; its inputs
    are ``line[:-1]`` and its targets ``line[1:]``. Lines shorter than 2 tokens have no target and
    are skipped (``self.skipped`` counts them). Iterating yields ``(inputs, targets, mask)`` of shape
    ``(T, B)``: int64, int64 and float64, with ``T`` the longest ``len(line) - 1`` in the batch,
    padding positions holding ``pad_id`` and ``mask`` 1.0 on real targets, 0.0 on padding. ``B`` is
    ``batch_size`` except possibly for the last batch. ``pad_id`` may be any id (the vocabulary's
    ``pad_id``, or e.g. ``eos_id`` when it has none): padded positions are masked out of the loss.

    With ``shuffle``, epoch ``k`` orders the lines by ``np.random.default_rng([seed, k]).permutation``;
    each ``iter()`` runs the next epoch (0, 1, 2, ...), and ``epoch(k)`` runs epoch ``k`` again.
    Without ``shuffle`` every epoch keeps the given order.
    """

    def __init__(self, lines: list[np.ndarray], batch_size: int, pad_id: int, shuffle: bool = True, seed: int = 0):
        where = "LineBatches"
        self.batch_size = _check_positive(batch_size, "batch_size", where)
        if isinstance(pad_id, bool) or not isinstance(pad_id, (int, np.integer)):
            raise DataError(f"{where}: pad_id must be an int id (any id; padding is masked), got {pad_id!r}")
        self.pad_id, self.shuffle, self.seed = int(pad_id), bool(shuffle), int(seed)
        arrays = [_as_ids(line, f"{where}: line {i}") for i, line in enumerate(lines)]
        self.lines = [a for a in arrays if len(a) >= 2]
        self.skipped = len(arrays) - len(self.lines)
        if not self.lines:
            raise DataError(
                f"{where}: no usable lines: got {len(arrays)} lines, {self.skipped} of them shorter than 2 tokens; "
                f"expected at least one line with 2 or more tokens (an input and its target)"
            )
        self.tokens_per_epoch = sum(len(a) - 1 for a in self.lines)
        self._next_epoch = 0

    def __len__(self) -> int:
        return -(-len(self.lines) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        k, self._next_epoch = self._next_epoch, self._next_epoch + 1
        return self.epoch(k)

    def epoch(self, k: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The batches of epoch ``k`` (deterministic given ``seed`` and ``k``)."""
        n = len(self.lines)
        order = np.random.default_rng([self.seed, k]).permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            batch = [self.lines[i] for i in order[start : start + self.batch_size]]
            t = max(len(a) for a in batch) - 1
            inputs = np.full((t, len(batch)), self.pad_id, dtype=np.int64)
            targets = np.full((t, len(batch)), self.pad_id, dtype=np.int64)
            mask = np.zeros((t, len(batch)), dtype=np.float64)
            for j, a in enumerate(batch):
                inputs[: len(a) - 1, j] = a[:-1]
                targets[: len(a) - 1, j] = a[1:]
                mask[: len(a) - 1, j] = 1.0
            yield inputs, targets, mask


def unigram_entropy(ids: np.ndarray, vocab_size: int) -> float:
    """Entropy in nats of the token frequencies of ``ids`` ``(n,)``: the per-token loss of a model
    that ignores context and predicts those frequencies (perplexity ``exp`` of it). A language model
    must beat it; the uniform baseline is ``log(vocab_size)``."""
    arr = _as_ids(ids, "unigram_entropy")
    vocab_size = _check_positive(vocab_size, "vocab_size", "unigram_entropy")
    if arr.size == 0:
        raise DataError("unigram_entropy: ids is empty; expected at least one token")
    bad = np.flatnonzero((arr < 0) | (arr >= vocab_size))
    if bad.size:
        raise DataError(
            f"unigram_entropy: id {int(arr[bad[0]])} at position {int(bad[0])} is out of range; "
            f"expected ids in [0, {vocab_size})"
        )
    p = np.bincount(arr, minlength=vocab_size) / arr.size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())
