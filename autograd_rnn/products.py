"""The one matrix product of the package: ``matmul(a, b)``.

Every product (a gate's, a kernel's time step, a weight gradient) comes here, so that none has to
think about threads. BLAS runs on one thread per call. A product worth ``MIN_PIECES`` pieces of
``PIECE_FLOPS`` floating-point operations or more (about 64 MFLOP: an output projection or a weight
gradient over a whole sequence, not a time step's product) is cut into pieces along the rows or
the columns of the result, through its larger operand, and each piece is one single-threaded BLAS
call, run on whichever thread of :mod:`.threads` takes it. How a product is cut depends on
``(m, k, n)`` alone, so its bits never depend on how many threads ran it or on the machine's load.

A time step's product (``32 x 256 @ 256 x 1024``: 17 MFLOP, about 0.2 ms) stays whole on one
thread: a second Python thread wakes, takes the interpreter lock and hands it back in tens of
microseconds, which such a product does not repay (measured in docs/performance.md).
"""

from __future__ import annotations

import numpy as np

from .threads import POLICY

PIECE_FLOPS = 16e6
MIN_PIECES = 4
MIN_ROWS = 64
MIN_COLS = 64
MAX_PIECES = 16


def plan(m: int, k: int, n: int) -> tuple[int, list[tuple[int, int]]] | None:
    """How ``(m, k) @ (k, n)`` is cut: ``(axis, [(start, stop), ...])`` over the result's rows (axis
    0) or columns (axis 1), or None for one piece. The cut runs through the larger operand, so that
    the one every piece reads whole (and BLAS packs again for each piece) is the smaller. A function
    of the sizes alone."""
    pieces = min(MAX_PIECES, int(2.0 * m * k * n // PIECE_FLOPS))
    axis, size, least = (0, m, MIN_ROWS) if m >= n else (1, n, MIN_COLS)
    pieces = min(pieces, size // least)
    if pieces < MIN_PIECES:
        return None
    edges = [size * i // pieces for i in range(pieces + 1)]
    return axis, list(zip(edges, edges[1:]))


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``a @ b`` for ``a (m, k)`` and ``b (k, n)`` (any strides: ``W.T`` is welcome), into ``out
    (m, n)`` when given; a 1-D ``a`` is a row and a 1-D ``b`` a column, dropped from the result as
    numpy does. Same dtype in, same dtype out; unchecked (the callers know their shapes)."""
    if a.ndim == 2 and b.ndim == 2:
        m, k = a.shape
        n = b.shape[1]
        if m * k * n < WHOLE and POLICY.ready and POLICY.record is None:  # a time step's product: at once
            return _whole(a, b, out)
        return _product(a, b, out, m, k, n)
    if a.ndim == 1 and b.ndim == 1 and POLICY.ready:  # a dot product: one BLAS call, never cut
        return np.dot(a, b)
    a2, b2 = a.reshape(1, -1) if a.ndim == 1 else a, b.reshape(-1, 1) if b.ndim == 1 else b
    result = matmul(a2, b2, None if out is None else out.reshape(a2.shape[0], b2.shape[1]))
    return result.reshape(a.shape[:-1] + b.shape[1:]) if out is None else out


WHOLE = MIN_PIECES * PIECE_FLOPS / 2
"""Below this ``m k n`` a product is never cut (:func:`plan` would leave it whole)."""


def _whole(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """One BLAS call (np.dot, a microsecond cheaper than matmul for small products, where it can
    write into ``out``). The same call for the same shapes and layouts, whichever path led here."""
    if a.shape[1] == 1:  # an outer product: exact, and numpy's BLAS paths are slow for it
        return np.multiply(a, b, out=out)
    if out is None or out.flags.c_contiguous:
        return np.dot(a, b, out=out)
    return np.matmul(a, b, out=out)


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None, m: int, k: int, n: int) -> np.ndarray:
    POLICY.tick()
    if POLICY.record is not None:
        POLICY.record.append((m, k, n))
    cut = plan(m, k, n)
    if cut is None:
        return _whole(a, b, out)
    c = np.empty((m, n), np.result_type(a, b)) if out is None else out
    axis, bounds = cut
    parts = [(slice(lo, hi), slice(None)) if axis == 0 else (slice(None), slice(lo, hi)) for lo, hi in bounds]

    def piece(i: int, in_place: bool | None):
        rows, cols = parts[i]
        return np.matmul(a[rows], b[:, cols], out=c[rows, cols] if in_place else None)

    def put(i: int, value: np.ndarray) -> None:
        c[parts[i]] = value

    POLICY.run(len(bounds), piece, put)
    return c


__all__ = ["matmul", "plan", "PIECE_FLOPS", "MIN_PIECES", "MIN_ROWS", "MIN_COLS", "MAX_PIECES"]
