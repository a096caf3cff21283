"""Three recurrent cells that are not built in, each a ``Cell`` with only a ``step``, ready for the
language model and the command line:

    autograd-rnn train --cell examples/cells.py:PeepholeLSTM --corpus text.txt
    autograd-rnn train --cell examples/cells.py:IndRNN --cell-option activation=tanh --corpus text.txt
    autograd-rnn train --cell examples/cells.py:LayerNormLSTM --corpus text.txt

* ``PeepholeLSTM`` (Gers & Schmidhuber 2000): the gates also see the cell state.
* ``IndRNN`` (Li et al. 2018): each hidden unit recurs only onto itself, ``h' = act(x W^T + u * h
  + b)``; a constructor option chooses the activation, and checkpoints keep it.
* ``LayerNormLSTM`` (Ba et al. 2016): an LSTM whose gate pre-activations and cell output are
  layer-normalised; its ``LayerNorm`` children make dotted parameter names.

Their backwards are never written: the graph derives them, ``autograd-rnn train`` checks them
with ``gradcheck_sequence`` before training. Run this file to check all three.
"""

import numpy as np

import autograd_rnn as ar
from autograd_rnn.init import as_rng, orthogonal, uniform
from autograd_rnn.nodes import Cell, LayerNorm


class PeepholeLSTM(Cell):
    """LSTM with peepholes, gate order (i, f, g, o)::

        [z_i z_f z_g z_o] = x W^T + h U^T + b
        i = s(z_i + p_i * c)    f = s(z_f + p_f * c)    g = tanh(z_g)
        c' = f * c + i * g
        o = s(z_o + p_o * c')   h' = o * tanh(c')
    """

    n_state = 2
    static_step = True

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = as_rng(rng)
        H = hidden_size
        self.parameter("W", uniform((4 * H, input_size), rng=rng))
        self.parameter("U", orthogonal((4 * H, H), blocks=4, rng=rng))
        self.parameter("b", np.zeros(4 * H))
        self.parameter("p", uniform((3, H), 0.1, rng=rng))  # peepholes p_i, p_f, p_o

    def step(self, x, state):
        h, c = state
        zi, zf, zg, zo = (ar.linear(x, self.W, self.b) + h @ self.U.T).split(4)
        pi, pf, po = self.p.split(3, axis=0)
        i = (zi + pi.reshape(-1) * c).sigmoid()
        f = (zf + pf.reshape(-1) * c).sigmoid()
        c_new = f * c + i * zg.tanh()
        o = (zo + po.reshape(-1) * c_new).sigmoid()
        return o * c_new.tanh(), c_new


class IndRNN(Cell):
    """Independently recurrent network: ``h' = act(x W^T + u * h + b)``, ``u`` a vector (each unit
    recurs onto itself only). ``activation``: "relu" (the paper's) or "tanh"."""

    static_step = True

    def __init__(self, input_size, hidden_size, activation="relu", dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        if activation not in ("relu", "tanh"):
            raise ValueError(f"IndRNN: activation={activation!r}; expected 'relu' or 'tanh'")
        self.activation = activation  # a constructor option: config() reads it from here
        rng = as_rng(rng)
        self.parameter("W", ar.init.xavier_uniform((hidden_size, input_size), rng=rng))
        self.parameter("u", rng.uniform(0.0, 1.0, hidden_size))
        self.parameter("b", np.zeros(hidden_size))

    def step(self, x, h):
        a = ar.linear(x, self.W, self.b) + self.u * h
        return a.relu() if self.activation == "relu" else a.tanh()


class LayerNormLSTM(Cell):
    """LSTM with layer normalisation::

        [z_i z_f z_g z_o] = LN_x(x W^T) + LN_h(h U^T) + b
        c' = s(z_f) * c + s(z_i) * tanh(z_g)
        h' = s(z_o) * tanh(LN_c(c'))

    Written here as a custom cell (composed, three LayerNorm children); the package's own
    ``autograd_rnn.nodes.LayerNormLSTM`` (``--cell lnlstm``) is the same idea with a fused kernel.
    """

    n_state = 2
    static_step = True

    def __init__(self, input_size, hidden_size, eps=1e-5, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = as_rng(rng)
        H = hidden_size
        self.eps = eps
        self.parameter("W", ar.init.xavier_uniform((4 * H, input_size), rng=rng))
        self.parameter("U", orthogonal((4 * H, H), blocks=4, rng=rng))
        self.parameter("b", np.zeros(4 * H))
        self.ln_x = LayerNorm(4 * H, eps, dtype=dtype)
        self.ln_h = LayerNorm(4 * H, eps, dtype=dtype)
        self.ln_c = LayerNorm(H, eps, dtype=dtype)

    def step(self, x, state):
        h, c = state
        z = self.ln_x(x @ self.W.T) + self.ln_h(h @ self.U.T) + self.b
        zi, zf, zg, zo = z.split(4)
        c_new = zf.sigmoid() * c + zi.sigmoid() * zg.tanh()
        return zo.sigmoid() * self.ln_c(c_new).tanh(), c_new


CELLS = [PeepholeLSTM, IndRNN, LayerNormLSTM]


def check(seed: int = 0) -> None:
    """gradcheck_sequence of every cell here under Full, LookBack(2) and Truncated(2, 3), from a
    random state (a zero state is a poor point for finite differences of a layer norm of h U^T:
    the variance it divides by is eps)."""
    rng = np.random.default_rng(seed)
    for cls in CELLS:
        cell = cls(3, 4, rng=rng)
        state0 = tuple(rng.normal(size=(2, 4)) for _ in range(cell.n_state))
        for policy in (ar.Full(), ar.LookBack(2), ar.Truncated(2, 3)):
            report = ar.gradcheck_sequence(ar.Sequence(cell, truncation=policy), rng.normal(size=(5, 2, 3)), state0)
            print(f"{report.name:50} max rel err {report.max_rel_err:.1e}")


if __name__ == "__main__":
    check()
