"""The ``autograd-rnn gradcheck`` table: every built-in gate on generated inputs, and every
built-in cell's sequence under each truncation policy. Needs only numpy."""

from __future__ import annotations

import numpy as np

from .errors import GradcheckError
from .gradcheck import gradcheck
from .nodes import CELLS
from .seqcheck import gradcheck_sequence
from .sequence import Full, LookBack, Sequence, Truncated
from .testing.registry import builtin_gate_classes, example_case


def _row(name: str, shapes: str, report, ok: bool) -> str:
    err = "-" if report is None else f"{report.max_rel_err:.1e}"
    hyg = "-" if report is None else ("ok" if all(v == "ok" for v in report.hygiene.values()) else "FAIL")
    return f"{name:<34} {shapes:<34} {err:>12} {hyg:>8}  {'pass' if ok else 'FAIL'}"


def gradcheck_table(cases: int = 3, seed: int = 0) -> tuple[bool, list[str]]:
    lines = [f"{'gate / cell':<34} {'input shapes':<34} {'max rel err':>12} {'hygiene':>8}  result", "-" * 100]
    all_ok = True
    for cls in builtin_gate_classes():
        for k in range(cases):
            case = example_case(cls, seed + k)
            shapes = " ".join("x".join(map(str, np.shape(x))) or "()" for x in case.inputs)
            try:
                report = gradcheck(case.gate, case.inputs, **case.options)
                ok = report.passed
            except GradcheckError as e:
                report, ok = e.report, False
            all_ok &= ok
            lines.append(_row(cls.__name__, shapes[:34], report, ok))
    rng = np.random.default_rng(seed)
    for cls in CELLS.values():
        for policy in (Full(), LookBack(2), Truncated(2), Truncated(2, 3)):
            cell = cls(3, 4, rng=rng)
            xs = rng.normal(size=(6, 2, 3))
            state0 = tuple(rng.normal(size=(2, 4)) for _ in range(cell.n_state))
            for fused in (True, False):
                try:
                    report = gradcheck_sequence(Sequence(cell, truncation=policy, fused=fused), xs, state0)
                    ok = report.passed
                except GradcheckError as e:
                    report, ok = e.report, False
                all_ok &= ok
                label = f"{cls.__name__} {policy!r} {'fused' if fused else 'composed'}"
                lines.append(_row(label, "xs 6x2x3, state 2x4", report, ok))
    lines.append("-" * 100)
    lines.append("all passed" if all_ok else "FAILURES above")
    return all_ok, lines
