"""The one way a file is written where the user keeps results: atomically, synced, never through a
symbolic link, and no temporary file left behind.

:func:`atomic_file` opens a new temporary file in the target's folder (a random name, created with
``O_CREAT | O_EXCL | O_NOFOLLOW``, so nothing planted there is opened), hands it to the caller as a
binary file, then flushes and fsyncs it, renames it over the target and fsyncs the folder: after a
crash at any point the target is the old file or the new one, whole. On any failure, an exception
in the caller's block included, the temporary is removed and the target is untouched. A target that
is a symbolic link, or anything but a regular file, is refused before anything is written (the
folder itself may be a link: that is where the user chose to keep the run).
:func:`atomic_write` writes whole bytes the same way.

:func:`append` is the one exception, for a log that grows as a run goes (``metrics.csv``, event
files), where rewriting the whole file at every flush would cost time quadratic in the run's
length: the bytes are added at the end with one ``write`` on a descriptor opened with
``O_APPEND | O_NOFOLLOW | O_NONBLOCK`` (a link is refused by the open itself, a FIFO without a
reader too), checked to be a regular file after opening, then fsynced. A crash can leave at most
a partial last line, which every reader of such a log drops; the lines before it are whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from typing import BinaryIO

from .errors import ConfigError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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


def append(path: str | os.PathLike, data: bytes) -> None:
    """Add ``data`` at the end of ``path`` (created when missing), synced; see the module
    docstring. ConfigError for a target that is a link or not a regular file."""
    path = os.path.abspath(os.fspath(path))
    check_target(path)
    created = not os.path.lexists(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW | _NONBLOCK | _BINARY, 0o666)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO, errno.EMLINK):  # a link planted since, a FIFO without a reader
            check_target(path)
            raise ConfigError(f"{path} is not a regular file; refusing to write to it") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{path} exists and is not a regular file; refusing to write to it")
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(os.path.dirname(path))


__all__ = ["append", "atomic_file", "atomic_write", "check_target", "fsync_dir"]
