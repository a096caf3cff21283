"""A whole sequence as one gate: forward runs the time loop, backward runs it in reverse under a
truncation policy.

A *kernel* does the per-cell work. One kernel instance is one application:

* ``forward(xs, states0, params) -> (hs, finals)`` runs all T steps and keeps what backward needs;
* ``new_acc()`` makes a fresh accumulator for one backward call;
* ``step_back(acc, s0, s1, dstate) -> dstate_prev``: the vector-Jacobian product of steps
  s0..s1-1 side by side, ``dstate`` a tuple of ``(s1 - s0, batch, hidden)`` gradients with respect
  to the states those steps produced; it adds the steps' share of the weight gradients to ``acc``
  and reads nothing else that changes, so any policy may call it any number of times;
* ``finish(acc) -> (dxs, dparams)``.

Fused kernels (rnn.py, lstm.py, gru.py) keep the gate gradients of every step in ``acc`` and turn
them into weight gradients with one matmul over all steps in ``finish``; the composed kernel
(composed.py) backpropagates through each step's recorded graph.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..gates.base import Gate, check_float, shape_str
from ..truncation import Full, Truncation


class SequenceGate(Gate):
    """Inputs ``(xs, *state0, *params)``, outputs ``(hs, *final_state)``.

    ``xs (T, batch, input)``, every state ``(batch, hidden)``, ``hs (T, batch, hidden)``. The
    truncation policy decides which gradients backward computes; ``monitor`` (optional) receives
    the norm of the gradient reaching each h_t in every backward call.
    """

    abstract = True
    n_state = 1

    def __init__(self, truncation: Truncation | None = None, monitor=None):
        self.truncation = truncation if truncation is not None else Full()
        self.monitor = monitor
        self.n_outputs = 1 + self.n_state

    def make_kernel(self):
        raise NotImplementedError

    def check(self, xs: np.ndarray, states: tuple, params: tuple) -> None:
        name = self.name
        check_float(name, "xs", xs)
        if xs.ndim != 3 or xs.shape[0] < 1:
            raise GateInputError(
                f"{name}: input 'xs' has shape {shape_str(xs.shape)}; expected (T, batch, input) with T >= 1"
            )
        for k, s in enumerate(states):
            check_float(name, f"state0[{k}]", s)
            if s.ndim != 2 or s.shape[0] != xs.shape[1]:
                raise GateInputError(
                    f"{name}: input 'state0[{k}]' has shape {shape_str(s.shape)}; "
                    f"expected (batch={xs.shape[1]}, hidden)"
                )
        for k, a in enumerate((xs, *states, *params)):
            if a.dtype != xs.dtype:
                raise GateInputError(f"{name}: input {k} has dtype {a.dtype}; expected {xs.dtype} like xs")

    def forward(self, xs: np.ndarray, *rest: np.ndarray):
        states, params = rest[: self.n_state], rest[self.n_state :]
        self.check(xs, states, params)
        self.kernel = self.make_kernel()
        hs, finals = self.kernel.forward(xs, states, params)
        return (hs, *finals)

    def backward(self, grads: tuple) -> tuple:
        g_hs, g_final = grads[0], tuple(grads[1:])
        acc = self.kernel.new_acc()
        d0 = self.truncation.backward(self.kernel, acc, g_hs, g_final, self.monitor)
        dxs, dparams = self.kernel.finish(acc)
        return (dxs, *d0, *dparams)

    def __repr__(self) -> str:
        return f"{self.name}(truncation={self.truncation!r})"


class CellGate(Gate):
    """One step of a fused sequence gate: inputs ``(x, *state, *params)`` with ``x (batch, input)``,
    outputs the new state (``h``, or ``(h, c)``). Backward is the sequence gate's with T = 1."""

    abstract = True
    sequence_gate: type = SequenceGate

    def __init__(self, **config):
        self.config = config
        self.n_outputs = self.sequence_gate.n_state

    def forward(self, x: np.ndarray, *rest: np.ndarray):
        check_float(self.name, "x", x)
        if x.ndim != 2:
            raise GateInputError(f"{self.name}: input 'x' has shape {shape_str(x.shape)}; expected (batch, input)")
        self.seq = self.sequence_gate(**self.config)
        out = self.seq.forward(x[None], *rest)
        finals = out[1:]
        return finals if self.n_outputs > 1 else finals[0]

    def backward(self, g) -> tuple:
        gs = g if self.n_outputs > 1 else (g,)
        hs = self.seq.kernel.hs_shape
        grads = self.seq.backward((np.zeros(hs, gs[0].dtype), *gs))
        return (grads[0][0], *grads[1:])

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.config.items())})"
