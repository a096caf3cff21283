"""Fused LSTM recurrence with PyTorch's equations and gate order (i, f, g, o)::

    z_t = zx_t + h_{t-1} W_hh^T + b_hh          (batch, 4H) = [z_i z_f z_g z_o]
    i = s(z_i)  f = s(z_f)  g = tanh(z_g)  o = s(z_o)          s = sigmoid
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

where ``zx_t = x_t W_ih^T + b_ih`` was made for all steps at once before the loop. Sigmoid is
computed through tanh, s(z) = (1 + tanh(z / 2)) / 2, so one ``tanh`` covers all four gates: the
sigmoid columns are scaled by 1/2 before it, and by 1/2 and shifted by 1/2 after.

Backward of one step (``dh``, ``dc`` the gradients reaching h_t and c_t)::

    dc~   = dc + dh * o * (1 - tanh(c_t)**2)
    dz_i  = dc~ * g * i (1 - i)
    dz_f  = dc~ * c_{t-1} * f (1 - f)
    dz_g  = dc~ * i * (1 - g**2)
    dz_o  = dh * tanh(c_t) * o (1 - o)
    dc_{t-1} = dc~ * f
    dh_{t-1} = dz @ W_hh

The factors multiplying ``dh`` and ``dc~`` (``Q = o (1 - tanh(c)^2)``, ``R = [g i (1-i), c_{t-1}
f (1-f), i (1-g^2)]``, ``P_o = tanh(c) o (1-o)``) are computed once for all steps after the
forward loop, so a step backward is a handful of elementwise products and one matmul. ``dz`` of
every step is the gradient of ``zx``; ``finish`` turns it into ``dW_hh`` and ``db_hh``.
"""

from __future__ import annotations

import numpy as np

from ...gates.base import Saved
from ...graph import is_grad_enabled
from ...products import matmul
from ..kernel import Kernel, StepGradients
from .rnn import recurrent_grads, rows, sigmoid_scale, start


class LSTMKernel(Kernel):
    """One application of the fused LSTM recurrence (see the module docstring)."""

    gates = 4

    def forward(self, zx, states0, params):
        W_hh, b_hh, hs = start("LSTMKernel", zx, states0, params, 4)
        T, B, H = zx.shape[0], zx.shape[1], hs.shape[2]
        dt = zx.dtype
        scale, shift = sigmoid_scale(B, H, 4, 2, dt)
        b_hh = rows(b_hh, B)
        cs = np.empty_like(hs)
        cs[0] = states0[1]
        act = np.empty((T, B, 4 * H), dt)
        tc = np.empty((T, B, H), dt)
        ig = np.empty((B, H), dt)
        W_T = W_hh.T
        for t in range(T):
            a = act[t]
            matmul(hs[t], W_T, out=a)
            a += zx[t]
            a += b_hh
            a *= scale
            np.tanh(a, out=a)
            a *= scale
            a += shift
            c = cs[t + 1]
            np.multiply(a[:, H : 2 * H], cs[t], out=c)
            np.multiply(a[:, :H], a[:, 2 * H : 3 * H], out=ig)
            c += ig
            np.tanh(c, out=tc[t])
            np.multiply(a[:, 3 * H :], tc[t], out=hs[t + 1])
        if not is_grad_enabled():  # no backward will run: nothing to keep
            return hs[1:], (hs[T], cs[T])
        i, f, g, o = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
        R = np.empty((T, B, 3, H), dt)
        R[:, :, 0] = g * i * (1 - i)
        R[:, :, 1] = cs[:-1] * f * (1 - f)
        R[:, :, 2] = i * (1 - g * g)
        self.saved = Saved(hs=hs, W_hh=W_hh, f=f, R=R, Q=o * (1 - tc * tc), P_o=tc * o * (1 - o))
        return hs[1:], (hs[T], cs[T])

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradients((T, B, 4 * H), self.saved.hs.dtype)

    def step_back(self, acc: StepGradients, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        dh, dc = dstate
        n, B, H = dh.shape
        dct = dh * s.Q[s0:s1]
        dct += dc
        dz = acc.begin(s0, s1)
        np.multiply(dct[:, :, None, :], s.R[s0:s1], out=dz[..., : 3 * H].reshape(n, B, 3, H))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        acc.end(s0, s1, dz)
        dh_prev = matmul(dz.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc: StepGradients):
        dz = acc.result()
        return dz, recurrent_grads(dz, self.saved.hs)
