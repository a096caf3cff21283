"""The one way a file is written where the user keeps results: atomically, synced, never through a
symbolic link, and no temporary file left behind.

:func:`atomic_file` opens a new temporary file in the target's folder (a random name, created with
``O_CREAT | O_EXCL | O_NOFOLLOW``, so nothing planted there is opened), hands it to the caller as a
binary file, then flushes and fsyncs it, renames it over the target and fsyncs the folder: after a
crash at any point the target is the old file or the new one, whole. On any failure, an exception
in the caller's block included, the temporary is removed and the target is untouched. A target that
is a symbolic link, or anything but a regular file, is refused before anything is written (the
folder itself may be a link: that is where the user chose to keep the run).
:func:`atomic_write` writes whole bytes the same way (a small file such as a CSV of metrics is
rewritten whole: appending a row is rewriting the file with the row added).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from typing import BinaryIO

from .errors import ConfigError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def check_target(path: str | os.PathLike) -> None:
    """ConfigError when ``path`` exists as anything but a regular file (a symbolic link, a folder,
    a device, a FIFO): nothing is ever written through or over it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(f"{os.fspath(path)} is a symbolic link; refusing to write through it or over it "
                          f"(remove it, or choose another folder)")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"{os.fspath(path)} exists and is not a regular file; refusing to replace it")


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a rename in ``directory`` durable, where the OS lets a folder be opened (not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_file(path) as f: f.write(...)``: ``path`` is replaced by what the block wrote
    when it ends without an exception (see the module docstring); ConfigError for a target that is
    a link or not a regular file."""
    path = os.path.abspath(os.fspath(path))
    check_target(path)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _BINARY, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        check_target(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically (:func:`atomic_file`)."""
    with atomic_file(path) as f:
        f.write(data)


__all__ = ["atomic_file", "atomic_write", "check_target", "fsync_dir"]
