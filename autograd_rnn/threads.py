"""How many threads multiply matrices, and the pool they come from.

Every matrix product of the package goes through :func:`autograd_rnn.products.matmul`, which cuts
a large product into pieces by its sizes alone and hands the pieces to the threads this module
lends it. BLAS itself runs on one thread per call. So:

* **The bits never depend on the threads.** Each piece is the same single-threaded BLAS call
  whichever thread runs it, and how a product is cut depends on its shape only: a seed gives the
  same weights on a quiet and on a busy machine, with ``--threads 1``, ``--threads 16`` or ``auto``.
* **A busy neighbour costs a share of the cores, never a wait for a descheduled thread.**
  OpenBLAS's own threads split a product evenly and wait for one another, so one thread that the
  scheduler has put aside stalls the whole product (beside a second training run, a step two to
  five times slower). Here the pieces are taken one at a time by whichever thread is free; the
  calling thread takes what no other thread has started, and when a piece another thread started
  is late, it computes that piece too (the same call, the same bits) rather than wait for it.

So every core can only help, and ``auto`` is every core this process may run on. The user's
settings win: ``--threads N``, ``AUTOGRAD_RNN_THREADS=N`` or :func:`set_threads` fix N threads; a
BLAS thread limit (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, a threadpoolctl
limit in force when the first product runs, or set to another count while it runs) caps ``auto``.
"""

from __future__ import annotations

import itertools
import os
import threading
import time

from .errors import ConfigError

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # an optional convenience: without it BLAS keeps its own setting
    ThreadpoolController = None

ENV = "AUTOGRAD_RNN_THREADS"
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
INTERVAL = 0.2  # seconds between looks at the BLAS thread count (a user may change it)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parse(value, name: str = "--threads", n_cores: int | None = None) -> int | None:
    """``"auto"`` or None -> None (the load decides); a whole number from 1 to the cores (or its
    text) -> that many threads. Anything else is a ConfigError naming ``name`` and the range."""
    n_cores = cores() if n_cores is None else n_cores
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    text = value.strip() if isinstance(value, str) else value
    ok = isinstance(text, int) and not isinstance(text, bool) or isinstance(text, str) and text.isdigit()
    n = int(text) if ok and len(str(text)) < 20 else 0
    if not 1 <= n <= n_cores:
        raise ConfigError(f"{name}={value!r}; expected 'auto' or a whole number of threads from 1 to {n_cores} "
                          f"(the cores this process may use)")
    return n


def decide(n_cores: int, cap: int | None = None, fixed: int | None = None) -> int:
    """Threads for a product: ``fixed`` when the user set a count, else every core up to ``cap``."""
    if fixed is not None:
        return fixed
    return max(1, min(n_cores, n_cores if cap is None else cap))


def _env_cap() -> tuple[int | None, str | None]:
    """A thread count the user set for BLAS in the environment, and the variable's name."""
    for name in BLAS_ENV:
        text = os.environ.get(name, "").split(",")[0].strip()
        if text.isdigit() and int(text) >= 1:
            return int(text), name
    return None, None


class Pool:
    """Helper threads that take part in a product: :meth:`run` computes ``task(i, out)`` for ``i`` in
    ``range(n)``, each into its part of the result, on the calling thread and on up to ``helpers``
    others, and returns when every part holds its piece (re-raising the first error a task raised).

    ``task(i, None)`` returns piece ``i`` as a new array and ``put(i, piece)`` stores it;
    ``task(i, True)`` computes it straight into its part. The calling thread computes the pieces it
    takes in place; a helper computes into its own array and stores it, under a lock, only if the
    piece is still missing. So the caller may take back a late piece (compute it apart and store
    it the same way) and return without waiting for a helper the scheduler has put aside, and once
    :meth:`run` returns nothing writes into the result. (BLAS adds into its output block by block:
    two threads writing one part at once would add into each other's partial sums.)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.wakes: list[threading.Semaphore] = []
        self.job = None
        self.pid = os.getpid()

    def _grow(self, helpers: int) -> None:
        with self.lock:
            while len(self.wakes) < helpers:
                wake = threading.Semaphore(0)
                threading.Thread(target=self._serve, args=(wake,), name="autograd_rnn-matmul", daemon=True).start()
                self.wakes.append(wake)

    def _serve(self, wake: threading.Semaphore) -> None:
        while True:
            wake.acquire()
            job = self.job
            if job is not None:
                job.help()

    def run(self, n: int, task, put, helpers: int) -> None:
        if helpers < 1 or n < 2:
            for i in range(n):
                task(i, True)
            return
        if self.pid != os.getpid():  # a forked child has none of its parent's threads
            self.__init__()
        helpers = min(helpers, n - 1)
        if len(self.wakes) < helpers:
            self._grow(helpers)
        job = _Job(n, task, put)
        self.job = job
        for wake in self.wakes[:helpers]:
            wake.release()
        job.lead()
        self.job = None
        if job.error is not None:
            raise job.error


class _Job:
    """One product's pieces: which are taken (``next``: each index handed out once) and which are in
    place (``done``, changed under ``lock``)."""

    def __init__(self, n: int, task, put):
        self.n, self.task, self.put = n, task, put
        self.next = itertools.count()  # next() is atomic: each index is taken once
        self.done = [False] * n
        self.left = n
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.error: BaseException | None = None

    def _mark(self, i: int, piece=None) -> None:
        with self.lock:
            if self.done[i]:
                return
            if piece is not None:
                self.put(i, piece)
            self.done[i] = True
            self.left -= 1
            if not self.left:
                self.finished.set()

    def help(self) -> None:
        """A helper's part: take pieces until none is left, each computed into an array of its own."""
        for i in self.next:
            if i >= self.n:
                return
            try:
                piece = self.task(i, None) if self.error is None else None
            except BaseException as e:  # handed to the caller, which re-raises it
                self.error = self.error or e
                piece = None
            self._mark(i, piece)

    def lead(self) -> None:
        """The caller's part: take pieces in place; then take back every piece still missing after
        waiting as long as one piece took, rather than wait for a helper that may not be running."""
        took = 0.0
        try:
            for i in self.next:
                if i >= self.n:
                    break
                t0 = time.perf_counter()
                self.task(i, True)
                took = time.perf_counter() - t0
                self._mark(i)
            if self.left and not self.finished.wait(max(took, 1e-4)):
                for i in range(self.n):
                    if not self.done[i]:  # a helper may be storing it right now: compute it apart
                        self._mark(i, self.task(i, None))
        except BaseException:
            with self.lock:  # no helper stores a piece after the caller has given up on the result
                self.done = [True] * self.n
            raise


class Policy:
    """The process's thread policy (see the module docstring). ``fixed``: a count set by the user
    (None: auto); ``cap``: the most threads auto uses; ``record``, a list or None, collects the
    ``(m, k, n)`` of every product while it is a list (for profiles)."""

    def __init__(self):
        self.cores = cores()
        self.error: ConfigError | None = None
        try:
            self.fixed = parse(os.environ.get(ENV), ENV, self.cores)
        except ConfigError as e:  # said when the policy is first used (and by the CLI at start), never at import
            self.fixed, self.error = 1, e
        self.cap, self.cap_source = self.cores, None
        env, name = _env_cap()
        if env is not None and env < self.cores:
            self.cap, self.cap_source = env, name
        self.record: list | None = None
        self.pool = Pool()
        self.blas = None
        self.pinned: int | None = None
        self.ready = False  # BLAS looked at (and pinned where threadpoolctl can): small products go straight to it
        self.next_look = 0.0
        if ThreadpoolController is not None:
            try:
                self.blas = ThreadpoolController().select(user_api="blas").lib_controllers or None
            except Exception:  # threadpoolctl could not inspect this BLAS: leave it alone
                self.blas = None

    def check(self) -> None:
        """Raise the ConfigError of a bad ``AUTOGRAD_RNN_THREADS``, if there is one."""
        if self.error is not None:
            raise self.error

    def _look(self, now: float) -> None:
        """Pin BLAS to one thread a call. A count found there that is not the one pinned was set by
        the user (before the first product, or since): it caps ``auto``."""
        self.next_look = now + INTERVAL
        self.ready = True
        if self.blas is None:
            return
        counts = {lib.num_threads for lib in self.blas}
        if counts == {self.pinned}:
            return
        theirs = min(self.cores, *counts)
        if self.pinned is not None or self.cap_source is None or theirs != self.cap:
            self.cap, self.cap_source = theirs, "a BLAS thread limit" if theirs < self.cores else None
        for lib in self.blas:
            lib.set_num_threads(1)
        self.pinned = 1

    def tick(self) -> None:
        """Called before every product: keeps BLAS on one thread a call (and raises the error of a
        bad ``AUTOGRAD_RNN_THREADS``)."""
        if self.error is not None:
            raise self.error
        now = time.monotonic()
        if now >= self.next_look:
            self._look(now)

    def threads(self) -> int:
        """How many threads take part in the next product."""
        return decide(self.cores, self.cap, self.fixed)

    def run(self, n: int, task, put) -> None:
        """The ``n`` pieces of one product on the threads the policy lends (see :meth:`Pool.run`)."""
        self.pool.run(n, task, put, self.threads() - 1 if n > 1 else 0)

    def describe(self) -> str:
        self._look(time.monotonic())
        if self.error is not None:
            return f"BLAS threads: {self.error}"
        how = "products cut by size alone, BLAS one thread a call: results are the same whatever the count"
        if self.fixed is not None:
            return f"BLAS threads: {self.fixed} for every product (fixed by {ENV} or --threads); {how}"
        cap = f"{self.cap} (capped by {self.cap_source})" if self.cap_source else f"{self.cap} (all cores)"
        return f"BLAS threads: auto: {cap}, pieces taken by whichever thread is free; {how}"


POLICY = Policy()


def set_threads(value, name: str = "threads") -> None:
    """Fix the thread count for every product (an int from 1 to the cores, or its text), or let
    the load decide again (``"auto"``/None). A ConfigError names ``name`` and the allowed range."""
    POLICY.fixed = parse(value, name, POLICY.cores)
    POLICY.error = None


def setting() -> str:
    """The thread setting as ``set_threads`` takes it back: ``"auto"`` or the fixed count."""
    return "auto" if POLICY.fixed is None else str(POLICY.fixed)


def describe() -> str:
    return POLICY.describe()


def _after_fork() -> None:
    POLICY.pool = Pool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


__all__ = ["ENV", "decide", "parse", "set_threads", "setting", "describe", "cores", "Policy", "Pool"]
