"""What a run's metrics, gradient flow and pictures cost the default job (``autograd-rnn train`` with no
arguments: 4000 steps, an evaluation every 250).

    python benchmarks/watch_cost.py [--rounds 7] [--steps 40]

In one process, on the default job's model and data: (1) training steps timed in interleaved blocks,
plain and with the row each step adds to metrics.csv, and that row's cost alone; (2) what each
evaluation adds: the gradient flow measured on its chunk, the rows flushed, the two pictures drawn
(drawing is kept within PLOT_SHARE of the run's time, so its share is bounded whatever it costs).
Prints the projected share of the default job's time. Run it on a quiet machine; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import tempfile
import time

from autograd_rnn.allocator import tune_allocator
from autograd_rnn.train import Run, TrainConfig, watch

STEPS, EVAL_EVERY = 4000, 250


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=40, help="training steps per block")
    args = parser.parse_args()
    tune_allocator()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()):
        run = Run(TrainConfig(out=tmp, progress=False))
        w = run.watch = watch.Watch(run, resumed=False)
        run.train_step()
        plain, watched = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                value, tokens = run.train_step()
            plain.append((time.perf_counter() - t0) / args.steps)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                began = time.perf_counter()
                value, tokens = run.train_step()
                w.step(value, tokens, began)
            watched.append((time.perf_counter() - t0) / args.steps)
        w.log.pending.clear()
        t0 = time.perf_counter()
        for _ in range(EVAL_EVERY):
            began = time.perf_counter()
            w.step(value, tokens, began)
        row = (time.perf_counter() - t0) / EVAL_EVERY
        flush, flow, draw = [], [], []
        for _ in range(3):
            t0 = time.perf_counter()
            w.flush()
            flush.append(time.perf_counter() - t0)
            entry = {"step": run.progress.step, "train": 2.0, "val": 2.0}
            t0 = time.perf_counter()
            w.evaluated(entry)
            flow.append(time.perf_counter() - t0)
            run.progress.history.append(entry)
            t0 = time.perf_counter()
            w._draw()
            draw.append(time.perf_counter() - t0)
            for _ in range(EVAL_EVERY):
                w.step(value, tokens, time.perf_counter())
    step = statistics.median(plain)
    ratios = [b / a for a, b in zip(plain, watched)]
    evals = STEPS // EVAL_EVERY

    job = STEPS * step
    added = STEPS * row + evals * (statistics.median(flow) + statistics.median(flush))
    print(f"training step (the default job): {step * 1e3:.1f} ms, median of {args.rounds} blocks of {args.steps}")
    print(f"blocks with the metrics row / without: median {statistics.median(ratios):.4f} "
          f"(min {min(ratios):.4f}, max {max(ratios):.4f}; machine noise included)")
    print(f"the row alone: {row * 1e6:.1f} us per step ({row / step:.4%} of a step)")
    flow_s, flush_s, draw_s = (statistics.median(x) for x in (flow, flush, draw))
    print(f"each evaluation: gradient flow {flow_s * 1e3:.1f} ms ({flow_s / step:.2f} training steps), rows "
          f"flushed {flush_s * 1e3:.2f} ms, pictures {draw_s * 1e3:.0f} ms (kept within {watch.PLOT_SHARE:.0%} of "
          f"the run's time)")
    print(f"the default job ({STEPS} steps, {evals} evaluations, {job:.0f} s of training steps): rows and flow add "
          f"{added:.2f} s = {added / job:.2%}; drawing: {evals} x {draw_s:.2f} s at most, "
          f"{min(evals * draw_s, watch.PLOT_SHARE * job):.1f} s with the budget")


if __name__ == "__main__":
    main()
