"""One run per output folder: ``--out`` is locked while a run writes into it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import ConfigError

try:
    import fcntl
except ImportError:  # not POSIX: an exclusive-create lock file instead
    fcntl = None


class OutLock:
    """An exclusive lock on ``out/.lock`` for the life of a run.

    On POSIX it is an ``flock``, which the operating system drops when the process ends, however it
    ends (a killed run leaves no stale lock). Elsewhere the file itself is the lock (created
    exclusively, removed on release). A second run into a locked folder is refused at once with
    the holder's process id.
    """

    def __init__(self, out: Path):
        self.path = Path(out) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> OutLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip()
                os.close(fd)
                raise self._busy(holder) from None
        else:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                raise self._busy(self.path.read_text(errors="replace").strip()) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        self.fd = fd
        return self

    def _busy(self, holder: str) -> ConfigError:
        return ConfigError(f"--out {self.path.parent} is in use by another run ({holder or 'unknown process'}); "
                           f"wait for it to finish or choose another --out")

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        if fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
        else:
            os.close(self.fd)
            self.path.unlink(missing_ok=True)
        self.fd = None
