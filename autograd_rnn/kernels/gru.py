"""Fused GRU with PyTorch's equations and gate order (r, z, n)::

    [i_r i_z i_n] = x_t W_ih^T + b_ih          [h_r h_z h_n] = h_{t-1} W_hh^T + b_hh
    r = s(i_r + h_r)    z = s(i_z + h_z)    n = tanh(i_n + r * h_n)
    h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

(the reset gate multiplies ``W_hn h + b_hn``, after the matmul). Sigmoid through tanh as in the
LSTM kernel. Backward of one step::

    dn~  = dh * (1 - z) * (1 - n**2)                 (gradient of i_n, and of r * h_n)
    dz~  = dh * (h_{t-1} - n) * z (1 - z)
    dr~  = dn~ * h_n * r (1 - r)
    d[i_r i_z i_n] = [dr~ dz~ dn~]       d[h_r h_z h_n] = [dr~ dz~ dn~ * r]
    dh_{t-1} = dh * z + d[h_r h_z h_n] @ W_hh
"""

from __future__ import annotations

import numpy as np

from ..graph import is_grad_enabled
from .base import CellGate
from .rnn import FusedSequenceGate, _norms, weight_grads


class GRUKernel:
    @staticmethod
    def prepare(params) -> tuple:
        """Input weights and bias with the r, z columns scaled by 1/2 (and b_hr, b_hz folded in), and
        W_hh scaled the same way: made once per call (or once for sampling)."""
        W_ih, W_hh, b_ih, b_hh = params
        H = W_hh.shape[1]
        sc = np.ones(3 * H, W_hh.dtype)
        sc[: 2 * H] = 0.5
        b = b_ih.copy()
        b[: 2 * H] += b_hh[: 2 * H]
        return (W_ih * sc[:, None]).T, b * sc, np.ascontiguousarray((W_hh * sc[:, None]).T), b_hh[2 * H :]

    def forward(self, xs, states0, params, prepared=None, projected=None):
        """``projected`` (T, B, 3H), when given, is ``x_t @ W_ih_sT + b_s`` already made (sampling)."""
        W_ih_sT, b_s, Ws_T, b_hn = prepared if prepared is not None else self.prepare(params)
        T, B, In = xs.shape
        H = Ws_T.shape[0]
        dt = xs.dtype
        if projected is None:
            gi = (xs.reshape(T * B, In) @ W_ih_sT).reshape(T, B, 3 * H)
            gi += b_s
        else:
            gi = projected
        hs = np.empty((T + 1, B, H), dt)
        hs[0] = states0[0]
        rz = np.empty((T, B, 2 * H), dt)
        n_ = np.empty((T, B, H), dt)
        hn = np.empty((T, B, H), dt)
        gh = np.empty((B, 3 * H), dt)
        for t in range(T):
            np.dot(hs[t], Ws_T, out=gh)
            a = rz[t]
            np.add(gh[:, : 2 * H], gi[t, :, : 2 * H], out=a)
            np.tanh(a, out=a)
            a *= 0.5
            a += 0.5
            np.add(gh[:, 2 * H :], b_hn, out=hn[t])
            n = n_[t]
            np.multiply(a[:, :H], hn[t], out=n)
            n += gi[t, :, 2 * H :]
            np.tanh(n, out=n)
            h = hs[t + 1]
            np.subtract(hs[t], n, out=h)
            h *= a[:, H:]
            h += n
        self.xs, self.hs, self.params = xs, hs, params
        self.hs_shape = (T, B, H)
        if is_grad_enabled():
            r, z = rz[..., :H], rz[..., H:]
            self.z, self.r = z, r
            self.P_n = (1 - z) * (1 - n_ * n_)
            self.P_z = (hs[:-1] - n_) * z * (1 - z)
            self.P_r = hn * r * (1 - r)
        return hs[1:], (hs[T],)

    def new_acc(self):
        """(d[h_r h_z h_n] per step (T, B, 3H), d i_n per step (T, B, H)); d[i_r i_z] = d[h_r h_z]."""
        T, B, H = self.hs_shape
        return np.zeros((T, B, 3 * H), self.xs.dtype), np.zeros((T, B, H), self.xs.dtype)

    def step_back(self, acc, s0, s1, dstate):
        (dh,) = dstate
        n, B, H = dh.shape
        s = slice(s0, s1)
        d_gh = np.empty((n, B, 3 * H), dh.dtype)
        dn = dh * self.P_n[s]
        np.multiply(dh, self.P_z[s], out=d_gh[..., H : 2 * H])
        np.multiply(dn, self.P_r[s], out=d_gh[..., :H])
        np.multiply(dn, self.r[s], out=d_gh[..., 2 * H :])
        acc[0][s] += d_gh
        acc[1][s] += dn
        dh_prev = (d_gh.reshape(n * B, 3 * H) @ self.params[1]).reshape(n, B, H)
        dh_prev += dh * self.z[s]
        return (dh_prev,)

    def full_backward(self, acc, g_hs, g_final):
        """``Full()``'s sweep: returns (dstate0, norms of dL/dh_t). Same math as step_back."""
        T, B, H = g_hs.shape
        W = self.params[1]
        d_gh_all, dn_all = acc
        P_n, P_z, P_r, r, z = self.P_n, self.P_z, self.P_r, self.r, self.z
        dH = np.empty_like(g_hs)
        np.add(g_hs[T - 1], g_final[0], out=dH[T - 1])
        tmp = np.empty((B, H), g_hs.dtype)
        for t in range(T - 1, -1, -1):
            dh, d_gh, dn = dH[t], d_gh_all[t], dn_all[t]
            np.multiply(dh, P_n[t], out=dn)
            np.multiply(dh, P_z[t], out=d_gh[:, H : 2 * H])
            np.multiply(dn, P_r[t], out=d_gh[:, :H])
            np.multiply(dn, r[t], out=d_gh[:, 2 * H :])
            if t:
                prev = dH[t - 1]
                np.dot(d_gh, W, out=prev)
                np.multiply(dh, z[t], out=tmp)
                prev += tmp
                prev += g_hs[t - 1]
        h0 = d_gh_all[0] @ W
        h0 += dH[0] * z[0]
        return (h0,), _norms(dH)

    def finish(self, acc):
        d_gh, d_in = acc
        H = d_in.shape[-1]
        d_gi = d_gh.copy()
        d_gi[..., 2 * H :] = d_in
        return weight_grads(d_gi, d_gh, self.xs, self.hs, self.params[0])


class GRUSequenceGate(FusedSequenceGate):
    """Fused GRU over a whole sequence. Inputs ``(xs, h0, W_ih, W_hh, b_ih, b_hh)``, outputs
    ``(hs, h_T)``; weights as torch.nn.GRU (``W_ih (3H, I)``, ``W_hh (3H, H)``)."""

    n_state = 1
    gates = 3
    kernel_class = GRUKernel


class GRUCellGate(CellGate):
    """One fused GRU step: ``(x, h, W_ih, W_hh, b_ih, b_hh) -> h'``."""

    sequence_gate = GRUSequenceGate
