"""Keep freed memory for reuse instead of returning it to the operating system.

A training step allocates the same large temporaries (per-sequence buffers, gradients) every
time. glibc hands blocks above its mmap threshold straight back to the OS on free, so the next
step takes a page fault on every 4 KiB page it touches again; on virtual machines that alone can
double a step's time. :func:`tune_allocator` raises glibc's mmap and trim thresholds so freed
blocks stay in the heap and are reused without faults (the process keeps its peak memory).

It changes process-wide malloc settings, so the library never calls it on import: the command
line (``train``, ``bench``) calls it, and your own scripts may. It does nothing off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_state = {"tuned": False}


def tune_allocator(mmap_threshold: int = 1 << 30, trim_threshold: int = (1 << 31) - 1) -> bool:
    """Raise glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; True when applied (Linux, glibc)."""
    if _state["tuned"]:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1 and mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1
    _state["tuned"] = ok
    return ok


def allocator_tuned() -> bool:
    return _state["tuned"]
