"""``FrozenSequence``: a Sequence as a function of arrays, its parameters read once.

Inference one token at a time (sampling) calls the recurrence thousands of times on a batch of
one, where a step's arithmetic takes a few microseconds and the graph around it (Tensors, the
sequence gate, its checks) as long again. A frozen sequence runs the same kernel the
:class:`~autograd_rnn.sequence.Sequence` picked (fused or composed) on bare arrays, with gradients
off: the same function, valid while the parameters stay as they were when it was made.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import GateInputError
from ..gates.arithmetic import affine
from ..gates.base import shape_str
from ..graph import is_grad_enabled, no_grad


class FrozenSequence:
    """``hs, state = f(xs, state0=None)`` with arrays: ``xs (T, batch, input)`` (time-major), each
    state part ``(batch, hidden)`` (one array alone for a one-part state), ``hs (T, batch,
    hidden)``; ``state`` a tuple of the kernel's state parts. With ``projected=True``, ``xs`` is
    the fused kernel's input part ``(T, batch, width)`` already made (``x W^T + b`` for the RNN,
    LSTM and GRU).

    ``kernel()`` makes one kernel application; ``params`` maps the names the kernel reads to
    arrays; ``project(rows (n, input)) -> (n, width)`` makes the fused input part, None on the
    composed path; ``linear`` is its ``(W, b)`` arrays when it is the input projection (run as
    one product on arrays, and read by :class:`~autograd_rnn.models.FrozenModel`), else None.
    """

    def __init__(self, kernel: Callable, params: dict, project: Callable | None, n_state: int,
                 input_size: int, hidden_size: int, dtype, width: int | None = None, linear: tuple | None = None):
        self.kernel, self.params, self.project, self.linear = kernel, params, project, linear
        self.n_state, self.input_size, self.hidden_size, self.width = n_state, input_size, hidden_size, width
        self.dtype = np.dtype(dtype)
        if linear is not None:
            self.project = lambda rows: affine(rows, *linear)

    def zeros(self, batch: int) -> tuple:
        return tuple(np.zeros((batch, self.hidden_size), self.dtype) for _ in range(self.n_state))

    def __call__(self, xs: np.ndarray, state0: tuple | np.ndarray | None = None,
                 projected: bool = False) -> tuple[np.ndarray, tuple]:
        width = self.width if projected else self.input_size
        if self.project is None and projected:
            raise GateInputError("FrozenSequence: projected=True needs the fused kernel; this sequence runs composed")
        if not (type(xs) is np.ndarray and xs.dtype == self.dtype and xs.ndim == 3 and xs.shape[2] == width
                and xs.shape[0] >= 1 and xs.shape[1] >= 1):
            raise GateInputError(f"FrozenSequence: xs has shape {shape_str(np.shape(xs))} and dtype "
                                 f"{getattr(xs, 'dtype', type(xs).__name__)}; expected (T, batch, {width}) "
                                 f"{self.dtype} with T, batch >= 1")
        if state0 is None:
            state0 = self.zeros(xs.shape[1])
        state0 = (state0,) if isinstance(state0, np.ndarray) else tuple(state0)
        shape = (xs.shape[1], self.hidden_size)
        for s in state0:
            if type(s) is not np.ndarray or s.shape != shape or s.dtype != self.dtype:
                state0 = ()
        if len(state0) != self.n_state:
            raise GateInputError(f"FrozenSequence: state0 is not {self.n_state} {self.dtype} array(s) of shape "
                                 f"(batch={shape[0]}, hidden={shape[1]})")
        if self.project is not None and not projected:
            T, B, n = xs.shape
            xs = self.project(xs.reshape(T * B, n)).reshape(T, B, -1)
        if not is_grad_enabled():  # (the caller's block covers many calls: sampling)
            return self.kernel().forward(xs, state0, self.params)
        with no_grad():
            return self.kernel().forward(xs, state0, self.params)
