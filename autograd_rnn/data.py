"""Vocabularies, corpora, splits and batches for language models.

Everything here is numpy and the standard library. Batches are time-major like the rest of the
package: ``inputs`` and ``targets`` are int64 arrays of shape ``(T, B)``.

* :func:`tokenize_words`, :class:`Vocabulary`: text <-> int64 id arrays, at char or word level.
* :func:`load_text`, :func:`default_corpus`: a UTF-8 file, or the built-in corpus (the docstrings of
  the installed Python standard library, no download).
* :func:`split_stream`, :func:`split_lines`: train / validation / test splits.
* :class:`StreamBatches` (char-rnn style, hidden state carried across chunks) and
  :class:`LineBatches` (one padded, masked sequence per line).
* :func:`unigram_entropy`: the baseline loss a language model must beat.

Every error is a :class:`DataError` (a ValueError) whose message names what was wrong, where, and
what was expected.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import platform
import re
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import DataError

# --------------------------------------------------------------------------------------------------
# Tokens and vocabularies

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
    ``<unk>`` at word level whenever ``max_size`` is given, at char level only when ``max_size``
    actually drops characters. Then the ordinary tokens: at char level sorted by code point, at word
    level by decreasing frequency, ties broken by first occurrence in the texts.

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
              sentence_markers: bool = False, lowercase: bool = False) -> Vocabulary:
        """Build a vocabulary from one text or a list of texts.

        ``max_size`` bounds ``len(vocab)``, special tokens included (``max_size=8000`` gives 8000 ids
        as in the classic RNN tutorial): the most frequent tokens are kept, ties broken by first
        occurrence, and dropped tokens map to ``<unk>``.
        """
        if level not in ("char", "word"):
            raise DataError(f"Vocabulary.build: level must be 'char' or 'word', got {level!r}")
        if isinstance(texts, str):
            texts = [texts]
        counts: dict[str, int] = {}  # insertion order = first occurrence
        for text in texts:
            if not isinstance(text, str):
                raise DataError(f"Vocabulary.build: texts must be a str or a list of str; got a {type(text).__name__}")
            if lowercase:
                text = text.lower()
            for tok in (text if level == "char" else tokenize_words(text)):
                counts[tok] = counts.get(tok, 0) + 1
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
        needs_unk = max_size is not None and (level == "word" or len(markers) + len(by_freq) > max_size)
        specials = [t for t in SPECIAL_ORDER if t in markers or (t == UNK and needs_unk)]
        kept = by_freq if max_size is None else by_freq[: max_size - len(specials)]
        if level == "char":
            kept = sorted(kept)
        return cls(specials + kept, level, lowercase)

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
            f"{len(self)} known tokens (build the vocabulary from this text too, or with max_size to get '<unk>')"
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


# --------------------------------------------------------------------------------------------------
# Corpora


def load_text(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped; ``\\r\\n`` and ``\\r`` become ``\\n``).

    Raises :class:`DataError` for a missing path, a directory, an unreadable file, bytes that are not
    UTF-8 (with the byte offset, line, column and hex of the first bad bytes), or a corpus that is
    empty or only whitespace.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"corpus file {str(p)!r} does not exist; expected a UTF-8 text file")
    if p.is_dir():
        raise DataError(f"corpus path {str(p)!r} is a directory; expected a UTF-8 text file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"corpus file {str(p)!r} cannot be read ({e.strerror or e}); expected a readable file") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        col = len(data[line_start : e.start].decode("utf-8")) + 1  # in characters; the prefix is valid UTF-8
        raise DataError(
            f"corpus file {str(p)!r} is not valid UTF-8: bytes {data[e.start:e.end].hex(' ')} at byte offset {e.start} "
            f"(line {line}, column {col}): {e.reason}; expected UTF-8 text (convert it, e.g. "
            f"iconv -f latin1 -t utf-8)"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError(
            f"corpus {str(p)!r} is empty ({len(data)} bytes, {'no text' if not text else 'only whitespace'}); "
            f"expected some text"
        )
    return text


_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test"}
_DOC_NODES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_CACHE_HEADER = "# autograd_rnn default corpus v1"


def _docstrings_of(root: Path) -> tuple[str, int]:
    """The docstrings of the ``.py`` files under ``root`` (see :func:`default_corpus`) and how many
    files contributed (parsed without error, even if they had no docstring)."""
    rels = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    docs: list[str] = []
    n_files = 0
    for rel in rels:
        if _SKIP_DIRS.intersection(rel.split("/")[:-1]):
            continue
        try:
            source = (root / rel).read_bytes()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes etc.
                tree = ast.parse(source, filename=rel)  # honours PEP 263 coding lines; never imports
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
            continue
        n_files += 1
        stack: list[ast.AST] = [tree]
        while stack:  # pre-order, source order
            node = stack.pop()
            if isinstance(node, _DOC_NODES):
                doc = ast.get_docstring(node, clean=True)
                if doc and doc.strip():
                    docs.append(doc.strip())
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return "\n\n".join(docs) + "\n", n_files


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "autograd_rnn"


def _read_cache(path: Path) -> tuple[str, int] | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:  # no newline translation: exactly what was written
            raw = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    header, _, text = raw.partition("\n")
    m = re.fullmatch(re.escape(_CACHE_HEADER) + r" files=(\d+) chars=(\d+)", header)
    if not m or int(m.group(2)) != len(text) or not text.strip():
        return None  # foreign, truncated or corrupt: rebuild
    return text, int(m.group(1))


def _write_cache(path: Path, text: str, n_files: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(f"{_CACHE_HEADER} files={n_files} chars={len(text)}\n")
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def default_corpus(cache_dir: str | os.PathLike | None = None, verbose: bool = True) -> str:
    """The built-in corpus: docstrings of the installed Python standard library. No download.

    The ``.py`` files under ``sysconfig.get_paths()["stdlib"]`` are read in sorted order of their
    relative paths and parsed with :mod:`ast` (never imported). Skipped: anything under a
    ``site-packages``/``dist-packages``/``__pycache__`` directory or a test directory (``test``,
    ``tests``, ``idle_test``: ``test/``, ``unittest/test/``, ``lib2to3/tests/``, ...), and files that
    fail to read, decode or parse. Each file contributes its module, class and function docstrings
    (``ast.get_docstring(node, clean=True)``, stripped, non-empty) in source order (pre-order);
    docstrings are separated by one blank line and the text ends with a newline.

    The text is cached in ``cache_dir`` (default ``$XDG_CACHE_HOME/autograd_rnn``, else
    ``~/.cache/autograd_rnn``) as ``stdlib-docstrings-<python version>.txt`` (a one-line header,
    then the text), written atomically; an unreadable or corrupt cache is rebuilt, and a cache that
    cannot be written only gives a RuntimeWarning. With ``verbose``, one line on stderr says what the
    corpus is, its size, the number of files and whether it came from the cache.

    Measured on CPython 3.11.7 (Linux, 2 CPU cores): 734 files, 1,803,272 characters (1.80 MB of
    UTF-8, 107 distinct characters, about 385k word tokens); a cold build takes 2.3 to 3.7 s, loading
    from the cache about 10 ms.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    cache = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    path = cache / f"stdlib-docstrings-{platform.python_version()}.txt"
    t0 = time.perf_counter()
    cached = _read_cache(path)
    if cached is not None:
        text, n_files = cached
        origin = f"loaded from the cache {path}"
    else:
        if not stdlib.is_dir():
            raise DataError(
                f"default_corpus: the standard library directory {str(stdlib)!r} does not exist; expected the "
                f"installed Python's Lib directory with .py sources (pass a corpus file instead)"
            )
        text, n_files = _docstrings_of(stdlib)
        if not text.strip():
            raise DataError(f"default_corpus: no docstrings found under {str(stdlib)!r}; expected .py sources there")
        try:
            _write_cache(path, text, n_files)
            origin = f"built in {time.perf_counter() - t0:.1f} s, cached to {path}"
        except OSError as e:
            warnings.warn(f"default_corpus: cannot write the cache {path} ({e}); the corpus was built but not cached",
                          RuntimeWarning, stacklevel=2)
            origin = f"built in {time.perf_counter() - t0:.1f} s, not cached ({path} is not writable)"
    if verbose:
        v = sys.version_info
        mb = len(text.encode("utf-8")) / 1e6
        print(f"default corpus: docstrings of the Python {v.major}.{v.minor} standard library, from {stdlib}: "
              f"{len(text):,} characters ({mb:.2f} MB), {n_files} files, {origin}", file=sys.stderr)
    return text


def lines_of(text: str) -> list[str]:
    """The non-empty lines of ``text``, stripped of surrounding whitespace."""
    return [s for s in (line.strip() for line in text.splitlines()) if s]


# --------------------------------------------------------------------------------------------------
# Splits


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


def _bounds(n: int, fr: tuple[float, float, float], where: str, what: str) -> tuple[int, int]:
    a = round(n * fr[0])
    b = max(a, min(n, round(n * (fr[0] + fr[1]))))
    if a == 0:
        raise DataError(
            f"{where}: the train part is empty ({n} {what} x train fraction {fr[0]}); expected at least one "
            f"(more data or a larger train fraction)"
        )
    return a, b


def split_stream(ids: np.ndarray, fractions=(0.9, 0.05, 0.05)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a token stream ``(n,)`` into contiguous train, validation and test parts (views).

    A stream is not shuffled: its order is the data (and shuffling would leak context across the
    splits). The cuts are at ``round(n * f_train)`` and ``round(n * (f_train + f_valid))``;
    validation and test may be empty, train may not.
    """
    arr = _as_ids(ids, "split_stream")
    fr = _check_fractions(fractions, "split_stream")
    a, b = _bounds(len(arr), fr, "split_stream", "tokens")
    return arr[:a], arr[a:b], arr[b:]


def split_lines(lines: list, fractions=(0.9, 0.05, 0.05), seed: int = 0) -> tuple[list, list, list]:
    """Shuffle ``lines`` with ``np.random.default_rng(seed)`` and cut them into train, validation and
    test lists (same cut rule as :func:`split_stream`). Deterministic for a given seed."""
    fr = _check_fractions(fractions, "split_lines")
    lines = list(lines)
    a, b = _bounds(len(lines), fr, "split_lines", "lines")
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
            raise IndexError(f"StreamBatches.chunk: i={i}; expected 0 <= i < {len(self)}")
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
