"""Why products are cut by size into single-threaded BLAS calls, and why a time step's product is not.

    python benchmarks/threads.py [--help]

Prints, on this machine: (1) whether OpenBLAS's own threads change a product's bits, for the shapes a
training step makes; (2) a time step's product and a weight gradient timed with one BLAS thread,
OpenBLAS's two threads and autograd_rnn's pieces on two threads; (3) how long one Python thread takes
to wake another and get an answer (the floor under any piece handed to a second thread).
Run it on a quiet machine; docs/performance.md quotes its output.
"""

from __future__ import annotations

import argparse
import functools
import threading
import time

import numpy as np
from threadpoolctl import ThreadpoolController

from autograd_rnn import threads
from autograd_rnn.products import matmul, plan

SHAPES = [(32, 256, 1024), (32, 1024, 256), (32, 128, 512), (2048, 256, 107), (1024, 2048, 256)]


def blas(n: int) -> None:
    for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
        lib.set_num_threads(n)


def best_us(f, reps: int, rounds: int = 7) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best * 1e6


def bits() -> None:
    print("(1) float32 products, OpenBLAS with 1 and 2 threads: elements whose bits differ")
    rng = np.random.default_rng(0)
    for m, k, n in SHAPES:
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        blas(1)
        one = np.matmul(a, b)
        blas(2)
        two = np.matmul(a, b)
        print(f"    {str((m, k, n)):18} {np.mean(one != two):6.1%} of {one.size:,}")


def speed() -> None:
    print("(2) microseconds per product (best of 7 rounds): one BLAS thread, OpenBLAS's 2 threads, ours on 2 "
          "threads (pieces when the product is cut)")
    rng = np.random.default_rng(0)
    before = threads.setting()
    for m, k, n in SHAPES:
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        reps = max(5, int(3e8 / (2 * m * k * n)))
        matmul(a, b, out)  # pins BLAS to one thread
        theirs = functools.partial(np.matmul, a, b, out=out)
        one = best_us(theirs, reps)
        blas(2)
        two = best_us(theirs, reps)
        blas(1)
        threads.set_threads(2)
        ours = best_us(functools.partial(matmul, a, b, out), reps)
        threads.set_threads(before)
        cut = plan(m, k, n)
        print(f"    {str((m, k, n)):18} one {one:8.1f}   OpenBLAS 2 {two:8.1f}   ours 2 {ours:8.1f}   "
              f"{'whole' if cut is None else f'{len(cut[1])} pieces'}")


def handoff(n: int = 2000) -> None:
    a, b = threading.Semaphore(0), threading.Semaphore(0)

    def other():
        for _ in range(n):
            a.acquire()
            b.release()

    t = threading.Thread(target=other)
    t.start()
    t0 = time.perf_counter()
    for _ in range(n):
        a.release()
        b.acquire()
    rtt = (time.perf_counter() - t0) / n * 1e6
    t.join()
    print(f"(3) one Python thread wakes another and gets its answer: {rtt:.1f} us a round trip (both awake)")


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(threads.describe())
    bits()
    speed()
    handoff()


if __name__ == "__main__":
    main()
