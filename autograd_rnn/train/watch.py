"""What a run shows of itself as it goes, beside its checkpoints: ``metrics.csv`` (and TensorBoard
events) row by row, the gradient flow at each evaluation, ``loss_curve.png`` and
``gradient_flow.png``.

The loop calls a :class:`Watch` at three places: after each training step (:meth:`Watch.step`: a
row kept in memory), at each evaluation (:meth:`Watch.evaluated`: the validation loss on that
row, the gradient flow in the history entry), and when the run ends or stops (:meth:`Watch.close`);
:meth:`Run.save <autograd_rnn.train.Run.save>` flushes the rows before each checkpoint, so the
file never lacks a step that a checkpoint holds.

**Gradient flow** (:func:`autograd_rnn.viz.gradient_flow`) is measured on one fixed chunk of the
validation split (of the training split when there is none): the first :data:`FLOW_STREAMS`
streams of its first chunk (with line batching, the first batch cut to its shortest line, so that
no step is padding), averaged over the losses of its last :data:`FLOW_ORIGINS` steps; the
gradient is the exact one, and a ``LookBack(k)`` run's plot shades the lags its training never
reaches. It costs about one training step, and leaves the model, its gradients and its random
generator as they were, so training computes the same numbers with or without it.

**Pictures** are redrawn after an evaluation while drawing them has taken at most
:data:`PLOT_SHARE` of the run's time so far (the first evaluation always draws), and always when
the run ends or stops: matplotlib takes a few tenths of a second per figure, which on a long run
with frequent evaluations would otherwise cost more than the training it shows.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..atomic import atomic_write
from ..data import StreamBatches
from ..sequence import LookBack, parse_truncation
from ..viz import FlowRecord, flow_png, gradient_flow
from .events import installed as tensorboard_installed
from .metrics import MetricsLog, read_metrics
from .plot import FLOW_FILE, plot_curve

FLOW_STREAMS = 8
FLOW_ORIGINS = 4
PLOT_SHARE = 0.01


def flow_chunk(data) -> tuple:
    """``(inputs, targets)`` of the fixed chunk gradient flow is measured on (module docstring)."""
    if data.val is None:
        x, y, mask, _ = data.batch(0)
    elif isinstance(data.val, StreamBatches):
        (x, y), mask = data.val.chunk(0), None
    else:
        x, y, mask = next(iter(data.val))
    if mask is not None:
        steps = int(mask.sum(axis=0).min())
        x, y = x[:steps], y[:steps]
    return x[:, :FLOW_STREAMS], y[:, :FLOW_STREAMS]


def describe(run) -> str:
    """The run in a line: cell, sizes, parameters, corpus."""
    cfg = run.cfg
    corpus = "the built-in corpus" if cfg.corpus is None else Path(cfg.corpus).name
    return (f"{run.model.cell_type.__name__} x{cfg.layers}, hidden {cfg.hidden}"
            + ("" if cfg.one_hot else f", embed {cfg.embed}")
            + f", {run.model.n_parameters():,} parameters; {cfg.level}s of {corpus}")


class Watch:
    """The metrics, gradient flow and pictures of one run (module docstring). ``resumed``: the run
    continues a checkpoint, whose step the metrics files are cut back to."""

    def __init__(self, run, resumed: bool):
        cfg, p = run.cfg, run.progress
        self.run = run
        if p.started is None:
            p.started = time.time()
        self.log = MetricsLog(run.out, p.started, cfg.tensorboard and tensorboard_installed())
        if resumed:
            self.log.resume(p.step)
        self.t0, self.offset = time.perf_counter(), p.elapsed
        self.chunk = flow_chunk(run.data) if cfg.flow else None
        cut = parse_truncation(cfg.truncation)
        self.cut = cut.k if isinstance(cut, LookBack) else None
        self.drawing, self.drawn = 0.0, True

    def step(self, loss: float, tokens: float, began: float) -> None:
        """The row of the step just taken (``began``: ``time.perf_counter()`` before it)."""
        now = time.perf_counter()
        run, p = self.run, self.run.progress
        p.elapsed = self.offset + (now - self.t0)
        clip = run.cfg.clip
        self.log.add(p.step, p.elapsed, tokens / max(now - began, 1e-9), run.step_lr, loss, run.step_norm,
                     bool(clip) and run.step_norm > clip)
        self.drawn = False

    def evaluated(self, entry: dict) -> None:
        """At an evaluation, before ``entry`` joins the history: its validation loss on the row of
        its step, and the gradient flow (``entry["flow"]``, a :meth:`FlowRecord.to_dict`)."""
        if self.chunk is not None:
            x, y = self.chunk
            origins = list(range(max(0, len(x) - FLOW_ORIGINS), len(x)))
            record = gradient_flow(self.run.model, x, y, origins=origins, label=f"step {entry['step']}")
            entry["flow"] = record.to_dict()
        self.log.evaluated(entry["step"], entry["val"])
        self.drawn = False

    def flush(self) -> None:
        self.log.flush()

    def draw(self, force: bool = False) -> None:
        """Redraw the pictures when something changed and the drawing budget allows (``force``:
        whatever it has cost)."""
        if not self.run.cfg.plot or self.drawn:
            return
        began = time.perf_counter()
        if not force and self.drawing > PLOT_SHARE * (began - self.t0):
            return
        try:
            self._draw()
        finally:
            self.drawing += time.perf_counter() - began
        self.drawn = True

    def _draw(self) -> None:
        run = self.run
        title = describe(run)
        if self.log.path.exists():
            plot_curve(run.plot_path, read_metrics(self.log.path), run.progress.history, run.unigram, title,
                       run.cfg.clip)
        flows = [FlowRecord.from_dict(h["flow"]) for h in run.progress.history if "flow" in h]
        if flows:
            png = flow_png(flows, title="Gradient flow through time\n" + title.replace("; ", "\n"), cut=self.cut)
            if png is not None:
                atomic_write(run.out / FLOW_FILE, png)

    def close(self, quiet: bool = False) -> None:
        """When the run ends or stops: the rows flushed, the pictures drawn. ``quiet``: another
        error is on its way (a divergence), so a failure here is not raised over it."""
        try:
            self.flush()
            self.draw(force=True)
        except Exception:
            if not quiet:
                raise


__all__ = ["Watch", "flow_chunk", "describe", "FLOW_STREAMS", "FLOW_ORIGINS", "PLOT_SHARE"]
