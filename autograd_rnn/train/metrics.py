"""``metrics.csv``: one row per training step, written as the run goes, continued by a resumed run.

Columns (:data:`COLUMNS`):

=============  =====================================================================================
step           the optimizer step, 1, 2, ...
elapsed_s      seconds since the run started, at the end of this step: evaluations included, summed
               over the sessions of a resumed run
tokens_per_s   the step's target tokens over the seconds its training step took
lr             the learning rate the step's update used
train_loss     the step's training loss (nats per target token), before the update
grad_norm      the global gradient norm, before clipping
clipped        1 when ``--clip`` scaled the gradient down (``grad_norm > clip``), else 0
val_loss       the validation loss, on the row of each evaluation; empty on the others
=============  =====================================================================================

Rows are kept in memory between flushes (at each checkpoint, so before it, and when the run
ends) and appended to the file (:func:`autograd_rnn.atomic.append`); a resumed run first drops
the rows past its checkpoint's step, which an interrupted run may have written. The numbers are
written exactly (``repr``), elapsed seconds to the millisecond and tokens per second to a tenth.
With ``events`` the same rows go to a TensorBoard event file (:mod:`.events`), always a function
of the CSV's rows and the run's start time, so a resumed run rebuilds it from the rows it kept.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import ConfigError, DataError
from .events import EVENTS_FILE, event, header

METRICS_FILE = "metrics.csv"
COLUMNS = ("step", "elapsed_s", "tokens_per_s", "lr", "train_loss", "grad_norm", "clipped", "val_loss")
HEADER = ",".join(COLUMNS) + "\n"
TAGS = {"train_loss": "loss/train", "val_loss": "loss/validation", "lr": "optim/lr", "grad_norm": "optim/grad_norm",
        "clipped": "optim/clipped", "tokens_per_s": "speed/tokens_per_s"}
"""The TensorBoard tag of each column that has one."""


def format_row(step: int, elapsed: float, tokens_per_s: float, lr: float, loss: float, norm: float, clipped: bool,
               val: float | None) -> str:
    return (f"{step},{elapsed:.3f},{tokens_per_s:.1f},{lr!r},{loss!r},{norm!r},{int(clipped)},"
            f"{'' if val is None else repr(val)}\n")


def parse_row(line: str) -> tuple:
    """A line of the file as ``(step, elapsed, tokens_per_s, lr, loss, norm, clipped, val)``, val
    None when empty; ValueError (DataError for a wrong count or range) when it is not such a line."""
    fields = line.rstrip("\n").split(",")
    if len(fields) != len(COLUMNS):
        raise DataError(f"{len(fields)} fields")
    step, clipped = int(fields[0]), int(fields[6])
    if step < 1 or clipped not in (0, 1):
        raise DataError(f"step {step}, clipped {clipped}")
    numbers = [float(f) for f in fields[1:6]]
    return (step, *numbers, clipped, float(fields[7]) if fields[7] else None)


def row_events(row: tuple, started: float) -> bytes:
    """The Event of one parsed row: its scalars at ``started + elapsed``."""
    values = dict(zip(COLUMNS, row))
    scalars = {tag: values[name] for name, tag in TAGS.items() if values[name] is not None}
    return event(started + values["elapsed_s"], values["step"], scalars)


def read_lines(path: Path) -> list[str]:
    """The whole rows of ``path`` (a partial last line, from a crash while writing, is dropped).
    DataError when the file is not a metrics file of this package."""
    if not path.is_file():
        raise DataError(f"{path} is not a file")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")[:-1]  # the last piece is '' or a partial line
    if not lines or lines[0] + "\n" != HEADER:
        first = lines[0] if lines else text[:60]
        raise DataError(f"{path} does not start with the metrics header (it starts {first[:60]!r}; expected "
                        f"{HEADER.strip()!r})")
    return [line + "\n" for line in lines[1:]]


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a ``metrics.csv``, by name (:data:`COLUMNS`), as float64 arrays (``step`` and
    ``clipped`` int64); ``val_loss`` is NaN on rows without an evaluation. DataError, naming the
    line, for a file that is not one this package wrote."""
    path = Path(path)
    rows = []
    for i, line in enumerate(read_lines(path), start=2):
        try:
            rows.append(parse_row(line))
        except ValueError:
            raise DataError(f"{path}, line {i}: {line.strip()[:80]!r}; expected {len(COLUMNS)} comma-separated "
                            f"numbers ({', '.join(COLUMNS)})") from None
    columns = list(zip(*rows)) if rows else [()] * len(COLUMNS)
    out = {}
    for name, values in zip(COLUMNS, columns):
        if name in ("step", "clipped"):
            out[name] = np.array(values, dtype=np.int64)
        else:
            out[name] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    return out


class MetricsLog:
    """The rows of a run not yet written, and the files they go to (``folder/metrics.csv`` and,
    with ``events``, the event file). ``started``: the run's start, seconds since the epoch (the
    event files' wall times are ``started + elapsed_s``)."""

    def __init__(self, folder: Path, started: float, events: bool):
        self.path = Path(folder) / METRICS_FILE
        self.events_path = Path(folder) / EVENTS_FILE
        self.started, self.events = started, events
        self.pending: list[list] = []

    def add(self, step: int, elapsed: float, tokens_per_s: float, lr: float, loss: float, norm: float,
            clipped: bool) -> None:
        self.pending.append([step, elapsed, tokens_per_s, lr, loss, norm, clipped, None])

    def evaluated(self, step: int, val: float | None) -> None:
        """The validation loss of the evaluation after ``step`` (the last row added)."""
        if self.pending and self.pending[-1][0] == step:
            self.pending[-1][7] = val

    def flush(self) -> None:
        """Write the pending rows (and their events)."""
        if not self.pending:
            return
        lines = [format_row(*row) for row in self.pending]
        if self.path.exists():
            atomic.append(self.path, "".join(lines).encode())
        else:
            atomic.atomic_write(self.path, (HEADER + "".join(lines)).encode())
        self.pending.clear()
        if self.events:
            body = b"".join(row_events(parse_row(line), self.started) for line in lines)
            if self.events_path.exists():
                atomic.append(self.events_path, body)
            else:
                atomic.atomic_write(self.events_path, header(self.started) + body)

    def resume(self, step: int) -> None:
        """Continue the files of a run resumed at ``step``: the rows past it are dropped (and a
        partial last line), and the event file, when there is one or ``events`` asks for one, is
        rebuilt from the rows kept. A file that is not this package's metrics is refused, not
        replaced."""
        if not self.path.exists():
            return
        try:
            lines = read_lines(self.path)
            kept = [line for line in lines if parse_row(line)[0] <= step]
        except (DataError, ValueError) as e:
            raise ConfigError(f"--resume: {self.path} is not a metrics file this package can continue ({e}); move "
                              f"it away to resume") from None
        if len(kept) != len(lines) or not self.path.read_bytes().endswith(b"\n"):
            atomic.atomic_write(self.path, (HEADER + "".join(kept)).encode())
        if self.events or self.events_path.exists():
            body = b"".join(row_events(parse_row(line), self.started) for line in kept)
            atomic.atomic_write(self.events_path, header(self.started) + body)


__all__ = ["METRICS_FILE", "COLUMNS", "TAGS", "MetricsLog", "read_metrics", "format_row", "parse_row", "row_events"]
