"""Fused Elman RNN recurrence (PyTorch's nn.RNN)::

    h_t = act(a_t),   a_t = zx_t + h_{t-1} W_hh^T + b_hh

where ``zx_t = x_t W_ih^T + b_ih``, the input projection, was made for all steps at once before
the loop (by the sequence layer, as one ``LinearGate``). The loop does one matmul, one add and
the activation per step, writing into a preallocated ``(T + 1, batch, hidden)`` buffer.

Backward of step t, with ``D_t = act'(a_t)`` (``1 - h_t**2`` for tanh, ``[h_t > 0]`` for relu),
computed once for all steps after the forward::

    da_t      = dh_t * D_t                     (batch, hidden)   the gradient of zx_t
    dh_{t-1}  = da_t @ W_hh                    (batch, hidden)

and in ``finish``, over all steps at once (``da`` summed over every visit of the policy)::

    dW_hh = sum_t da_t^T h_{t-1}               (hidden, hidden)  one matmul
    db_hh = sum_t sum_batch da_t               (hidden,)
"""

from __future__ import annotations

import functools

import numpy as np

from ...errors import GateInputError
from ...gates.base import Saved, shape_str
from ...graph import is_grad_enabled
from ...products import matmul
from ..kernel import Kernel, StepGradients


def check_recurrent(kernel: str, zx: np.ndarray, h0: np.ndarray, params: dict, gates: int) -> int:
    """Validate ``weight_hh (G*H, H)`` and ``bias_hh (G*H,)`` against ``zx (T, B, G*H)`` and
    ``h0 (B, H)``; returns H."""
    H = h0.shape[1]
    G = gates * H
    if zx.shape[2] == G and params["weight_hh"].shape == (G, H) and params["bias_hh"].shape == (G,):
        return H
    expect = {"zx": (zx.shape[0], zx.shape[1], G), "weight_hh": (G, H), "bias_hh": (G,)}
    for name, shape in expect.items():
        a = zx if name == "zx" else params[name]
        if a.shape != shape:
            what = "the input projection x W_ih^T + b_ih" if name == "zx" else f"parameter '{name}'"
            raise GateInputError(f"{kernel}: {what} has shape {shape_str(a.shape)}; expected {shape_str(shape)} "
                                 f"for hidden size {H} and {gates} gate(s)")
    return H


def start(kernel: str, zx: np.ndarray, states0: tuple, params: dict, gates: int) -> tuple:
    """The shared start of a recurrence: checks, sizes, and the ``(T + 1, B, H)`` buffer of states
    whose row 0 is ``h0``. Returns ``(W_hh, b_hh, hs)``."""
    H = check_recurrent(kernel, zx, states0[0], params, gates)
    hs = np.empty((zx.shape[0] + 1, zx.shape[1], H), zx.dtype)
    hs[0] = states0[0]
    return params["weight_hh"], params["bias_hh"], hs


def rows(v: np.ndarray, B: int) -> np.ndarray:
    """``v (n,)`` as ``B`` equal rows ``(B, n)``. numpy adds or multiplies two arrays of one shape
    about twice as fast as it broadcasts a row over a ``(B, n)`` block, at the sizes of a time step
    (batch 32: 1.1 against 2.1 us), so the loops meet their biases and scales as rows."""
    v = v.reshape(1, -1)
    return v if B == 1 else np.repeat(v, B, axis=0)


@functools.lru_cache(maxsize=64)
def sigmoid_scale(B: int, H: int, gates: int, tanh_gate: int | None, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """Sigmoids through one tanh, ``s(z) = (1 + tanh(z / 2)) / 2``: ``(scale, scale_blocks,
    shift_blocks)``, where ``scale`` is ``(B, gates * H)`` rows (see :func:`rows`), 1/2 in a sigmoid
    column and 1 in the ``tanh_gate`` block, and ``scale_blocks``, ``shift_blocks`` are ``(gates, B,
    H)``, gate by gate, the same scale and 1/2 (0 for the tanh gate): ``tanh(z * scale)``, laid out
    gate by gate, times ``scale_blocks`` plus ``shift_blocks`` is every gate's activation. Made once
    per size (read-only)."""
    scale_blocks = np.full((gates, B, H), 0.5, dtype)
    shift_blocks = np.full((gates, B, H), 0.5, dtype)
    if tanh_gate is not None:
        scale_blocks[tanh_gate] = 1
        shift_blocks[tanh_gate] = 0
    scale = np.ascontiguousarray(scale_blocks.transpose(1, 0, 2)).reshape(B, gates * H)
    for a in (scale, scale_blocks, shift_blocks):
        a.flags.writeable = False
    return scale, scale_blocks, shift_blocks


def recurrent_grads(d_hh: np.ndarray, hs: np.ndarray) -> dict:
    """``dW_hh = sum_t d_t^T h_{t-1}`` and ``db_hh = sum_t d_t`` from the gradients ``d_hh (T, B, G)``
    of every step's recurrent pre-activation ``h_{t-1} W_hh^T + b_hh``: one matmul over all T*B rows."""
    T, B, G = d_hh.shape
    rows = d_hh.reshape(T * B, G)
    return {"weight_hh": matmul(rows.T, hs[:-1].reshape(T * B, -1)), "bias_hh": rows.sum(axis=0)}


class RNNKernel(Kernel):
    """One application of the fused RNN recurrence (see the module docstring)."""

    gates = 1

    def __init__(self, nonlinearity: str = "tanh"):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise GateInputError(f"RNNKernel: nonlinearity={nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity

    def forward(self, zx, states0, params):
        W_hh, b_hh, hs = start("RNNKernel", zx, states0, params, 1)
        T = len(zx)
        W_T = W_hh.T
        b_hh = rows(b_hh, hs.shape[1])
        tanh = self.nonlinearity == "tanh"
        for t in range(T):
            h = hs[t + 1]
            matmul(hs[t], W_T, out=h)
            h += zx[t]
            h += b_hh
            if tanh:
                np.tanh(h, out=h)
            else:
                np.maximum(h, 0, out=h)
        if not is_grad_enabled():  # no backward will run: nothing to keep
            return hs[1:], (hs[T],)
        out = hs[1:]
        D = 1 - out * out if tanh else (out > 0).astype(zx.dtype)
        self.saved = Saved(hs=hs, D=D, W_hh=W_hh)
        return hs[1:], (hs[T],)

    def new_acc(self) -> StepGradients:
        return StepGradients(self.saved.hs[1:].shape, self.saved.hs.dtype)

    def step_back(self, acc: StepGradients, s0: int, s1: int, dstate: tuple) -> tuple:
        s = self.saved
        da = acc.begin(s0, s1)
        np.multiply(dstate[0], s.D[s0:s1], out=da)
        acc.end(s0, s1, da)
        n, B, H = da.shape
        return (matmul(da.reshape(n * B, H), s.W_hh).reshape(n, B, H),)

    def finish(self, acc: StepGradients):
        da = acc.result()
        return da, recurrent_grads(da, self.saved.hs)
