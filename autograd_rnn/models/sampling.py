"""Sampling text from a language model: temperature, top-k, a prime text, a seed."""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..data import Vocabulary
from ..errors import ConfigError, NonFiniteError
from ..graph import no_grad
from ..init import as_rng
from .frozen import FrozenModel
from .language_model import LanguageModel


def sample_ids(model: LanguageModel, prime: np.ndarray, length: int, temperature: float = 1.0,
               top_k: int | None = None, rng=None, stop_id: int | None = None) -> np.ndarray:
    """Feed ``prime (n,)`` ids through the model, then draw ``length`` ids one at a time.

    ``p(next) = softmax(logits / temperature)`` restricted to the ``top_k`` most likely ids
    (temperature -> 0 approaches greedy decoding); stops early at ``stop_id``. Batch 1, no graph
    recorded: the prime as one sequence, then one token at a time, through the model's kernels on
    arrays (:class:`~autograd_rnn.models.frozen.FrozenModel`, the function of ``model.eval()``'s
    forward, dropout off). The model itself is left as it was.
    """
    if isinstance(length, bool) or not isinstance(length, int | np.integer) or length < 0:
        raise ConfigError(f"sample: length={length!r}; expected an integer >= 0")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 < temperature < math.inf:
        raise ConfigError(f"sample: temperature={temperature!r}; expected a finite number > 0")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1):
        raise ConfigError(f"sample: top_k={top_k!r}; expected an integer >= 1 (or None for no limit)")
    rng = as_rng(rng)
    step = FrozenModel(model)
    with no_grad():
        state = None
        prime = np.asarray(prime, dtype=np.int64).reshape(-1)
        logits = np.zeros(model.vocab_size)
        if prime.size:
            out, state = step(prime[:, None], state)
            logits = out[-1, 0]
        ids = []
        token = np.empty((1, 1), np.int64)
        for i in range(length):
            nxt = _draw(logits, temperature, top_k, rng)
            if stop_id is not None and nxt == stop_id:
                break
            ids.append(nxt)
            if i + 1 < length:
                token[0, 0] = nxt
                out, state = step(token, state)
                logits = out[0, 0]
    return np.asarray(ids, dtype=np.int64)


def _draw(logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
    """One draw from softmax(logits / temperature) over the top_k, by inverting the cumulative sum.
    Refuses logits that hold NaN or infinity (a model whose weights blew up)."""
    z = logits.astype(np.float64)
    low, high = float(z.min()), float(z.max())  # NaN anywhere makes both NaN
    if not (math.isfinite(low) and math.isfinite(high)):
        raise NonFiniteError("sample: the model's logits hold NaN or infinity, so there is nothing to draw from; its "
                             "weights are degenerate (a diverged run?): use an earlier checkpoint")
    if top_k is not None and top_k < z.size:
        cut = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= cut, z, -np.inf)
    # shifted so that the largest is 0 and the rest <= 0, dividing by any temperature cannot give inf - inf;
    # where the spread over the temperature overflows, those logits go to -inf (greedy at a tiny temperature)
    spread = high - low
    with np.errstate(over="ignore") if spread > 1e300 * min(temperature, 1.0) else contextlib.nullcontext():
        z -= high
        if temperature != 1.0:
            z /= temperature
    cdf = np.add.accumulate(np.exp(z, out=z), out=z)
    return min(int(cdf.searchsorted(rng.random() * cdf[-1], side="right")), z.size - 1)


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
