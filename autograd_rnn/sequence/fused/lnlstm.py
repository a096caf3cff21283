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

``dz`` is the gradient of ``u_t``. The ``dz`` and ``dy`` of every step are kept side by side,
``[dz dy]`` (5H wide), summed over a policy's visits; ``finish`` turns them into the recurrent
parameters' gradients over all T*B rows at once (the layer norm's backward is linear, so running
it on the sums is exact)::

    dgain_hh = sum dz * n_h      dgain_c = sum dy * m      dbias_c = sum dy
    dW_hh = sum N'_h(gain_hh * dz)^T h_{t-1}
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


def normalize(a: np.ndarray, eps: float, r: np.ndarray) -> np.ndarray:
    """``a (..., W)`` replaced by ``N(a)``, its rows' ``1 / sqrt(var + eps)`` written into ``r (..., 1)``;
    returns ``a``."""
    mean = a.sum(axis=-1, keepdims=True)
    mean /= a.shape[-1]
    a -= mean
    np.einsum("...i,...i->...", a, a, out=r[..., 0])
    r /= a.shape[-1]
    r += eps
    np.sqrt(r, out=r)
    np.divide(1, r, out=r)
    a *= r
    return a


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
        act = np.array(u)  # z_t, then the activations [i f g o], in place
        hs, cs = np.empty((T + 1, B, H), dt), np.empty((T + 1, B, H), dt)
        hs[0], cs[0] = states0
        nh, rh = np.empty((T, B, G), dt), np.empty((T, B, 1), dt)
        m, rc, tc = np.empty((T, B, H), dt), np.empty((T, B, 1), dt), np.empty((T, B, H), dt)
        scale, shift = sigmoid_scale(B, H, 4, 2, dt)
        g_hh, g_c, b_c = rows(params["gain_hh"], B), rows(params["gain_c"], B), rows(params["bias_c"], B)
        scaled, ig = np.empty((B, G), dt), np.empty((B, H), dt)
        W_T = W_hh.T
        for t in range(T):
            a = nh[t]
            matmul(hs[t], W_T, out=a)
            normalize(a, eps, rh[t])
            z = act[t]
            np.multiply(a, g_hh, out=scaled)
            z += scaled
            z *= scale
            np.tanh(z, out=z)
            z *= scale
            z += shift
            c = cs[t + 1]
            np.multiply(z[:, H : 2 * H], cs[t], out=c)
            np.multiply(z[:, :H], z[:, 2 * H : 3 * H], out=ig)
            c += ig
            mc = m[t]
            np.copyto(mc, c)
            normalize(mc, eps, rc[t])
            y = tc[t]
            np.multiply(mc, g_c, out=y)
            y += b_c
            np.tanh(y, out=y)
            np.multiply(z[:, 3 * H :], y, out=hs[t + 1])
        if not is_grad_enabled():  # no backward will run: nothing to keep
            return hs[1:], (hs[T], cs[T])
        i, f, g, o = act[..., :H], act[..., H : 2 * H], act[..., 2 * H : 3 * H], act[..., 3 * H :]
        R = np.empty((T, B, 3, H), dt)
        R[:, :, 0] = g * i * (1 - i)
        R[:, :, 1] = cs[:-1] * f * (1 - f)
        R[:, :, 2] = i * (1 - g * g)
        self.saved = Saved(hs=hs, W_hh=W_hh, gain_hh=params["gain_hh"], gain_c=params["gain_c"], nh=nh, rh=rh, m=m,
                           rc=rc, f=f, R=R, Q=o * (1 - tc * tc), P_o=tc * o * (1 - o))
        return hs[1:], (hs[T], cs[T])

    def new_acc(self) -> StepGradients:
        T, B, H = self.saved.hs[1:].shape
        return StepGradients((T, B, 5 * H), self.saved.hs.dtype)

    def step_back(self, acc: StepGradients, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        dh, dc = dstate
        n, B, H = dh.shape
        d = acc.begin(s0, s1)
        dz, dy = d[..., : 4 * H], d[..., 4 * H :]
        np.multiply(dh, s.Q[s0:s1], out=dy)
        dct = normalize_back(s.m[s0:s1], s.rc[s0:s1], dy * s.gain_c)
        dct += dc
        np.multiply(dct[:, :, None, :], s.R[s0:s1], out=dz[..., : 3 * H].reshape(n, B, 3, H))
        np.multiply(dh, s.P_o[s0:s1], out=dz[..., 3 * H :])
        da = normalize_back(s.nh[s0:s1], s.rh[s0:s1], dz * s.gain_hh)
        acc.end(s0, s1, d)
        dh_prev = matmul(da.reshape(n * B, 4 * H), s.W_hh).reshape(n, B, H)
        return dh_prev, dct * s.f[s0:s1]

    def finish(self, acc: StepGradients):
        s = self.saved
        d = acc.result()
        T, B, H = s.hs[1:].shape
        dz, dy = d[..., : 4 * H], d[..., 4 * H :]
        da_h = normalize_back(s.nh, s.rh, dz * s.gain_hh).reshape(T * B, 4 * H)
        return dz, {
            "weight_hh": matmul(da_h.T, s.hs[:-1].reshape(T * B, H)),
            "gain_hh": np.einsum("tbi,tbi->i", dz, s.nh),
            "gain_c": np.einsum("tbi,tbi->i", dy, s.m),
            "bias_c": dy.sum(axis=(0, 1)),
        }
