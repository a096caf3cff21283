"""``LSTMLayer``: long short-term memory with PyTorch's gate order."""

from __future__ import annotations

from ..graph import Tensor, linear
from .cell import TorchLikeCell


class LSTMLayer(TorchLikeCell):
    """LSTM cell, torch.nn.LSTMCell's equations, gate order (i, f, g, o) and parameter names::

        [z_i, z_f, z_g, z_o] = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
        c' = f * c + i * g;   h' = o * tanh(c')

    State ``(h, c)``, each ``(batch, hidden)``; ``weight_ih (4H, I)``, ``weight_hh (4H, H)``.
    """

    gates = 4
    n_state = 2
    static_step = True

    def step(self, x: Tensor, state: tuple) -> tuple:
        h, c = state
        z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        zi, zf, zg, zo = z.split(4)
        c_new = zf.sigmoid() * c + zi.sigmoid() * zg.tanh()
        return zo.sigmoid() * c_new.tanh(), c_new
