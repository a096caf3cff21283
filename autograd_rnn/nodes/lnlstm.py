"""``LayerNormLSTM``: an LSTM with layer normalisation (Ba, Kiros & Hinton 2016, section 6.3)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..graph import Tensor
from ..init import as_rng, constant, uniform
from .cell import Cell
from .layernorm import LayerNorm


class LayerNormLSTM(Cell):
    """LSTM whose input and recurrent pre-activations and whose cell state are layer-normalised::

        N(a) = (a - mean(a)) / sqrt(var(a) + eps)               over the last axis (biased variance)

        z  = gain_ih * N(x @ weight_ih.T) + gain_hh * N(h @ weight_hh.T) + bias     (batch, 4H)
        [z_i, z_f, z_g, z_o] = z;   i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);   g = tanh(z_g)
        c' = f * c + i * g
        h' = o * tanh(gain_c * N(c') + bias_c)

    Ba et al.'s equations: each 4H-wide pre-activation is normalised over all its 4H units, the cell
    state over its H units before the tanh, and the state carried to the next step is the
    unnormalised ``c'``. Their gates add a beta after each of the two normalisations and a bias
    ``b``: three vectors of which only the sum matters, here the one ``bias``. Gate order (i, f,
    g, o) as in LSTMLayer.

    Parameters: ``weight_ih (4H, I)``, ``weight_hh (4H, H)`` and ``bias (4H,)`` U(-1/sqrt(H),
    1/sqrt(H)) as PyTorch's LSTM; the gains ``gain_ih``, ``gain_hh (4H,)`` and ``gain_c (H,)`` ones;
    ``bias_c (H,)`` zeros. State ``(h, c)``, each ``(batch, hidden)``. ``eps`` (default 1e-5, as
    torch.nn.LayerNorm) keeps the normalisation finite for a constant row; near such a row (a zero
    input at a zero state gives ``z = bias``, so a zero ``bias`` would give a constant ``c'``) the
    normalisation's slope is ``1 / sqrt(eps)``, which the random bias keeps away from.

    The step below is the reference. The sequence layer runs :meth:`input_part` over the whole
    block first, with graph ops, then a fused kernel with a hand-derived backward for the rest
    (:mod:`autograd_rnn.sequence.fused.lnlstm`), tested against the step.
    """

    gates = 4
    n_state = 2
    static_step = True

    def __init__(self, input_size: int, hidden_size: int, eps: float = 1e-5, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not (np.isfinite(eps) and eps > 0):
            raise ConfigError(f"LayerNormLSTM: eps={eps!r}; expected a finite number > 0")
        rng = as_rng(rng)
        self.eps = float(eps)
        G, H, k = 4 * hidden_size, hidden_size, 1 / np.sqrt(hidden_size)
        self.parameter("weight_ih", uniform((G, input_size), k, rng))
        self.parameter("weight_hh", uniform((G, H), k, rng))
        self.parameter("bias", uniform(G, k, rng))
        self.parameter("gain_ih", constant(G, 1.0))
        self.parameter("gain_hh", constant(G, 1.0))
        self.parameter("gain_c", constant(H, 1.0))
        self.parameter("bias_c", constant(H, 0.0))
        self.norm_gates = LayerNorm(G, self.eps, affine=False, dtype=dtype)
        self.norm_cell = LayerNorm(H, self.eps, affine=False, dtype=dtype)

    def input_part(self, x: Tensor) -> Tensor:
        """``gain_ih * N(x @ weight_ih.T) + bias``: the part of ``z`` that reads only the input,
        ``x (..., I)`` -> ``(..., 4H)``, row by row (the fused path makes it for every step at once,
        or for an embedding table's rows)."""
        if x.ndim != 2:
            return self.input_part(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], 4 * self.hidden_size)
        return self.norm_gates(x @ self.weight_ih.T) * self.gain_ih + self.bias

    def step(self, x: Tensor, state: tuple) -> tuple:
        h, c = state
        z = self.input_part(x) + self.norm_gates(h @ self.weight_hh.T) * self.gain_hh
        zi, zf, zg, zo = z.split(4)
        c_new = zf.sigmoid() * c + zi.sigmoid() * zg.tanh()
        return zo.sigmoid() * (self.norm_cell(c_new) * self.gain_c + self.bias_c).tanh(), c_new
