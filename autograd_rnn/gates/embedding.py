"""Embedding lookup: a gather forward and a scatter-add backward."""

from __future__ import annotations

import numpy as np

from .base import Gate, check_float, check_indices, check_ndim


class EmbeddingGate(Gate):
    """``out = weight[indices]``: the one-hot product ``onehot(indices) @ weight`` without the
    one-hot matrix.

    Shapes: ``weight (V, E)``, ``indices`` an integer array of any shape ``S`` with values in
    ``[0, V)`` -> ``out S + (E,)``.

    Backward: ``dweight[v] = sum of g over the positions where indices == v`` (scatter-add, so a
    repeated index accumulates); ``indices`` gets ``None``.
    """

    def forward(self, weight: np.ndarray, indices: np.ndarray) -> np.ndarray:
        if not (type(weight) is np.ndarray and weight.dtype.kind == "f" and weight.ndim == 2):
            check_float(self.name, "weight", weight)
            check_ndim(self.name, "weight", weight, (2,), "(vocab_size, embedding_size)")
        check_indices(self.name, "indices", indices, weight.shape[0], "token indices")
        self.save(indices=indices, shape=weight.shape)
        return weight[indices]

    def backward(self, g: np.ndarray) -> tuple:
        s = self.saved
        return scatter_rows(s.indices.ravel(), g.reshape(s.indices.size, s.shape[1]), s.shape), None


def scatter_rows(idx: np.ndarray, rows: np.ndarray, shape: tuple) -> np.ndarray:
    """``out = zeros(shape); out[idx[i]] += rows[i]`` for every i, repeated indices summed.

    Few rows against many slots: ``np.add.at``. Otherwise rows are sorted by index and each run of
    equal indices summed; a few hundred runs are summed one by one (``np.add.reduceat`` along rows
    is several times slower for wide rows), more at once with ``reduceat``."""
    out = np.zeros(shape, rows.dtype)
    if idx.size == 0:
        return out
    if idx.size * 4 < shape[0]:
        np.add.at(out, idx, rows)
        return out
    order = np.argsort(idx, kind="stable")
    sorted_idx, sorted_rows = idx[order], rows[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    if len(starts) > 256:
        out[sorted_idx[starts]] = np.add.reduceat(sorted_rows, starts, axis=0)
        return out
    ends = np.r_[starts[1:], len(idx)]
    for a, b in zip(starts.tolist(), ends.tolist()):
        np.sum(sorted_rows[a:b], axis=0, out=out[sorted_idx[a]])
    return out
