"""Runs side by side: what ``autograd-rnn plot`` reads from each run's folder, and its table."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checkpoint import load_checkpoint
from ..errors import AutogradRNNError, ConfigError, DataError
from .metrics import METRICS_FILE, read_metrics
from .runs import run_files


@dataclass
class RunSummary:
    """A run as the comparison sees it: its validation losses by step and elapsed seconds, its cell
    and size (from ``last.npz``; ``parameters`` None when the run has no checkpoint yet)."""

    name: str
    path: Path
    cell: str
    parameters: int | None
    steps: int
    seconds: float
    val_steps: np.ndarray
    val_seconds: np.ndarray
    val: np.ndarray

    @property
    def best(self) -> int:
        """The index of the best validation loss."""
        return int(np.argmin(self.val))


def summarize(folder: str | Path) -> RunSummary:
    """Read a run's folder. ConfigError or DataError, in one line, for a folder that is not a run,
    a run without metrics, or metrics without a validation loss."""
    path = Path(folder)
    if not path.exists():
        raise ConfigError(f"plot: {folder} does not exist; expected a run's folder (runs/NAME, or a train --out)")
    if not path.is_dir():
        raise ConfigError(f"plot: {folder} is not a folder; expected a run's folder (runs/NAME, or a train --out)")
    if not run_files(path):
        raise ConfigError(f"plot: {folder} holds no run (no {METRICS_FILE}, last.npz or history.json); expected a "
                          f"folder written by autograd-rnn train")
    if not (path / METRICS_FILE).exists():
        raise DataError(f"plot: the run in {folder} has no {METRICS_FILE} (it was trained by an earlier version, "
                        f"which did not write one); nothing to compare")
    metrics = read_metrics(path / METRICS_FILE)
    evaluated = np.isfinite(metrics["val_loss"])
    if not evaluated.any():
        raise DataError(f"plot: the run in {folder} has no validation loss in its {METRICS_FILE} ("
                        + ("no evaluation has run yet" if len(metrics["step"]) else "no step has run yet")
                        + "; a corpus too short for a validation split has none)")
    cell, parameters = _model(path)
    name = str(folder).rstrip("/") or str(folder)
    if path.is_symlink() or path.name in ("", ".", ".."):
        name += f" ({path.resolve().name})"
    return RunSummary(name=name, path=path,
                      cell=cell, parameters=parameters, steps=int(metrics["step"][-1]),
                      seconds=float(metrics["elapsed_s"][-1]), val_steps=metrics["step"][evaluated],
                      val_seconds=metrics["elapsed_s"][evaluated], val=metrics["val_loss"][evaluated])


def _model(path: Path) -> tuple[str, int | None]:
    """The cell's name and the number of parameters, from the run's checkpoint, when it has one."""
    try:
        ck = load_checkpoint(path / "last.npz")
        spec = str(ck.config["model"]["cell"])
        return spec.rpartition(":")[2], sum(int(a.size) for a in ck.model.values())
    except (AutogradRNNError, OSError, KeyError, TypeError):
        return "?", None


def table(runs: list[RunSummary]) -> list[str]:
    """One line per run: the best validation loss (nats, bits), the step and seconds it was reached
    at, the run's steps and seconds, its parameters."""
    head = (f"{'run':<24} {'cell':<16} {'parameters':>11} {'best val':>9} {'bits':>7} {'at step':>8} "
            f"{'at time':>9} {'steps':>7} {'time':>9}")
    lines = [head, "-" * len(head)]
    for r in runs:
        b = r.best
        lines.append(f"{_tail(r.name, 24):<24} {_tail(r.cell, 16):<16} {_count(r.parameters):>11} {r.val[b]:>9.4f} "
                     f"{r.val[b] / math.log(2):>7.4f} {int(r.val_steps[b]):>8} {_time(r.val_seconds[b]):>9} "
                     f"{r.steps:>7} {_time(r.seconds):>9}")
    return lines


FIGURE = "runs-compared"
FORMATS = (".png", ".svg", ".pdf")


def figure_path(out: str | None) -> Path:
    """Where the comparison's figure goes: ``out`` (.png, .svg or .pdf), refused when something is
    there already; by default ``runs-compared.png`` in the current folder, or the first of
    ``runs-compared-2.png``, ``-3``, ... that is free. Nothing is ever replaced."""
    if out is None:
        for k in range(1, 10_000):
            path = Path(f"{FIGURE}{'' if k == 1 else f'-{k}'}.png")
            if not os.path.lexists(path):
                return path
        raise ConfigError(f"plot: no free name {FIGURE}-N.png in this folder; choose one with --out")
    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"plot: --out {out}; expected a file name ending in {', '.join(FORMATS)}")
    if os.path.lexists(path):
        raise ConfigError(f"plot: --out {out} exists; choose another file or remove it first (a figure is never "
                          f"replaced)")
    if not path.parent.is_dir():
        raise ConfigError(f"plot: --out {out}: the folder {path.parent} does not exist")
    return path


def _tail(text: str, width: int) -> str:
    """``text``, or its end after an ellipsis when it is longer than ``width`` (a path's end names it)."""
    return text if len(text) <= width else "\u2026" + text[-(width - 1):]


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _time(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


__all__ = ["RunSummary", "summarize", "table", "figure_path", "FORMATS"]
