"""``autograd-rnn bench``: training and sampling speed, side by side with PyTorch.

A training step is forward + loss + backward + optimizer step; tokens per step = batch x seq_len.
For each configuration and cell the implementations run *interleaved* in one process on the same
token data (round 1: ours fused, PyTorch fused, ours composed, PyTorch cell loop; round 2: ...),
and each row reports the median over rounds and the ratio ours / PyTorch measured in that run.
Only ratios from one run mean anything: this machine's speed drifts by tens of percent.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from . import threads
from .allocator import tune_allocator
from .errors import ConfigError
from .models import LanguageModel, sample_ids
from .nodes import CELLS as CELL_CLASSES
from .nodes import TorchLikeCell
from .optim import SGD, Adam
from .products import matmul
from .sequence import LookBack
from .train import TrainConfig
from .train.loop import Run


@dataclass(frozen=True)
class Config:
    name: str
    vocab: int
    embed: int
    hidden: int
    batch: int
    seq_len: int
    optimizer: str
    lr: float


CONFIGS = [
    Config("C1 word LM", 8000, 100, 100, 1, 20, "sgd", 0.005),
    Config("C2 char LM small", 65, 64, 128, 32, 64, "adam", 2e-3),
    Config("C3 char LM medium", 65, 128, 512, 64, 64, "adam", 2e-3),
]
CELLS = tuple(name for name, cls in CELL_CLASSES.items() if issubclass(cls, TorchLikeCell))
"""The built-in cells PyTorch has (nn.RNN, nn.LSTM, nn.GRU), which the bench runs beside it."""


def tokens(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """The inputs and targets ``(seq_len, batch)`` every timing of ``cfg`` trains on (seed 0)."""
    rng = np.random.default_rng(0)
    return rng.integers(0, cfg.vocab, (cfg.seq_len, cfg.batch)), rng.integers(0, cfg.vocab, (cfg.seq_len, cfg.batch))


# ----- ours --------------------------------------------------------------------------------------
class Ours:
    def __init__(self, cfg: Config, cell: str, dtype, fused: bool, seed: int = 0, truncation=None):
        self.model = LanguageModel(cfg.vocab, cell=cell, embed_size=cfg.embed, hidden_size=cfg.hidden,
                                   dtype=dtype, rng=seed, fused=fused, truncation=truncation)
        params = self.model.parameters()
        self.opt = SGD(params, lr=cfg.lr) if cfg.optimizer == "sgd" else Adam(params, lr=cfg.lr)

    def step(self, x, y) -> float:
        loss, _ = self.model.loss(x, y)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


# ----- PyTorch -----------------------------------------------------------------------------------
def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class Torch:
    """PyTorch's fused nn.RNN/LSTM/GRU (``cells=False``) or an eager loop over nn.*Cell."""

    def __init__(self, cfg: Config, cell: str, dtype, cells: bool, seed: int = 0):
        import torch

        torch.manual_seed(seed)
        self.torch, self.cells = torch, cells
        tdtype = torch.float32 if dtype == np.float32 else torch.float64
        name = cell.upper()  # torch.nn.RNN, LSTM, GRU and their *Cell
        self.emb = torch.nn.Embedding(cfg.vocab, cfg.embed).to(tdtype)
        mod = getattr(torch.nn, name + ("Cell" if cells else ""))
        self.rnn = mod(cfg.embed, cfg.hidden).to(tdtype)
        self.proj = torch.nn.Linear(cfg.hidden, cfg.vocab).to(tdtype)
        self.params = [*self.emb.parameters(), *self.rnn.parameters(), *self.proj.parameters()]
        opt = torch.optim.SGD if cfg.optimizer == "sgd" else torch.optim.Adam
        self.opt = opt(self.params, lr=cfg.lr)
        self.lstm = cell == "lstm"

    def forward(self, x):
        e = self.emb(x)
        if not self.cells:
            hs, _ = self.rnn(e)
        else:
            T, B = x.shape
            h = e.new_zeros(B, self.rnn.hidden_size)
            state = (h, h) if self.lstm else h
            outs = []
            for t in range(T):
                state = self.rnn(e[t], state)
                outs.append(state[0] if self.lstm else state)
            hs = self.torch.stack(outs)
        return self.proj(hs)

    def step(self, x, y) -> float:
        torch = self.torch
        logits = self.forward(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


# ----- timing ------------------------------------------------------------------------------------
def _time_steps(impl, x, y, steps: int, settle: float = 0.0) -> float:
    """Seconds for ``steps`` training steps. With ``settle``, first pause so the other library's
    thread pool goes idle (on 2 cores, numpy's OpenBLAS threads and PyTorch's OpenMP threads
    still spinning from the previous block halve the next one's speed), then run one untimed step."""
    if settle:
        time.sleep(settle)
        impl.step(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        impl.step(x, y)
    return time.perf_counter() - t0


def peak_memory_mb(impl, x, y) -> float:
    """Peak numpy allocations (tracemalloc) during one training step, MB."""
    gc.collect()
    tracemalloc.start()
    impl.step(x, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def steps_for(cfg: Config, quick: bool) -> int:
    tokens = cfg.batch * cfg.seq_len
    budget = 2048 * (12 if quick else 16) if cfg.hidden < 512 else 4096 * 4
    return max(3, min(100, budget // tokens))


def bench_config(cfg: Config, cell: str, dtype, repeats: int, quick: bool, with_torch: bool,
                 composed: bool = True) -> dict:
    x, y = tokens(cfg)
    impls = {"ours fused": Ours(cfg, cell, dtype, fused=True)}
    if composed:
        impls["ours composed"] = Ours(cfg, cell, dtype, fused=False)
    if with_torch:
        import torch

        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        impls["torch fused"] = Torch(cfg, cell, dtype, cells=False)
        if composed:
            impls["torch cells"] = Torch(cfg, cell, dtype, cells=True)
    data = {k: ((tx, ty) if k.startswith("torch") else (x, y)) for k in impls}
    n = steps_for(cfg, quick)
    for k, impl in impls.items():  # warm up
        _time_steps(impl, *data[k], 2)
    rates = {k: [] for k in impls}
    for _ in range(repeats):
        for k, impl in impls.items():
            rates[k].append(n * cfg.batch * cfg.seq_len / _time_steps(impl, *data[k], n, settle=0.3))
    out = {k: statistics.median(v) for k, v in rates.items()}
    out["peak MB"] = peak_memory_mb(impls["ours fused"], x, y)
    return out


def product_share(cfg: Config, cell: str, fused: bool, steps: int = 5) -> dict:
    """Where one training step's time goes: the step (median of ``steps``) against the matrix
    products it made (their shapes recorded by :func:`~autograd_rnn.products.matmul`), each made
    alone on C-contiguous operands with the thread setting in force and with one thread. What is
    left is the elementwise work and the Python that no thread count speeds up."""
    x, y = tokens(cfg)
    impl = Ours(cfg, cell, np.float32, fused=fused)
    _time_steps(impl, x, y, 2)
    step = statistics.median(_time_steps(impl, x, y, 1) for _ in range(steps))
    threads.POLICY.record = []
    try:
        impl.step(x, y)
        shapes = threads.POLICY.record
    finally:
        threads.POLICY.record = None
    arrays, rng = {}, np.random.default_rng(0)
    for m, k, n in set(shapes):
        arrays[m, k, n] = (rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32))

    def products() -> float:
        t0 = time.perf_counter()
        for shape in shapes:
            matmul(*arrays[shape])
        return time.perf_counter() - t0

    before = threads.setting()
    try:
        policy = statistics.median(products() for _ in range(steps))
        threads.set_threads(1)
        one = statistics.median(products() for _ in range(steps))
    finally:
        threads.set_threads(before)
    return {"step": step, "products": policy, "products 1 thread": one, "count": len(shapes)}


NEIGHBOURS = {
    "none": [],
    "a second autograd-rnn train": [["-m", "autograd_rnn", "train", "--steps", "100000000", "--eval-every", "100000000",
                                     "--no-progress", "--no-plot", "--out", "{tmp}/neighbour"]],
    "numpy, its own BLAS threads": [["-c", "import numpy as np\na = np.random.rand(768, 768)\nwhile True: a @ a"]],
    "PyTorch, its own OpenMP threads": [["-c", "import torch\na = torch.rand(768, 768)\nwhile True: a @ a"]],
    "two busy loops": [["-c", "while True: pass"]] * 2,
}
"""The neighbours ``bench --threads-compare`` runs the default job beside: each a list of Python
command lines (``{tmp}``: a scratch folder)."""


@contextlib.contextmanager
def neighbours(kind: str, tmp: str):
    """The processes of one kind of neighbour (:data:`NEIGHBOURS`), started with the user's own thread
    settings removed (each uses its library's default: every core), stopped afterwards."""
    env = {k: v for k, v in os.environ.items() if k not in (threads.ENV, *threads.BLAS_ENV)}
    procs = [subprocess.Popen([sys.executable, *(a.format(tmp=tmp) for a in args)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for args in NEIGHBOURS[kind]]
    try:
        time.sleep(4.0 if procs else 0.0)  # started, and busy (a training run reads its corpus first)
        if any(p.poll() is not None for p in procs):
            raise ConfigError(f"bench: the neighbour '{kind}' stopped at once (exit {procs[0].poll()}); expected it "
                              f"to run until stopped (run its command by hand to see why)")
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def default_job(tmp: str):
    """A :class:`~autograd_rnn.train.loop.Run` of ``autograd-rnn train``'s defaults (seed 0), quiet."""
    return Run(TrainConfig(out=tmp, progress=False, plot=False))


def _job_block(tmp: str, steps: int) -> tuple[float, str]:
    """A fresh default job: seconds for ``steps`` training steps after an untimed one, and a digest of
    the weights they end with."""
    with contextlib.redirect_stderr(io.StringIO()):
        run = default_job(tmp)
    run.train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        run.train_step()
    seconds = time.perf_counter() - t0
    digest = hashlib.sha256(b"".join(p.data.tobytes() for p in run.params.values())).hexdigest()[:16]
    return seconds / steps, digest


def compare_threads(quick: bool, repeats: int, kinds: list[str] | None = None) -> list[str]:
    """The default job's step time with ``auto``, one thread and every core, interleaved in one process
    (round 1: auto, 1, N; round 2: ...), beside each kind of neighbour in :data:`NEIGHBOURS`; and
    whether every block ended with the same weights. Prints and returns the lines."""
    settings = ["auto", "1"] + ([str(threads.cores())] if threads.cores() > 1 else [])
    kinds = kinds or [k for k in NEIGHBOURS if k != "PyTorch, its own OpenMP threads" or torch_available()]
    steps = 8 if quick else 20
    lines = [f"the default job (autograd-rnn train's defaults), ms per training step, median of {repeats} "
             f"interleaved rounds of {steps} steps; auto/best = auto against the better fixed count",
             f"{'neighbour':<34} " + " ".join(f"{s + ' thr':>9}" for s in settings) + f" {'auto/best':>10}"]
    print("\n".join(lines), flush=True)
    digests = set()
    before = threads.setting()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for kind in kinds:
                times = {s: [] for s in settings}
                with neighbours(kind, tmp):
                    for _ in range(repeats):
                        for s in settings:
                            threads.set_threads(s)
                            seconds, digest = _job_block(f"{tmp}/job", steps)
                            times[s].append(seconds)
                            digests.add(digest)
                med = {s: statistics.median(v) for s, v in times.items()}
                best = min(v for s, v in med.items() if s != "auto")
                lines.append(f"{kind:<34} " + " ".join(f"{med[s] * 1e3:>9.1f}" for s in settings)
                             + f" {med['auto'] / best:>10.2f}")
                print(lines[-1], flush=True)
        finally:
            threads.set_threads(before)
    lines.append(f"weights after {steps + 1} steps from seed 0: "
                 + ("the same in every block (every setting, every neighbour)" if len(digests) == 1
                    else f"{len(digests)} different results: a thread count or the load changed the bits"))
    print(lines[-1], flush=True)
    return lines


def calibration() -> str:
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    matmul(a, a)
    best = min(_timed(lambda: matmul(a, a)) for _ in range(3))
    line = f"calibration: 2048^3 float32 matmul, ours {2 * 2048**3 / best / 1e9:.0f} GFLOP/s"
    if torch_available():
        import torch

        ta = torch.from_numpy(a)
        ta @ ta
        tbest = min(_timed(lambda: ta @ ta) for _ in range(3))
        line += f", torch {2 * 2048**3 / tbest / 1e9:.0f} GFLOP/s"
    return line


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_sampling(cfg: Config, cell: str, n: int, with_torch: bool, rounds: int = 5) -> dict:
    """Tokens/s drawing ``n`` tokens one at a time, ours and (``with_torch``) PyTorch's cell loop,
    interleaved in ``rounds`` rounds, each block after a 0.3 s pause; the best block of each."""
    ours = LanguageModel(cfg.vocab, cell=cell, embed_size=cfg.embed, hidden_size=cfg.hidden, dtype=np.float32, rng=0)
    runs = {"ours": lambda: sample_ids(ours, np.array([1]), n, rng=0)}
    if with_torch:
        import torch

        t = Torch(cfg, cell, np.float32, cells=True)
        gen = torch.Generator().manual_seed(0)

        @torch.no_grad()
        def run():
            tok = torch.tensor([1])
            h = torch.zeros(1, cfg.hidden)
            state = (h, h) if cell == "lstm" else h
            for _ in range(n):
                state = t.rnn(t.emb(tok), state)
                logits = t.proj(state[0] if cell == "lstm" else state)
                tok = torch.multinomial(torch.softmax(logits, -1), 1, generator=gen)[0]

        runs["torch cells"] = run
    for fn in runs.values():
        fn()
    best = dict.fromkeys(runs, math.inf)
    for _ in range(rounds):
        for name, fn in runs.items():
            time.sleep(0.3)
            best[name] = min(best[name], _timed(fn))
    return {name: n / seconds for name, seconds in best.items()}


def bench_tutorial(seconds: float = 4.0) -> float:
    """The tutorial's algorithm: word LM, vocabulary 8000, hidden 100, LookBack(4), one sentence
    (5-25 words) per SGD step. Returns tokens per second."""
    rng = np.random.default_rng(0)
    impl = Ours(CONFIGS[0], "rnn", np.float32, fused=True, truncation=LookBack(4))
    sentences = [rng.integers(0, 8000, rng.integers(6, 27)) for _ in range(200)]
    tokens, t0, i = 0, time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        s = sentences[i % len(sentences)]
        impl.step(s[:-1, None], s[1:, None])
        tokens += len(s) - 1
        i += 1
    return tokens / (time.perf_counter() - t0)


QUICK_SHARES = {("C1", "lstm"), ("C2", "lstm"), ("C2", "gru")}
TUTORIAL_TOKENS_PER_S = 45.0  # rnn-from-scratch's own code on this machine (40-50 tokens/s)


def blas_line() -> str:
    """Which BLAS numpy uses and which kernels it runs (OpenBLAS picks them by CPU, unless
    OPENBLAS_CORETYPE forces a set)."""
    try:
        from threadpoolctl import threadpool_info

        info = [f"{i['internal_api']} {i.get('version') or ''} kernels {i.get('architecture')}"
                for i in threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        info = ["(install threadpoolctl to see the kernels)"]
    forced = os.environ.get("OPENBLAS_CORETYPE")
    return "numpy BLAS: " + "; ".join(info) + (f" (OPENBLAS_CORETYPE={forced} forces them)" if forced else "")


def main(quick: bool = False, repeats: int | None = None, markdown: str | None = None,
         threads_only: bool = False) -> int:
    tuned = tune_allocator()
    if threads_only:
        lines = [f"autograd_rnn bench --threads-compare{' --quick' if quick else ''}: "
                 f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.processor() or platform.machine()}, "
                 f"{threads.cores()} cores, numpy {np.__version__}", blas_line(), threads.describe(), ""]
        print("\n".join(lines), flush=True)
        lines += compare_threads(quick, repeats or (3 if quick else 5))
        if markdown:
            with open(markdown, "w") as f:
                f.write("```text\n" + "\n".join(lines) + "\n```\n")
        return 0
    with_torch = torch_available()
    if with_torch:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    repeats = repeats or 5
    lines = [
        f"autograd_rnn bench{' --quick' if quick else ''}: {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"
        + (f", torch {torch.__version__}" if with_torch else " (torch not installed: no PyTorch columns)"),
        blas_line(),
        threads.describe(),
        calibration(),
        "allocator: glibc keeps freed memory for reuse (autograd_rnn.allocator), for every column alike" if tuned
        else "allocator: default",
        "",
        "training tokens/s (median of interleaved rounds, each block after a 0.3 s pause and an untimed step); "
        "ratio = ours / PyTorch in this run",
        f"{'config':<18} {'cell':<5} {'dtype':<8} {'ours fused':>11} {'torch fused':>12} {'ratio':>6} "
        f"{'ours composed':>14} {'torch cells':>12} {'ratio':>6} {'peak MB':>8}",
    ]
    print("\n".join(lines), flush=True)
    plan = []
    for cfg in CONFIGS:
        for cell in CELLS:
            for dtype in (np.float32, np.float64):
                if quick and (dtype == np.float64 or cfg.name.startswith("C3") or (cfg.name.startswith("C1")
                                                                                   and cell != "lstm")):
                    continue
                plan.append((cfg, cell, dtype))
    rows = []
    for cfg, cell, dtype in plan:
        composed = dtype == np.float32
        r = bench_config(cfg, cell, dtype, repeats, quick, with_torch, composed)
        row = (f"{cfg.name:<18} {cell:<5} {np.dtype(dtype).name:<8} {r['ours fused']:>11,.0f} "
               f"{_fmt(r.get('torch fused')):>12} {_ratio(r['ours fused'], r.get('torch fused')):>6} "
               f"{_fmt(r.get('ours composed')):>14} {_fmt(r.get('torch cells')):>12} "
               f"{_ratio(r.get('ours composed'), r.get('torch cells')):>6} {r['peak MB']:>8.1f}")
        print(row, flush=True)
        rows.append(row)
    extra = ["", "where a step's time goes (ours, float32): its matrix products timed alone, with the thread policy "
             "and with one thread; the rest is elementwise work and Python, which no thread count speeds up",
             f"{'config':<18} {'cell':<5} {'path':<8} {'step ms':>8} {'products':>9} {'1 thread':>9} "
             f"{'share':>6} {'rest':>6}"]
    print("\n".join(extra), flush=True)
    for cfg, cell in [(c, k) for c in CONFIGS for k in CELLS if not quick or (c.name[:2], k) in QUICK_SHARES]:
        for fused in (True, False):
            r = product_share(cfg, cell, fused)
            share = min(1.0, r["products"] / r["step"])
            extra.append(f"{cfg.name:<18} {cell:<5} {'fused' if fused else 'composed':<8} {r['step'] * 1e3:>8.2f} "
                         f"{r['products'] * 1e3:>9.2f} {r['products 1 thread'] * 1e3:>9.2f} {share:>6.0%} "
                         f"{1 - share:>6.0%}")
            print(extra[-1], flush=True)
    extra += ["", "sampling tokens/s (1000 tokens, batch 1, C2 sizes; best of 5 interleaved rounds)"]
    print("\n".join(extra[-2:]), flush=True)
    for cell in CELLS if not quick else ("lstm",):
        s = bench_sampling(CONFIGS[1], cell, 1000, with_torch)
        extra.append(f"  {cell:<5} ours {s['ours']:>9,.0f}   torch cell loop {_fmt(s.get('torch cells')):>9}   "
                     f"ratio {_ratio(s['ours'], s.get('torch cells'))}")
        print(extra[-1], flush=True)
    tut = bench_tutorial(2.0 if quick else 5.0)
    extra.append(f"\ntutorial's algorithm (vocab 8000, hidden 100, LookBack(4), one sentence per SGD step): "
                 f"{tut:,.0f} tokens/s = {tut / TUTORIAL_TOKENS_PER_S:,.0f}x the tutorial code's "
                 f"{TUTORIAL_TOKENS_PER_S:.0f} tokens/s")
    print(extra[-1], flush=True)
    if markdown:
        with open(markdown, "w") as f:
            f.write("```text\n" + "\n".join(lines + rows + extra) + "\n```\n")
    return 0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _ratio(a, b) -> str:
    return "-" if a is None or b is None or not math.isfinite(b) else f"{a / b:.2f}"
