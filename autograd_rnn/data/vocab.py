"""Tokens and vocabularies: text <-> int64 id arrays, at character or word level.

* :func:`tokenize_words`: words and single punctuation marks.
* :class:`Vocabulary`: a bijection between tokens and ids, with the special tokens ``<pad>``,
  ``<unk>``, ``<s>``, ``</s>`` where asked for.

Every error is a :class:`DataError` (a ValueError) whose message names what was wrong, where, and
what was expected.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..errors import DataError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIAL_ORDER = (PAD, UNK, BOS, EOS)

# A word: word characters (letters, digits, underscore), with apostrophes *inside* it ("don't",
# "o'clock"). Anything else that is not whitespace is a one-character punctuation token.
_WORD_RE = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(".,;:!?)]}%")
_NO_SPACE_AFTER = set("([{")


def tokenize_words(text: str) -> list[str]:
    """Split ``text`` into words and single punctuation marks.

    A word is a run of letters, digits and underscores, with apostrophes allowed between them
    (``"don't"`` is one token; the quotes in ``'hi'`` are tokens of their own). Every other
    non-space character is a token by itself (``"..."`` is three tokens). Whitespace, newlines
    included, only separates tokens and is dropped: to keep line structure, tokenize line by line
    (:func:`lines_of`, :meth:`Vocabulary.encode_line`). Case is kept (see ``Vocabulary(lowercase=)``).
    """
    return _WORD_RE.findall(text)


def _word_spans(text: str) -> list[tuple[str, int]]:
    return [(m.group(), m.start()) for m in _WORD_RE.finditer(text)]


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class Vocabulary:
    """A bijection between tokens (characters or words) and ids ``0 .. len(vocab) - 1``.

    Special tokens come first, in the fixed order ``<pad>, <unk>, <s>, </s>``, each only when
    present: ``<pad>``, ``<s>`` and ``</s>`` exactly when built with ``sentence_markers=True``;
    ``<unk>`` whenever built with ``max_size`` or ``unk=True``. Then the ordinary tokens: at char
    level sorted by code point, at word level by decreasing frequency, ties broken by first
    occurrence in the texts.

    Without sentence markers there is no ``<pad>`` (``pad_id`` is None): :class:`LineBatches` can
    pad with any id, since padded positions are masked out of the loss.

    Attributes: ``tokens`` (list, id -> token), ``index`` (dict, token -> id), ``level`` ("char" or
    "word"), ``lowercase``, and ``pad_id``, ``unk_id``, ``bos_id``, ``eos_id`` (None where absent).
    Treat ``tokens`` and ``index`` as read-only.
    """

    def __init__(self, tokens: Sequence[str], level: str, lowercase: bool = False):
        if level not in ("char", "word"):
            raise DataError(f"Vocabulary: level must be 'char' or 'word', got {level!r}")
        tokens = list(tokens)
        for i, t in enumerate(tokens):
            if not isinstance(t, str) or not t:
                raise DataError(f"Vocabulary: token {i} is {t!r}; expected a non-empty str")
            if level == "char" and t not in SPECIAL_ORDER and len(t) != 1:
                raise DataError(f"Vocabulary: token {i} is {t!r}; a char-level token must be one character")
        specials = [t for t in tokens if t in SPECIAL_ORDER]
        expected = [t for t in SPECIAL_ORDER if t in specials]
        if tokens[: len(specials)] != expected:
            raise DataError(
                f"Vocabulary: special tokens must come first, in the order {expected}; got tokens[:{len(specials)}] = "
                f"{tokens[: len(specials)]}"
            )
        self.tokens: list[str] = tokens
        self.index: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        if len(self.index) != len(tokens):
            dup = next(t for i, t in enumerate(tokens) if self.index[t] != i)
            raise DataError(f"Vocabulary: token {dup!r} appears more than once; expected unique tokens")
        self.level = level
        self.lowercase = bool(lowercase)
        self.pad_id = self.index.get(PAD)
        self.unk_id = self.index.get(UNK)
        self.bos_id = self.index.get(BOS)
        self.eos_id = self.index.get(EOS)
        if level == "char":  # sorted code points of the single-character tokens, for a vectorized encode
            chars = [(ord(t), i) for i, t in enumerate(tokens) if len(t) == 1]
            chars.sort()
            self._codes = np.array([c for c, _ in chars], dtype=np.int64)
            self._code_ids = np.array([i for _, i in chars], dtype=np.int64)

    @classmethod
    def build(cls, texts: str | list[str], level: str, max_size: int | None = None,
              sentence_markers: bool = False, lowercase: bool = False, unk: bool = False) -> Vocabulary:
        """Build a vocabulary from one text or a list of texts.

        ``max_size`` bounds ``len(vocab)``, special tokens included (``max_size=8000`` gives 8000 ids
        as in the classic RNN tutorial): the most frequent tokens are kept, ties broken by first
        occurrence, and dropped tokens map to ``<unk>``. ``<unk>`` is there whenever ``max_size`` is
        given or ``unk`` is true (at both levels), so that any text can be encoded, tokens the texts
        never held included.
        """
        if level not in ("char", "word"):
            raise DataError(f"Vocabulary.build: level must be 'char' or 'word', got {level!r}")
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter = Counter()  # insertion order = first occurrence
        for text in texts:
            if not isinstance(text, str):
                raise DataError(f"Vocabulary.build: texts must be a str or a list of str; got a {type(text).__name__}")
            if lowercase:
                text = text.lower()
            counts.update(text if level == "char" else tokenize_words(text))
        if not counts:
            raise DataError(f"Vocabulary.build: the texts contain no {level} tokens; expected some text")
        markers = [PAD, BOS, EOS] if sentence_markers else []
        if max_size is not None:
            if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < len(markers) + 2:
                raise DataError(
                    f"Vocabulary.build: max_size must be an int >= {len(markers) + 2} (room for the special tokens and "
                    f"at least one ordinary token), got {max_size!r}"
                )
        by_freq = sorted(counts, key=lambda t: -counts[t])  # stable: ties stay in first-occurrence order
        needs_unk = bool(unk) or max_size is not None
        specials = [t for t in SPECIAL_ORDER if t in markers or (t == UNK and needs_unk)]
        kept = by_freq if max_size is None else by_freq[: max_size - len(specials)]
        if level == "char":
            kept = sorted(kept)
        return cls(specials + kept, level, lowercase)

    def unknown(self, ids: np.ndarray) -> int:
        """How many of ``ids`` (from :meth:`encode`) are ``<unk>``: tokens this vocabulary does not hold."""
        return 0 if self.unk_id is None else int(np.count_nonzero(np.asarray(ids) == self.unk_id))

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)}, lowercase={self.lowercase}, head={self.tokens[:8]})"

    def encode(self, text: str) -> np.ndarray:
        """Ids of the tokens of ``text``: int64, shape ``(n,)``. No sentence markers are added.

        Unknown tokens map to ``<unk>``; without ``<unk>`` they raise :class:`DataError` naming the
        token and its position (in the lowercased text when ``lowercase`` is on).
        """
        if not isinstance(text, str):
            raise DataError(f"Vocabulary.encode: expected a str, got a {type(text).__name__}")
        if self.lowercase:
            text = text.lower()
        if self.level == "char":
            codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
            pos = np.searchsorted(self._codes, codes).clip(0, max(len(self._codes) - 1, 0))
            known = self._codes[pos] == codes if len(self._codes) else np.zeros(len(codes), dtype=bool)
            if not known.all():
                if self.unk_id is None:
                    k = int(np.argmin(known))
                    self._unknown(text, k, text[k], None)
                pos[~known] = 0
            ids = self._code_ids[pos] if len(self._codes) else np.zeros(len(codes), dtype=np.int64)
            return np.where(known, ids, self.unk_id if self.unk_id is not None else -1).astype(np.int64)
        spans = _word_spans(text)
        get, unk = self.index.get, self.unk_id
        ids = [get(tok, unk) for tok, _ in spans]
        if unk is None and None in ids:
            k = ids.index(None)
            self._unknown(text, spans[k][1], spans[k][0], k)
        return np.array(ids, dtype=np.int64)

    def _unknown(self, text: str, offset: int, token: str, k: int | None):
        line, col = _line_col(text, offset)
        where = f"token {k}, " if k is not None else ""
        raise DataError(
            f"Vocabulary.encode: unknown {self.level} {token!r} at {where}character {offset} "
            f"(line {line}, column {col}), and this vocabulary has no '<unk>' to map it to; expected only its "
            f"{len(self)} known tokens (a vocabulary built with an '<unk>' token maps unseen ones to it)"
        )

    def encode_line(self, line: str) -> np.ndarray:
        """Like :meth:`encode`, wrapped in ``<s> ... </s>`` when the vocabulary has sentence markers.
        int64, shape ``(n + 2,)`` or ``(n,)``."""
        ids = self.encode(line)
        if self.bos_id is None or self.eos_id is None:
            return ids
        return np.concatenate([[self.bos_id], ids, [self.eos_id]]).astype(np.int64)

    def decode(self, ids, skip_special: bool = False) -> str:
        """Text of ``ids`` (any int sequence, shape ``(n,)``).

        Char level: the tokens concatenated. Word level: the tokens joined by single spaces, except
        no space before ``. , ; : ! ? ) ] } %`` nor after ``( [ {``. Special tokens appear as their
        names (``<unk>``) unless ``skip_special`` drops them.
        """
        arr = np.asarray(ids)
        if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
            raise DataError(f"Vocabulary.decode: expected a 1-D sequence of int ids, got shape {arr.shape} {arr.dtype}")
        bad = np.flatnonzero((arr < 0) | (arr >= len(self)))
        if bad.size:
            raise DataError(
                f"Vocabulary.decode: id {int(arr[bad[0]])} at position {int(bad[0])} is out of range; "
                f"expected ids in [0, {len(self)})"
            )
        toks = [self.tokens[i] for i in arr.tolist()]
        if skip_special:
            toks = [t for t in toks if t not in SPECIAL_ORDER]
        if self.level == "char":
            return "".join(toks)
        out: list[str] = []
        for t in toks:
            if out and t not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
                out.append(" ")
            out.append(t)
        return "".join(out)

    def to_dict(self) -> dict:
        """A JSON-serializable description (for checkpoints); :meth:`from_dict` inverts it exactly."""
        return {"format": "autograd_rnn.Vocabulary", "version": 1, "level": self.level,
                "lowercase": self.lowercase, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabulary:
        """The vocabulary that :meth:`to_dict` described."""
        if not isinstance(d, dict) or d.get("format") != "autograd_rnn.Vocabulary" or d.get("version") != 1:
            got = {k: d.get(k) for k in ("format", "version")} if isinstance(d, dict) else type(d).__name__
            raise DataError(
                f"Vocabulary.from_dict: expected a dict with format 'autograd_rnn.Vocabulary' and version 1, got {got}"
            )
        missing = [k for k in ("level", "lowercase", "tokens") if k not in d]
        if not missing and not isinstance(d["lowercase"], bool):
            raise DataError(f"Vocabulary.from_dict: lowercase is {d['lowercase']!r}; expected true or false")
        if missing or not isinstance(d["tokens"], list):
            raise DataError(
                f"Vocabulary.from_dict: expected keys 'level', 'lowercase' and 'tokens' (a list); missing {missing}, "
                f"tokens is a {type(d.get('tokens')).__name__}"
            )
        return cls(d["tokens"], d["level"], d["lowercase"])
