"""``Linear`` and ``Embedding`` nodes."""

from __future__ import annotations

import numpy as np

from ..graph import Tensor, embedding, linear
from ..init import as_rng, normal, uniform
from .node import Node, check_size


class Linear(Node):
    """``y = x W^T + b`` with ``W (out, in)``, ``b (out,)``; ``x (..., in)`` -> ``(..., out)``.
    Initialised U(-1/sqrt(in), 1/sqrt(in)) like torch.nn.Linear."""

    def __init__(self, in_features: int, out_features: int, dtype=np.float64, rng=None):
        super().__init__(dtype)
        rng = as_rng(rng)
        in_features = check_size("Linear", "in_features", in_features)
        out_features = check_size("Linear", "out_features", out_features)
        k = 1 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.parameter("weight", uniform((out_features, in_features), k, rng))
        self.parameter("bias", uniform(out_features, k, rng))

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}"


class Embedding(Node):
    """Rows of ``weight (num_embeddings, dim)`` for integer indices of any shape; N(0, 1) init
    like torch.nn.Embedding. The weight is ``row_sparse``: its gradient is zero outside the rows
    looked up."""

    def __init__(self, num_embeddings: int, dim: int, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.num_embeddings = check_size("Embedding", "num_embeddings", num_embeddings)
        self.dim = check_size("Embedding", "dim", dim)
        self.parameter("weight", normal((num_embeddings, dim), 1.0, rng), row_sparse=True)

    def forward(self, indices) -> Tensor:
        return embedding(self.weight, indices)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.dim}"
