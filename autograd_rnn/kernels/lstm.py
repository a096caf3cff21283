"""Fused LSTM with PyTorch's equations and gate order (i, f, g, o)::

    z_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh          (batch, 4H) = [z_i z_f z_g z_o]
    i = s(z_i)  f = s(z_f)  g = tanh(z_g)  o = s(z_o)          s = sigmoid
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Speed: sigmoid is computed through tanh, s(z) = (1 + tanh(z / 2)) / 2, so one ``tanh`` covers all
four gates once the sigmoid columns of the pre-activation are scaled by 1/2 (folded into the input
projection and a scaled copy of W_hh made once per call).

Backward of one step (``dh``, ``dc`` the gradients reaching h_t and c_t)::

    dc~   = dc + dh * o * (1 - tanh(c_t)**2)
    dz_o  = dh * tanh(c_t) * o (1 - o)
    dz_i  = dc~ * g * i (1 - i)
    dz_f  = dc~ * c_{t-1} * f (1 - f)
    dz_g  = dc~ * i * (1 - g**2)
    dc_{t-1} = dc~ * f
    dh_{t-1} = dz @ W_hh

The factors multiplying ``dh`` and ``dc~`` are computed once for all steps after the forward loop,
so a step backward is a handful of elementwise products and one matmul.
"""

from __future__ import annotations

import numpy as np

from ..graph import is_grad_enabled
from .base import CellGate, SequenceGate
from .rnn import check_params


def _sigmoid_scale(H: int, dtype) -> np.ndarray:
    sc = np.full(4 * H, 0.5, dtype)
    sc[2 * H : 3 * H] = 1
    return sc


class LSTMKernel:
    def forward(self, xs, states0, params):
        W_ih, W_hh, b_ih, b_hh = params
        T, B, In = xs.shape
        H = W_hh.shape[1]
        dt = xs.dtype
        sc = _sigmoid_scale(H, dt)
        off = sc.copy()
        off[2 * H : 3 * H] = 0
        z = (xs.reshape(T * B, In) @ W_ih.T).reshape(T, B, 4 * H)
        z += b_ih + b_hh
        z *= sc
        Ws_T = (W_hh * sc[:, None]).T
        hs, cs = np.empty((T + 1, B, H), dt), np.empty((T + 1, B, H), dt)
        hs[0], cs[0] = states0
        act = np.empty((T, B, 4 * H), dt)
        tc = np.empty((T, B, H), dt)
        ig = np.empty((B, H), dt)
        for t in range(T):
            a = act[t]
            np.dot(hs[t], Ws_T, out=a)
            a += z[t]
            np.tanh(a, out=a)
            a *= sc
            a += off
            c = cs[t + 1]
            np.multiply(a[:, H : 2 * H], cs[t], out=c)
            np.multiply(a[:, :H], a[:, 2 * H : 3 * H], out=ig)
            c += ig
            np.tanh(c, out=tc[t])
            np.multiply(a[:, 3 * H :], tc[t], out=hs[t + 1])
        self.xs, self.hs, self.cs, self.params = xs, hs, cs, params
        self.hs_shape = (T, B, H)
        if is_grad_enabled():
            i, f, g, o = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
            self.f = f
            self.Q = o * (1 - tc * tc)
            self.P_o = tc * o * (1 - o)
            R = np.empty((T, B, 3, H), dt)
            R[:, :, 0] = g * i * (1 - i)
            R[:, :, 1] = cs[:-1] * f * (1 - f)
            R[:, :, 2] = i * (1 - g * g)
            self.R = R
        return hs[1:], (hs[T], cs[T])

    def new_acc(self):
        T, B, H = self.hs_shape
        return np.zeros((T, B, 4 * H), self.xs.dtype)

    def step_back(self, acc, s0, s1, dstate):
        dh, dc = dstate
        n, B, H = dh.shape
        dct = dh * self.Q[s0:s1]
        dct += dc
        dz = np.empty((n, B, 4 * H), dh.dtype)
        np.multiply(dct[:, :, None, :], self.R[s0:s1], out=dz[..., : 3 * H].reshape(n, B, 3, H))
        np.multiply(dh, self.P_o[s0:s1], out=dz[..., 3 * H :])
        acc[s0:s1] += dz
        dh_prev = (dz.reshape(n * B, 4 * H) @ self.params[1]).reshape(n, B, H)
        return dh_prev, dct * self.f[s0:s1]

    def finish(self, acc):
        W_ih = self.params[0]
        T, B, G = acc.shape
        dz = acc.reshape(T * B, G)
        dxs = (dz @ W_ih).reshape(T, B, -1)
        dW_ih = dz.T @ self.xs.reshape(T * B, -1)
        dW_hh = dz.T @ self.hs[:-1].reshape(T * B, -1)
        db = dz.sum(axis=0)
        return dxs, (dW_ih, dW_hh, db, db.copy())


class LSTMSequenceGate(SequenceGate):
    """Fused LSTM over a whole sequence. Inputs ``(xs, h0, c0, W_ih, W_hh, b_ih, b_hh)``, outputs
    ``(hs, h_T, c_T)``; weights as torch.nn.LSTM (``W_ih (4H, I)``, ``W_hh (4H, H)``)."""

    n_state = 2

    def check(self, xs, states, params):
        super().check(xs, states, params)
        check_params(self.name, xs, states, params, 4)

    def make_kernel(self):
        return LSTMKernel()


class LSTMCellGate(CellGate):
    """One fused LSTM step: ``(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h', c')``."""

    sequence_gate = LSTMSequenceGate
