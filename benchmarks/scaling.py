"""How cost grows: time linear in T and in tokens, LookBack(k) linear in k with no forward
recomputation, memory O(T * batch * hidden) for one sequence and nothing kept across chunks, and a
10,000-step sequence that trains.

Run: python benchmarks/scaling.py   (about a minute; prints ratios, asserts nothing)
"""

import argparse
import gc
import time
import tracemalloc

import numpy as np

import autograd_rnn as ar
from autograd_rnn.allocator import tune_allocator
from autograd_rnn.nodes import LSTMLayer


def step_time(seq, xs, repeats=3):
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        hs, _ = seq(ar.Tensor(xs))
        hs.backward(np.ones(hs.shape, hs.dtype))
        best = min(best, time.perf_counter() - t0)
    return best


def peak_mb(seq, xs):
    gc.collect()
    tracemalloc.start()
    hs, _ = seq(ar.Tensor(xs))
    hs.backward(np.ones(hs.shape, hs.dtype))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main():
    tune_allocator()
    rng = np.random.default_rng(0)
    B, In, H = 32, 64, 128
    cell = LSTMLayer(In, H, dtype=np.float32, rng=0)
    print("LSTM, batch 32, input 64, hidden 128, float32: forward + backward of one sequence")
    print(f"{'T':>6} {'ms':>9} {'ms per step':>12} {'peak MB':>9} {'MB per step':>12}")
    for T in (32, 64, 128, 256, 512):
        xs = rng.standard_normal((T, B, In), dtype=np.float32)
        seq = ar.Sequence(cell)
        t, m = step_time(seq, xs), peak_mb(seq, xs)
        print(f"{T:>6} {t * 1e3:>9.1f} {t * 1e3 / T:>12.3f} {m:>9.1f} {m / T:>12.3f}")
    print("\nLookBack(k), T = 256: backward cost grows with k (k + 1 batched passes), forward unchanged")
    xs = rng.standard_normal((256, B, In), dtype=np.float32)
    base = step_time(ar.Sequence(cell, truncation=ar.LookBack(0)), xs)
    for k in (0, 1, 2, 4, 8, 16):
        t = step_time(ar.Sequence(cell, truncation=ar.LookBack(k)), xs)
        print(f"  k = {k:>2}: {t * 1e3:7.1f} ms  ({t / base:4.2f}x LookBack(0))")
    print("\nstreaming 20 chunks of 64 steps with the state carried detached: peak memory per chunk")
    seq, state = ar.Sequence(cell), None
    for i in range(20):
        xs = rng.standard_normal((64, B, In), dtype=np.float32)
        gc.collect()
        tracemalloc.start()
        hs, state = seq(ar.Tensor(xs), state)
        hs.backward(np.ones(hs.shape, hs.dtype))
        state = ar.detach_state(state)
        del hs
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        if i in (0, 1, 9, 19):
            print(f"  chunk {i + 1:>2}: peak {peak:.1f} MB")
    print("\n10,000-step sequence (batch 1, hidden 32), forward + backward:")
    small = LSTMLayer(8, 32, dtype=np.float32, rng=0)
    xs = rng.standard_normal((10_000, 1, 8), dtype=np.float32)
    for fused in (True, False):
        t0 = time.perf_counter()
        hs, _ = ar.Sequence(small, fused=fused)(ar.Tensor(xs))
        (hs * 0.01).sum().backward()
        print(f"  {'fused' if fused else 'composed'}: {time.perf_counter() - t0:.2f} s, "
              f"grad finite: {bool(np.isfinite(small.weight_hh.grad).all())}")
        small.zero_grad()


if __name__ == "__main__":
    # --help says what it measures, and runs nothing
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
