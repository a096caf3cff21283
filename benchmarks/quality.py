"""Learning quality: each recipe trained on tinyshakespeare with nanoGPT's split (the first 90% of the
characters train, the last 10% validate), its validation loss against training time at every
evaluation, its tokens per second and peak memory, beside the published anchors.

Every recipe runs as ``autograd-rnn train --config RECIPE --corpus CORPUS --split nanogpt`` in a
process of its own (the command line's own code, and a peak memory of its own); the curve is the
run's history (the training seconds exclude validation, samples and checkpoints), the result its
final validation: the whole last 10%, scored with best.npz. ``--fit`` instead times each recipe's
training step and prints the steps that fill its budget on this machine.

Run: python benchmarks/quality.py [--recipes R.toml ...] [--corpus PATH] [--out DIR] [--quick | --fit]
``--out DIR`` (a new folder) keeps the runs and writes quality.md (the tables) and quality.png (the
curves). The corpus is ../shared/data/tinyshakespeare.txt from the repository root by default
(nanoGPT's data/shakespeare_char/input.txt), never copied into the project. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograd_rnn.allocator import tune_allocator
from autograd_rnn.atomic import atomic_file, atomic_write
from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.train import Run, TrainConfig
from autograd_rnn.train.configfile import read_config

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
RECIPES = [ROOT / "recipes" / "shakespeare-3min.toml", ROOT / "recipes" / "shakespeare-10min.toml"]
BUDGETS = {"shakespeare-3min": 180.0, "shakespeare-10min": 600.0}
"""Training seconds each recipe is meant to fill (``--fit`` sizes its steps to them)."""
QUICK = ["--steps", "6", "--eval-every", "3", "--hidden", "16", "--embed", "8", "--batch", "4", "--seq-len", "16",
         "--eval-tokens", "2000", "--sample-length", "0"]
"""--quick: every recipe shrunk to a few seconds, to check the pipeline (its numbers mean nothing)."""
ANCHORS = [
    ("nanoGPT CPU recipe (4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000 iterations; 0.80M parameters), "
     "its README", "about 3 min", 1.88, ""),
    ("the same, measured on the reference machine (PyTorch 2.13)", "161-171 s", 1.898, "372 MB"),
    ("nanoGPT baby GPT (6 layers, 384 wide, context 256, 5,000 iterations), on a GPU", "", 1.4697, ""),
]
"""(what, time, validation nats on the last 10%, peak memory), as published or measured."""


@dataclasses.dataclass
class Result:
    name: str
    history: list
    final: float | None
    wall: float
    peak_mb: float
    parameters: int

    @property
    def seconds(self) -> float:
        return self.history[-1]["seconds"] if self.history else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.history[-1]["tokens"] / self.seconds if self.history and self.seconds else 0.0


def fail(msg: str) -> None:
    print(f"error: quality.py: {msg}", file=sys.stderr)
    sys.exit(2)


def run_recipe(recipe: Path, corpus: Path, out: Path, extra: list[str]) -> Result:
    """Train ``recipe`` with the command line in a child process; its history, final validation, wall
    time and peak resident memory."""
    log = out.with_suffix(".log")
    cmd = [sys.executable, "-m", "autograd_rnn", "train", "--config", str(recipe), "--corpus", str(corpus),
           "--split", "nanogpt", "--out", str(out), "--no-progress", "--no-plot", *extra]
    start = time.perf_counter()
    with open(log, "w") as f:
        child = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        fail(f"{recipe.name} failed (exit {child.returncode}): {tail[0]} (the whole output: {log})")
    history = json.loads((out / "history.json").read_text())
    final = history[-1].get("final", {}).get("val") if history else None
    peak = usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)  # bytes on macOS, KiB on Linux
    parameters = sum(a.size for a in load_checkpoint(out / "last.npz").model.values())
    return Result(recipe.stem, history, final, wall, peak, parameters)


def fit(recipe: Path, corpus: Path, steps: int) -> str:
    """The steps of ``recipe`` that fill its budget here, from the median of ``steps`` timed training
    steps of the same Run the command line builds."""
    tune_allocator()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(**{**read_config(recipe), "corpus": str(corpus), "split": "nanogpt", "out": tmp,
                             "progress": False, "plot": False}).validate()
        run = Run(cfg)
        for _ in range(3):
            run.train_step()
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            run.train_step()
            times.append(time.perf_counter() - t)
    per_step = statistics.median(times)
    budget = BUDGETS.get(recipe.stem)
    fits = f"; {budget:.0f} s fit {int(budget / per_step):,} steps (the recipe says {cfg.steps:,})" if budget else ""
    return (f"{recipe.name}: {per_step * 1000:.1f} ms per step, {cfg.batch * cfg.seq_len / per_step:,.0f} tokens/s"
            + fits)


def curve_lines(r: Result) -> list[str]:
    return [f"| {r.name} | {h['step']:,} | {h['seconds']:.1f} | {h['val']:.4f} |" for h in r.history
            if h.get("val") is not None]


def tables(results: list[Result], corpus: Path, machine: str) -> str:
    lines = [f"Corpus: {corpus} (nanoGPT's split: the first 90% of the characters train, the last 10% "
             f"validate). Machine: {machine}.", "",
             "| run | parameters | training time | validation nats, last 10% | tokens/s | peak memory |",
             "|---|---|---|---|---|---|"]
    for r in results:
        final = f"**{r.final:.4f}**" if r.final is not None else "-"
        lines.append(f"| {r.name} | {r.parameters:,} | {r.seconds:.0f} s ({r.wall:.0f} s in all) | {final} | "
                     f"{r.tokens_per_s:,.0f} | {r.peak_mb:,.0f} MB |")
    for what, seconds, nats, memory in ANCHORS:
        lines.append(f"| {what} | | {seconds} | {nats} | | {memory} |")
    lines += ["", "Validation at every evaluation (training seconds: the steps alone, without validation, samples "
              "and checkpoints):", "", "| run | step | training seconds | validation nats |", "|---|---|---|---|"]
    for r in results:
        lines += curve_lines(r)
    return "\n".join(lines) + "\n"


def plot(results: list[Result], path: Path) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for r in results:
        points = [(h["seconds"], h["val"]) for h in r.history if h.get("val") is not None]
        if points:
            ax.plot(*zip(*points), "o-", ms=3, label=f"{r.name} ({r.final:.3f})" if r.final else r.name)
    ax.errorbar([166.0], [1.898], xerr=[[5.0], [5.0]], fmt="s", color="gray",
                label="nanoGPT CPU recipe, measured (1.898, 161-171 s)")
    ax.axhline(1.4697, color="gray", ls="--", lw=1, label="nanoGPT baby GPT on a GPU (1.4697)")
    ax.plot([180.0, 600.0], [1.60, 1.47], "*", ms=10, color="crimson", label="goals: 1.60 in 3 min, 1.47 in 10")
    ax.set_xlabel("training seconds")
    ax.set_ylabel("validation loss, last 10% (nats per character)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=100)
    return True


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model or sys.platform}, {cores} cores available, Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", nargs="+", type=Path, default=RECIPES, help="recipe files (default: the "
                    "tinyshakespeare 3- and 10-minute recipes)")
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="tinyshakespeare (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=None, help="a new folder for the runs, quality.md and quality.png")
    ap.add_argument("--quick", action="store_true", help="every recipe shrunk to seconds (checks the pipeline)")
    ap.add_argument("--fit", type=int, nargs="?", const=20, default=None, metavar="STEPS",
                    help="instead: time STEPS training steps of each recipe and print the steps its budget fits")
    args = ap.parse_args(argv)
    if not args.corpus.is_file():
        fail(f"the corpus {args.corpus} is missing (tinyshakespeare: nanoGPT's data/shakespeare_char/input.txt); "
             f"put it there or pass --corpus FILE")
    missing = [str(r) for r in args.recipes if not r.is_file()]
    if missing:
        fail(f"no recipe at {', '.join(missing)}")
    if args.fit is not None:
        for recipe in args.recipes:
            print(fit(recipe, args.corpus, args.fit), flush=True)
        return
    if args.out is not None and args.out.exists() and any(args.out.iterdir()):
        fail(f"--out {args.out} is not empty; choose a new folder (results already there are kept)")
    with tempfile.TemporaryDirectory() as tmp:
        out = (args.out or Path(tmp)).resolve()
        (out / "runs").mkdir(parents=True, exist_ok=True)
        results = []
        for recipe in args.recipes:
            r = run_recipe(recipe.resolve(), args.corpus.resolve(), out / "runs" / recipe.stem,
                           QUICK if args.quick else [])
            results.append(r)
            for h in r.history:
                if h.get("val") is not None:
                    print(f"{r.name}: step {h['step']:,}, {h['seconds']:.1f} s, validation {h['val']:.4f}", flush=True)
            print(f"{r.name}: final validation {r.final if r.final is None else round(r.final, 4)} nats (the whole "
                  f"last 10%, best.npz) after {r.seconds:.0f} s of training ({r.wall:.0f} s in all), "
                  f"{r.tokens_per_s:,.0f} tokens/s, peak {r.peak_mb:,.0f} MB", flush=True)
        text = tables(results, args.corpus, machine())
        print("\n" + text)
        if args.out is not None:
            atomic_write(out / "quality.md", text.encode())
            drawn = plot(results, out / "quality.png")
            print(f"wrote {out / 'quality.md'}" + (f" and {out / 'quality.png'}" if drawn else
                                                  " (no quality.png: matplotlib is missing)"))


if __name__ == "__main__":
    main()
