"""How many BLAS threads each matrix product gets.

A small product (a recurrent step's ``h @ W^T`` at batch 32, hidden 64: under a megaflop, a few
microseconds) gains nothing from a second thread. A large one (an output projection, a weight
gradient over all steps) scales with the cores, but only while they are free: an OpenBLAS thread
that waits for a descheduled partner spins, and beside busy neighbours a multi-threaded product
can take a whole scheduler time slice instead of microseconds (a training step 20 to 80 times
slower). So the package chooses per operation:

* below ``SMALL_FLOPS`` floating-point operations: one thread;
* from there on: every core this process may run on, unless the machine is **busy**: then one.

*Busy* is measured, not guessed: Linux counts the time this process's main thread spent ready
to run but waiting for a CPU (``/proc/self/schedstat``); when that is more than ``BUSY_SHARE`` of
the last ``INTERVAL`` seconds, other processes want the cores, and products run on one thread
until the waiting stops. Off Linux the size alone decides.

BLAS sums in another order with another thread count, so a product's last bits depend on it. A
fixed thread count makes runs reproducible bit for bit (a resumed run equal to an uninterrupted
one, a seed giving the same weights); ``auto`` gives that too as long as the load does not change
its choices. ``AUTOGRAD_RNN_THREADS=N`` in the environment, ``set_threads(N)`` or ``autograd-rnn
... --threads N`` fixes N threads for every product (``auto`` restores the policy). Control goes
through threadpoolctl; without it, or with a BLAS it does not know, nothing is changed.
"""

from __future__ import annotations

import os
import time

from .errors import ConfigError

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # an optional convenience for the pure-numpy path: without it BLAS keeps its own setting
    ThreadpoolController = None

SMALL_FLOPS = 1e6  # on 2 cores, 32x128 @ 128x128 (1.05 MFLOP) runs 10-16% faster on two threads
BUSY_SHARE = 0.05
INTERVAL = 0.2
ENV = "AUTOGRAD_RNN_THREADS"
SCHEDSTAT = "/proc/self/schedstat"


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def decide(flops: float, n_cores: int, fixed: int | None = None, busy: bool = False) -> int:
    """The thread count for one product of ``flops`` operations on ``n_cores`` cores, on a
    ``busy`` machine or not; ``fixed`` overrides."""
    if fixed is not None:
        return fixed
    return 1 if flops < SMALL_FLOPS or busy else max(1, n_cores)


def read_wait() -> float | None:
    """Seconds this process's main thread has spent waiting for a CPU, or None where the system
    does not say (not Linux)."""
    try:
        with open(SCHEDSTAT) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


class LoadWatch:
    """Whether the machine is busy: the share of wall time the main thread spent waiting for a
    CPU over the last ``interval`` seconds, above ``share``. Read at most once per interval;
    ``clock`` and ``read`` are injectable for tests."""

    def __init__(self, share: float = BUSY_SHARE, interval: float = INTERVAL, clock=time.monotonic, read=read_wait):
        self.share, self.interval, self.clock, self.read = share, interval, clock, read
        self.since, self.waited = clock(), read()
        self.busy = False

    def __call__(self) -> bool:
        now = self.clock()
        if self.waited is None or now - self.since < self.interval:
            return self.busy
        waited = self.read()
        if waited is not None:
            self.busy = (waited - self.waited) > self.share * (now - self.since)
        self.since, self.waited = now, waited
        return self.busy


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
    """The process's thread policy; :func:`use` is called before each BLAS product (or run of
    equal products). ``record``, a list or None, collects the ``(m, k, n)`` of every product while
    it is a list (for profiles)."""

    def __init__(self):
        self.fixed = parse(os.environ.get(ENV))
        self.cores = cores()
        self.busy = LoadWatch()
        self.current: int | None = None
        self.record: list | None = None
        self.blas = None
        if ThreadpoolController is not None:
            try:
                self.blas = ThreadpoolController().select(user_api="blas").lib_controllers or None
            except Exception:  # threadpoolctl could not inspect this BLAS: leave it alone
                self.blas = None

    def threads_for(self, flops: float) -> int:
        if self.fixed is None and flops < SMALL_FLOPS:  # the common case, decided at once
            return 1
        if self.fixed is not None or self.cores == 1:
            return decide(flops, self.cores, self.fixed)
        return decide(flops, self.cores, busy=self.busy())

    def use(self, m: int, k: int, n: int, count: int = 1) -> None:
        """Set the BLAS thread count for the product of an ``(m, k)`` and a ``(k, n)`` matrix, or
        for ``count`` such products in a row (a time loop)."""
        if self.record is not None:
            self.record.extend([(m, k, n)] * count)
        want = self.threads_for(2.0 * m * k * n)
        if want != self.current and self.blas is not None:
            for lib in self.blas:
                lib.set_num_threads(want)
            self.current = want

    def describe(self) -> str:
        if self.blas is None:
            return "BLAS threads: left to the BLAS library (threadpoolctl cannot control it here)"
        if self.fixed is not None:
            return f"BLAS threads: {self.fixed} for every product (fixed by {ENV} or --threads)"
        watch = "1 while the machine is busy" if self.busy.waited is not None else "(load not measurable here)"
        return (f"BLAS threads: auto: 1 below {SMALL_FLOPS / 1e6:g} MFLOP, {self.cores} (all cores) from there on, "
                f"{watch}")


POLICY = Policy()


use = POLICY.use  # the process's policy decides every product (see Policy.use)


def set_threads(value) -> None:
    """Fix the thread count for every product (an int), or restore the policy (``"auto"``/None)."""
    POLICY.fixed = parse(value)
    POLICY.current = None


def describe() -> str:
    return POLICY.describe()


__all__ = ["SMALL_FLOPS", "decide", "parse", "use", "set_threads", "describe", "cores", "Policy", "LoadWatch"]
