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
  Blocks end at steps k1-1, 2k1-1, ... and at T-1. ``Truncated(k)`` is ``Truncated(k, k)``:
  chunked TBPTT, detaching every k steps when k divides T (otherwise the last, shorter block still
  reaches k steps back). Within one call the gradients of all blocks add up.

A policy is written against one callable, ``vjp(s0, s1, dstate) -> dstate_prev``: the
vector-Jacobian product of steps s0..s1-1 run side by side (independent chains). ``dstate`` holds,
for each part of the state, the ``(s1 - s0, batch, hidden)`` gradients with respect to the states
those steps produced; ``dstate_prev`` the gradients with respect to the states they started from.
The sequence gate makes it from its kernel (:mod:`autograd_rnn.sequence.kernel`); what else a step
backward does (parameter gradients, recording) happens behind it, so a policy says only which step
backwards run, on which gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import ConfigError

VJP = Callable[[int, int, tuple], tuple]


class Truncation:
    """Base class: ``backward(vjp, g_hs, g_final) -> dstate0`` runs the step backwards, with
    ``g_hs (T, batch, hidden)`` the upstream gradient of every h_t and ``g_final`` that of each
    part of the final state; and ``window_start(t, T)``, which defines the policy: the gradient
    arriving at h_t (from L_t, or from the final state when t = T-1) flows back through steps t,
    t-1, ..., window_start(t, T) and stops there (the state before is a constant for it)."""

    def backward(self, vjp: VJP, g_hs: np.ndarray, g_final: tuple) -> tuple:
        raise NotImplementedError

    def window_start(self, t: int, T: int) -> int:
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


def sweep(vjp: VJP, g_hs: np.ndarray, d: tuple, first: int, last: int, lo: int) -> tuple:
    """One backward sweep through steps last, last-1, ..., lo, carrying the losses of steps
    first..last: ``d`` is the gradient of the state step ``last`` produced, ``g_hs[t]`` joins at
    step t for ``t >= first``. Returns the gradient reaching the state before step ``lo``."""
    d = tuple(x[None] for x in d)
    for t in range(last, lo - 1, -1):
        if t >= first:
            d = (d[0] + g_hs[t : t + 1], *d[1:])
        d = vjp(t, t + 1, d)
    return tuple(x[0] for x in d)


class Full(Truncation):
    """The exact gradient: one backward sweep from step T-1 to step 0."""

    def backward(self, vjp, g_hs, g_final) -> tuple:
        T = len(g_hs)
        return sweep(vjp, g_hs, g_final, 0, T - 1, 0)

    def window_start(self, t: int, T: int) -> int:
        return 0

    def __repr__(self) -> str:
        return "Full()"


class LookBack(Truncation):
    """dL_t flows back through steps t, t-1, ..., t-k (the tutorial's ``bptt_truncate = k``).

    Batched by lag: at lag j the gradient of every origin t sits at step t - j, so one ``vjp``
    over steps 0..T-j-1 moves all of them one step further back."""

    def __init__(self, k: int):
        if not _integer(k) or k < 0:
            raise ConfigError(f"LookBack: k={k!r}; expected an integer >= 0 (steps to look back)")
        self.k = int(k)

    def backward(self, vjp, g_hs, g_final) -> tuple:
        T = len(g_hs)
        d = tuple(np.zeros_like(g_hs) for _ in g_final)
        d[0][:] = g_hs
        for part, g in zip(d, g_final):
            part[T - 1] += g
        dstate0 = tuple(np.zeros_like(g) for g in g_final)
        for j in range(min(self.k, T - 1) + 1):  # origins t = j..T-1 sit at steps t - j = 0..T-j-1
            prev = vjp(0, T - j, d)
            dstate0 = tuple(a + p[0] for a, p in zip(dstate0, prev))
            d = tuple(p[1:] for p in prev)
        return dstate0

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

    def backward(self, vjp, g_hs, g_final) -> tuple:
        T = len(g_hs)
        zeros = tuple(np.zeros_like(g) for g in g_final)
        dstate0 = zeros
        for first in range(0, T, self.k1):
            last = min(T, first + self.k1) - 1
            lo = max(0, last - self.k2 + 1)
            d = sweep(vjp, g_hs, g_final if last == T - 1 else zeros, first, last, lo)
            if lo == 0:
                dstate0 = tuple(a + p for a, p in zip(dstate0, d))
        return dstate0

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
