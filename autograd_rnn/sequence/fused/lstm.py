"""Fused LSTM recurrence with PyTorch's equations and gate order (i, f, g, o)::

    z_t = zx_t + h_{t-1} W_hh^T + b_hh          (batch, 4H) = [z_i z_f z_g z_o]
    i = s(z_i)  f = s(z_f)  g = tanh(z_g)  o = s(z_o)          s = sigmoid
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

where ``zx_t = x_t W_ih^T + b_ih`` was made for all steps at once before the loop. Sigmoid is
computed through tanh, s(z) = (1 + tanh(z / 2)) / 2, so one ``tanh`` covers all four gates: the
sigmoid columns are scaled by 1/2 before it, and by 1/2 and shifted by 1/2 after. The ``tanh``
writes the activations gate by gate, ``(4, batch, H)`` a step: numpy runs an operation on a column
block of a ``(batch, 4H)`` array one row at a time, several times slower than on a contiguous
block, and every later operation reads one gate.

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
forward loop, so a step backward is a handful of elementwise products and one matmul. They are
written in place of the activations no backward reads, from products the loop keeps (``ig = i g``,
``fc = f c_{t-1}``, and ``h = o tanh(c)``)::

    R = [ig (1-i),  fc (1-f),  i (1-g^2)]      P_o = h (1-o)      Q = o - h tanh(c)

so ``[R P_o]`` is the activations' own ``(T, 4, batch, H)`` buffer. ``dz`` of every step is the
gradient of ``zx``; ``finish`` turns it into ``dW_hh`` and ``db_hh``.
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
        scale, scale4, shift4 = sigmoid_scale(B, H, 4, 2, dt)
        b_hh = rows(b_hh, B)
        keep = is_grad_enabled()  # else no backward will run: one step of scratch, nothing kept
        n = T if keep else 1
        act = np.empty((n, 4, B, H), dt)  # the activations [i f g o] of each step, gate by gate
        by_row = act.transpose(0, 2, 1, 3)  # the same, seen as (n, B, 4, H): where the tanh writes
        ig, tc = np.empty((n, B, H), dt), np.empty((n, B, H), dt)
        fc = np.empty((n, B, H), dt) if keep else tc  # f c_{t-1}, kept for the factors (else in tanh(c)'s place)
        cs = np.empty_like(hs)
        cs[0] = states0[1]
        z = np.empty((B, 4 * H), dt)
        z4 = z.reshape(B, 4, H)
        W_T = W_hh.T
        for t in range(T):
            k = t if keep else 0
            matmul(hs[t], W_T, out=z)
            z += zx[t]
            z += b_hh
            z *= scale
            np.tanh(z4, out=by_row[k])
            a = act[k]
            a *= scale4
            a += shift4
            np.multiply(a[1], cs[t], out=fc[k])
            np.multiply(a[0], a[2], out=ig[k])
            np.add(fc[k], ig[k], out=cs[t + 1])
            np.tanh(cs[t + 1], out=tc[k])
            np.multiply(a[3], tc[k], out=hs[t + 1])
        if keep:
            h = hs[1:]
            i, f, g, o = (act[:, j] for j in range(4))
            Q = tc  # o - h tanh(c) = o (1 - tanh(c)^2)
            Q *= h
            np.subtract(o, Q, out=Q)
            np.subtract(1, o, out=o)  # P_o = h (1 - o)
            o *= h
            np.multiply(g, g, out=g)  # R_g = i (1 - g^2)
            np.subtract(1, g, out=g)
            g *= i
            np.subtract(1, i, out=i)  # R_i = ig (1 - i)
            i *= ig
            np.copyto(ig, f)  # f, for dc_{t-1}; then R_f = fc (1 - f)
            np.subtract(1, f, out=f)
            f *= fc
            self.saved = Saved(hs=hs, W_hh=W_hh, f=ig, R=act[:, :3], Q=Q, P_o=o)
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
        np.multiply(dct[:, None], s.R[s0:s1], out=dz.reshape(n, B, 4, H)[:, :, :3].transpose(0, 2, 1, 3))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        acc.end(s0, s1, dz)
        dh_prev = matmul(dz.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc: StepGradients):
        dz = acc.result()
        return dz, recurrent_grads(dz, self.saved.hs)
