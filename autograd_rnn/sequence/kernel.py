"""A whole sequence as one gate: forward runs the time loop, backward runs it in reverse under a
truncation policy. The per-cell work is done by a *kernel*; one kernel instance is one
application:

* ``forward(xs, states0, params) -> (hs, finals)`` runs all T steps and keeps what backward
  needs in ``self.saved``; ``params`` maps each parameter's name to its array;
* ``new_acc()`` makes a fresh accumulator for one backward call;
* ``step_back(acc, s0, s1, dstate) -> dstate_prev``: the vector-Jacobian product of steps
  s0..s1-1 run side by side (independent chains), ``dstate`` a tuple of ``(s1 - s0, batch,
  hidden)`` gradients with respect to the states those steps produced. It adds the steps' share of
  the other gradients to ``acc`` and reads nothing else that changes, so a policy may call it any
  number of times on any steps: it is the one backward a kernel writes. It never writes into
  ``dstate`` and returns new arrays that it does not touch again (a policy hands them back in,
  the gate's :class:`GradientRecord` keeps them);
* ``finish(acc) -> (dxs, dparams)`` with ``dparams`` by parameter name.

Two kinds of kernel exist: the composed kernel (:mod:`.composed`), which runs any cell's ``step``
through the graph, and the fused kernels of the built-in cells (:mod:`.fused`), whose backward is
derived by hand. The fused ones keep per-step gradients in a :class:`StepGradients` and turn them
into weight gradients with one matmul over all steps in ``finish``.

The gate hands the truncation policy one callable, ``vjp(s0, s1, dstate)``: the kernel's
``step_back`` on this backward's accumulator. When someone listens (``Sequence.last_grad_norms``,
the hooks of :meth:`Sequence.register_hook`) it wraps that callable in a :class:`GradientRecord`,
which notes the state gradient every step backward is handed: their sum at step t is the
gradient that reached h_t, whatever the policy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..errors import GateInputError
from ..gates.base import Gate, Saved, check_floats, shape_str
from .truncation import VJP, Full, Truncation


class Kernel:
    """Base class of kernels (see the module docstring): one instance is one application, which
    keeps what its backward needs in ``saved``."""

    def __init__(self):
        self.saved: Saved | None = None

    def forward(self, xs: np.ndarray, states0: tuple, params: dict) -> tuple:
        raise NotImplementedError

    def new_acc(self):
        raise NotImplementedError

    def step_back(self, acc, s0: int, s1: int, dstate: tuple) -> tuple:
        raise NotImplementedError

    def finish(self, acc) -> tuple:
        raise NotImplementedError


class StepGradients:
    """The gradients of every step's inputs, ``(T, batch, width)``, summed over all the visits a
    truncation policy makes. A step's first visit writes in place, later visits add.

    ``rows = grads.begin(s0, s1)`` gives the array to fill completely with the gradients of steps
    s0..s1-1; ``grads.end(s0, s1, rows)`` adds it in when it was a scratch array. ``visited`` (a
    bool per step) is a view of the bytes ``begin`` searches: ``bytearray.find`` takes under a
    microsecond where numpy's ``any`` on a one-step slice takes several, once per step backward.
    """

    def __init__(self, shape: tuple, dtype):
        self.total = np.empty(shape, dtype)
        self.seen = bytearray(shape[0])
        self.visited = np.frombuffer(self.seen, bool)

    def begin(self, s0: int, s1: int) -> np.ndarray:
        seen = self.seen
        if seen.find(1, s0, s1) < 0:
            seen[s0:s1] = b"\x01" * (s1 - s0)
            return self.total[s0:s1]
        if seen.find(0, s0, s1) >= 0:
            self.total[s0:s1][~self.visited[s0:s1]] = 0
            seen[s0:s1] = b"\x01" * (s1 - s0)
        return np.empty((s1 - s0, *self.total.shape[1:]), self.total.dtype)

    def end(self, s0: int, s1: int, rows: np.ndarray) -> None:
        if rows.base is not self.total:
            self.total[s0:s1] += rows

    def result(self) -> np.ndarray:
        """The summed gradients (zeros for a step no policy visited)."""
        if self.seen.find(0) >= 0:
            self.total[~self.visited] = 0
        return self.total


class GradientRecord:
    """The gradient that reached each h_t in one backward: the sum, step by step, of the state
    gradients (the ``h`` part) handed to the kernel's step backward, under every policy (``Full``:
    one visit per step; ``LookBack(k)``: one per loss term reaching the step; ``Truncated``: one
    per window). ``around(vjp)`` is the recording hook: the same callable, noting its argument.

    The notes are references (a step backward never changes its argument), added up when
    :meth:`grads` is first read, or sooner when they would hold more than the sum itself.
    """

    def __init__(self, shape: tuple, dtype):
        self.shape, self.dtype = shape, dtype
        self.notes: list = []
        self.noted, self.limit = 0, 2 * int(np.prod(shape))
        self.sum: np.ndarray | None = None

    def around(self, vjp: VJP) -> VJP:
        def recorded(s0: int, s1: int, dstate: tuple) -> tuple:
            self.notes.append((s0, dstate[0]))
            self.noted += dstate[0].size
            if self.noted > self.limit:
                self.grads()
            return vjp(s0, s1, dstate)

        return recorded

    def grads(self) -> np.ndarray:
        """``(T, batch, hidden)``, read-only: the gradient that reached each h_t."""
        if self.sum is None:
            self.sum = np.zeros(self.shape, self.dtype)
        for s0, d in self.notes:
            self.sum[s0 : s0 + len(d)] += d
        self.notes, self.noted = [], 0
        view = self.sum.view()
        view.flags.writeable = False
        return view

    def norms(self) -> np.ndarray:
        """``(T,)``: the L2 norm of the gradient that reached each h_t, summed in float64."""
        return step_norms(self.grads())


def step_norms(grads: np.ndarray) -> np.ndarray:
    """The L2 norm of each ``grads[t]``, summed in float64: ``(T,)``."""
    flat = grads.reshape(len(grads), -1).astype(np.float64)
    return np.sqrt(np.einsum("ij,ij->i", flat, flat))


class SequenceGate(Gate):
    """Inputs ``(xs, *state0, *params)``, outputs ``(hs, *final_state)``; ``params`` in the order
    of ``names``.

    ``xs (T, batch, input)``, every state ``(batch, hidden)``, ``hs (T, batch, hidden)``. The
    kernel is made by ``kernel()`` for each application; the truncation policy decides which
    step backwards run; ``listener`` (optional) receives, after every backward, the
    :class:`GradientRecord` of the gradient that reached each h_t (no listener: nothing recorded).
    """

    def __init__(self, kernel: Callable, names: tuple[str, ...], n_state: int,
                 truncation: Truncation | None = None, listener: Callable | None = None):
        self.kernel = kernel
        self.names = tuple(names)
        self.n_state = n_state
        self.n_outputs = 1 + n_state
        self.truncation = truncation if truncation is not None else Full()
        self.listener = listener

    def check(self, xs: np.ndarray, states: tuple, params: tuple) -> None:
        name = self.name
        dtype = xs.dtype
        if not (type(xs) is np.ndarray and dtype.kind == "f"
                and all(type(a) is np.ndarray and a.dtype == dtype for a in (*states, *params))):
            check_floats(name, xs=xs, **{f"state0[{k}]": s for k, s in enumerate(states)},
                         **dict(zip(self.names, params)))
        if xs.ndim != 3 or xs.shape[0] < 1 or xs.shape[1] < 1:
            raise GateInputError(
                f"{name}: input 'xs' has shape {shape_str(xs.shape)}; expected (T, batch, input) with T, batch >= 1"
            )
        if len(states) != self.n_state or len(params) != len(self.names):
            raise GateInputError(f"{name}: got {1 + len(states) + len(params)} inputs; expected xs, {self.n_state} "
                                 f"state part(s) and the parameters {', '.join(self.names)}")
        for k, s in enumerate(states):
            if s.ndim != 2 or s.shape[0] != xs.shape[1] or s.shape != states[0].shape:
                raise GateInputError(
                    f"{name}: input 'state0[{k}]' has shape {shape_str(s.shape)}; expected (batch={xs.shape[1]}, "
                    f"hidden) like state0[0]"
                )

    def forward(self, xs: np.ndarray, *rest: np.ndarray):
        states, params = rest[: self.n_state], rest[self.n_state :]
        self.check(xs, states, params)
        kernel = self.kernel()
        hs, finals = kernel.forward(xs, states, dict(zip(self.names, params)))
        self.save(kernel=kernel)
        return (hs, *finals)

    def backward(self, grads: tuple) -> tuple:
        kernel = self.saved.kernel
        g_hs, g_final = grads[0], tuple(grads[1:])
        acc = kernel.new_acc()
        vjp = functools.partial(kernel.step_back, acc)
        record = None if self.listener is None else GradientRecord(g_hs.shape, g_hs.dtype)
        d0 = self.truncation.backward(vjp if record is None else record.around(vjp), g_hs, g_final)
        dxs, dparams = kernel.finish(acc)
        if record is not None:
            self.listener(record)
        return (dxs, *d0, *[dparams[n] for n in self.names])

    def __repr__(self) -> str:
        kind = getattr(getattr(self.kernel, "func", self.kernel), "__name__", "kernel")
        return f"{self.name}({kind}, truncation={self.truncation!r})"
