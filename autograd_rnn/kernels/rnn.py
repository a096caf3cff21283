"""Fused Elman RNN (PyTorch's nn.RNN): ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

Forward: the input projection of all steps is one matmul; the loop does one matmul, one add and
the activation per step, writing into a preallocated ``(T + 1, batch, hidden)`` buffer.

Backward of step t, with ``a_t`` the pre-activation and ``D_t = act'(a_t)`` (``1 - h_t**2`` for
tanh, ``[h_t > 0]`` for relu), computed once for all steps::

    da_t      = dh_t * D_t                     (batch, hidden)
    dh_{t-1}  = da_t @ W_hh                    (batch, hidden)

and after the loop, over all steps at once (``da`` summed over every policy's visits)::

    dxs   = da @ W_ih                          (T, batch, input)
    dW_ih = sum_t da_t^T x_t                   (hidden, input)    one matmul
    dW_hh = sum_t da_t^T h_{t-1}               (hidden, hidden)   one matmul
    db_ih = db_hh = sum_t sum_batch da_t       (hidden,)
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..gates.base import shape_str
from ..graph import is_grad_enabled
from .base import CellGate, SequenceGate


def check_params(gate: str, xs: np.ndarray, states: tuple, params: tuple, gates: int) -> int:
    """Validate (W_ih, W_hh, b_ih, b_hh) against xs and the states; returns hidden size."""
    if len(params) != 4:
        raise GateInputError(f"{gate}: got {len(params)} parameter arrays; expected 4 (W_ih, W_hh, b_ih, b_hh)")
    W_ih, W_hh, b_ih, b_hh = params
    H = states[0].shape[1]
    expect = {"W_ih": (gates * H, xs.shape[2]), "W_hh": (gates * H, H), "b_ih": (gates * H,), "b_hh": (gates * H,)}
    for (name, shape), a in zip(expect.items(), params):
        if a.shape != shape:
            raise GateInputError(f"{gate}: input '{name}' has shape {shape_str(a.shape)}; expected {shape_str(shape)}")
    return H


def weight_grads(d_in: np.ndarray, d_hh: np.ndarray, xs: np.ndarray, hs: np.ndarray, W_ih: np.ndarray):
    """From the gate gradients of every step, all at once: ``d_in (T, B, G)`` of the input side
    (``x_t W_ih^T + b_ih``) and ``d_hh`` of the recurrent side (``h_{t-1} W_hh^T + b_hh``; the same
    array unless the cell treats them differently, as the GRU's reset gate does).
    Returns ``dxs (T, B, I)`` and ``(dW_ih, dW_hh, db_ih, db_hh)``, one matmul each over all T*B rows."""
    T, B, G = d_in.shape
    gi, gh = d_in.reshape(T * B, G), d_hh.reshape(T * B, G)
    dxs = (gi @ W_ih).reshape(T, B, -1)
    dW_ih = np.dot(gi.T, xs.reshape(T * B, -1))
    dW_hh = np.dot(gh.T, hs[:-1].reshape(T * B, -1))
    db_ih = gi.sum(axis=0)
    return dxs, (dW_ih, dW_hh, db_ih, db_ih.copy() if d_hh is d_in else gh.sum(axis=0))


def _norms(dH: np.ndarray) -> np.ndarray:
    flat = dH.reshape(len(dH), -1).astype(np.float64)
    return np.sqrt(np.einsum("ij,ij->i", flat, flat))


class RNNKernel:
    def __init__(self, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity={nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity

    @staticmethod
    def prepare(params) -> tuple:
        """(input weights transposed, summed biases, recurrent weights transposed and contiguous):
        the input projection is ``x @ W + b``. Made once per call (or once for sampling)."""
        W_ih, W_hh, b_ih, b_hh = params
        return W_ih.T, b_ih + b_hh, np.ascontiguousarray(W_hh.T)  # a .T view is up to 1.4x slower in np.dot

    def forward(self, xs, states0, params, prepared=None, projected=None):
        """``projected`` (T, B, H), when given, is the input projection ``x_t W_ih^T + b`` already made
        (sampling takes it from a table); xs then only gives the shapes."""
        T, B, In = xs.shape
        H = params[1].shape[0]
        hs = np.empty((T + 1, B, H), xs.dtype)
        hs[0] = states0[0]
        W_ih_T, b, W_hh_T = prepared if prepared is not None else self.prepare(params)
        if projected is None:
            a = (xs.reshape(T * B, In) @ W_ih_T).reshape(T, B, H)
            a += b
        else:
            a = projected
        tanh = self.nonlinearity == "tanh"
        for t in range(T):
            h = hs[t + 1]
            np.dot(hs[t], W_hh_T, out=h)
            h += a[t]
            if tanh:
                np.tanh(h, out=h)
            else:
                np.maximum(h, 0, out=h)
        self.xs, self.hs, self.params = xs, hs, params
        self.hs_shape = (T, B, H)
        if is_grad_enabled():
            out = hs[1:]
            self.D = 1 - out * out if tanh else (out > 0).astype(xs.dtype)
        return hs[1:], (hs[T],)

    def new_acc(self):
        return np.zeros(self.hs_shape, self.xs.dtype)

    def step_back(self, acc, s0, s1, dstate):
        da = dstate[0] * self.D[s0:s1]
        acc[s0:s1] += da
        H = da.shape[-1]
        return ((da.reshape(-1, H) @ self.params[1]).reshape(da.shape),)

    def full_backward(self, acc, g_hs, g_final):
        """``Full()``'s sweep: returns (dstate0, norms of dL/dh_t). Same math as step_back."""
        T = len(g_hs)
        D, W = self.D, self.params[1]
        dH = np.empty_like(g_hs)
        np.add(g_hs[T - 1], g_final[0], out=dH[T - 1])
        for t in range(T - 1, 0, -1):
            np.multiply(dH[t], D[t], out=acc[t])
            np.dot(acc[t], W, out=dH[t - 1])
            dH[t - 1] += g_hs[t - 1]
        np.multiply(dH[0], D[0], out=acc[0])
        return (acc[0] @ W,), _norms(dH)

    def finish(self, acc):
        return weight_grads(acc, acc, self.xs, self.hs, self.params[0])


class FusedSequenceGate(SequenceGate):
    """A built-in cell's whole-sequence gate: parameters ``(W_ih, W_hh, b_ih, b_hh)`` with ``gates``
    blocks of hidden units, run by ``kernel_class``."""

    abstract = True
    gates = 1
    kernel_class: type

    def check(self, xs, states, params):
        super().check(xs, states, params)
        check_params(self.name, xs, states, params, self.gates)

    def make_kernel(self):
        return self.kernel_class()


class RNNSequenceGate(FusedSequenceGate):
    """Fused RNN over a whole sequence. Inputs ``(xs, h0, W_ih, W_hh, b_ih, b_hh)``, outputs
    ``(hs, h_T)``; weights as torch.nn.RNN (``W_ih (H, I)``, ``W_hh (H, H)``, biases ``(H,)``)."""

    n_state = 1
    gates = 1
    kernel_class = RNNKernel

    def __init__(self, truncation=None, monitor=None, nonlinearity: str = "tanh"):
        super().__init__(truncation, monitor)
        self.nonlinearity = nonlinearity

    def make_kernel(self):
        return RNNKernel(self.nonlinearity)


class RNNCellGate(CellGate):
    """One fused RNN step: ``(x, h, W_ih, W_hh, b_ih, b_hh) -> h'``."""

    sequence_gate = RNNSequenceGate
