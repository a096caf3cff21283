"""The computational graph, drawn: Graphviz DOT text of a value's graph or of one step of a cell,
rendered to SVG or PNG when Graphviz's ``dot`` program is installed (micrograd's ``draw_dot``).

A drawing has two kinds of node: **values** (boxes: a name where one is known, the shape and
dtype, and a gradient norm when there is one; parameters filled blue, inputs and constants grey)
and **gate applications** (ellipses: the gate's name and configuration). An edge runs from each
input value to the application that read it (labelled with the input's position when the gate
has several) and from the application to each of its outputs that appears in the graph. A whole
``Sequence`` is one application, a ``SequenceGate``: draw a cell's step (:func:`draw_step`) to see
inside it.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import GateInputError, GateTypeError
from ..gates.base import shape_str
from ..graph import Parameter, Tensor, grad, topological_order
from ..init import as_rng
from ..nodes import Cell, Node

FORMATS = ("svg", "png", "pdf")
LABEL_WIDTH = 30


class Drawing:
    """A drawn graph: ``source`` is the DOT text; :meth:`render` writes an image with Graphviz;
    in a notebook it shows itself as SVG when Graphviz is installed (else as its DOT text)."""

    def __init__(self, source: str):
        self.source = source

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return self.source

    def pipe(self, fmt: str = "svg") -> bytes | None:
        """The image as bytes in ``fmt`` (svg, png, pdf); None when Graphviz's ``dot`` is missing."""
        if fmt not in FORMATS:
            raise GateInputError(f"Drawing: format {fmt!r}; expected one of {', '.join(FORMATS)}")
        program = shutil.which("dot")
        if program is None:
            return None
        done = subprocess.run([program, f"-T{fmt}"], input=self.source.encode(), capture_output=True, timeout=60)
        if done.returncode != 0:
            raise GateInputError(f"Drawing: Graphviz's dot failed ({done.stderr.decode(errors='replace').strip()})")
        return done.stdout

    def render(self, path: str | Path) -> Path | None:
        """Write the image to ``path``, its format from the suffix (.svg, .png or .pdf); returns the
        path, or None, with a warning saying so, when Graphviz's ``dot`` program is not installed
        (the DOT text in :attr:`source` still opens in any Graphviz viewer)."""
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise GateInputError(f"Drawing.render: {path.name!r}; expected a file name ending in "
                                 f"{', '.join('.' + f for f in FORMATS)}")
        image = self.pipe(fmt)
        if image is None:
            warnings.warn(f"{path} not drawn: Graphviz's dot program is not installed (apt-get install graphviz, "
                          f"brew install graphviz or conda install graphviz); the DOT text is in Drawing.source",
                          RuntimeWarning, stacklevel=2)
            return None
        path.write_bytes(image)
        return path

    def _repr_svg_(self) -> str | None:
        image = self.pipe("svg")
        return None if image is None else image.decode()


def draw_graph(roots: Tensor | Sequence[Tensor], names: Node | Mapping[str, Tensor] | None = None,
               gradients: bool = False, title: str | None = None) -> Drawing:
    """Draw the graph that made ``roots`` (a Tensor or several).

    Args:
        names: how values are named: a Node (its parameters by dotted name) or a mapping from a
            name to a Tensor (parameters, inputs, intermediate values). Otherwise a value shows its
            ``Tensor.name`` (a parameter's attribute name) when it has one.
        gradients: False: a leaf shows the norm of its ``.grad`` when it has one (after a
            ``backward``). True: every value shows the norm of the gradient of the roots (summed
            with upstream ones) with respect to it, computed now by the walk; no ``.grad`` changes.
        title: a caption.
    """
    roots = [roots] if isinstance(roots, Tensor) else list(roots)
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise GateTypeError(f"draw_graph: roots are {[type(t).__name__ for t in roots]}; expected Tensors")
    named = _names(names)
    order = topological_order(roots)
    values = {}  # key -> the Tensor, in first-seen order
    for op in order:
        for t in op.inputs:
            values.setdefault(_key(t), t)
    for t in roots:
        values.setdefault(_key(t), t)
    norms = {}
    if gradients:
        wanted = [t for t in values.values() if t.dtype.kind == "f"]
        for t, g in zip(wanted, grad(roots, wanted)):
            if g is not None:
                norms[_key(t)] = float(np.linalg.norm(g))
    else:
        norms = {_key(t): float(np.linalg.norm(t.grad)) for t in values.values() if t.is_leaf and t.grad is not None}
    ids = {key: f"v{i}" for i, key in enumerate(values)}
    lines = ["digraph G {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8, color="#555555"];']
    if title:
        lines.append(f'  label="{_escape(title)}"; labelloc=t; fontname="Helvetica";')
    root_keys = {_key(t) for t in roots}
    for key, t in values.items():
        name = named.get(id(t)) or t.name or ("output" if key in root_keys else _anonymous(t))
        label = [name] if name else []
        label.append(f"{shape_str(t.shape)} {t.dtype}")
        if key in norms:
            label.append(f"|grad| {norms[key]:.3g}")
        fill = "#cfe2ff" if isinstance(t, Parameter) else "#eeeeee" if t.is_leaf else "white"
        lines.append(f'  {ids[key]} [shape=box, style="rounded,filled", fillcolor="{fill}", '
                     f'label="{_escape(chr(10).join(label))}"];')
    for i, op in enumerate(order):
        gate = _escape(_gate_label(op.gate))
        lines.append(f'  g{i} [shape=ellipse, style=filled, fillcolor="#fff3cd", label="{gate}"];')
        several = len(op.inputs) > 1
        for k, t in enumerate(op.inputs):
            lines.append(f"  {ids[_key(t)]} -> g{i}" + (f' [label="{k}"];' if several else ";"))
    index = {id(op): i for i, op in enumerate(order)}
    for key, t in values.items():
        if t._op is not None:
            several = t._op.out_meta is not None
            lines.append(f"  g{index[id(t._op)]} -> {ids[key]}" + (f' [label="{t._index}"];' if several else ";"))
    lines.append("}")
    return Drawing("\n".join(lines) + "\n")


def draw_step(cell: Cell, batch: int = 1, gradients: bool = False, state_names: Sequence[str] | None = None,
              rng=0) -> Drawing:
    """Draw one step of ``cell`` (built-in or your own): its ``step`` applied to an input ``x_t
    (batch, input_size)`` and a state ``h_{t-1}`` (and the state's other parts), random values from
    ``rng``, each parameter named as in ``cell.parameters()``. ``state_names`` names the state's
    parts (default ``h``, then ``state[1]``, ...); ``gradients`` as in :func:`draw_graph`, from
    the sum of the new state's parts."""
    if not isinstance(cell, Cell):
        raise GateTypeError(f"draw_step: got a {type(cell).__name__}; expected a Cell (RNNLayer, LSTMLayer, ...)")
    parts = list(state_names) if state_names is not None else ["h", *[f"state[{k}]" for k in range(1, cell.n_state)]]
    if len(parts) != cell.n_state:
        raise GateInputError(f"draw_step: {len(parts)} state names for {type(cell).__name__}'s {cell.n_state} state "
                             f"part(s)")
    rng = as_rng(rng)
    x = Tensor(rng.normal(size=(batch, cell.input_size)).astype(cell.dtype), requires_grad=True, name="x_t")
    state = [Tensor(rng.normal(size=(batch, cell.hidden_size)).astype(cell.dtype), requires_grad=True,
                    name=f"{p}_{{t-1}}") for p in parts]
    new = cell.step(x, state[0] if cell.n_state == 1 else tuple(state))
    new = list(new) if isinstance(new, tuple | list) else [new]
    named = {f"{p}_t": t for p, t in zip(parts, new)}
    return draw_graph(new, {**cell.parameters(), **named}, gradients,
                      title=f"one step of {type(cell).__name__}({cell.input_size}, {cell.hidden_size})")


def _names(names) -> dict[int, str]:
    if names is None:
        return {}
    if isinstance(names, Node):
        names = names.parameters()
    if not isinstance(names, Mapping) or not all(isinstance(t, Tensor) for t in names.values()):
        raise GateTypeError("draw_graph: names is not a Node or a mapping from names to Tensors")
    return {id(t): str(n) for n, t in names.items()}


def _key(t: Tensor):
    return ("out", id(t._op), t._index) if t._op is not None else ("leaf", id(t))


def _anonymous(t: Tensor) -> str:
    if t._op is not None:
        return ""
    if t.size == 1 and not t.requires_grad:
        return f"constant {t.data.item():.4g}"
    return "input" if t.requires_grad else "constant"


def _gate_label(gate) -> str:
    """The gate's name, then its configuration (as in its repr) wrapped under it, three lines at most."""
    config = repr(gate)[len(gate.name) + 1 : -1]
    lines = textwrap.wrap(config, LABEL_WIDTH)
    return "\n".join([gate.name, *lines[:2], *(["..."] if len(lines) > 2 else [])])


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
