"""Gradient flow drawn: norm against lag on a log scale, one line per record, one panel per layer.
Needs matplotlib (the ``train`` extra); without it the functions say so by returning None/False.
Figures are made without pyplot, so a notebook's or a script's own backend is left alone."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..errors import GateInputError
from .flow import FlowRecord

MAX_LEGEND = 8


def draw_flow(ax, records: list[FlowRecord], layer: int = -1, *, cut: int | None = None, relative: bool = False,
              legend: bool = True) -> None:
    """Draw layer ``layer`` of each record on the matplotlib axes ``ax``: the norm of the
    gradient reaching the state against the lag, log scale, one line per record (earlier records
    darker when there are several). Lags with a zero norm (cut off by a truncation) are left out.

    ``cut=k`` shades the lags beyond ``k``, which ``LookBack(k)`` does not reach; ``relative``
    divides each line by its value at lag 0."""
    from matplotlib.ticker import MaxNLocator

    records = _checked(records)
    colors = _colors(len(records))
    labelled = _labelled(len(records))
    for i, rec in enumerate(records):
        y = rec.norms[layer].astype(np.float64)
        if relative and y[0] > 0:
            y = y / y[0]
        y = np.where(y > 0, y, np.nan)
        ax.semilogy(rec.lags, y, color=colors[i], lw=1.8 if len(records) < 4 else 1.3,
                    label=(rec.label or f"record {i}") if i in labelled else None)
    longest = max(len(r.lags) for r in records)
    ax.set_xlim(0, max(1, longest - 1))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if cut is not None and cut < longest - 1:
        ax.axvspan(cut + 0.5, longest - 1, color="0.5", alpha=0.15, lw=0)
        ax.axvline(cut + 0.5, color="0.4", ls=":", lw=1)
        ax.text(cut + 0.5, 0.98, f" LookBack({cut}) stops here", transform=ax.get_xaxis_transform(), fontsize=8,
                color="0.3", va="top")
    ax.set_xlabel("lag j: steps back from the loss")
    norm = r"$\Vert\partial L_t / \partial h_{t-j}\Vert$"
    ax.set_ylabel(norm + r" / $\Vert\partial L_t / \partial h_t\Vert$" if relative else norm)
    ax.grid(alpha=0.3, lw=0.5)
    if legend and any(i in labelled for i in range(len(records))):
        ax.legend(fontsize=8, loc="best",
                  title="earlier (dark) to later (light)" if len(records) > MAX_LEGEND else None, title_fontsize=7)


def flow_png(records: list[FlowRecord], *, title: str | None = None, cut: int | None = None,
             relative: bool = False, dpi: int = 100) -> bytes | None:
    """``gradient_flow.png`` as bytes (write them with the caller's writer): one panel per layer,
    one line per record, log scale. None when matplotlib is not installed."""
    records = _checked(records)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    layers = records[0].norms.shape[0]
    fig = Figure(figsize=(3.2 + 3.0 * layers, 3.8))
    axes = fig.subplots(1, layers, sharey=True, squeeze=False)
    for k, ax in enumerate(axes[0]):
        draw_flow(ax, records, k, cut=cut, relative=relative, legend=k == layers - 1)
        if layers > 1:
            ax.set_title(f"layer {k}" + (" (bottom)" if k == 0 else " (top)" if k == layers - 1 else ""),
                         fontsize=10)
            if k:
                ax.set_ylabel("")
    fig.suptitle(title or "Gradient flow through time", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def plot_gradient_flow(path: str | Path, records: list[FlowRecord], **options) -> bool:
    """Write :func:`flow_png` to ``path`` (through a temporary file in the same folder, then a
    rename); False when matplotlib is not installed."""
    png = flow_png(records, **options)
    if png is None:
        return False
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return True


def _checked(records) -> list[FlowRecord]:
    records = list(records)
    if not records or not all(isinstance(r, FlowRecord) for r in records):
        raise GateInputError(f"gradient flow plot: got {[type(r).__name__ for r in records]}; expected a non-empty "
                             f"list of FlowRecord")
    if len({r.norms.shape[0] for r in records}) > 1:
        raise GateInputError(f"gradient flow plot: records with {sorted({r.norms.shape[0] for r in records})} "
                             f"layers; expected the same number in every record")
    return records


def _colors(n: int) -> list:
    if n <= 3:
        return ["C0", "C1", "C2"][:n]
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.85 * i / (n - 1)) for i in range(n)]


def _labelled(n: int) -> set[int]:
    return set(range(n)) if n <= MAX_LEGEND else {0, n // 2, n - 1}
