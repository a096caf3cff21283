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
from .base import CellGate
from .rnn import FusedSequenceGate, _norms, weight_grads


def _sigmoid_scale(H: int, dtype) -> np.ndarray:
    sc = np.full(4 * H, 0.5, dtype)
    sc[2 * H : 3 * H] = 1
    return sc


class LSTMKernel:
    @staticmethod
    def prepare(params) -> tuple:
        """Weights with the sigmoid columns scaled by 1/2, made once per call (or once for sampling)."""
        W_ih, W_hh, b_ih, b_hh = params
        H = W_hh.shape[1]
        sc = _sigmoid_scale(H, W_hh.dtype)
        off = sc.copy()
        off[2 * H : 3 * H] = 0
        return (W_ih * sc[:, None]).T, (b_ih + b_hh) * sc, np.ascontiguousarray((W_hh * sc[:, None]).T), sc, off

    def forward(self, xs, states0, params, prepared=None, projected=None):
        """``projected`` (T, B, 4H), when given, is ``x_t @ W_ih_sT + b_s`` already made (sampling)."""
        W_ih_sT, b_s, Ws_T, sc, off = prepared if prepared is not None else self.prepare(params)
        T, B, In = xs.shape
        H = Ws_T.shape[0]
        dt = xs.dtype
        if projected is None:
            z = (xs.reshape(T * B, In) @ W_ih_sT).reshape(T, B, 4 * H)
            z += b_s
        else:
            z = projected
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

    def full_backward(self, acc, g_hs, g_final):
        """``Full()``'s sweep: returns (dstate0, norms of dL/dh_t). Same math as step_back."""
        T, B, H = g_hs.shape
        W = self.params[1]
        Q, P_o, R, f = self.Q, self.P_o, self.R, self.f
        dH = np.empty_like(g_hs)
        np.add(g_hs[T - 1], g_final[0], out=dH[T - 1])
        dc = g_final[1].copy()
        dct = np.empty_like(dc)
        for t in range(T - 1, -1, -1):
            dh, dz = dH[t], acc[t]
            np.multiply(dh, Q[t], out=dct)
            dct += dc
            np.multiply(dct[:, None, :], R[t], out=dz[:, : 3 * H].reshape(B, 3, H))
            np.multiply(dh, P_o[t], out=dz[:, 3 * H :])
            np.multiply(dct, f[t], out=dc)
            if t:
                np.dot(dz, W, out=dH[t - 1])
                dH[t - 1] += g_hs[t - 1]
        return (acc[0] @ W, dc), _norms(dH)

    def finish(self, acc):
        return weight_grads(acc, acc, self.xs, self.hs, self.params[0])


class LSTMSequenceGate(FusedSequenceGate):
    """Fused LSTM over a whole sequence. Inputs ``(xs, h0, c0, W_ih, W_hh, b_ih, b_hh)``, outputs
    ``(hs, h_T, c_T)``; weights as torch.nn.LSTM (``W_ih (4H, I)``, ``W_hh (4H, H)``)."""

    n_state = 2
    gates = 4
    kernel_class = LSTMKernel


class LSTMCellGate(CellGate):
    """One fused LSTM step: ``(x, h, c, W_ih, W_hh, b_ih, b_hh) -> (h', c')``."""

    sequence_gate = LSTMSequenceGate
