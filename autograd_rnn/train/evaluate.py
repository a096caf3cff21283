"""Validation loss of a model over batches, and how it is reported."""

from __future__ import annotations

import math

from ..errors import DataError
from ..graph import no_grad
from ..models import LanguageModel


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
