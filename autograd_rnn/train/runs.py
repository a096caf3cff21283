"""Where runs live, and how they are found again: a new folder per run, never an old one replaced.

Without ``--out``, every run gets a new folder under ``runs/`` named by its start time
(``runs/20260501-143005``, with ``-2``, ``-3``, ... when two start in the same second), and
``runs/latest`` is a symbolic link to the newest one that wrote a checkpoint. ``--resume``
without ``--out`` continues the run ``runs/latest`` points at (the newest run folder where links
are not available). An ``--out`` that already holds a run is refused unless ``--resume`` says to
continue it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import time
from pathlib import Path

from ..atomic import check_target
from ..errors import ConfigError
from .config import TrainConfig
from .events import EVENTS_FILE
from .metrics import METRICS_FILE
from .plot import CURVE_FILE, FLOW_FILE

RUNS = Path("runs")
LATEST = "latest"
RUN_FILES = ("last.npz", "best.npz", "history.json", CURVE_FILE, METRICS_FILE, FLOW_FILE, EVENTS_FILE, "config.toml")
"""The files that make a folder hold a run."""
_NAME = re.compile(r"^\d{8}-\d{6}(-\d+)?$")


def run_files(out: Path) -> list[str]:
    """The files of a run that ``out`` holds (none for a new folder)."""
    return [name for name in RUN_FILES if os.path.lexists(out / name)]


def new_run(root: Path = RUNS) -> Path:
    """A new, empty folder for a run under ``root``, named by the time (created here, so two runs
    starting at once never share one)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1, 10_000):
        path = root / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ConfigError(f"{root}: cannot find a free name for a new run folder; choose one with --out")


def latest_run(root: Path = RUNS) -> Path | None:
    """The run ``root/latest`` points at, else the newest run folder under ``root``, else None."""
    link = root / LATEST
    if link.is_dir():
        return link.resolve()
    named = sorted((p for p in root.glob("*") if _NAME.match(p.name) and p.is_dir() and run_files(p)),
                   key=lambda p: [int(x) for x in p.name.replace("-", " ").split()])
    return named[-1] if named else None


def point_latest(run: Path, root: Path = RUNS) -> bool:
    """Make ``root/latest`` a link to ``run`` (replaced atomically). Leaves a ``latest`` that is a
    real folder (a run an earlier version kept there) as it is; False when no link was made."""
    link = root / LATEST
    if link.exists() and not link.is_symlink():
        return False
    tmp = root / f".{LATEST}.{secrets.token_hex(6)}"
    try:
        os.symlink(run.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def place(cfg: TrainConfig, root: Path = RUNS) -> tuple[TrainConfig, bool]:
    """The config with its output folder decided: without ``out`` a new folder under ``root``
    (True: this run made it), or with ``resume`` the latest run."""
    if cfg.out is not None:
        return cfg, False
    if cfg.resume:
        latest = latest_run(root)
        if latest is None:
            raise ConfigError(f"--resume: no run under {root}/ to continue; train without --resume first, or name "
                              f"the run's folder with --out")
        return dataclasses.replace(cfg, out=str(latest)), False
    return dataclasses.replace(cfg, out=str(new_run(root))), True


def check_out(out: Path, resume: bool) -> None:
    """Before a run starts in ``out`` (locked): refuse a folder that holds a run unless ``resume``,
    and a link or special file where the run will write (refused now, not after the training)."""
    if not resume and run_files(out):
        raise ConfigError(f"--out {out} already holds a run ({', '.join(run_files(out))}); continue it with "
                          f"--resume, or choose another --out (without --out, every run gets a new folder under "
                          f"{RUNS}/)")
    for name in RUN_FILES:
        check_target(out / name)


def discard_if_empty(out: Path) -> None:
    """Remove the folder a new run made when it wrote nothing into it (it failed before its first
    checkpoint)."""
    if not run_files(out):
        with contextlib.suppress(OSError):
            out.rmdir()


__all__ = ["RUNS", "LATEST", "RUN_FILES", "run_files", "new_run", "latest_run", "point_latest", "place", "check_out",
           "discard_if_empty"]
