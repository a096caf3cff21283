"""Validation loss of a model over batches, and how it is reported.

A text is scored (a run's final validation over its whole validation part, ``autograd-rnn
evaluate``) the same way whatever the run's own batch and sequence length:
:data:`EVAL_BATCH` parallel streams of :data:`EVAL_SEQ_LEN` steps, the state carried along each
stream (lines in order, each on its own), so that runs trained with different batches get
comparable numbers and the final score of a run is ``evaluate``'s. Each stream starts without
context, so more streams score a little higher (a model at 1.72 nats on tinyshakespeare's last
10%: 1.7208 with 16 streams, 1.7215 with 32, 1.7236 with 128). The periodic validation of a run
is its own quick look: the first ``eval_tokens`` tokens, batched as the run trains."""

from __future__ import annotations

import math

import numpy as np

from ..data import LineBatches, StreamBatches
from ..errors import DataError
from ..graph import no_grad
from ..models import LanguageModel

EVAL_BATCH = 16
EVAL_SEQ_LEN = 256


def evaluation_batches(part, pad_id: int | None, batch: int = EVAL_BATCH, seq_len: int = EVAL_SEQ_LEN):
    """Batches that score ``part`` whole: a stream of ids ``(n,)`` as ``min(batch, n // 2)`` parallel
    streams of ``seq_len`` chunks (a stream's first token has no target; ``n % streams`` tokens at
    the end are left out), or a list of encoded lines in order, ``batch`` at a time (padded with
    ``pad_id``); None when there is nothing to score (fewer than two tokens)."""
    if isinstance(part, np.ndarray):
        return None if len(part) < 2 else StreamBatches(part, min(batch, len(part) // 2), seq_len)
    return LineBatches(part, batch, pad_id, shuffle=False) if any(len(line) > 1 for line in part) else None


@no_grad()
def evaluate_batches(model: LanguageModel, batches, max_tokens: int | None = None) -> float:
    """Mean loss in nats per target token over stream or line batches (state carried in streams)."""
    was = model.training
    model.eval()
    total, count, state = 0.0, 0.0, None
    try:
        for item in batches:
            x, y = item[0], item[1]
            mask = item[2] if len(item) > 2 else None
            loss, state = model.loss(x, y, mask, state if mask is None else None)
            n = float(mask.sum()) if mask is not None else y.size
            total += loss.item() * n
            count += n
            if max_tokens is not None and count >= max_tokens:
                break
    finally:
        model.train(was)
    if count == 0:
        raise DataError("evaluate: no tokens to evaluate")
    return total / count


def nats_report(nats: float) -> str:
    ppl = math.exp(nats) if nats < 700 else math.inf
    return f"{nats:.4f} nats = {nats / math.log(2):.4f} bits per token, perplexity {ppl:.6g}"
