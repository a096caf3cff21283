"""The layer-normalised LSTM's training step against the LSTM's, at the bench's C2 sizes (character
model: vocabulary 65, embedding 64, hidden 128, batch 32, 64 steps, Adam, float32): both fused,
blocks of steps interleaved in one process, the median block of each and their ratio; the fused
LN-LSTM's forward, backward and update apart. Also the composed LN-LSTM, for scale.

Run: python benchmarks/lnlstm.py [--rounds N] [--hidden H]   (BLAS threads as the package
decides; AUTOGRAD_RNN_THREADS=1 fixes one). Prints; asserts nothing.
"""

import argparse
import statistics
import time

import numpy as np

from autograd_rnn.allocator import tune_allocator
from autograd_rnn.bench import CONFIGS, Ours, _time_steps, tokens


def phases(impl, x, y, steps: int) -> dict:
    """Seconds per step in the forward (loss), the backward and the optimizer update."""
    out = dict.fromkeys(("forward", "backward", "update"), 0.0)
    for _ in range(steps):
        t0 = time.perf_counter()
        loss, _ = impl.model.loss(x, y)
        t1 = time.perf_counter()
        impl.opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        impl.opt.step()
        t3 = time.perf_counter()
        for k, dt in zip(out, (t1 - t0, t2 - t1, t3 - t2)):
            out[k] += dt / steps
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=5, help="training steps per timed block")
    ap.add_argument("--hidden", type=int, default=None, help="override C2's hidden size")
    args = ap.parse_args()
    tune_allocator()
    cfg = CONFIGS[1]
    if args.hidden:
        cfg = type(cfg)(**{**cfg.__dict__, "hidden": args.hidden})
    x, y = tokens(cfg)
    impls = {"lstm fused": Ours(cfg, "lstm", np.float32, fused=True),
             "lnlstm fused": Ours(cfg, "lnlstm", np.float32, fused=True),
             "lnlstm composed": Ours(cfg, "lnlstm", np.float32, fused=False)}
    times = {k: [] for k in impls}
    for impl in impls.values():
        _time_steps(impl, x, y, 1)
    for _ in range(args.rounds):
        for name, impl in impls.items():
            steps = 1 if "composed" in name else args.steps
            times[name].append(_time_steps(impl, x, y, steps, settle=0.05) / steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    tok = cfg.batch * cfg.seq_len
    print(f"{cfg.name} (hidden {cfg.hidden}), float32, median of {args.rounds} interleaved rounds")
    for name, t in med.items():
        print(f"  {name:<16} {t * 1e3:8.2f} ms/step  {tok / t:>9,.0f} tokens/s  {t / med['lstm fused']:5.2f}x lstm")
    parts = phases(impls["lnlstm fused"], x, y, args.steps)
    lstm_parts = phases(impls["lstm fused"], x, y, args.steps)
    print("  phases (ms/step)   " + "  ".join(f"{k} {parts[k] * 1e3:.2f} (lstm {lstm_parts[k] * 1e3:.2f})"
                                              for k in parts))


if __name__ == "__main__":
    main()
