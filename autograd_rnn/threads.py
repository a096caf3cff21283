"""How many BLAS threads each matrix product gets.

A small product (a recurrent step's ``h @ W^T`` at batch 32, hidden 64: under a megaflop, a few
microseconds) gains nothing from a second thread and loses badly when the machine is busy: an
OpenBLAS thread that waits for a descheduled partner spins, and such a step can take many times
its time. A large one (an output projection, a weight gradient over all steps) scales with the
cores. So the package chooses per operation, from its size:

* below ``SMALL_FLOPS`` floating-point operations: one thread;
* from there on: every core this process may run on.

The choice depends on the product's size and the machine's core count only, never on how busy
the machine is at the moment: BLAS sums in another order with another thread count, so a
load-dependent choice would make a seeded run, or a resumed one, differ in the last bits.

``AUTOGRAD_RNN_THREADS=N`` in the environment, ``set_threads(N)`` or ``autograd-rnn ... --threads N``
fixes N threads for every product instead (``auto`` restores the policy); ``--threads 1`` is the
choice for a machine shared with busy neighbours. Control goes through threadpoolctl; without it,
or with a BLAS it does not know, nothing is changed.
"""

from __future__ import annotations

import os

from .errors import ConfigError

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # an optional convenience for the pure-numpy path: without it BLAS keeps its own setting
    ThreadpoolController = None

SMALL_FLOPS = 2e6
ENV = "AUTOGRAD_RNN_THREADS"


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def decide(flops: float, n_cores: int, fixed: int | None = None) -> int:
    """The thread count for one product of ``flops`` operations on ``n_cores`` cores; ``fixed``
    overrides."""
    if fixed is not None:
        return fixed
    return 1 if flops < SMALL_FLOPS else max(1, n_cores)


def parse(value) -> int | None:
    """``"auto"``/None -> None (the policy); a positive int (or its text) -> that many threads."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise ConfigError(f"threads={value!r}; expected 'auto' or a whole number of threads >= 1")
    return n


class Policy:
    """The process's thread policy; :func:`use` is called before each BLAS product."""

    def __init__(self):
        self.fixed = parse(os.environ.get(ENV))
        self.cores = cores()
        self.current: int | None = None
        self.blas = None
        if ThreadpoolController is not None:
            try:
                self.blas = ThreadpoolController().select(user_api="blas").lib_controllers or None
            except Exception:  # threadpoolctl could not inspect this BLAS: leave it alone
                self.blas = None

    def threads_for(self, flops: float) -> int:
        return decide(flops, self.cores, self.fixed)

    def use(self, flops: float) -> None:
        n = self.threads_for(flops)
        if n != self.current and self.blas is not None:
            for lib in self.blas:
                lib.set_num_threads(n)
            self.current = n

    def describe(self) -> str:
        if self.blas is None:
            return "BLAS threads: left to the BLAS library (threadpoolctl cannot control it here)"
        if self.fixed is not None:
            return f"BLAS threads: {self.fixed} for every product (fixed by {ENV} or --threads)"
        return f"BLAS threads: auto: 1 below {SMALL_FLOPS / 1e6:g} MFLOP, {self.cores} (all cores) from there on"


POLICY = Policy()


def use(flops: float) -> None:
    """Set the BLAS thread count for a product of ``flops`` floating-point operations."""
    POLICY.use(flops)


def set_threads(value) -> None:
    """Fix the thread count for every product (an int), or restore the policy (``"auto"``/None)."""
    POLICY.fixed = parse(value)
    POLICY.current = None


def describe() -> str:
    return POLICY.describe()


__all__ = ["SMALL_FLOPS", "decide", "parse", "use", "set_threads", "describe", "cores", "Policy"]
