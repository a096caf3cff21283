"""Gradient flow through time: how the norm of the gradient that reaches a layer's hidden state
falls off with the distance back from the loss (the vanishing gradient, measured).

For a model and one batch of ``T`` steps, each *origin* ``o`` (a step; by default the last,
``T - 1``) gives one objective ``L_o``:

* a :class:`~autograd_rnn.LanguageModel`: the cross-entropy of the prediction at step ``o``,
  averaged over the batch (``softmax_cross_entropy(logits[o], targets[o])``);
* a :class:`~autograd_rnn.Recurrent`: ``sum(h_o)`` of the top layer (the gradient arriving at
  its ``h_o`` is all ones).

Then, for layer ``l`` and lag ``j``::

    norms[l, j] = mean over the origins o >= j of  || dL_o / dh^(l)_{o-j} ||

the norm over ``(batch, hidden)`` of the gradient that reaches the layer's state ``j`` steps
before the origin, as the layer's :attr:`Sequence.last_grad_norms` records it. The gradient is
the exact one (``Full()`` in every layer) unless ``truncation`` names a policy, which then runs
in every layer (under ``LookBack(k)`` the top layer's norms are zero beyond lag ``k``: what the
policy cuts off). The model runs in evaluation mode (no dropout, its random generator untouched);
its parameters' ``.grad``, its mode and its layers' policies are as before afterwards. Each
layer's ``last_grad_norms`` then holds the last origin's record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import GateInputError, GateTypeError
from ..graph import Tensor, enable_grad, softmax_cross_entropy
from ..models import LanguageModel
from ..sequence import Full, Recurrent, Truncation, parse_truncation


@dataclass(frozen=True)
class FlowRecord:
    """One measurement of gradient flow: ``norms (layers, lags)``, lag ``j`` in column ``j``
    (see the module docstring); ``label`` names it in a plot ("step 400", "LSTM"), ``truncation``
    is the policy it was measured under."""

    norms: np.ndarray
    label: str = ""
    truncation: str = "Full()"

    @property
    def lags(self) -> np.ndarray:
        return np.arange(self.norms.shape[1])

    def to_dict(self) -> dict:
        """JSON-ready: ``{"label", "truncation", "norms": [[...] per layer]}``."""
        return {"label": self.label, "truncation": self.truncation, "norms": self.norms.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> FlowRecord:
        norms = np.asarray(d["norms"], dtype=np.float64)
        if norms.ndim != 2:
            raise GateInputError(f"FlowRecord: norms have shape {norms.shape}; expected (layers, lags)")
        return cls(norms, str(d.get("label", "")), str(d.get("truncation", "Full()")))


def gradient_flow(model: LanguageModel | Recurrent, inputs, targets=None, *, origins=None,
                  truncation: Truncation | str | None = None, label: str = "") -> FlowRecord:
    """Measure gradient flow through time on one batch (definition: the module docstring).

    Args:
        model: a LanguageModel (``inputs``: token ids ``(T, B)``, ``targets``: ``(T, B)``) or a
            Recurrent (``inputs``: ``xs (T, B, input_size)``, no targets).
        origins: the steps whose loss is followed back (default: the last step only).
        truncation: None for the exact gradient, or a policy run in every layer.
        label: the record's name in a plot.

    Returns a :class:`FlowRecord` with ``norms (layers, max(origins) + 1)``.
    """
    if isinstance(model, LanguageModel):
        tokens = model.check_tokens(inputs)
        if targets is None or np.shape(targets) != tokens.shape:
            got = "no targets" if targets is None else f"targets of shape {np.shape(targets)}"
            raise GateInputError(f"gradient_flow: {got}; expected targets of shape {tokens.shape} (T, batch)")
        seqs, T = model.rnn.sequences(), len(tokens)
    elif isinstance(model, Recurrent):
        if targets is not None:
            raise GateInputError("gradient_flow: a Recurrent takes no targets (its objective is sum(h_o) of the top "
                                 "layer)")
        xs = Tensor(inputs.data if isinstance(inputs, Tensor) else np.asarray(inputs, model.dtype))
        seqs, T = model.sequences(), len(xs.data)
    else:
        raise GateTypeError(f"gradient_flow: model is a {type(model).__name__}; expected a LanguageModel or a "
                            f"Recurrent")
    origins = _origins(origins, T)
    policy = Full() if truncation is None else parse_truncation(truncation)
    params = list(model.parameters().values())
    kept = ([p.grad for p in params], [s.truncation for s in seqs], model.training)
    sums = np.zeros((len(seqs), origins[-1] + 1))
    try:
        model.eval()
        for s in seqs:
            s.truncation = policy
        with enable_grad():
            if isinstance(model, LanguageModel):
                logits, _ = model(tokens)
                losses = [softmax_cross_entropy(logits[o], targets[o]) for o in origins]
            else:
                hs, _ = model(xs)
                losses = [hs[o].sum() for o in origins]
            for o, loss in zip(origins, losses):
                loss.backward()
                for k, s in enumerate(seqs):
                    sums[k, : o + 1] += s.last_grad_norms[o::-1]
    finally:
        for p, g in zip(params, kept[0]):
            p.grad = g
        for s, t in zip(seqs, kept[1]):
            s.truncation = t
        model.train(kept[2])
    counts = np.array([sum(o >= j for o in origins) for j in range(origins[-1] + 1)])
    return FlowRecord(sums / counts, label, repr(policy))


def _origins(origins, T: int) -> list[int]:
    if origins is None:
        return [T - 1]
    given = list(origins) if isinstance(origins, list | tuple | range | np.ndarray) else None
    if (not given or any(isinstance(o, bool) or not isinstance(o, int | np.integer) for o in given)
            or len(set(given)) != len(given) or min(given) < 0 or max(given) >= T):
        raise GateInputError(f"gradient_flow: origins={origins!r}; expected a list of distinct steps in [0, {T}) "
                             f"(T = {T})")
    return sorted(int(o) for o in given)
