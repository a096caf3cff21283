"""Finite-difference gradient checking for gates and for functions built from graph ops.

``gradcheck(subject, inputs)`` compares the analytic backward with central differences computed in
float64, then checks the backward's hygiene. On failure it raises :class:`GradcheckError` whose
message names the subject, the input, the worst elements (index, analytic, numeric, errors), the
finite-difference step, and a step sweep for the worst element; on success it returns a
:class:`GradcheckReport`.

What is compared (``mode``):

* ``"full"``: the whole Jacobian, numeric column by column (two evaluations per input element),
  analytic row by row (one backward per output element). For small inputs.
* ``"vjp"``: ``J^T u`` for one random upstream gradient ``u``, element by element.
* ``"projection"``: ``v . J^T u`` for random ``u`` and ``v`` (three directions), two evaluations
  each; on failure the worst elements are located with ``"vjp"`` on a sample of elements.
* ``"auto"``: full for small, vjp for medium, projection for large inputs.

An element fails when ``|analytic - numeric| > atol + rtol * |numeric| + noise``, where ``noise``
is the finite-difference round-off floor ``4 * eps * |f| / h`` of that element. The reported
``max_rel_err`` is ``|a - n| / max(|a|, |n|, atol / rtol, noise / rtol)``: below that floor an
absolute error is what the test bounds. An element where
the one-sided differences disagree (a kink, like ReLU at 0) is reported as non-differentiable, not
as a wrong gradient, when the analytic value lies between them.

Hygiene (``hygiene=True``): backward is re-entrant (two calls agree bit for bit), linear in the
upstream gradient, zero for a zero upstream gradient, returns the inputs' shapes and dtypes,
mutates nothing (inputs, upstream gradient, what forward kept) and aliases nothing.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError, GateTypeError, GradcheckError
from .gates.base import Gate
from .graph import Tensor, grad, no_grad, topological_order

HYGIENE_CHECKS = ("no_mutation", "shapes_dtypes", "no_aliasing", "reentrant", "linear", "zero_in_zero_out")


@dataclass
class Mismatch:
    """One compared element. ``output`` is set in full-Jacobian mode."""

    input: str
    index: tuple
    analytic: float
    numeric: float
    abs_err: float
    rel_err: float
    output: str | None = None
    one_sided: tuple | None = None
    out_pos: tuple | None = field(default=None, repr=False)
    noise: float = field(default=0.0, repr=False)

    def where(self) -> str:
        out = f" -> {self.output}" if self.output else ""
        return f"{self.input}{list(self.index)}{out}"


@dataclass
class GradcheckReport:
    """What a gradcheck compared and found; ``str(report)`` is a readable summary."""

    name: str
    mode: str
    passed: bool
    n_checked: int
    failures: list = field(default_factory=list)
    kinks: list = field(default_factory=list)
    worst: list = field(default_factory=list)
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    steps: dict = field(default_factory=dict)
    atol: float = 0.0
    rtol: float = 0.0
    fd_dtype: str = "float64"
    hygiene: dict = field(default_factory=dict)
    sweep: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    inconclusive: str | None = None
    nondeterministic: str | None = None
    bad_steps: list = field(default_factory=list)

    def __str__(self) -> str:
        head = "passed" if self.passed else "FAILED"
        what = "random directions" if self.mode == "projection" and not self.worst else "elements"
        lines = [
            f"gradcheck {head} for {self.name} (mode={self.mode}, {self.n_checked} {what}, "
            f"finite differences in {self.fd_dtype}, atol={self.atol:g}, rtol={self.rtol:g})",
            "  step per input: " + ", ".join(f"{k}: {v:.2g}*max(1,|x|)" for k, v in self.steps.items()),
            f"  max abs err {self.max_abs_err:.3g}, max rel err {self.max_rel_err:.3g}",
        ]
        if self.nondeterministic:
            lines.append(f"  not deterministic: {self.nondeterministic}")
        if self.inconclusive:
            lines.append(f"  inconclusive: {self.inconclusive}")
        elif self.failures:
            lines.append(f"  {len(self.failures)} of {self.n_checked} elements disagree; worst first:")
            lines += _table(self.failures[:10])
        elif self.worst:
            lines.append("  largest errors:")
            lines += _table(self.worst[:3])
        if self.kinks:
            lines.append(f"  {len(self.kinks)} non-differentiable point(s) (one-sided differences "
                         f"disagree; the analytic value lies between them):")
            lines += _table(self.kinks[:5], one_sided=True)
        if self.sweep:
            lines.append(f"  step sweep for the worst element {self.failures[0].where()} "
                         f"(analytic {self.failures[0].analytic:.10g}):")
            lines += [f"    h = {h:8.1e}   numeric = {n: .10g}" for h, n in self.sweep]
        bad = {k: v for k, v in self.hygiene.items() if v != "ok"}
        if self.hygiene:
            lines.append("  hygiene: " + ("all ok (" + ", ".join(self.hygiene) + ")" if not bad else ""))
            lines += [f"    {k}: {v}" for k, v in bad.items()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _table(rows: list, one_sided: bool = False) -> list:
    out = [f"    {'element':<28} {'analytic':>14} {'numeric':>14} {'abs err':>10} {'rel err':>10}"]
    for m in rows:
        extra = ""
        if one_sided and m.one_sided:
            extra = f"   one-sided: {m.one_sided[0]:.6g} (left), {m.one_sided[1]:.6g} (right)"
        out.append(f"    {m.where():<28} {m.analytic:>14.8g} {m.numeric:>14.8g} "
                   f"{m.abs_err:>10.3g} {m.rel_err:>10.3g}{extra}")
    return out


# ----- subjects: a gate, or a function of Tensors ---------------------------------------------
class Subject:
    """Uniform access to what is checked: evaluate outputs, and one recorded application whose
    backward (vector-Jacobian product) can be called repeatedly."""

    def __init__(self, fn, n_inputs: int):
        self.fn = fn
        self.is_gate = isinstance(fn, Gate) or (isinstance(fn, type) and issubclass(fn, Gate))
        target = fn.forward if self.is_gate else fn
        if isinstance(fn, type):
            target = fn.forward
        self.name = repr(fn) if isinstance(fn, Gate) else getattr(fn, "__qualname__", repr(fn))
        if isinstance(fn, type):
            self.name = fn.__name__
        self.arg_names = _arg_names(target, n_inputs, drop_self=isinstance(fn, type))

    def _fresh_gate(self) -> Gate:
        return self.fn() if isinstance(self.fn, type) else self.fn.fresh()

    def evaluate(self, arrays: list) -> list:
        if self.is_gate:
            return _as_list(self._fresh_gate().forward(*arrays))
        with no_grad():
            out = self.fn(*[Tensor(a) if a.dtype.kind == "f" else a for a in arrays])
        return [t.data for t in self._tensors(out)]

    def _tensors(self, out) -> list[Tensor]:
        """A function's outputs as a list of Tensors; GateTypeError for anything else (an ndarray or a
        number has no graph whose backward could be checked)."""
        outs = list(out) if isinstance(out, tuple | list) else [out]
        bad = [k for k, o in enumerate(outs) if not isinstance(o, Tensor)]
        if bad or not outs:
            got = (f"a {type(out).__name__} holding {', '.join(type(o).__name__ for o in outs) or 'nothing'}"
                   if isinstance(out, tuple | list) else "None" if out is None else f"a {type(out).__name__} value")
            raise GateTypeError(f"gradcheck: {self.name} returned {got}; expected a Tensor, or a tuple of Tensors, "
                                f"computed from its inputs with autograd_rnn operations (an ndarray, a number or None "
                                f"has no graph whose gradient could be checked)")
        return outs

    def record(self, arrays: list, checked: list):
        """Run forward once; return (outputs, vjp(u_list) -> list of grads for checked, saved)."""
        if self.is_gate:
            gate = self._fresh_gate()
            outs = _as_list(gate.forward(*arrays))
            multi = gate.n_outputs > 1

            def vjp(us):
                try:
                    grads = gate.backward(tuple(us) if multi else us[0])
                except Exception as e:
                    raise GradcheckError(
                        f"gradcheck: {self.name}.backward raised {type(e).__name__}: {e} "
                        f"(inputs: {', '.join(f'{n} {a.dtype} {a.shape}' for n, a in zip(self.arg_names, arrays))})"
                    ) from e
                if not isinstance(grads, tuple | list) or len(grads) != len(arrays):
                    raise GradcheckError(
                        f"gradcheck: {self.name}.backward returned {type(grads).__name__} of length "
                        f"{len(grads) if hasattr(grads, '__len__') else '?'}; expected a tuple with "
                        f"one gradient per input ({len(arrays)})"
                    )
                return [grads[i] for i in checked]

            return outs, vjp, gate
        leaves = [Tensor(a, requires_grad=(i in checked)) if a.dtype.kind == "f" else a for i, a in enumerate(arrays)]
        out_t = self._tensors(self.fn(*leaves))
        targets = [leaves[i] for i in checked]

        def vjp(us):
            return grad(out_t, targets, [np.asarray(u) for u in us])

        return [t.data for t in out_t], vjp, [op.gate for op in topological_order(out_t)]


def _as_list(out) -> list:
    if isinstance(out, Tensor):
        return [out.data]
    if isinstance(out, tuple | list):
        return [o.data if isinstance(o, Tensor) else np.asarray(o) for o in out]
    return [np.asarray(out)]


def _arg_names(fn: Callable, n: int, drop_self: bool = False) -> list:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    if drop_self and params:
        params = params[1:]
    names = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}[{i}]" for i in range(n - len(names))]
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    names = names[:n]
    return names + [f"inputs[{i}]" for i in range(len(names), n)]


# ----- the check ------------------------------------------------------------------------------
def gradcheck(
    fn,
    inputs: Sequence,
    *,
    wrt: Sequence[int] | None = None,
    mode: str = "auto",
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    grad_outputs: Sequence[np.ndarray] | None = None,
    hygiene: bool = True,
    kinks: str = "report",
    seed: int = 0,
    raise_exception: bool = True,
    name: str | None = None,
) -> GradcheckReport:
    """Check the analytic gradient of ``fn`` at ``inputs`` against finite differences.

    Args:
        fn: a Gate subclass or instance (a fresh copy is applied for every evaluation), or a
            function of Tensors returning a Tensor (or a tuple of them) built from graph ops.
        inputs: the arguments, as arrays (or Tensors); integer arrays are passed unchanged.
        wrt: indices of the inputs to check (default: every float input whose gradient is not None).
        mode: "auto", "full", "vjp" or "projection" (see the module docstring).
        eps: base finite-difference step (default cbrt of the machine epsilon of the evaluation
            dtype); the step for element x is ``eps * max(1, |x|)``.
        atol, rtol: tolerances (defaults by the dtype of the analytic gradient:
            float64 1e-8 / 1e-6, float32 1e-4 / 1e-3).
        grad_outputs: upstream gradients (default random, each |u| in [0.5, 1]).
        hygiene: also run the re-entrancy, linearity, zero, shape, mutation and aliasing checks.
        kinks: "report" (a non-differentiable point with a valid subgradient is not a failure) or
            "fail".
        seed: seeds the random upstream gradients and directions.
        raise_exception: raise GradcheckError on failure (else return the failed report).
        name: how to call the subject in messages.

    Returns:
        GradcheckReport (``report.passed``).
    """
    arrays = [np.array(x.data if isinstance(x, Tensor) else x) for x in inputs]
    subject = Subject(fn, len(arrays))
    if name:
        subject.name = name
    return check_subject(subject, arrays, wrt=wrt, mode=mode, eps=eps, atol=atol, rtol=rtol,
                         grad_outputs=grad_outputs, hygiene=hygiene, kinks=kinks, seed=seed,
                         raise_exception=raise_exception)


def check_subject(subject, arrays: list, *, wrt=None, mode="auto", eps=None, atol=None, rtol=None,
                  grad_outputs=None, hygiene=True, kinks="report", seed=0, raise_exception=True) -> GradcheckReport:
    """gradcheck's core, for any subject with ``name``, ``arg_names``, ``evaluate(arrays) -> outputs``
    and ``record(arrays, checked) -> (outputs, vjp, gate_or_None)``."""
    _check_options(len(arrays), wrt, mode, eps, atol, rtol, grad_outputs, kinks, seed)
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if wrt is not None and any(arrays[i].dtype.kind != "f" for i in wrt):
        raise ConfigError(f"gradcheck: wrt={list(wrt)} names a non-float input; expected indices of float inputs "
                          f"{floats}")
    rng = np.random.default_rng(seed)
    before = [a.copy() for a in arrays]

    outs, vjp, gate = subject.record(arrays, floats if wrt is None else list(wrt))
    us = list(grad_outputs) if grad_outputs is not None else [_random_like(o, rng) for o in outs]
    us = [np.asarray(u, dtype=o.dtype) for u, o in zip(us, outs)]
    probe = vjp([u.copy() for u in us])
    cand = floats if wrt is None else list(wrt)
    checked = [i for i, g in zip(cand, probe) if g is not None]
    if wrt is None and checked != cand:
        outs, vjp, gate = subject.record(arrays, checked)
    if not checked:
        raise GradcheckError(f"gradcheck: {subject.name} has no float input with a gradient to check")
    an_dtype = np.result_type(*[arrays[i].dtype for i in checked])
    atol = atol if atol is not None else (1e-8 if an_dtype == np.float64 else 1e-4)
    rtol = rtol if rtol is not None else (1e-6 if an_dtype == np.float64 else 1e-3)

    report = GradcheckReport(name=subject.name, mode=mode, passed=True, n_checked=0, atol=atol, rtol=rtol)
    if hygiene:
        report.hygiene = _hygiene(subject, arrays, before, checked, outs, vjp, gate, us, rng)

    fd = _FiniteDifferences(subject, arrays, checked, eps)
    fd.us64 = [u.astype(np.float64) for u in us]
    report.nondeterministic = _nondeterminism(subject, fd)
    report.fd_dtype = str(fd.dtype)
    report.steps = {subject.arg_names[i]: fd.base for i in checked}
    if fd.dtype != np.float64:
        report.notes.append(f"{subject.name} did not run in float64, so finite differences ran in "
                            f"{fd.dtype} with a larger step")
    n_in = sum(arrays[i].size for i in checked)
    n_out = sum(o.size for o in outs)
    if mode == "auto":
        mode = "full" if n_in * n_out <= 40_000 else ("vjp" if n_in <= 4_000 else "projection")
    report.mode = mode
    analytic = vjp(us)
    if mode == "full":
        rows = _compare_full(subject, fd, vjp, outs, checked, atol, rtol)
    elif mode == "vjp":
        rows = _compare_vjp(subject, fd, analytic, us, checked, atol, rtol, None)
    else:
        rows = _compare_projection(subject, fd, analytic, us, checked, atol, rtol, rng, report)
    _classify(rows, fd, kinks, report)
    if mode == "projection" and not rows:
        report.n_checked = 3
    informative = [m for m in rows if max(abs(m.numeric), abs(m.analytic)) > atol]
    noisy = [m for m in informative if m.noise > 0.1 * (abs(m.numeric) + abs(m.analytic))]
    if informative and len(noisy) > len(informative) // 2:
        worst = max(noisy, key=lambda m: m.noise)
        report.inconclusive = (
            f"finite differences are dominated by round-off for {len(noisy)} of {len(informative)} elements "
            f"(noise floor up to {worst.noise:.2g} at step {fd.base:.2g}*max(1,|x|) in {fd.dtype}); "
            f"pass a larger eps"
        )
        report.failures = report.failures or [worst]
    if report.failures:
        report.sweep = fd.sweep(report.failures[0])
        m = report.failures[0]
        tol = atol + rtol * abs(m.analytic)
        if any(abs(n - m.analytic) <= tol for _, n in report.sweep):
            report.notes.append("some step in the sweep agrees with the analytic value: suspect the "
                                "step or round-off before the backward (pass eps=...)")
    bad_hygiene = [k for k, v in report.hygiene.items() if v != "ok"]
    report.passed = not report.failures and not bad_hygiene and report.nondeterministic is None
    if not report.passed and raise_exception:
        raise GradcheckError(str(report), report)
    return report


def _check_options(n: int, wrt, mode, eps, atol, rtol, grad_outputs, kinks, seed) -> None:
    """ConfigError naming a gradcheck option that is out of range."""
    if mode not in ("auto", "full", "vjp", "projection"):
        raise ConfigError(f"gradcheck: mode={mode!r}; expected 'auto', 'full', 'vjp' or 'projection'")
    if kinks not in ("report", "fail"):
        raise ConfigError(f"gradcheck: kinks={kinks!r}; expected 'report' or 'fail'")
    for name, value, positive in (("eps", eps, True), ("atol", atol, False), ("rtol", rtol, False)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating) or not math.isfinite(value) or (
                value <= 0 if positive else value < 0):
            raise ConfigError(f"gradcheck: {name}={value!r}; expected a finite number {'>' if positive else '>='} 0")
    if wrt is not None:
        wrt = list(wrt)
        if not wrt or any(isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < n for i in wrt) \
                or len(set(wrt)) != len(wrt):
            raise ConfigError(f"gradcheck: wrt={wrt!r}; expected distinct input indices in [0, {n})")
    if grad_outputs is not None and not isinstance(grad_outputs, list | tuple):
        raise ConfigError(f"gradcheck: grad_outputs is a {type(grad_outputs).__name__}; expected a list with one "
                          f"array per output")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"gradcheck: seed={seed!r}; expected an integer >= 0")


def _nondeterminism(subject, fd) -> str | None:
    """Evaluate once more at the same inputs: a function that gives other outputs (a random mask, a
    draw from numpy's global generator) cannot be checked by finite differences."""
    again = [np.asarray(o, np.float64) for o in subject.evaluate(list(fd.x))]
    differs = [float(np.nanmax(np.abs(a - b))) if a.shape == b.shape and a.size else math.inf
               for a, b in zip(again, fd.f0) if not np.array_equal(a, b, equal_nan=True)]
    if not differs and len(again) == len(fd.f0):
        return None
    return (f"two evaluations at the same inputs differ (by up to {max(differs, default=math.inf):.3g}); finite "
            f"differences cannot check a random function: fix its randomness (a mask or a seed chosen at "
            f"construction, not drawn in forward)")


def _random_like(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random upstream gradient with no tiny entries: |u| in [0.5, 1], random signs."""
    mag = 0.5 + 0.5 * rng.random(a.shape)
    dtype = a.dtype if a.dtype.kind == "f" else np.float64
    return np.asarray(np.where(rng.random(a.shape) < 0.5, -mag, mag), dtype=dtype)


class _FiniteDifferences:
    """Central differences in float64 (or the subject's own dtype when it will not run in float64)."""

    def __init__(self, subject: Subject, arrays: list, checked: list, eps: float | None):
        self.subject, self.checked = subject, checked
        up = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
        try:
            outs = subject.evaluate(up)
            self.dtype = np.result_type(*[o.dtype for o in outs]) if outs else np.float64
        except (TypeError, ValueError):
            self.dtype = None
        if self.dtype != np.float64:
            up = [a.copy() for a in arrays]
            outs = subject.evaluate(up)
            self.dtype = np.result_type(*[o.dtype for o in outs])
        self.x = up
        self.f0 = [o.astype(np.float64) for o in outs]
        self.base = eps if eps is not None else float(np.cbrt(np.finfo(self.dtype).eps))
        self.eps_mach = float(np.finfo(self.dtype).eps)

    def step(self, i: int, idx: tuple) -> float:
        return self.base * max(1.0, abs(float(self.x[i][idx])))

    def outputs_at(self, i: int, idx: tuple, delta: float) -> list:
        xs = list(self.x)
        xi = xs[i].copy()
        xi[idx] += delta
        xs[i] = xi
        return [o.astype(np.float64) for o in self.subject.evaluate(xs)]

    def directional(self, direction: list, h: float) -> list:
        """(f(x + h d) - f(x - h d)) / 2h for a direction over the checked inputs."""
        plus, minus = list(self.x), list(self.x)
        for i, d in zip(self.checked, direction):
            plus[i] = self.x[i] + h * d
            minus[i] = self.x[i] - h * d
        fp = self.subject.evaluate(plus)
        fm = self.subject.evaluate(minus)
        return [(a.astype(np.float64) - b.astype(np.float64)) / (2 * h) for a, b in zip(fp, fm)]

    def scalar(self, i: int, idx: tuple, delta: float, weights: list) -> float:
        """<weights, f(x + delta e_idx)> (weights: upstream gradients, or a one-hot output)."""
        return float(sum(np.vdot(w, o) for w, o in zip(weights, self.outputs_at(i, idx, delta))))

    def weights(self, m: Mismatch) -> list:
        """The output weighting behind an element: the upstream gradients, or a one-hot output."""
        if m.out_pos is None:
            return self.us64
        w = [np.zeros_like(f) for f in self.f0]
        w[m.out_pos[0]][m.out_pos[1]] = 1.0
        return w

    def one_sided(self, m: Mismatch, h: float) -> tuple:
        weights = self.weights(m)
        i = self._input_index(m.input)
        f0 = float(sum(np.vdot(w, o) for w, o in zip(weights, self.f0)))
        left = (f0 - self.scalar(i, m.index, -h, weights)) / h
        right = (self.scalar(i, m.index, h, weights) - f0) / h
        return left, right

    def _input_index(self, name: str) -> int:
        return self.subject.arg_names.index(name)

    def sweep(self, m: Mismatch) -> list:
        i = self._input_index(m.input)
        scale = max(1.0, abs(float(self.x[i][m.index])))
        w = self.weights(m)
        out = []
        for h in (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9):
            d = h * scale
            out.append((d, (self.scalar(i, m.index, d, w) - self.scalar(i, m.index, -d, w)) / (2 * d)))
        return out


def _rel(a: float, n: float) -> float:
    return abs(a - n) / max(abs(a), abs(n), 1e-300)


def _make_row(name, idx, a, n, out_label, out_pos, noise) -> Mismatch:
    a, n = float(a), float(n)
    return Mismatch(name, tuple(int(k) for k in idx), a, n, abs(a - n), _rel(a, n), out_label,
                    None, out_pos, noise)


def _compare_vjp(subject, fd, analytic, us, checked, atol, rtol, sample) -> list:
    rows = []
    scale = float(sum(np.abs(u * f).sum() for u, f in zip(us, fd.f0)))
    us64 = [u.astype(np.float64) for u in us]
    for i, g in zip(checked, analytic):
        idxs = sample.get(i) if sample is not None else list(np.ndindex(fd.x[i].shape))
        for idx in idxs:
            h = fd.step(i, idx)
            num = (fd.scalar(i, idx, h, us64) - fd.scalar(i, idx, -h, us64)) / (2 * h)
            noise = 4 * fd.eps_mach * scale / h
            rows.append(_make_row(subject.arg_names[i], idx, g[idx], num, None, None, noise))
    return rows


def _compare_full(subject, fd, vjp, outs, checked, atol, rtol) -> list:
    zeros = [np.zeros_like(o) for o in outs]
    rows = []
    # analytic Jacobian: one backward per output element
    analytic_rows = []
    for k, o in enumerate(outs):
        for j in np.ndindex(o.shape):
            us = [z.copy() for z in zeros]
            us[k][j] = 1
            analytic_rows.append(((k, j), [np.asarray(g) for g in vjp(us)]))
    for pos, i in enumerate(checked):
        for idx in np.ndindex(fd.x[i].shape):
            h = fd.step(i, idx)
            fp = fd.outputs_at(i, idx, h)
            fm = fd.outputs_at(i, idx, -h)
            col = [(a - b) / (2 * h) for a, b in zip(fp, fm)]
            for (k, j), grads in analytic_rows:
                noise = 4 * fd.eps_mach * abs(float(fd.f0[k][j])) / h
                label = f"out{list(j)}" if len(outs) == 1 else f"out{k}{list(j)}"
                rows.append(_make_row(subject.arg_names[i], idx, grads[pos][idx], col[k][j], label, (k, j), noise))
    return rows


def _compare_projection(subject, fd, analytic, us, checked, atol, rtol, rng, report) -> list:
    us64 = [u.astype(np.float64) for u in us]
    worst_ok = True
    for _ in range(3):
        v = [_random_like(fd.x[i].astype(np.float64), rng) for i in checked]
        scale = max(max(1.0, float(np.abs(fd.x[i]).max(initial=0))) for i in checked)
        h = fd.base * scale
        num = float(sum(np.vdot(u, d) for u, d in zip(us64, fd.directional(v, h))))
        ana = float(sum(np.vdot(np.asarray(g, np.float64), d) for g, d in zip(analytic, v)))
        noise = 4 * fd.eps_mach * float(sum(np.abs(u * f).sum() for u, f in zip(us64, fd.f0))) / h
        if abs(ana - num) > atol * sum(d.size for d in v) ** 0.5 + rtol * abs(num) + noise:
            worst_ok = False
    if worst_ok:
        report.notes.append("projection mode: 3 random directions agree")
        return []
    report.notes.append("projection mode disagreed; located the worst elements on a sample")
    sample = {}
    for i, g in zip(checked, analytic):
        flat = np.abs(np.asarray(g)).ravel()
        top = list(np.argsort(flat)[-64:]) + list(rng.choice(flat.size, size=min(64, flat.size), replace=False))
        sample[i] = [np.unravel_index(int(t), fd.x[i].shape) for t in dict.fromkeys(top)]
    return _compare_vjp(subject, fd, analytic, us, checked, atol, rtol, sample)


def _classify(rows: list, fd: _FiniteDifferences, kinks: str, report: GradcheckReport) -> None:
    report.n_checked = len(rows)
    failures, kink_rows = [], []
    for m in rows:
        tol = report.atol + report.rtol * abs(m.numeric) + m.noise
        if m.abs_err <= tol:
            continue
        h = fd.step(fd._input_index(m.input), m.index)
        left, right = fd.one_sided(m, h / 10)
        l1, r1 = fd.one_sided(m, h)
        jump, jump1 = abs(right - left), abs(r1 - l1)
        if jump > tol and jump > 0.5 * jump1:
            m.one_sided = (left, right)
            lo, hi = min(left, right) - tol, max(left, right) + tol
            if lo <= m.analytic <= hi and kinks == "report":
                kink_rows.append(m)
                continue
        failures.append(m)
    floor = report.atol / report.rtol
    for m in rows:
        m.rel_err = m.abs_err / max(abs(m.analytic), abs(m.numeric), floor, m.noise / report.rtol)
    kink_ids = {id(m) for m in kink_rows}
    smooth = [m for m in rows if id(m) not in kink_ids]
    report.max_abs_err = max((m.abs_err for m in smooth), default=0.0)
    report.max_rel_err = max((m.rel_err for m in smooth), default=0.0)
    report.failures = sorted(failures, key=lambda m: (m.abs_err, m.rel_err), reverse=True)
    report.kinks = kink_rows
    report.worst = sorted(smooth, key=lambda m: m.abs_err, reverse=True)[:3]


# ----- hygiene --------------------------------------------------------------------------------
def _saved_arrays(gates, prefix: str = "", depth: int = 2) -> dict:
    """ndarrays that gate applications keep in ``saved`` (inside tuples and lists too, and
    ``depth`` levels into objects that keep a ``saved`` of their own, such as a sequence gate's
    kernel), by path."""
    found = {}
    if gates is None:
        return found
    if not isinstance(gates, list):
        gates = [gates]
    for k, gate in enumerate(gates):
        here = f"{prefix}{type(gate).__name__}" + (f"[{k}]" if len(gates) > 1 else "")
        saved = getattr(gate, "saved", None)
        if saved is None:
            continue
        for name, v in vars(saved).items():
            items = list(enumerate(v)) if isinstance(v, tuple | list) else [(None, v)]
            for j, item in items:
                path = f"{here}.saved.{name}" + ("" if j is None else f"[{j}]")
                if isinstance(item, np.ndarray):
                    found[path] = item
                elif depth > 0 and getattr(item, "saved", None) is not None:
                    found.update(_saved_arrays(item, path + ".", depth - 1))
    return found


def _hygiene(subject, arrays, before, checked, outs, vjp, gate, us, rng) -> dict:
    res = {}
    names = subject.arg_names
    mutated = [names[i] for i, (a, b) in enumerate(zip(arrays, before)) if not np.array_equal(a, b, equal_nan=True)]
    saved = _saved_arrays(gate)
    saved_copy = {k: v.copy() for k, v in saved.items()}
    u_copy = [u.copy() for u in us]
    g1 = vjp(us)
    g2 = vjp(us)
    problems = []
    if mutated:
        problems.append(f"forward mutated input(s) {', '.join(mutated)}")
    if any(not np.array_equal(a, b, equal_nan=True) for a, b in zip(us, u_copy)):
        problems.append("backward mutated its upstream gradient")
    changed = [k for k, v in saved.items() if not np.array_equal(v, saved_copy[k], equal_nan=True)]
    if changed:
        problems.append(f"backward mutated what forward kept: {', '.join(changed)}")
    after = [names[i] for i, (a, b) in enumerate(zip(arrays, before)) if not np.array_equal(a, b, equal_nan=True)]
    if after and not mutated:
        problems.append(f"backward mutated input(s) {', '.join(after)}")
    res["no_mutation"] = "; ".join(problems) or "ok"

    problems = []
    for i, g in zip(checked, g1):
        a = arrays[i]
        if not isinstance(g, np.ndarray):
            problems.append(f"gradient for '{names[i]}' is {type(g).__name__}; expected an ndarray")
        elif g.shape != a.shape or g.dtype != a.dtype:
            problems.append(f"gradient for '{names[i]}' is {g.dtype} {g.shape}; expected {a.dtype} {a.shape}")
    res["shapes_dtypes"] = "; ".join(problems) or "ok"

    problems = []
    others = [("the upstream gradient", u) for u in us] + [(f"input '{names[i]}'", a) for i, a in enumerate(arrays)]
    others += list(saved.items())
    for i, g in zip(checked, g1):
        if not isinstance(g, np.ndarray):
            continue
        for label, o in others:
            if np.shares_memory(g, o):
                problems.append(f"gradient for '{names[i]}' shares memory with {label}")
        for j, g_other in zip(checked, g1):
            if j > i and isinstance(g_other, np.ndarray) and np.shares_memory(g, g_other):
                problems.append(f"gradients for '{names[i]}' and '{names[j]}' share memory")
    res["no_aliasing"] = "; ".join(problems) or "ok"

    ok = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(g1, g2))
    res["reentrant"] = "ok" if ok else ("backward is not re-entrant: two calls with the same upstream "
                                       "gradient gave different results")

    a_, b_ = 0.7, -1.3
    u2 = [_random_like(u, rng) for u in us]
    mix = vjp([a_ * x + b_ * y for x, y in zip(us, u2)])
    sep = vjp(u2)
    tol = 1e-9 if all(np.asarray(g).dtype == np.float64 for g in g1) else 1e-4
    lin_ok = all(
        np.allclose(m, a_ * np.asarray(p) + b_ * np.asarray(q), rtol=tol,
                    atol=tol * (1 + float(np.abs(p).max(initial=0)) + float(np.abs(q).max(initial=0))))
        for m, p, q in zip(mix, g1, sep)
    )
    res["linear"] = "ok" if lin_ok else ("backward is not linear in the upstream gradient: "
                                        "backward(a*u1 + b*u2) != a*backward(u1) + b*backward(u2)")
    zero = vjp([np.zeros_like(u) for u in us])
    res["zero_in_zero_out"] = "ok" if all(not np.any(z) for z in zero) else (
        "backward of a zero upstream gradient is not zero (is it multiplied by the upstream gradient?)")
    return res


__all__ = ["gradcheck", "GradcheckReport", "GradcheckError", "Mismatch", "HYGIENE_CHECKS"]
