"""``Linear``, ``TiedLinear`` and ``Embedding`` nodes."""

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


class TiedLinear(Node):
    """``y = x W^T + b`` where ``W (out, in)`` is another node's parameter, given at each call
    (weight tying: a language model's output projection reads its embedding table, Press & Wolf
    2017, Inan et al. 2017); only ``b (out,)`` is this node's own, U(-1/sqrt(in), 1/sqrt(in)) like
    Linear. The shared weight is one parameter with one name, its owner's; the graph adds the
    gradients of its two uses."""

    def __init__(self, in_features: int, out_features: int, dtype=np.float64, rng=None):
        super().__init__(dtype)
        self.in_features = check_size("TiedLinear", "in_features", in_features)
        self.out_features = check_size("TiedLinear", "out_features", out_features)
        self.parameter("bias", uniform(out_features, 1 / np.sqrt(in_features), as_rng(rng)))

    def forward(self, x: Tensor, weight: Tensor) -> Tensor:
        return linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, tied"


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
