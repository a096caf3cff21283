"""``GRULayer``: gated recurrent unit with PyTorch's equations."""

from __future__ import annotations

from ..graph import Tensor, linear
from .cell import TorchLikeCell


class GRULayer(TorchLikeCell):
    """GRU cell, torch.nn.GRUCell's equations, gate order (r, z, n) and parameter names::

        [i_r, i_z, i_n] = x @ weight_ih.T + bias_ih;   [h_r, h_z, h_n] = h @ weight_hh.T + bias_hh
        r = sigmoid(i_r + h_r);  z = sigmoid(i_z + h_z);  n = tanh(i_n + r * h_n)
        h' = (1 - z) * n + z * h

    The reset gate multiplies ``h_n = W_hn h + b_hn`` (after the matmul), as in PyTorch.
    ``weight_ih (3H, I)``, ``weight_hh (3H, H)``.
    """

    gates = 3
    static_step = True

    def step(self, x: Tensor, h: Tensor) -> Tensor:
        H = self.hidden_size
        i_rz, i_n = linear(x, self.weight_ih, self.bias_ih).split([2 * H, H])
        h_rz, h_n = linear(h, self.weight_hh, self.bias_hh).split([2 * H, H])
        r, z = (i_rz + h_rz).sigmoid().split(2)  # both gates in one sigmoid
        n = (i_n + r * h_n).tanh()
        return n + z * (h - n)  # = (1 - z) * n + z * h in one op fewer
