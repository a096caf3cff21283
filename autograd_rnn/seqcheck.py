"""Gradient checking that understands sequences and truncation.

A truncated BPTT gradient is not the gradient of the sequence's forward, so plain finite
differences cannot check it. It *is* the exact gradient of an explicitly truncated objective:

    J = sum_t <g_t, h_t>  (+ <g_final, final state>)

where each loss term is recomputed from a **constant** state, the one the forward pass reached,
as many steps back as the policy allows (``LookBack(k)``: h_t from h_{t-k-1}; ``Truncated(k1,
k2)``: a block's steps from the state before its last k2 steps). :func:`gradcheck_sequence`
compares the sequence gate's backward with finite differences of that objective, and when they
disagree it checks every step's backward on its own to say at which time step it goes wrong.
"""

from __future__ import annotations

import numpy as np

from .gradcheck import GradcheckReport, check_subject
from .graph import Tensor, no_grad
from .truncation import Full, LookBack, Truncated, Truncation, parse_truncation


def _windows(policy: Truncation, T: int) -> list[tuple[int, int, int]]:
    """(lo, b, e): recompute steps lo..e from the constant state before lo; losses b..e count."""
    if isinstance(policy, Full):
        return [(0, 0, T - 1)]
    if isinstance(policy, LookBack):
        return [(max(0, t - policy.k), t, t) for t in range(T)]
    if isinstance(policy, Truncated):
        out = []
        for b in range(0, T, policy.k1):
            e = min(T, b + policy.k1) - 1
            out.append((max(0, e - policy.k2 + 1), b, e))
        return out
    raise TypeError(f"gradcheck_sequence: no truncated objective for {policy!r}")


class _SequenceSubject:
    """Inputs (xs, *state0, *params); output the scalar truncated objective J."""

    def __init__(self, seq, policy, g_hs, g_final, n_state, names):
        self.seq, self.policy, self.g_hs, self.g_final, self.n_state = seq, policy, g_hs, g_final, n_state
        self.arg_names = names
        self.name = f"Sequence({type(seq.cell).__name__}, truncation={policy!r})"
        self.base_states = None

    def _gate(self, policy=None):
        gate = self.seq.gate()
        gate.truncation = policy if policy is not None else Full()
        gate.monitor = None
        return gate

    def split(self, arrays):
        return arrays[0], tuple(arrays[1 : 1 + self.n_state]), tuple(arrays[1 + self.n_state :])

    def states_along(self, arrays) -> list:
        """The state after every step, run one step at a time (independent of the T-step kernel)."""
        xs, state, params = self.split(arrays)
        out = []
        with no_grad():
            for t in range(len(xs)):
                state = tuple(self._gate().forward(xs[t : t + 1], *state, *params)[1:])
                out.append(state)
        return out

    def evaluate(self, arrays):
        xs, state0, params = self.split(arrays)
        T = len(xs)
        J = 0.0
        with no_grad():
            for lo, b, e in _windows(self.policy, T):
                start = state0 if lo == 0 else self.base_states[lo - 1]
                start = tuple(np.asarray(s, xs.dtype) for s in start)
                out = self._gate().forward(xs[lo : e + 1], *start, *params)
                hs = out[0]
                J += float(np.vdot(self.g_hs[b : e + 1], hs[b - lo :]))
                if e == T - 1:
                    J += sum(float(np.vdot(g, f)) for g, f in zip(self.g_final, out[1:]))
        return [np.asarray(J)]

    def record(self, arrays, checked):
        self.base_states = self.states_along(arrays)
        app = self._gate(self.policy)
        outs = app.forward(*arrays)
        J0 = float(np.vdot(self.g_hs, outs[0])) + sum(float(np.vdot(g, f)) for g, f in zip(self.g_final, outs[1:]))

        def vjp(us):
            u = float(np.asarray(us[0]))
            grads = app.backward((self.g_hs * u, *[g * u for g in self.g_final]))
            return [grads[i] for i in checked]

        return [np.asarray(J0, dtype=arrays[0].dtype)], vjp, app


class _StepSubject:
    """One recorded step s: inputs (x_s, *state_{s-1}, *params) -> new state, analytic from the
    whole application's ``step_back`` at s."""

    def __init__(self, parent: _SequenceSubject, app, s: int, names):
        self.parent, self.app, self.s = parent, app, s
        self.arg_names = [f"x_{s}", *names[1:]]
        self.name = f"step t={s}"

    def evaluate(self, arrays):
        x, state, params = self.parent.split(arrays)
        with no_grad():
            return list(self.parent._gate().forward(x[None], *state, *params)[1:])

    def record(self, arrays, checked):
        outs = self.evaluate(arrays)
        kernel, s = self.app.kernel, self.s

        def vjp(us):
            acc = kernel.new_acc()
            prev = kernel.step_back(acc, s, s + 1, tuple(np.asarray(u)[None] for u in us))
            dxs, dparams = kernel.finish(acc)
            grads = [dxs[s], *[p[0] for p in prev], *dparams]
            return [grads[i] for i in checked]

        return outs, vjp, None


def gradcheck_sequence(seq, xs, state0=None, *, truncation: Truncation | str | None = None,
                       grad_hs: np.ndarray | None = None, grad_final: tuple | None = None, seed: int = 0,
                       atol: float | None = None, rtol: float | None = None, hygiene: bool = True,
                       raise_exception: bool = True) -> GradcheckReport:
    """Check a :class:`~autograd_rnn.Sequence`'s (truncated) backward against finite differences of
    the explicitly truncated objective, with respect to xs, state0 and every cell parameter.

    Args:
        seq: the Sequence (its cell's current parameters are the point of the check).
        xs: ``(T, batch, input)`` array; state0: array or tuple of arrays (default zeros, checked too).
        truncation: the policy to check (default: the Sequence's own).
        grad_hs, grad_final: upstream gradients (default random).

    On failure the GradcheckError's report says, in ``report.bad_steps`` and in the message, at
    which time steps a single step's backward disagrees with finite differences of that step.
    """
    policy = parse_truncation(truncation) if truncation is not None else seq.truncation
    rng = np.random.default_rng(seed)
    cell = seq.cell
    xs = np.asarray(xs.data if isinstance(xs, Tensor) else xs)
    T, B = xs.shape[:2]
    if state0 is None:
        states = tuple(np.zeros((B, cell.hidden_size), cell.dtype) for _ in range(cell.n_state))
    else:
        states = tuple(np.asarray(s.data if isinstance(s, Tensor) else s) for s in
                       (state0 if isinstance(state0, tuple | list) else (state0,)))
    params = [p.data.copy() for p in cell.parameters().values()]
    names = ["xs", *[f"state0[{k}]" for k in range(len(states))], *cell.parameters().keys()]
    g_hs = grad_hs if grad_hs is not None else rng.uniform(-1, 1, (T, B, cell.hidden_size)).astype(cell.dtype)
    g_final = grad_final if grad_final is not None else tuple(
        rng.uniform(-1, 1, (B, cell.hidden_size)).astype(cell.dtype) for _ in states)
    subject = _SequenceSubject(seq, policy, g_hs, tuple(g_final), len(states), names)
    arrays = [xs.copy(), *[s.copy() for s in states], *params]
    report = check_subject(subject, arrays, atol=atol, rtol=rtol, hygiene=hygiene, seed=seed, raise_exception=False)
    report.bad_steps = []
    if not report.passed:
        app = subject._gate(policy)
        app.forward(*arrays)
        subject.base_states = subject.states_along(arrays)
        for s in range(T - 1, -1, -1):
            before = states if s == 0 else subject.base_states[s - 1]
            step_arrays = [xs[s].copy(), *[np.array(b) for b in before], *params]
            r = check_subject(_StepSubject(subject, app, s, names), step_arrays, atol=atol, rtol=rtol,
                              hygiene=False, seed=seed, raise_exception=False)
            if not r.passed:
                report.bad_steps.append(s)
        report.bad_steps.sort()
        if report.bad_steps:
            report.notes.append(
                f"a single step's backward disagrees with finite differences of that step at "
                f"t = {sorted(report.bad_steps)}; the backward (which runs from t = {T - 1} down) first "
                f"disagrees at t = {max(report.bad_steps)}"
            )
        else:
            report.notes.append("every step's backward agrees with finite differences of its step: the error "
                                "is in how the steps are combined (the truncation policy or the accumulation)")
        if raise_exception:
            from .errors import GradcheckError

            raise GradcheckError(str(report), report)
    return report


__all__ = ["gradcheck_sequence"]
