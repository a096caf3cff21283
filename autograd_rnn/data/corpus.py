"""Corpora: a UTF-8 text file, read with bounds, or the built-in corpus (the docstrings of the
installed Python standard library, no download), and the lines of a text.

Every error is a :class:`DataError` (a ValueError) whose message names the file, what was wrong and
what was expected.
"""

from __future__ import annotations

import ast
import os
import platform
import re
import stat
import sys
import sysconfig
import time
import warnings
from pathlib import Path

from ..atomic import atomic_write
from ..errors import ConfigError, DataError

MAX_CORPUS_BYTES = 100_000_000
"""The largest corpus file :func:`load_text` reads unless the limit is lifted (``max_bytes=None``,
``--no-limits`` on the command line): 100 MB, as large as enwik8 and text8. A character-level run
holds about 25 bytes per character of the text while it builds its batches (the text, its ids,
the parallel streams), so 100 MB of text already asks for 2.5 GB."""

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_BINARY = getattr(os, "O_BINARY", 0)


def read_bounded(path: str | os.PathLike, max_bytes: int | None = MAX_CORPUS_BYTES,
                 lift: str = "pass max_bytes=None", what: str = "corpus") -> bytes:
    """The bytes of the regular file ``path`` (a link to one is followed), at most ``max_bytes``.

    Raises :class:`DataError` naming the file for a missing path, a folder, a device, a FIFO or a
    socket (which may never end, so they are never read), an unreadable file, or one larger than
    ``max_bytes`` (checked before reading, and again while reading a file that grows); ``lift`` says
    how to lift the limit in the caller's terms; ``what`` names the kind of file in messages.
    """
    name = os.fsdecode(os.fspath(path))
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except FileNotFoundError:
        raise DataError(f"{what} file {name!r} does not exist; expected a UTF-8 text file") from None
    except OSError as e:
        if os.path.isdir(path):
            raise DataError(f"{what} path {name!r} is a directory; expected a UTF-8 text file") from None
        raise DataError(f"{what} file {name!r} cannot be read ({e.strerror or e}); expected a readable file") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DataError(f"{what} path {name!r} is a directory; expected a UTF-8 text file")
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{what} path {name!r} is not a regular file (a device, a FIFO or a socket, which may "
                            f"never end); expected a UTF-8 text file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise _too_large(name, f"{st.st_size:,} bytes", max_bytes, lift, what)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 24)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if max_bytes is not None and total > max_bytes:
                raise _too_large(name, "growing while it is read", max_bytes, lift, what)
    except OSError as e:
        raise DataError(f"{what} file {name!r} cannot be read ({e.strerror or e}); expected a readable file") from None
    finally:
        os.close(fd)


def _too_large(name: str, size: str, max_bytes: int, lift: str, what: str = "corpus") -> DataError:
    return DataError(f"{what} file {name!r} is {size}, above the limit of {max_bytes:,} bytes for a {what}; {lift} "
                     f"to read it anyway")


def load_text(path: str | os.PathLike, max_bytes: int | None = MAX_CORPUS_BYTES,
              lift: str = "pass max_bytes=None") -> str:
    """The text of a UTF-8 file (a leading byte-order mark is dropped; ``\\r\\n`` and ``\\r`` become ``\\n``).

    Raises :class:`DataError` for what :func:`read_bounded` refuses (a missing path, a folder, a
    device or FIFO, an unreadable file, one above ``max_bytes``, :data:`MAX_CORPUS_BYTES` by
    default), bytes that are not UTF-8 (with the byte offset, line, column and hex of the first bad
    bytes), or a corpus that is empty or only whitespace.
    """
    name = os.fsdecode(os.fspath(path))
    data = read_bounded(path, max_bytes, lift)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        col = len(data[line_start : e.start].decode("utf-8")) + 1  # in characters; the prefix is valid UTF-8
        raise DataError(
            f"corpus file {name!r} is not valid UTF-8: bytes {data[e.start:e.end].hex(' ')} at byte offset {e.start} "
            f"(line {line}, column {col}): {e.reason}; expected UTF-8 text (convert it, e.g. "
            f"iconv -f latin1 -t utf-8)"
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataError(
            f"corpus {name!r} is empty ({len(data)} bytes, {'no text' if not text else 'only whitespace'}); "
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
    try:  # no newline translation: exactly what was written
        raw = read_bounded(path).decode("utf-8")
    except (DataError, UnicodeDecodeError):
        return None
    header, _, text = raw.partition("\n")
    m = re.fullmatch(re.escape(_CACHE_HEADER) + r" files=(\d+) chars=(\d+)", header)
    if not m or int(m.group(2)) != len(text) or not text.strip():
        return None  # foreign, truncated or corrupt: rebuild
    return text, int(m.group(1))


def _write_cache(path: Path, text: str, n_files: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, f"{_CACHE_HEADER} files={n_files} chars={len(text)}\n{text}".encode())


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
        except (OSError, ConfigError) as e:
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
