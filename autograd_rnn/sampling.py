"""Sampling text from a language model: temperature, top-k, a prime text, a seed."""

from __future__ import annotations

import numpy as np

from .data import Vocabulary
from .models import LanguageModel


def sample_ids(model: LanguageModel, prime: np.ndarray, length: int, temperature: float = 1.0,
               top_k: int | None = None, rng=None, stop_id: int | None = None) -> np.ndarray:
    """Feed ``prime (n,)`` ids through the model, then draw ``length`` ids one at a time.

    ``p(next) = softmax(logits / temperature)`` restricted to the ``top_k`` most likely ids
    (temperature -> 0 approaches greedy decoding); stops early at ``stop_id``. Batch 1, fused
    single-step gates, no graph recorded.
    """
    if length < 0:
        raise ValueError(f"sample: length={length}; expected >= 0")
    if not temperature > 0:
        raise ValueError(f"sample: temperature={temperature}; expected > 0")
    if top_k is not None and top_k < 1:
        raise ValueError(f"sample: top_k={top_k}; expected >= 1 (or None for no limit)")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    was_training = model.training
    model.eval()
    try:
        state = None
        prime = np.asarray(prime, dtype=np.int64).reshape(-1)
        logits = np.zeros(model.vocab_size)
        for token in prime:
            logits, state = model.step_logits(np.array([token]), state)
            logits = logits[0]
        out = []
        for _ in range(length):
            z = logits.astype(np.float64) / temperature
            if top_k is not None and top_k < z.size:
                cut = np.partition(z, -top_k)[-top_k]
                z = np.where(z >= cut, z, -np.inf)
            p = np.exp(z - z.max())
            p /= p.sum()
            nxt = int(rng.choice(z.size, p=p))
            if stop_id is not None and nxt == stop_id:
                break
            out.append(nxt)
            logits, state = model.step_logits(np.array([nxt]), state)
            logits = logits[0]
        return np.asarray(out, dtype=np.int64)
    finally:
        model.train(was_training)


def sample_text(model: LanguageModel, vocab: Vocabulary, prime: str = "", length: int = 200,
                temperature: float = 1.0, top_k: int | None = None, seed=None) -> str:
    """Generate text. A prime is encoded with the vocabulary (unknown words become ``<unk>`` when
    the vocabulary has one, otherwise a DataError names them); with sentence markers and no
    prime, generation starts from ``<s>`` and stops at ``</s>``; without markers and prime it starts
    after an unseen line break. Returns prime + generated text."""
    if prime:
        ids = vocab.encode(prime)
    elif vocab.bos_id is not None:
        ids = np.array([vocab.bos_id])
    else:  # a stream model: start after a line break (or any token), not shown in the output
        start = next((t for t in ("\n", " ", ".") if t in vocab.index), vocab.tokens[-1])
        ids = np.array([vocab.index[start]])
    if vocab.bos_id is not None and (len(ids) == 0 or ids[0] != vocab.bos_id):
        ids = np.concatenate([[vocab.bos_id], ids])
    out = sample_ids(model, ids, length, temperature, top_k, seed, stop_id=vocab.eos_id)
    generated = vocab.decode(out, skip_special=True)
    if not prime:
        return generated
    sep = " " if vocab.level == "word" and generated else ""
    return prime + sep + generated
