"""The fused kernels of this tree against the kernels they replaced, kept below as they were: a
training step (forward, loss, backward, gradient clipping at 5, Adam) of the default job
(``autograd-rnn train``'s defaults: LSTM 256, embedding 64, batch 32 x 64 steps) and of the
bench's C2 sizes (hidden 128), in one process, the two kernels' blocks of steps interleaved (the
order alternating every round), the same weights and tokens; per configuration the median step of
each and the median of the per-round ratios. ``--phases`` times the changed kernels alone, one
sequence at a time, phase by phase (forward loop, forward with the derivative factors, the step
backwards of ``Full()``, ``finish``).

``--profile`` splits a training step's CPU time by part (the kernel's forward, the embedding,
projections and loss, the kernel's step backwards and ``finish``, the rest of the backward,
clipping, Adam).

Run: python benchmarks/fused_step.py [--rounds N] [--steps N] [--only NAME] [--phases | --profile]
Prints; asserts nothing. Only the ratios of one run mean anything on a busy machine; CPU time
(``time.process_time``, every thread) is printed beside wall time because it does not count the
time the process waits for a core, which is most of the noise on a shared machine.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np

from autograd_rnn.allocator import tune_allocator
from autograd_rnn.gates.base import Saved
from autograd_rnn.graph import is_grad_enabled, no_grad
from autograd_rnn.models import LanguageModel
from autograd_rnn.nodes import CELLS
from autograd_rnn.optim import Adam, clip_grad_norm
from autograd_rnn.products import matmul
from autograd_rnn.sequence import FUSED, Full, FusedCell, StepGradients
from autograd_rnn.sequence.fused import GRUKernel
from autograd_rnn.sequence.fused.lnlstm import check_parameters, normalize, normalize_back
from autograd_rnn.sequence.fused.rnn import RNNKernel, recurrent_grads, rows, start
from autograd_rnn.sequence.kernel import Kernel


# ----- the kernels before -------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def sigmoid_scale(B: int, H: int, gates: int, tanh_gate: int | None, dtype) -> tuple[np.ndarray, np.ndarray]:
    """The sigmoid scale and shift before, ``(B, gates * H)`` rows only."""
    scale = np.full(gates * H, 0.5, dtype)
    shift = np.full(gates * H, 0.5, dtype)
    if tanh_gate is not None:
        scale[tanh_gate * H : (tanh_gate + 1) * H] = 1
        shift[tanh_gate * H : (tanh_gate + 1) * H] = 0
    return rows(scale, B), rows(shift, B)


class StepGradientsBefore(StepGradients):
    """StepGradients before: the visited steps found with numpy's ``any`` and ``all``."""

    def __init__(self, shape: tuple, dtype):
        self.total = np.empty(shape, dtype)
        self.visited = np.zeros(shape[0], bool)

    def begin(self, s0: int, s1: int) -> np.ndarray:
        seen = self.visited[s0:s1]
        if not seen.any():
            seen[:] = True
            return self.total[s0:s1]
        if not seen.all():
            self.total[s0:s1][~seen] = 0
            seen[:] = True
        return np.empty((s1 - s0, *self.total.shape[1:]), self.total.dtype)

    def result(self) -> np.ndarray:
        self.total[~self.visited] = 0
        return self.total


class LSTMBefore(Kernel):
    """The fused LSTM before: bias added and sigmoid scale applied in the loop, factors with temporaries."""

    gates = 4

    def forward(self, zx, states0, params):
        W_hh, b_hh, hs = start("LSTMKernel", zx, states0, params, 4)
        T, B, H = zx.shape[0], zx.shape[1], hs.shape[2]
        dt = zx.dtype
        scale, shift = sigmoid_scale(B, H, 4, 2, dt)
        b_hh = rows(b_hh, B)
        cs = np.empty_like(hs)
        cs[0] = states0[1]
        act = np.empty((T, B, 4 * H), dt)
        tc = np.empty((T, B, H), dt)
        ig = np.empty((B, H), dt)
        W_T = W_hh.T
        for t in range(T):
            a = act[t]
            matmul(hs[t], W_T, out=a)
            a += zx[t]
            a += b_hh
            a *= scale
            np.tanh(a, out=a)
            a *= scale
            a += shift
            c = cs[t + 1]
            np.multiply(a[:, H : 2 * H], cs[t], out=c)
            np.multiply(a[:, :H], a[:, 2 * H : 3 * H], out=ig)
            c += ig
            np.tanh(c, out=tc[t])
            np.multiply(a[:, 3 * H :], tc[t], out=hs[t + 1])
        if not is_grad_enabled():
            return hs[1:], (hs[T], cs[T])
        i, f, g, o = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
        R = np.empty((T, B, 3, H), dt)
        R[:, :, 0] = g * i * (1 - i)
        R[:, :, 1] = cs[:-1] * f * (1 - f)
        R[:, :, 2] = i * (1 - g * g)
        self.saved = Saved(hs=hs, W_hh=W_hh, f=f, R=R, Q=o * (1 - tc * tc), P_o=tc * o * (1 - o))
        return hs[1:], (hs[T], cs[T])

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradientsBefore((T, B, 4 * H), self.saved.hs.dtype)

    def step_back(self, acc, s0, s1, dstate):
        s = self.saved
        dh, dc = dstate
        n, B, H = dh.shape
        dct = dh * s.Q[s0:s1]
        dct += dc
        dz = acc.begin(s0, s1)
        np.multiply(dct[:, :, None, :], s.R[s0:s1], out=dz[..., : 3 * H].reshape(n, B, 3, H))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        acc.end(s0, s1, dz)
        dh_prev = matmul(dz.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc):
        dz = acc.result()
        return dz, recurrent_grads(dz, self.saved.hs)


class LNLSTMBefore(Kernel):
    """The fused LN-LSTM before: activations in (batch, 4H) rows, factors with temporaries, and
    ``finish`` running the layer norm's backward over the summed ``dz`` again."""

    gates = 4

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, u, states0, params):
        H = check_parameters(u, states0[0], params)
        T, B = u.shape[:2]
        G, dt, eps = 4 * H, u.dtype, self.eps
        W_hh = params["weight_hh"]
        act = np.array(u)  # z_t, then the activations [i f g o], in place
        hs, cs = np.empty((T + 1, B, H), dt), np.empty((T + 1, B, H), dt)
        hs[0], cs[0] = states0
        nh, rh = np.empty((T, B, G), dt), np.empty((T, B, 1), dt)
        m, rc, tc = np.empty((T, B, H), dt), np.empty((T, B, 1), dt), np.empty((T, B, H), dt)
        scale, shift = sigmoid_scale(B, H, 4, 2, dt)
        g_hh, g_c, b_c = rows(params["gain_hh"], B), rows(params["gain_c"], B), rows(params["bias_c"], B)
        scaled, ig = np.empty((B, G), dt), np.empty((B, H), dt)
        W_T = W_hh.T
        for t in range(T):
            a = nh[t]
            matmul(hs[t], W_T, out=a)
            normalize(a, eps, rh[t])
            z = act[t]
            np.multiply(a, g_hh, out=scaled)
            z += scaled
            z *= scale
            np.tanh(z, out=z)
            z *= scale
            z += shift
            c = cs[t + 1]
            np.multiply(z[:, H : 2 * H], cs[t], out=c)
            np.multiply(z[:, :H], z[:, 2 * H : 3 * H], out=ig)
            c += ig
            mc = m[t]
            np.copyto(mc, c)
            normalize(mc, eps, rc[t])
            y = tc[t]
            np.multiply(mc, g_c, out=y)
            y += b_c
            np.tanh(y, out=y)
            np.multiply(z[:, 3 * H :], y, out=hs[t + 1])
        if not is_grad_enabled():  # no backward will run: nothing to keep
            return hs[1:], (hs[T], cs[T])
        i, f, g, o = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
        R = np.empty((T, B, 3, H), dt)
        R[:, :, 0] = g * i * (1 - i)
        R[:, :, 1] = cs[:-1] * f * (1 - f)
        R[:, :, 2] = i * (1 - g * g)
        self.saved = Saved(hs=hs, W_hh=W_hh, gain_hh=params["gain_hh"], gain_c=params["gain_c"], nh=nh, rh=rh, m=m,
                           rc=rc, f=f, R=R, Q=o * (1 - tc * tc), P_o=tc * o * (1 - o))
        return hs[1:], (hs[T], cs[T])

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradientsBefore((T, B, 5 * H), self.saved.hs.dtype)

    def step_back(self, acc: StepGradients, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        dh, dc = dstate
        n, B, H = dh.shape
        d = acc.begin(s0, s1)
        dz, dy = d[..., : 4 * H], d[..., 4 * H :]
        np.multiply(dh, s.Q[s0:s1], out=dy)
        dct = normalize_back(s.m[s0:s1], s.rc[s0:s1], dy * s.gain_c)
        dct += dc
        np.multiply(dct[:, :, None, :], s.R[s0:s1], out=dz[..., : 3 * H].reshape(n, B, 3, H))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        da = normalize_back(s.nh[s0:s1], s.rh[s0:s1], dz * s.gain_hh)
        acc.end(s0, s1, d)
        dh_prev = matmul(da.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc: StepGradients):
        s = self.saved
        d = acc.result()
        T, B, H = s.hs[1:].shape
        dz, dy = d[..., : 4 * H], d[..., 4 * H :]
        da_h = normalize_back(s.nh, s.rh, dz * s.gain_hh).reshape(T * B, 4 * H)
        return dz, {
            "weight_hh": matmul(da_h.T, s.hs[:-1].reshape(T * B, H)),
            "gain_hh": np.einsum("tbi,tbi->i", dz, s.nh),
            "gain_c": np.einsum("tbi,tbi->i", dy, s.m),
            "bias_c": dy.sum(axis=(0, 1)),
        }


class GRUBefore(GRUKernel):
    """The fused GRU (unchanged) with StepGradients before."""

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradientsBefore((T, B, 4 * H), self.saved.hs.dtype)


class RNNBefore(RNNKernel):
    """The fused RNN (unchanged) with StepGradients before."""

    def new_acc(self) -> StepGradients:
        return StepGradientsBefore(self.saved.hs[1:].shape, self.saved.hs.dtype)


BEFORE = {"lstm": LSTMBefore, "lnlstm": LNLSTMBefore, "gru": GRUBefore, "rnn": RNNBefore}
"""Cell name -> the kernel class it ran before."""


# ----- training steps -----------------------------------------------------------------------------
CONFIGS = {  # name: (cell, hidden)
    "default job (lstm 256)": ("lstm", 256),
    "C2 lstm": ("lstm", 128),
    "C2 gru": ("gru", 128),
    "C2 rnn": ("rnn", 128),
    "C2 lnlstm": ("lnlstm", 128),
    "lnlstm 256": ("lnlstm", 256),
}
VOCAB, EMBED, BATCH, SEQ = 65, 64, 32, 64


class Job:
    """One model and its Adam, trained the way ``autograd-rnn train`` does (clip 5)."""

    def __init__(self, cell: str, hidden: int):
        self.model = LanguageModel(VOCAB, cell=cell, embed_size=EMBED, hidden_size=hidden, dtype=np.float32, rng=0)
        self.params = self.model.parameters()
        self.opt = Adam(self.params, lr=2e-3)

    def step(self, x, y) -> None:
        loss, _ = self.model.loss(x, y)
        self.model.zero_grad()
        loss.backward()
        clip_grad_norm(self.params, 5.0)
        self.opt.step()


def block(job: Job, entry: FusedCell, cls: type, x, y, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds (``time.process_time``: every thread of the process) per step over
    ``steps`` steps with ``entry`` in the fused table, after one untimed step."""
    FUSED[cls] = entry
    job.step(x, y)
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        job.step(x, y)
    return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps


def compare(name: str, rounds: int, steps: int) -> str:
    cell, hidden = CONFIGS[name]
    cls = CELLS[cell]
    now = FUSED[cls]
    before = FusedCell(**{**now.__dict__, "kernel": BEFORE[cell]})
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, VOCAB, (SEQ, BATCH)), rng.integers(0, VOCAB, (SEQ, BATCH))
    jobs = {"before": Job(cell, hidden), "now": Job(cell, hidden)}
    entries = {"before": before, "now": now}
    times = {k: [] for k in jobs}
    try:
        for r in range(rounds):
            for k in (("before", "now") if r % 2 == 0 else ("now", "before")):
                times[k].append(block(jobs[k], entries[k], cls, x, y, steps))
    finally:
        FUSED[cls] = now
    cols = []
    for j, what in enumerate(("wall", "cpu")):
        a, b = ([t[j] for t in times[k]] for k in ("before", "now"))
        cols.append(f"{what} {statistics.median(a) * 1e3:7.2f} -> {statistics.median(b) * 1e3:7.2f} ms, "
                    f"now/before {statistics.median(v / u for u, v in zip(a, b)):5.3f}")
    return f"{name:<24} " + "   ".join(cols)


# ----- a sequence's kernel, phase by phase --------------------------------------------------------
def kernel_inputs(cell: str, hidden: int) -> tuple:
    """``(zx, states0, params, g_hs, g_final)`` of one C2-shaped sequence (batch 32, 64 steps, float32)."""
    rng = np.random.default_rng(0)
    layer = CELLS[cell](hidden, hidden, dtype=np.float32, rng=rng)
    names = FUSED[type(layer)].recurrent
    params = {n: layer.resolve(n).data for n in names}
    width = params["weight_hh"].shape[0]
    zx = rng.normal(size=(SEQ, BATCH, width)).astype(np.float32)
    states0 = tuple(np.zeros((BATCH, hidden), np.float32) for _ in range(layer.n_state))
    g_hs = rng.normal(size=(SEQ, BATCH, hidden)).astype(np.float32)
    return zx, states0, params, g_hs, tuple(np.zeros_like(s) for s in states0)


def phases(kernel, inputs: tuple) -> dict:
    """CPU seconds (``time.process_time``) of each phase of one application of ``kernel()``: the
    forward with gradients off (the loop alone: it keeps nothing), the forward with gradients on
    (the loop and the derivative factors), the step backwards of ``Full()``, ``finish``."""
    zx, states0, params, g_hs, g_final = inputs
    clock = time.process_time
    t0 = clock()
    with no_grad():
        kernel().forward(zx, states0, params)
    t1 = clock()
    k = kernel()
    k.forward(zx, states0, params)
    t2 = clock()
    acc = k.new_acc()
    Full().backward(functools.partial(k.step_back, acc), g_hs, g_final)
    t3 = clock()
    k.finish(acc)
    t4 = clock()
    return {"loop": t1 - t0, "forward": t2 - t1, "backward steps": t3 - t2, "finish": t4 - t3, "all": t4 - t1}


def compare_phases(cell: str, hidden: int, rounds: int) -> list[str]:
    """Before and now, one application each a round (the order alternating): the median of each
    phase and the median and quartiles of the per-round ratios now/before."""
    inputs = kernel_inputs(cell, hidden)
    now = FUSED[CELLS[cell]]
    kernels = {"before": BEFORE[cell], "now": functools.partial(now.kernel, **now.options(CELLS[cell](1, 1)))}
    for k in kernels.values():
        phases(k, inputs)
    runs = {k: [] for k in kernels}
    for r in range(rounds):
        for k in (("before", "now") if r % 2 == 0 else ("now", "before")):
            runs[k].append(phases(kernels[k], inputs))
    lines = [f"{cell} {hidden}, CPU ms, median of {rounds} rounds; now/before: median [quartiles] of the ratios"]
    for p in runs["now"][0]:
        b, n = ([run[p] for run in runs[k]] for k in ("before", "now"))
        q = statistics.quantiles([y / x for x, y in zip(b, n)], n=4)
        lines.append(f"  {p:<15} before {statistics.median(b) * 1e3:7.2f}  now {statistics.median(n) * 1e3:7.2f}  "
                     f"now/before {q[1]:5.3f} [{q[0]:.3f}, {q[2]:.3f}]")
    return lines


# ----- where a training step's time goes ---------------------------------------------------------
def timed(kernel: type, spent: dict) -> type:
    """``kernel`` with the CPU time of its forward, step backwards and ``finish`` added to ``spent``."""

    class Timed(kernel):
        def forward(self, *args):
            t0 = time.process_time()
            out = super().forward(*args)
            spent["kernel forward"] += time.process_time() - t0
            return out

        def step_back(self, *args):
            t0 = time.process_time()
            out = super().step_back(*args)
            spent["step backwards"] += time.process_time() - t0
            return out

        def finish(self, *args):
            t0 = time.process_time()
            out = super().finish(*args)
            spent["finish"] += time.process_time() - t0
            return out

    return Timed


PARTS = ("kernel forward", "embedding, projection, loss", "step backwards", "finish", "their backward", "clip",
         "Adam", "step")


def profile(name: str, rounds: int, steps: int) -> list[str]:
    """A training step's CPU time by part, before and now (blocks of ``steps`` steps alternating for
    ``rounds`` rounds; the median step of each part): the kernel's forward (the loop and the
    derivative factors), the rest of the forward (the embedding, the input and output projections,
    the loss), the kernel's step backwards and ``finish``, the rest of the backward, clipping, Adam."""
    cell, hidden = CONFIGS[name]
    cls = CELLS[cell]
    now = FUSED[cls]
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, VOCAB, (SEQ, BATCH)), rng.integers(0, VOCAB, (SEQ, BATCH))
    spent = dict.fromkeys(PARTS, 0.0)
    runs = {"before": BEFORE[cell], "now": now.kernel}
    entries = {k: FusedCell(**{**now.__dict__, "kernel": timed(kernel, spent)}) for k, kernel in runs.items()}
    jobs = {k: Job(cell, hidden) for k in runs}
    per_step = {k: [] for k in runs}
    clock = time.process_time
    try:
        for r in range(rounds):
            for k in (("before", "now") if r % 2 == 0 else ("now", "before")):
                FUSED[cls], job = entries[k], jobs[k]
                job.step(x, y)
                for _ in range(steps):
                    spent.update(dict.fromkeys(PARTS, 0.0))
                    t0 = clock()
                    loss, _ = job.model.loss(x, y)
                    t1 = clock()
                    job.model.zero_grad()
                    loss.backward()
                    t2 = clock()
                    clip_grad_norm(job.params, 5.0)
                    t3 = clock()
                    job.opt.step()
                    t4 = clock()
                    spent["embedding, projection, loss"] = t1 - t0 - spent["kernel forward"]
                    spent["their backward"] = t2 - t1 - spent["step backwards"] - spent["finish"]
                    spent.update({"clip": t3 - t2, "Adam": t4 - t3, "step": t4 - t0})
                    per_step[k].append(dict(spent))
    finally:
        FUSED[cls] = now
    lines = [f"{name}: CPU ms per training step by part, median of {rounds * steps} steps each"]
    for part in PARTS:
        b, n = (statistics.median(s[part] for s in per_step[k]) * 1e3 for k in ("before", "now"))
        lines.append(f"  {part:<28} before {b:7.2f}  now {n:7.2f}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=3, help="training steps per timed block")
    ap.add_argument("--only", choices=list(CONFIGS), action="append", help="configurations to run (default: all)")
    ap.add_argument("--phases", action="store_true", help="the kernels alone, phase by phase, before and now")
    ap.add_argument("--profile", action="store_true", help="a training step's CPU time by part, before and now")
    args = ap.parse_args()
    tune_allocator()
    if args.profile:
        for name in args.only or CONFIGS:
            print("\n".join(profile(name, args.rounds, args.steps)), flush=True)
        return
    if args.phases:
        for cell, hidden in dict.fromkeys(CONFIGS[name] for name in args.only or CONFIGS):
            print("\n".join(compare_phases(cell, hidden, args.rounds)), flush=True)
        return
    print(f"median of {args.rounds} interleaved rounds of {args.steps} training steps (float32, Adam, clip 5)")
    for name in args.only or CONFIGS:
        print(compare(name, args.rounds, args.steps), flush=True)


if __name__ == "__main__":
    main()
