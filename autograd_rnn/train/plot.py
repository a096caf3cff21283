"""The pictures of runs, drawn when matplotlib is installed (without pyplot, so a caller's backend is
left alone) and written like every file of a run (:func:`autograd_rnn.atomic.atomic_write`).

* :func:`plot_curve`: a run's ``loss_curve.png`` from its ``metrics.csv``: the training loss of
  every step (faint) and its running mean, validation, the unigram baseline; below, the gradient
  norm before clipping with the clipping threshold, and the learning rate when it changes.
* :func:`compare_figure`: validation loss of several runs against steps and against seconds.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..atomic import atomic_write

CURVE_FILE = "loss_curve.png"
FLOW_FILE = "gradient_flow.png"
MAX_POINTS = 4000
"""Above this many steps, the faint per-step lines are drawn as the band between each bin's lowest
and highest value (the same picture, a bounded cost)."""


def running_mean(values: np.ndarray) -> np.ndarray:
    """The bias-corrected running mean the progress bar and ``history.json`` report
    (:meth:`Progress.record_loss <autograd_rnn.train.Progress.record_loss>`): after value ``x_n``,
    ``m_n = a_n / w_n`` with ``a_n = 0.98 a_{n-1} + 0.02 x_n`` and ``w_n = 0.98 w_{n-1} + 0.02``."""
    out, a, w = np.empty(len(values)), 0.0, 0.0
    for i, x in enumerate(values.tolist()):
        w = 0.98 * w + 0.02
        a = 0.98 * a + 0.02 * x
        out[i] = a / w
    return out


def loss_frame(loss: np.ndarray, val: list, unigram: float) -> tuple[float, float] | None:
    """The loss panel's y-limits once the loss is below the unigram baseline: from the lowest loss up
    to the baseline (or the highest validation loss), so that the first steps, near log V, leave the
    rest readable; None (the whole range) before."""
    if not float(np.min(loss)) < unigram:
        return None
    low, high = min([float(np.min(loss)), *val]), max([unigram, *val])
    return low - 0.05 * (high - low), high + 0.15 * (high - low)


def _figure(width: float, height: float, **grid):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure(figsize=(width, height), **grid)


def _faint(ax, x: np.ndarray, y: np.ndarray, color, label: str | None = None) -> None:
    """Per-step values, faint: the line itself, or the band of each bin's range when there are many."""
    if len(x) <= MAX_POINTS:
        ax.plot(x, y, color=color, alpha=0.3, lw=0.6, label=label)
        return
    bins = np.array_split(np.arange(len(x)), MAX_POINTS // 2)
    ax.fill_between([x[b].mean() for b in bins], [y[b].min() for b in bins], [y[b].max() for b in bins],
                    color=color, alpha=0.25, lw=0, label=label)


def _image(fig, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100)
    return buffer.getvalue()


def curve_png(metrics: dict, history: list, unigram: float, title: str = "", clip: float | None = None) -> bytes | None:
    """``loss_curve.png`` as bytes from a run's metrics (:func:`~.metrics.read_metrics`) and the
    evaluations of its history; None when matplotlib is missing."""
    steps, loss, norm, lr = metrics["step"], metrics["train_loss"], metrics["grad_norm"], metrics["lr"]
    schedule = len(lr) > 0 and np.ptp(lr) > 0
    fig = _figure(8, 6.8 if schedule else 6, layout="constrained")
    if fig is None:
        return None
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ratios = [2.6, 1, 0.6] if schedule else [2.6, 1]
    axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
    top, middle = axes[0], axes[1]
    val = [(h["step"], h["val"]) for h in history if h.get("val") is not None]
    if len(steps):
        _faint(top, steps, loss, "C0", "train, each step")
        top.plot(steps, running_mean(loss), color="C0", lw=1.6, label="train, running mean")
        frame = loss_frame(loss, [v for _, v in val], unigram)
        if frame is not None:
            top.set_ylim(*frame)
    if val:
        top.plot(*zip(*val), "o-", color="C1", ms=4, lw=1.4, label="validation")
    top.axhline(unigram, color="0.45", ls="--", lw=1, label=f"unigram entropy ({unigram:.2f})")
    top.set_ylabel("loss (nats per token)")
    top.legend(fontsize=8, loc="upper right")
    top.set_title(title, fontsize=10)
    if len(steps):
        _faint(middle, steps, norm, "C2")
        middle.plot(steps, np.exp(running_mean(np.log(np.maximum(norm, 1e-30)))), color="C2", lw=1.3,
                    label="before clipping (geometric running mean)")
        middle.set_yscale("log")
        middle.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        middle.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        middle.yaxis.set_minor_formatter(NullFormatter())
    if clip:
        share = float(np.mean(metrics["clipped"])) if len(steps) else 0.0
        middle.axhline(clip, color="C3", ls=":", lw=1.2, label=f"clip {clip:g}: {share:.0%} of steps clipped")
    if len(lr) and not schedule:
        middle.plot([], [], " ", label=f"learning rate {lr[0]:g} throughout")
    middle.set_ylabel("gradient norm")
    if middle.get_legend_handles_labels()[0]:
        middle.legend(fontsize=7, loc="best")
    if schedule:
        axes[2].plot(steps, lr, color="0.3", lw=1.2)
        axes[2].set_ylabel("learning rate", fontsize=9)
        axes[2].set_ylim(0, None)
    for ax in axes:
        ax.grid(alpha=0.3, lw=0.5)
    axes[-1].set_xlabel("step")
    return _image(fig)


def plot_curve(path: Path, metrics: dict, history: list, unigram: float, title: str = "",
               clip: float | None = None) -> bool:
    """Write :func:`curve_png` to ``path``; False when matplotlib is missing."""
    png = curve_png(metrics, history, unigram, title, clip)
    if png is None:
        return False
    atomic_write(path, png)
    return True


def compare_figure(runs: list, fmt: str = "png") -> bytes | None:
    """Validation loss of each run (a :class:`~.compare.RunSummary`) against steps and against
    elapsed seconds (minutes when the longest run took more than ten), one color per run, the
    best point of each marked; the image in ``fmt`` (png, svg, pdf). None when matplotlib is
    missing."""
    fig = _figure(11, 4.6, layout="constrained")
    if fig is None:
        return None
    by_step, by_time = fig.subplots(1, 2, sharey=True)
    minutes = max(r.seconds for r in runs) > 600
    scale = 60.0 if minutes else 1.0
    for i, r in enumerate(runs):
        color = f"C{i % 10}"
        best = int(np.argmin(r.val))
        label = f"{r.name}: {r.cell}, {r.parameters:,} parameters" if r.parameters else f"{r.name}: {r.cell}"
        by_step.plot(r.val_steps, r.val, "o-", color=color, ms=3, lw=1.4, label=label)
        by_time.plot(r.val_seconds / scale, r.val, "o-", color=color, ms=3, lw=1.4)
        by_step.plot(r.val_steps[best], r.val[best], "*", color=color, ms=11, mec="k", mew=0.5)
        by_time.plot(r.val_seconds[best] / scale, r.val[best], "*", color=color, ms=11, mec="k", mew=0.5)
    by_step.set_xlabel("step")
    by_time.set_xlabel("elapsed " + ("minutes" if minutes else "seconds") + " (evaluations included)")
    by_step.set_ylabel("validation loss (nats per token)")
    for ax in (by_step, by_time):
        ax.grid(alpha=0.3, lw=0.5)
    by_step.legend(fontsize=8, loc="upper right")
    fig.suptitle("Validation loss (a star marks each run's best)", fontsize=11)
    return _image(fig, fmt)


__all__ = ["CURVE_FILE", "FLOW_FILE", "running_mean", "loss_frame", "curve_png", "plot_curve", "compare_figure"]
