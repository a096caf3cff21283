"""Gradient checking that understands sequences and truncation.

A truncated BPTT gradient is not the gradient of the sequence's forward, so plain finite
differences cannot check it. It *is* the exact gradient of an explicitly truncated objective:

    J = sum_t <g_t, h_t>  (+ <g_final, final state>)

where each h_t is recomputed from a **constant** state, the one the forward pass reached before
``policy.window_start(t, T)``, through steps window_start..t only (``LookBack(k)``: h_t from
h_{t-k-1}; ``Truncated(k1, k2)``: a block's steps from the state before its last k2 steps). In a
stack of layers each layer's inputs are the layer below's values recomputed the same way.
:func:`gradcheck_sequence` compares the backward of the real ``Sequence`` (or ``Recurrent``),
taken through the graph, with finite differences of that objective; when they disagree it checks
every step's backward on its own to say at which time step (and layer) it goes wrong.
"""

from __future__ import annotations

import numpy as np

from .errors import GateInputError, GradcheckError
from .gradcheck import GradcheckReport, check_subject
from .graph import Tensor, grad, no_grad
from .sequence import Full, Recurrent, Sequence, Truncation, parse_truncation


class _Stack:
    """The layers being checked (bottom first) and how the checked arrays map onto them:
    ``[xs, *state0 of each layer, *params]``, params by the owner's dotted names."""

    def __init__(self, subject, policy: Truncation | None):
        if isinstance(subject, Sequence):
            self.owner, self.seqs, self.prefix = subject.cell, [subject], [""]
        elif isinstance(subject, Recurrent):
            if subject.p_drop and subject.training:
                raise GateInputError("gradcheck_sequence: this Recurrent applies dropout between layers, a random "
                                     "function finite differences cannot check; call .eval() on it first")
            self.owner, self.seqs = subject, subject.sequences()
            self.prefix = [f"l{k}.cell." for k in range(len(self.seqs))]
        else:
            raise GateInputError(f"gradcheck_sequence: got a {type(subject).__name__}; expected a Sequence or a "
                                 f"Recurrent (a LanguageModel's is model.rnn)")
        self.policies = [policy or seq.truncation for seq in self.seqs]
        self.names = list(self.owner.parameters())
        self.n_state = self.seqs[0].cell.n_state
        self.layers = len(self.seqs)

    def split(self, arrays: list) -> tuple:
        """(xs, [state0 of each layer], params by name)."""
        n, L = self.n_state, self.layers
        states = [tuple(arrays[1 + k * n : 1 + (k + 1) * n]) for k in range(L)]
        return arrays[0], states, dict(zip(self.names, arrays[1 + L * n :]))

    def run(self, layer: int, xs, state, policy: Truncation | None = None):
        """``(hs, final state tuple)`` of one layer on ``xs (T, B, I)`` from ``state``, inside the
        owner's substitution."""
        seq = self.seqs[layer]
        hs, final = Sequence(seq.cell, policy or Full(), fused=seq.fused)(xs, state)
        return hs, final if isinstance(final, tuple) else (final,)


class _SequenceSubject:
    """Inputs ``[xs, *state0s, *params]``; output the scalar truncated objective J."""

    def __init__(self, stack: _Stack, g_hs, g_final: list, arg_names: list, label: str):
        self.stack, self.g_hs, self.g_final = stack, g_hs, g_final
        self.arg_names = arg_names
        self.name = label
        self.base: list | None = None

    def trajectory(self, arrays) -> list:
        """``base[l][t]``: layer l's state after step t at these arrays, one step at a time."""
        st = self.stack
        xs, states0, params = st.split(arrays)
        base, inputs = [], xs
        with no_grad(), st.owner.substituted({k: Tensor(v) for k, v in params.items()}):
            for layer in range(st.layers):
                state, along = tuple(Tensor(s) for s in states0[layer]), []
                for t in range(len(xs)):
                    _, state = st.run(layer, Tensor(inputs[t : t + 1]), state)
                    along.append(tuple(s.data for s in state))
                base.append(along)
                inputs = np.stack([s[0] for s in along])
        return base

    def evaluate(self, arrays):
        st = self.stack
        xs, states0, params = st.split(arrays)
        T = len(xs)
        values: dict = {}

        def value(layer: int, t: int) -> np.ndarray:
            """h_t of ``layer`` recomputed over its window, from the constant base state."""
            if (layer, t) not in values:
                policy = st.policies[layer]
                lo = policy.window_start(t, T)
                hi = max(u for u in range(t, T) if policy.window_start(u, T) == lo)
                x = xs[lo : hi + 1] if layer == 0 else np.stack([value(layer - 1, u) for u in range(lo, hi + 1)])
                start = states0[layer] if lo == 0 else self.base[layer][lo - 1]
                hs, final = st.run(layer, Tensor(x), tuple(Tensor(np.asarray(s, xs.dtype)) for s in start))
                for u in range(lo, hi + 1):
                    if policy.window_start(u, T) == lo:
                        values[(layer, u)] = hs.data[u - lo]
                if hi == T - 1:
                    values[(layer, "final")] = [f.data for f in final]
            return values[(layer, t)]

        with no_grad(), st.owner.substituted({k: Tensor(v) for k, v in params.items()}):
            J = sum(float(np.vdot(self.g_hs[t], value(st.layers - 1, t))) for t in range(T))
            for layer in range(st.layers):
                value(layer, T - 1)
                J += sum(float(np.vdot(g, f)) for g, f in zip(self.g_final[layer], values[(layer, "final")]))
        return [np.asarray(J)]

    def record(self, arrays, checked):
        """The real (truncated) backward, through the graph: one application of every layer."""
        st = self.stack
        self.base = self.trajectory(arrays)
        leaves = [Tensor(a, requires_grad=True) for a in arrays]
        xs, states0, params = st.split(leaves)
        outs, apps, h = [], [], xs
        with st.owner.substituted(params):
            for layer in range(st.layers):
                x_in = h
                h, final = st.run(layer, x_in, states0[layer], st.policies[layer])
                apps.append((h._op, x_in))
                outs += final
        outs.insert(0, h)
        self.apps, self.leaves = apps, leaves
        ups = [self.g_hs, *[g for gf in self.g_final for g in gf]]
        J0 = sum(float(np.vdot(u, o.data)) for u, o in zip(ups, outs))
        targets = [leaves[i] for i in checked]

        def vjp(us):
            u = np.asarray(us[0]).item()
            return grad(outs, targets, [g * u for g in ups])

        return [np.asarray(J0, dtype=arrays[0].dtype)], vjp, [op.gate for op, _ in apps]


class _StepSubject:
    """Step s of one layer on its own: inputs ``(x_s, *state_{s-1}, *that layer's params)`` ->
    new state. The analytic side is the whole application's ``step_back`` at s, chained through
    what the kernel's input was made from (a fused cell's input projection) by the graph."""

    def __init__(self, parent: _SequenceSubject, layer: int, s: int):
        st = parent.stack
        self.parent, self.layer, self.s = parent, layer, s
        self.pnames = [n for n in st.names if n.startswith(st.prefix[layer])]
        self.arg_names = [f"x_{s}", *[f"state[{k}]" for k in range(st.n_state)], *self.pnames]
        self.name = f"step t={s}" + (f" of layer {layer}" if st.layers > 1 else "")

    def evaluate(self, arrays):
        st, n = self.parent.stack, self.parent.stack.n_state
        x, state, params = arrays[0], arrays[1 : 1 + n], arrays[1 + n :]
        with no_grad(), st.owner.substituted({k: Tensor(v) for k, v in zip(self.pnames, params)}):
            _, final = st.run(self.layer, Tensor(x[None]), tuple(Tensor(v) for v in state))
        return [f.data for f in final]

    def record(self, arrays, checked):
        outs = self.evaluate(arrays)
        st, parent, s = self.parent.stack, self.parent, self.s
        op, x_in = parent.apps[self.layer]
        kernel = op.gate.saved.kernel
        params = dict(zip(st.names, parent.leaves[1 + st.layers * st.n_state :]))
        leaves = [params[n] for n in self.pnames]
        prefix = st.prefix[self.layer]

        def vjp(us):
            acc = kernel.new_acc()
            prev = kernel.step_back(acc, s, s + 1, tuple(np.asarray(u)[None] for u in us))
            d_in, d_par = kernel.finish(acc)
            total = {prefix + k: v for k, v in d_par.items()}
            feed = op.inputs[0]
            if feed is x_in:
                dx = d_in
            else:
                dx, *d_proj = grad(feed, [x_in, *leaves], d_in)
                for name, g in zip(self.pnames, d_proj):
                    if g is not None:
                        total[name] = g + total[name] if name in total else g
            grads = [dx[s], *[p[0] for p in prev], *[total.get(n, np.zeros_like(p.data)) for n, p in
                                                     zip(self.pnames, leaves)]]
            return [grads[i] for i in checked]

        return outs, vjp, None


def gradcheck_sequence(seq, xs, state0=None, *, truncation: Truncation | str | None = None,
                       grad_hs: np.ndarray | None = None, grad_final=None, seed: int = 0,
                       atol: float | None = None, rtol: float | None = None, hygiene: bool = True,
                       raise_exception: bool = True) -> GradcheckReport:
    """Check the (truncated) backward of a :class:`~autograd_rnn.Sequence` or a
    :class:`~autograd_rnn.Recurrent` stack against finite differences of the explicitly truncated
    objective, with respect to xs, every initial state and every cell parameter.

    Args:
        seq: the Sequence or Recurrent (its cells' current parameters are the point of the check).
            A Recurrent with dropout must be in ``eval()`` mode (dropout is random).
        xs: ``(T, batch, input)`` array, time-major (also for a ``batch_first`` Sequence).
        state0: array or tuple of arrays (a list of them, one per layer, for a Recurrent); default
            zeros, checked too.
        truncation: the policy to check in every layer (default: each Sequence's own).
        grad_hs, grad_final: upstream gradients of the top layer's ``hs`` and of the final states
            (one tuple per layer for a Recurrent); default random.

    On failure the GradcheckError's report says, in ``report.bad_steps`` and in the message, at
    which time steps a single step's backward disagrees with finite differences of that step
    (``(layer, t)`` pairs for a Recurrent).
    """
    policy = parse_truncation(truncation) if truncation is not None else None
    stack = _Stack(seq, policy)
    cells = [s.cell for s in stack.seqs]
    dtype, H = cells[0].dtype, cells[-1].hidden_size
    rng = np.random.default_rng(seed)
    xs = np.asarray(xs.data if isinstance(xs, Tensor) else xs)
    if xs.ndim != 3 or xs.shape[2] != cells[0].input_size or 0 in xs.shape:
        raise GateInputError(f"gradcheck_sequence: xs has shape {xs.shape}; expected (T, batch, "
                             f"input_size={cells[0].input_size}), time-major, T and batch >= 1")
    T, B = xs.shape[:2]
    states = _initial_states(stack, state0, B)
    names = ["xs"]
    for k in range(stack.layers):
        where = f"l{k}." if stack.layers > 1 else ""
        names += [f"{where}state0[{j}]" for j in range(stack.n_state)]
    names += stack.names
    g_hs = rng.uniform(-1, 1, (T, B, H)).astype(dtype) if grad_hs is None else _upstream(grad_hs, (T, B, H), "grad_hs")
    if grad_final is None:
        g_final = [tuple(rng.uniform(-1, 1, (B, c.hidden_size)).astype(dtype) for _ in range(stack.n_state))
                   for c in cells]
    else:
        g_final = _final_upstream(grad_final, stack, B)
    label = (f"Sequence({type(cells[0]).__name__}, truncation={stack.policies[0]!r})" if stack.layers == 1 else
             f"Recurrent({type(cells[0]).__name__} x{stack.layers}, truncation={stack.policies[0]!r})")
    subject = _SequenceSubject(stack, g_hs, g_final, names, label)
    arrays = [xs.copy(), *[s.copy() for layer in states for s in layer],
              *[p.data.copy() for p in stack.owner.parameters().values()]]
    report = check_subject(subject, arrays, atol=atol, rtol=rtol, hygiene=hygiene, seed=seed, raise_exception=False)
    report.bad_steps = []
    if not report.passed:
        _locate(subject, arrays, report, atol, rtol, seed)
        if raise_exception:
            raise GradcheckError(str(report), report)
    return report


def _upstream(g, shape: tuple, what: str) -> np.ndarray:
    g = np.asarray(g.data if isinstance(g, Tensor) else g)
    if g.shape != shape or g.dtype.kind not in "fiu":
        raise GateInputError(f"gradcheck_sequence: {what} is {g.dtype} of shape {g.shape}; expected numbers of shape "
                             f"{shape}")
    return g


def _final_upstream(grad_final, stack: _Stack, B: int) -> list:
    """One tuple of upstream gradients per layer, each part (B, hidden_size), from what the caller gave: a
    state's gradient (an array, or a tuple of n_state arrays), or one per layer for a Recurrent."""
    per_layer = list(grad_final) if stack.layers > 1 and isinstance(grad_final, list | tuple) else [grad_final]
    if len(per_layer) != stack.layers:
        raise GateInputError(f"gradcheck_sequence: grad_final has {len(per_layer)} entries; expected one per layer "
                             f"({stack.layers})")
    out = []
    for k, (layer, seq) in enumerate(zip(per_layer, stack.seqs)):
        parts = tuple(layer) if isinstance(layer, tuple | list) else (layer,)
        where = f"grad_final[{k}]" if stack.layers > 1 else "grad_final"
        if len(parts) != stack.n_state:
            raise GateInputError(f"gradcheck_sequence: {where} has {len(parts)} parts; expected one per part of the "
                                 f"state ({stack.n_state})")
        out.append(tuple(_upstream(p, (B, seq.cell.hidden_size), f"{where}[{j}]") for j, p in enumerate(parts)))
    return out


def _initial_states(stack: _Stack, state0, B: int) -> list:
    cells = [s.cell for s in stack.seqs]
    if state0 is None:
        return [tuple(np.zeros((B, c.hidden_size), c.dtype) for _ in range(c.n_state)) for c in cells]
    per_layer = list(state0) if stack.layers > 1 else [state0]
    if len(per_layer) != stack.layers:
        raise GateInputError(f"gradcheck_sequence: state0 has {len(per_layer)} entries; expected one per layer "
                             f"({stack.layers})")
    out = []
    for layer in per_layer:
        parts = layer if isinstance(layer, tuple | list) else (layer,)
        out.append(tuple(np.asarray(p.data if isinstance(p, Tensor) else p) for p in parts))
    return out


def _locate(subject: _SequenceSubject, arrays: list, report: GradcheckReport, atol, rtol, seed) -> None:
    """Check every step's backward on its own; record the bad ones in the report."""
    st = subject.stack
    subject.record(arrays, list(range(len(arrays))))
    xs, states0, params = st.split(arrays)
    inputs = xs
    for layer in range(st.layers):
        base = subject.base[layer]
        pnames = [n for n in st.names if n.startswith(st.prefix[layer])]
        for s in range(len(xs) - 1, -1, -1):
            before = states0[layer] if s == 0 else base[s - 1]
            step_arrays = [np.array(inputs[s]), *[np.array(b) for b in before], *[params[n].copy() for n in pnames]]
            r = check_subject(_StepSubject(subject, layer, s), step_arrays, atol=atol, rtol=rtol, hygiene=False,
                              seed=seed, raise_exception=False)
            if not r.passed:
                report.bad_steps.append(s if st.layers == 1 else (layer, s))
        inputs = np.stack([b[0] for b in base])
    report.bad_steps.sort()
    T = len(xs)
    if report.bad_steps:
        where = (f"t = {report.bad_steps}" if st.layers == 1 else
                 "(layer, t) = " + ", ".join(map(str, report.bad_steps)))
        first = max(report.bad_steps) if st.layers == 1 else max(report.bad_steps)[1]
        report.notes.append(
            f"a single step's backward disagrees with finite differences of that step at {where}; the backward "
            f"(which runs from t = {T - 1} down) first disagrees at t = {first}"
        )
    else:
        report.notes.append("every step's backward agrees with finite differences of its step: the error "
                            "is in how the steps are combined (the truncation policy or the accumulation)")


__all__ = ["gradcheck_sequence"]
