"""The loss curve of a run, drawn when matplotlib is installed."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_file


def plot_curve(path: Path, history: list, unigram: float) -> bool:
    """Loss curve PNG (train and validation, nats per token), written like every file of a run
    (:func:`autograd_rnn.atomic.atomic_file`); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [h["train"] for h in history], label="train (running mean)")
    val = [(h["step"], h["val"]) for h in history if h.get("val") is not None]
    if val:
        ax.plot(*zip(*val), "o-", label="validation")
    ax.axhline(unigram, color="gray", ls="--", lw=1, label="unigram entropy")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        with atomic_file(path) as f:
            fig.savefig(f, format="png", dpi=100)
    finally:
        plt.close(fig)
    return True
