"""Truncation policies for backpropagation through time. A policy changes only the backward pass.

Notation: a sequence of T steps, h_t the state after step t (h_{-1} = state0), L_t the part of
the objective that reads h_t (the upstream gradient ``g_t = dL/dh_t`` arriving at step t; the
gradient of the final state joins step T-1).

* ``Full()``: the exact gradient of sum_t L_t.
* ``LookBack(k)``: the tutorial's ``bptt_truncate``: dL_t flows back through steps t, t-1, ..., t-k
  only (k + 1 step backwards); h_{t-k-1} is a constant for L_t. Costs O(T k) step backwards,
  batched over time: one vectorized pass per lag.
* ``Truncated(k1, k2)``: Williams & Peng's TBPTT(k1, k2), k2 >= k1: every k1 steps, the losses of
  those k1 steps are backpropagated through the last k2 steps (the state before is a constant).
  Blocks end at steps k1-1, 2k1-1, ... and at T-1. ``Truncated(k)`` is ``Truncated(k, k)``,
  chunked TBPTT (detach every k steps). Within one call the gradients of all blocks add up.

A policy drives a *kernel* (see :mod:`autograd_rnn.sequence.kernel`) through its one backward,
``kernel.step_back(acc, s0, s1, dstate) -> dstate_prev``: the vector-Jacobian product of steps
s0..s1-1 run side by side (independent chains), accumulating the other gradients in ``acc``.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


class Truncation:
    """Base class: ``backward(kernel, acc, g_hs, g_final, monitor) -> dstate0``, which passes
    ``monitor`` (when given) the gradient that reached every h_t, ``(T, batch, hidden)``; and
    ``window_start(t, T)``, which defines the policy: the gradient arriving at h_t (from L_t, or
    from the final state when t = T-1) flows back through steps t, t-1, ..., window_start(t, T)
    and stops there (the state before is a constant for it)."""

    def backward(self, kernel, acc, g_hs: np.ndarray, g_final: tuple, monitor=None) -> tuple:
        raise NotImplementedError

    def window_start(self, t: int, T: int) -> int:
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


def _record(monitor, values: np.ndarray) -> None:
    if monitor is not None:
        monitor(values)


def norms(dH: np.ndarray) -> np.ndarray:
    """The L2 norm of each ``dH[t]``, summed in float64: ``(T,)``."""
    flat = dH.reshape(len(dH), -1).astype(np.float64)
    return np.sqrt(np.einsum("ij,ij->i", flat, flat))


class Full(Truncation):
    """The exact gradient: one backward sweep from step T-1 to step 0."""

    def backward(self, kernel, acc, g_hs, g_final, monitor=None) -> tuple:
        T = len(g_hs)
        d = [np.array(g, copy=True) for g in g_final]
        d[0] += g_hs[T - 1]
        dH = np.empty_like(g_hs) if monitor is not None else None
        for t in range(T - 1, -1, -1):
            if dH is not None:
                dH[t] = d[0]
            d = [p[0] for p in kernel.step_back(acc, t, t + 1, tuple(x[None] for x in d))]
            if t:
                d[0] += g_hs[t - 1]
        if dH is not None:
            monitor(dH)
        return tuple(d)

    def window_start(self, t: int, T: int) -> int:
        return 0

    def __repr__(self) -> str:
        return "Full()"


class LookBack(Truncation):
    """dL_t flows back through steps t, t-1, ..., t-k (the tutorial's ``bptt_truncate = k``)."""

    def __init__(self, k: int):
        if not _integer(k) or k < 0:
            raise ConfigError(f"LookBack: k={k!r}; expected an integer >= 0 (steps to look back)")
        self.k = int(k)

    def backward(self, kernel, acc, g_hs, g_final, monitor=None) -> tuple:
        T = len(g_hs)
        cur = [np.array(g_hs, copy=True)] + [np.zeros_like(g_hs) for _ in g_final[1:]]
        for c, gf in zip(cur, g_final):
            c[T - 1] += gf
        d0 = [np.zeros_like(g) for g in g_final]
        total = np.zeros_like(g_hs)
        for j in range(min(self.k, T - 1) + 1):
            n = T - j  # origins t = j..T-1 sit at steps s = t - j = 0..n-1
            total[:n] += cur[0]
            prev = kernel.step_back(acc, 0, n, tuple(cur))
            for a, p in zip(d0, prev):
                a += p[0]
            cur = [p[1:] for p in prev]
        _record(monitor, total)
        return tuple(d0)

    def window_start(self, t: int, T: int) -> int:
        return max(0, t - self.k)

    def __repr__(self) -> str:
        return f"LookBack({self.k})"


class Truncated(Truncation):
    """Williams & Peng TBPTT(k1, k2): every k1 steps, backpropagate the last k1 losses k2 steps."""

    def __init__(self, k1: int, k2: int | None = None):
        k2 = k1 if k2 is None else k2
        if not (_integer(k1) and _integer(k2)) or k1 < 1 or k2 < k1:
            raise ConfigError(f"Truncated: k1={k1!r}, k2={k2!r}; expected integers with 1 <= k1 <= k2")
        self.k1, self.k2 = int(k1), int(k2)

    def backward(self, kernel, acc, g_hs, g_final, monitor=None) -> tuple:
        T = len(g_hs)
        d0 = [np.zeros_like(g) for g in g_final]
        total = np.zeros_like(g_hs)
        for b in range(0, T, self.k1):
            e = min(T, b + self.k1) - 1
            lo = max(0, e - self.k2 + 1)
            d = [np.zeros_like(g) for g in g_final]
            if e == T - 1:
                d = [x + g for x, g in zip(d, g_final)]
            for t in range(e, lo - 1, -1):
                if t >= b:
                    d[0] = d[0] + g_hs[t]
                total[t] += d[0]
                prev = kernel.step_back(acc, t, t + 1, tuple(x[None] for x in d))
                d = [p[0] for p in prev]
            if lo == 0:
                for a, p in zip(d0, d):
                    a += p
        _record(monitor, total)
        return tuple(d0)

    def window_start(self, t: int, T: int) -> int:
        end = min(T, (t // self.k1 + 1) * self.k1) - 1
        return max(0, end - self.k2 + 1)

    def __repr__(self) -> str:
        return f"Truncated({self.k1}, {self.k2})"


def _integer(k) -> bool:
    return isinstance(k, int | np.integer) and not isinstance(k, bool)


def parse_truncation(spec: str | Truncation | None) -> Truncation:
    """``"full"``, ``"lookback:K"``, ``"tbptt:K"`` or ``"tbptt:K1,K2"`` (the command line's form)."""
    if spec is None:
        return Full()
    if isinstance(spec, Truncation):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(f"truncation={spec!r}; expected a policy (Full(), LookBack(k), Truncated(k1, k2)), None, "
                          f"or 'full', 'lookback:K', 'tbptt:K1,K2'")
    text = spec.strip().lower()
    try:
        if text == "full":
            return Full()
        if text.startswith("lookback:"):
            return LookBack(int(text.split(":", 1)[1]))
        if text.startswith("tbptt:"):
            parts = [int(p) for p in text.split(":", 1)[1].split(",")]
            if len(parts) in (1, 2):
                return Truncated(*parts)
    except ValueError as e:
        raise ConfigError(f"truncation {spec!r}: {e}") from None
    raise ConfigError(f"truncation {spec!r}; expected 'full', 'lookback:K' or 'tbptt:K1,K2' (or 'tbptt:K')")
