"""Softmax cross-entropy, the language model's loss."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, GateInputError, NonFiniteError
from .base import Gate, check_float, check_indices, check_ndim, shape_str


class SoftmaxCrossEntropy(Gate):
    """Mean (or summed) negative log-likelihood of integer targets under softmax(logits).

    Inputs: ``logits (N, C)`` float, ``targets (N,)`` integer in ``[0, C)``, and optionally
    ``mask (N,)`` (bool, or finite weights >= 0; 0 drops a row, e.g. padding). ``ignore_index`` drops the
    rows whose target equals it (its value may lie outside ``[0, C)``, like -1).

    Forward, with w_n the row weights (mask times "not ignored") and W = sum_n w_n::

        log p_nc = z_nc - max_c z_nc - log sum_c exp(z_nc - max_c z_nc)    (stable log-sum-exp)
        loss     = -(1 / W) sum_n w_n log p_{n, t_n}     (reduction="mean"; W -> 1 for "sum")

    Backward (scalar upstream g): ``dlogits = g * w_n * (softmax(z)_n - onehot(t_n)) / W``;
    targets and mask get ``None``.
    """

    def __init__(self, reduction: str = "mean", ignore_index: int | None = None):
        if reduction not in ("mean", "sum"):
            raise ConfigError(f"SoftmaxCrossEntropy: reduction={reduction!r}; expected 'mean' or 'sum'")
        self.reduction = reduction
        self.ignore_index = ignore_index

    def forward(self, logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None):
        name = self.name
        check_float(name, "logits", logits)
        check_ndim(name, "logits", logits, (2,), "(N, C): one row of class scores per target")
        n, c = logits.shape
        if not isinstance(targets, np.ndarray) or targets.shape != (n,):
            got = shape_str(targets.shape) if isinstance(targets, np.ndarray) else type(targets).__name__
            raise GateInputError(f"{name}: input 'targets' has shape {got}; expected ({n},), one per logits row")
        weights = np.ones(n, dtype=logits.dtype)
        if self.ignore_index is not None:
            weights[targets == self.ignore_index] = 0
        if mask is not None:
            if not isinstance(mask, np.ndarray) or mask.shape != (n,):
                got = shape_str(mask.shape) if isinstance(mask, np.ndarray) else type(mask).__name__
                raise GateInputError(f"{name}: input 'mask' has shape {got}; expected ({n},)")
            if mask.dtype.kind not in "biuf":
                raise GateInputError(f"{name}: input 'mask' has dtype {mask.dtype}; expected bool or numbers")
            bad = ~(mask >= 0) if mask.dtype.kind != "b" else None  # NaN compares False
            if bad is not None and bad.any():
                i = int(np.argmax(bad))
                raise GateInputError(f"{name}: input 'mask' holds {mask[i].item()!r} at index {i}; expected finite row "
                                     f"weights >= 0 (0 drops a row)")
            with np.errstate(over="ignore"):  # a weight too large for the dtype is refused just below
                weights *= mask.astype(logits.dtype)
            if not np.isfinite(weights).all():
                i = int(np.argmax(~np.isfinite(weights)))
                raise GateInputError(f"{name}: input 'mask' holds {mask[i].item()!r} at index {i}, not finite in "
                                     f"{logits.dtype}; expected finite row weights >= 0")
        kept = weights != 0
        check_indices(name, "targets", np.where(kept, targets, 0), c, "class indices")  # at their own indices
        total = weights.sum() if self.reduction == "mean" else logits.dtype.type(1)
        if not kept.any():
            raise GateInputError(f"{name}: every row is masked or ignored; expected at least one target")
        z = logits - logits.max(axis=1, keepdims=True)
        safe_t = np.where(kept, targets, 0)
        z_t = z[np.arange(n), safe_t]
        e = np.exp(z, out=z)  # z is not needed past z_t: exp in place
        s = e.sum(axis=1)
        logp_t = z_t - np.log(s)
        loss = -(weights * logp_t).sum() / total
        if not np.isfinite(loss):
            bad = np.argwhere(~np.isfinite(logits))
            where = f" (first at {tuple(int(i) for i in bad[0])})" if bad.size else ""
            raise NonFiniteError(f"{name}: input 'logits' holds NaN or inf{where}; expected finite scores")
        e /= s[:, None]
        self.save(probs=e, targets=safe_t, weights=weights, total=total, has_mask=mask is not None)
        return np.asarray(loss, dtype=logits.dtype)

    def backward(self, g) -> tuple:
        s = self.saved
        n = s.probs.shape[0]
        scale = s.weights * (np.asarray(g, s.probs.dtype) / s.total)
        d = s.probs * scale[:, None]  # a new array: backward may run again on the saved probs
        d[np.arange(n), s.targets] -= scale
        return (d, None, None) if s.has_mask else (d, None)
