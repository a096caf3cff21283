"""Fused GRU recurrence with PyTorch's equations and gate order (r, z, n)::

    [i_r i_z i_n] = zx_t                       [h_r h_z h_n] = h_{t-1} W_hh^T + b_hh
    r = s(i_r + h_r)    z = s(i_z + h_z)    n = tanh(i_n + r * h_n)
    h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

where ``zx_t = x_t W_ih^T + b_ih`` was made for all steps at once before the loop, and the reset
gate multiplies ``h_n = W_hn h + b_hn``, after the matmul, as in PyTorch. Sigmoid through tanh as
in the LSTM kernel. Backward of one step::

    dn~  = dh * (1 - z) * (1 - n**2)                 (the gradient of i_n, and of r * h_n)
    dz~  = dh * (h_{t-1} - n) * z (1 - z)
    dr~  = dn~ * h_n * r (1 - r)
    d zx_t = [dr~ dz~ dn~]       d[h_r h_z h_n] = [dr~ dz~ dn~ * r]
    dh_{t-1} = dh * z + d[h_r h_z h_n] @ W_hh

Each step's gradients are kept side by side as ``[dr~ dz~ dn~*r dn~]`` (4H wide): the first 3H
columns are the recurrent side, columns 0:2H and 3H:4H the input side.
"""

from __future__ import annotations

import numpy as np

from ...gates.base import Saved
from ...graph import is_grad_enabled
from ...products import matmul
from ..kernel import Kernel, StepGradients
from .rnn import recurrent_grads, rows, sigmoid_scale, start


class GRUKernel(Kernel):
    """One application of the fused GRU recurrence (see the module docstring)."""

    gates = 3

    def forward(self, zx, states0, params):
        W_hh, b_hh, hs = start("GRUKernel", zx, states0, params, 3)
        T, B, H = zx.shape[0], zx.shape[1], hs.shape[2]
        dt = zx.dtype
        b_rz, b_hn = rows(b_hh[: 2 * H], B), rows(b_hh[2 * H :], B)
        half = sigmoid_scale(B, H, 2, None, dt)[0]  # 1/2 in every column
        rz = np.empty((T, B, 2 * H), dt)
        ns = np.empty((T, B, H), dt)
        hn = np.empty((T, B, H), dt)
        gh = np.empty((B, 3 * H), dt)
        W_T = W_hh.T
        for t in range(T):
            matmul(hs[t], W_T, out=gh)
            a = rz[t]
            np.add(gh[:, : 2 * H], zx[t, :, : 2 * H], out=a)
            a += b_rz
            a *= half
            np.tanh(a, out=a)
            a *= half
            a += half
            np.add(gh[:, 2 * H :], b_hn, out=hn[t])
            n = ns[t]
            np.multiply(a[:, :H], hn[t], out=n)
            n += zx[t, :, 2 * H :]
            np.tanh(n, out=n)
            h = hs[t + 1]
            np.subtract(hs[t], n, out=h)
            h *= a[:, H:]
            h += n
        if not is_grad_enabled():  # no backward will run: nothing to keep
            return hs[1:], (hs[T],)
        r, z = rz[..., :H], rz[..., H:]
        self.saved = Saved(hs=hs, W_hh=W_hh, r=r, z=z, P_n=(1 - z) * (1 - ns * ns),
                           P_z=(hs[:-1] - ns) * z * (1 - z), P_r=hn * r * (1 - r))
        return hs[1:], (hs[T],)

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradients((T, B, 4 * H), self.saved.hs.dtype)

    def step_back(self, acc: StepGradients, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        (dh,) = dstate
        n, B, H = dh.shape
        d = acc.begin(s0, s1)
        dn = d[..., 3 * H :]
        np.multiply(dh, s.P_n[s0:s1], out=dn)
        np.multiply(dh, s.P_z[s0:s1], out=d[..., H : 2 * H])
        np.multiply(dn, s.P_r[s0:s1], out=d[..., :H])
        np.multiply(dn, s.r[s0:s1], out=d[..., 2 * H : 3 * H])
        acc.end(s0, s1, d)
        dh_prev = matmul(d[..., : 3 * H].reshape(n * B, 3 * H), s.W_hh).reshape(n, B, H)
        dh_prev += dh * s.z[s0:s1]
        return (dh_prev,)

    def finish(self, acc: StepGradients):
        d = acc.result()
        H = d.shape[-1] // 4
        d_zx = np.concatenate([d[..., : 2 * H], d[..., 3 * H :]], axis=-1)
        return d_zx, recurrent_grads(d[..., : 3 * H], self.saved.hs)
