"""One run per output folder: ``--out`` is locked while a run writes into it."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from ..atomic import atomic_write
from ..errors import ConfigError

try:
    import fcntl
except ImportError:  # not POSIX: an exclusive-create lock file instead
    fcntl = None

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class OutLock:
    """An exclusive lock on the folder ``out`` for the life of a run.

    On POSIX it is an ``flock`` on the folder itself, which the operating system drops when the
    process ends, however it ends (a killed run leaves no stale lock); ``out/.lock`` only says who
    holds it, written like every file of a run (:func:`autograd_rnn.atomic.atomic_write`: never
    through a symbolic link). Elsewhere ``out/.lock`` itself is the lock (created exclusively,
    removed on release). A second run into a locked folder is refused at once with the holder's
    process id.
    """

    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> OutLock:
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out} exists and is not a folder; expected a folder for the run's files")
        self.out.mkdir(parents=True, exist_ok=True)
        holder = f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode()
        if fcntl is not None:
            fd = os.open(self.out, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._busy(self._holder()) from None
            self.fd = fd
            try:
                atomic_write(self.path, holder)
            except BaseException:
                self.__exit__()
                raise
        else:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                raise self._busy(self._holder()) from None
            os.write(fd, holder)
            os.close(fd)
            self.fd = -1
        return self

    def _holder(self) -> str:
        """What ``.lock`` says, read without following a link or waiting on a FIFO."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        except OSError:
            return ""
        try:
            return os.read(fd, 200).decode("utf-8", "replace").strip()
        except OSError:
            return ""
        finally:
            os.close(fd)

    def _busy(self, holder: str) -> ConfigError:
        return ConfigError(f"--out {self.out} is in use by another run ({holder or 'unknown process'}); "
                           f"wait for it to finish or choose another --out")

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            if not self.path.is_symlink():
                self.path.unlink(missing_ok=True)
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
        self.fd = None
