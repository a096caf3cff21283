"""``RNNLayer``: the tutorial's recurrent box, done right."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..graph import Tensor, linear
from .cell import TorchLikeCell


class RNNLayer(TorchLikeCell):
    """Elman RNN cell, torch.nn.RNNCell's equations and parameter names::

        h_t = tanh(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)

    Shapes: ``x_t (batch, input_size)``, ``h (batch, hidden_size)``, ``weight_ih (H, I)``,
    ``weight_hh (H, H)``, biases ``(H,)``.

    The tutorial's names map onto these: its ``U`` (input weights) is ``weight_ih``, ``W``
    (recurrent weights) is ``weight_hh``, ``V`` (output weights) lives outside the cell in the
    model's output :class:`~autograd_rnn.nodes.Linear`; its ``prev_memory`` is the state
    ``h_{t-1}`` returned by the previous ``step``; its ``bptt_truncate=k`` is
    ``Sequence(cell, truncation=LookBack(k))``. The tutorial has no biases; ours are PyTorch's two.
    """

    gates = 1
    static_step = True

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", dtype=np.float64, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ConfigError(f"RNNLayer: nonlinearity={nonlinearity!r}; expected 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, dtype, rng)
        self.nonlinearity = nonlinearity

    def step(self, x: Tensor, h: Tensor) -> Tensor:
        a = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        return a.tanh() if self.nonlinearity == "tanh" else a.relu()

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"
