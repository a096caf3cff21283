"""Fused layer-normalised LSTM (:class:`~autograd_rnn.nodes.LayerNormLSTM`)::

    N(a) = (a - mean(a)) * r,   r = 1 / sqrt(var(a) + eps)          each row, over the last axis

    u_t = gain_ih * N(x_t W_ih^T) + bias                            the input part, made before the loop
    z_t = u_t + gain_hh * N(h_{t-1} W_hh^T)                         (batch, 4H) = [z_i z_f z_g z_o]
    i, f, o = s(z_i), s(z_f), s(z_o);   g = tanh(z_g)               s = sigmoid
    c_t = f * c_{t-1} + i * g
    m_t = N(c_t);   h_t = o * tanh(gain_c * m_t + bias_c)

The input part ``u`` depends only on the input: the sequence layer makes it with graph ops
(:meth:`LayerNormLSTM.input_part`) over all steps at once, or over an embedding table's rows, and
its gradients come from the graph; the kernel takes ``u`` as the LSTM kernel takes its input
projection. Sigmoids through one tanh, as in the LSTM kernel. Backward of a layer norm ``n =
N(a)`` (row by row), linear in ``dn``::

    N'(dn) = r * (dn - mean(dn) - n * mean(dn * n))

Backward of one step (``dh``, ``dc`` the gradients reaching h_t and c_t)::

    dy    = dh * o * (1 - tanh(y)^2)                   y = gain_c * m_t + bias_c
    dc~   = dc + N'_c(gain_c * dy)                     (m_t, r_c)
    dz_i, dz_f, dz_g = dc~ * [g i (1-i),  c_{t-1} f (1-f),  i (1-g^2)]
    dz_o  = dh * tanh(y) * o (1 - o)
    dc_{t-1} = dc~ * f
    dh_{t-1} = N'_h(gain_hh * dz) @ W_hh               (n_h = N(h_{t-1} W_hh^T), r_h)

``dz`` is the gradient of ``u_t``. The ``dz``, ``dy`` and ``da = N'_h(gain_hh * dz)`` of every step
are kept, each in its own array, summed over a policy's visits (the layer norm's backward is
linear, so the sum of a step's ``da`` is ``N'_h`` of its summed ``dz``); ``finish`` turns them into
the recurrent parameters' gradients over all T*B rows at once::

    dgain_hh = sum dz * n_h      dgain_c = sum dy * m      dbias_c = sum dy      dW_hh = sum da^T h_{t-1}

The activations are kept gate by gate and the derivative factors computed in place of them, as in
the LSTM kernel (:mod:`.lstm`), with ``tanh(y)`` for ``tanh(c)``.
"""

from __future__ import annotations

import numpy as np

from ...errors import GateInputError
from ...gates.base import Saved, shape_str
from ...graph import is_grad_enabled
from ...products import matmul
from ..kernel import Kernel, StepGradients
from .rnn import rows, sigmoid_scale

RECURRENT = ("weight_hh", "gain_hh", "gain_c", "bias_c")
"""The parameters the kernel reads; the input part reads ``weight_ih``, ``gain_ih`` and ``bias``."""


def normalize(a: np.ndarray, eps: float, r: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``N(a)`` of ``a (..., W)``, row by row, written into ``out`` (default: ``a`` itself), its rows'
    ``1 / sqrt(var + eps)`` into ``r (..., 1)``; returns ``out``."""
    out = a if out is None else out
    mean = a.sum(axis=-1, keepdims=True)
    mean /= a.shape[-1]
    np.subtract(a, mean, out=out)
    np.einsum("...i,...i->...", out, out, out=r[..., 0])
    r /= a.shape[-1]
    r += eps
    np.sqrt(r, out=r)
    np.divide(1, r, out=r)
    out *= r
    return out


def normalize_back(n: np.ndarray, r: np.ndarray, dn: np.ndarray) -> np.ndarray:
    """``N'(dn) = r * (dn - mean(dn) - n * mean(dn * n))`` for ``n = N(a)``, row by row, computed in
    ``dn`` (overwritten; the caller's own temporary); returns it."""
    width = n.shape[-1]
    dot = np.einsum("...i,...i->...", dn, n)[..., None]
    dot /= width
    mean = dn.sum(axis=-1, keepdims=True)
    mean /= width
    dn -= mean
    dn -= n * dot
    dn *= r
    return dn


def check_parameters(u: np.ndarray, h0: np.ndarray, params: dict) -> int:
    """Every parameter's shape, and the input part's, against ``h0 (B, H)``; returns H."""
    H = h0.shape[1]
    expect = {"weight_hh": (4 * H, H), "gain_hh": (4 * H,), "gain_c": (H,), "bias_c": (H,)}
    for name, shape in expect.items():
        if params[name].shape != shape:
            raise GateInputError(f"LNLSTMKernel: parameter '{name}' has shape {shape_str(params[name].shape)}; "
                                 f"expected {shape_str(shape)} for hidden size {H}")
    if u.shape[2] != 4 * H:
        raise GateInputError(f"LNLSTMKernel: the input part has shape {shape_str(u.shape)}; expected "
                             f"{shape_str((u.shape[0], u.shape[1], 4 * H))} for hidden size {H}")
    return H


class LNLSTMKernel(Kernel):
    """One application of the fused layer-normalised LSTM (see the module docstring)."""

    gates = 4

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, u, states0, params):
        H = check_parameters(u, states0[0], params)
        T, B = u.shape[:2]
        G, dt, eps = 4 * H, u.dtype, self.eps
        W_hh = params["weight_hh"]
        keep = is_grad_enabled()  # else no backward will run: one step of scratch, nothing kept
        n = T if keep else 1
        hs, cs = np.empty((T + 1, B, H), dt), np.empty((T + 1, B, H), dt)
        hs[0], cs[0] = states0
        nh, rh = np.empty((n, B, G), dt), np.empty((n, B, 1), dt)
        m, rc = np.empty((n, B, H), dt), np.empty((n, B, 1), dt)
        act = np.empty((n, 4, B, H), dt)  # the activations [i f g o] of each step, gate by gate
        by_row = act.transpose(0, 2, 1, 3)  # the same, seen as (n, B, 4, H): where the tanh writes
        fc, ig, ty = np.empty((n, B, H), dt), np.empty((n, B, H), dt), np.empty((n, B, H), dt)
        scale, scale4, shift4 = sigmoid_scale(B, H, 4, 2, dt)
        g_hh, g_c, b_c = rows(params["gain_hh"], B), rows(params["gain_c"], B), rows(params["bias_c"], B)
        z = np.empty((B, G), dt)
        z4 = z.reshape(B, 4, H)
        W_T = W_hh.T
        for t in range(T):
            k = t if keep else 0
            a = nh[k]
            matmul(hs[t], W_T, out=a)
            normalize(a, eps, rh[k])
            np.multiply(a, g_hh, out=z)
            z += u[t]
            z *= scale
            np.tanh(z4, out=by_row[k])
            a4 = act[k]
            a4 *= scale4
            a4 += shift4
            np.multiply(a4[1], cs[t], out=fc[k])
            np.multiply(a4[0], a4[2], out=ig[k])
            np.add(fc[k], ig[k], out=cs[t + 1])
            y = ty[k]
            np.multiply(normalize(cs[t + 1], eps, rc[k], out=m[k]), g_c, out=y)
            y += b_c
            np.tanh(y, out=y)
            np.multiply(a4[3], y, out=hs[t + 1])
        if keep:
            h = hs[1:]
            i, f, g, o = (act[:, j] for j in range(4))
            Q = ty  # o - h tanh(y) = o (1 - tanh(y)^2)
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
            self.saved = Saved(hs=hs, W_hh=W_hh, gain_hh=g_hh, gain_c=g_c, nh=nh, rh=rh, m=m, rc=rc, f=ig,
                               R=act[:, :3], Q=Q, P_o=o)
        return hs[1:], (hs[T], cs[T])

    def new_acc(self) -> tuple[StepGradients, StepGradients, StepGradients]:
        T, B, H = self.saved.hs[1:].shape
        dt = self.saved.hs.dtype
        return StepGradients((T, B, 4 * H), dt), StepGradients((T, B, H), dt), StepGradients((T, B, 4 * H), dt)

    def step_back(self, acc: tuple, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        z_grads, y_grads, a_grads = acc
        dh, dc = dstate
        n, B, H = dh.shape
        dy = y_grads.begin(s0, s1)
        np.multiply(dh, s.Q[s0:s1], out=dy)
        dct = normalize_back(s.m[s0:s1], s.rc[s0:s1], dy * s.gain_c)
        y_grads.end(s0, s1, dy)
        dct += dc
        dz = z_grads.begin(s0, s1)
        np.multiply(dct[:, None], s.R[s0:s1], out=dz.reshape(n, B, 4, H)[:, :, :3].transpose(0, 2, 1, 3))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        z_grads.end(s0, s1, dz)
        da = a_grads.begin(s0, s1)
        np.multiply(dz, s.gain_hh, out=da)
        normalize_back(s.nh[s0:s1], s.rh[s0:s1], da)
        a_grads.end(s0, s1, da)
        dh_prev = matmul(da.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc: tuple):
        s = self.saved
        dz, dy, da = (grads.result() for grads in acc)
        T, B, H = s.hs[1:].shape
        return dz, {
            "weight_hh": matmul(da.reshape(T * B, 4 * H).T, s.hs[:-1].reshape(T * B, H)),
            "gain_hh": np.einsum("tbi,tbi->i", dz, s.nh),
            "gain_c": np.einsum("tbi,tbi->i", dy, s.m),
            "bias_c": dy.sum(axis=(0, 1)),
        }
