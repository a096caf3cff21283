"""The graph drawn as DOT: parsed back and compared with the graph (nodes, edges, input positions,
shapes, names, gradient norms), for the tutorial's RNN box, every built-in cell's step, a custom
cell and a whole language model; rendering with and without Graphviz."""

import re
import shutil

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import GateInputError, GateTypeError, LanguageModel
from autograd_rnn.gates import AddGate, MultiplyGate, Tanh
from autograd_rnn.graph import topological_order
from autograd_rnn.nodes import Cell, GRULayer, LSTMLayer, RNNLayer
from autograd_rnn.viz import Drawing, draw_graph, draw_step

STATEMENT = re.compile(r"^\s*(\w+)(?: -> (\w+))?(?: \[(.*)\])?;$")
ATTRIBUTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s\]]+)')


def unquote(value: str) -> str:
    if not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value[1:-1])


def parse(source: str):
    """DOT text -> (nodes {id: attributes}, edges [(tail, head, label or None)]), for the subset
    the drawing writes; any other line (but the graph's opening, defaults and closing) fails."""
    lines = source.strip().splitlines()
    assert lines[0] == "digraph G {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if line.strip().startswith(("rankdir", "node [", "edge [", "label=")):
            continue
        m = STATEMENT.match(line)
        assert m, f"unexpected DOT line {line!r}"
        attrs = {k: unquote(v) for k, v in ATTRIBUTE.findall(m.group(3) or "")}
        if m.group(2):
            edges.append((m.group(1), m.group(2), attrs.get("label")))
        else:
            nodes[m.group(1)] = attrs
    return nodes, edges


def check_against_graph(source: str, roots: list):
    """Every gate application is one ellipse with its gate's name; its inputs arrive in order, from
    boxes showing their shapes; each output it makes (that the graph holds) leaves to a box with
    its shape. Returns the boxes' labels by the Tensor they show."""
    nodes, edges = parse(source)
    order = topological_order(roots)
    gates = {n: a for n, a in nodes.items() if a["shape"] == "ellipse"}
    assert len(gates) == len(order)
    assert sorted(a["label"].split("\n")[0] for a in gates.values()) == sorted(op.gate.name for op in order)
    into = {}
    for tail, head, label in edges:
        into.setdefault(head, []).append((tail, label))
    shown = {}
    for g, op in zip(sorted(gates, key=lambda n: int(n[1:])), order):
        assert gates[g]["label"].split("\n")[0] == op.gate.name
        arrivals = sorted(into[g], key=lambda e: int(e[1] or 0))
        assert len(arrivals) == len(op.inputs)
        for (tail, _), t in zip(arrivals, op.inputs):
            assert f"{ar.gates.base.shape_str(t.shape)} {t.dtype}" in nodes[tail]["label"].split("\n")
            assert shown.setdefault(id(t), nodes[tail]["label"]) == nodes[tail]["label"]
    made = [(tail, head) for tail, head, _ in edges if tail in gates]
    assert all(nodes[head]["shape"] == "box" for _, head in made)
    assert len(made) == len({id(t) for op in order for t in op.inputs if t._op is not None} | {id(r) for r in roots
                                                                                             if r._op is not None})
    return shown


def tutorial_box(rng):
    H, V = 4, 8
    U = ar.Parameter(rng.uniform(-0.3, 0.3, (H, V)))
    W = ar.Parameter(rng.uniform(-0.3, 0.3, (H, H)))
    V_ = ar.Parameter(rng.uniform(-0.3, 0.3, (V, H)))
    x = ar.Tensor(np.eye(V)[:, [2]])
    s_prev = ar.Tensor(rng.normal(size=(H, 1)))
    mulu = ar.apply(MultiplyGate(), U, x)
    mulw = ar.apply(MultiplyGate(), W, s_prev)
    s = ar.apply(Tanh(), ar.apply(AddGate(), mulu, mulw))
    mulv = ar.apply(MultiplyGate(), V_, s)
    return mulv, {"U": U, "W": W, "V": V_, "x_t": x, "s_{t-1}": s_prev, "s_t": s}


def test_the_tutorials_rnn_box_drawn_and_parsed_back():
    mulv, names = tutorial_box(np.random.default_rng(0))
    source = draw_graph(mulv, names).source
    shown = check_against_graph(source, [mulv])
    nodes, edges = parse(source)
    labels = {a["label"].split("\n")[0]: n for n, a in nodes.items()}
    assert sorted(a["label"] for a in nodes.values() if a["shape"] == "ellipse") == [
        "AddGate", "MultiplyGate", "MultiplyGate", "MultiplyGate", "Tanh"]
    for name in ("U", "W", "V"):
        assert nodes[labels[name]]["fillcolor"] == "#cfe2ff"  # parameters stand out
    assert shown[id(names["U"])].startswith("U\n(4, 8) float64")
    # U and x_t enter the same MultiplyGate, U first (U @ x), and its output enters the AddGate
    (g,) = {h for t, h, k in edges if t == labels["U"] and k == "0"} & {h for t, h, k in edges
                                                                       if t == labels["x_t"] and k == "1"}
    assert [nodes[h]["label"] for t, h, _ in edges if t == g] == ["(4, 1) float64"]
    tanh = next(n for n, a in nodes.items() if a["label"] == "Tanh")
    assert [nodes[h]["label"].split("\n")[0] for t, h, _ in edges if t == tanh] == ["s_t"]
    assert "|grad|" not in source  # no backward yet


def test_after_backward_leaves_show_their_gradient_norms():
    mulv, names = tutorial_box(np.random.default_rng(1))
    (mulv * mulv).sum().backward()
    nodes, _ = parse(draw_graph(mulv, names).source)
    by_name = {a["label"].split("\n")[0]: a["label"] for a in nodes.values()}
    for name in ("U", "W", "V"):
        assert by_name[name].endswith(f"|grad| {np.linalg.norm(names[name].grad):.3g}")
    assert "|grad|" not in by_name["s_t"]  # an intermediate keeps no gradient


@pytest.mark.parametrize("cls, parts", [(RNNLayer, ("h",)), (LSTMLayer, ("h", "c")), (GRULayer, ("h",))])
def test_a_cells_step_with_every_gradient_norm_checked_independently(cls, parts):
    cell = cls(3, 4, rng=0)
    drawing = draw_step(cell, batch=2, gradients=True, state_names=parts)
    rng = np.random.default_rng(0)  # draw_step's inputs, drawn again
    x = ar.Tensor(rng.normal(size=(2, 3)), requires_grad=True)
    state = [ar.Tensor(rng.normal(size=(2, 4)), requires_grad=True) for _ in parts]
    new = cell.step(x, state[0] if len(parts) == 1 else tuple(state))
    new = list(new) if isinstance(new, tuple) else [new]
    check_against_graph(drawing.source, new)
    named = {"x_t": x, **{f"{p}_{{t-1}}": s for p, s in zip(parts, state)}, **cell.parameters()}
    grads = ar.grad(new, list(named.values()))
    nodes, _ = parse(drawing.source)
    by_name = {a["label"].split("\n")[0]: a["label"] for a in nodes.values()}
    for (name, t), g in zip(named.items(), grads):
        assert by_name[name].split("\n")[1] == f"{ar.gates.base.shape_str(t.shape)} float64"
        assert float(by_name[name].split("|grad| ")[1]) == pytest.approx(np.linalg.norm(g), rel=5e-3)
    for p in parts:
        assert f"{p}_t" in by_name
    assert all(p.grad is None for p in cell.parameters().values())  # computed, not accumulated


class Leaky(Cell):
    """A custom cell: h' = tanh(x W^T + h R^T) * (1 - lam) + h * lam, with a second state part m."""

    n_state = 2

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = np.random.default_rng(rng)
        self.parameter("W", rng.normal(size=(hidden_size, input_size)))
        self.parameter("R", rng.normal(size=(hidden_size, hidden_size)))

    def step(self, x, state):
        h, m = state
        new = (x @ self.W.T + h @ self.R.T).tanh()
        return new * 0.5 + m * 0.5, m + new


def test_a_custom_cell_is_drawn_with_its_own_names():
    source = draw_step(Leaky(2, 3, rng=0), state_names=("h", "m")).source
    nodes, _ = parse(source)
    labels = [a["label"].split("\n")[0] for a in nodes.values()]
    for name in ("W", "R", "x_t", "h_{t-1}", "m_{t-1}", "h_t", "m_t", "constant 0.5"):
        assert name in labels
    assert "one step of Leaky(2, 3)" in source


def test_a_language_model_is_one_sequence_gate_with_dotted_parameter_names():
    model = LanguageModel(7, cell="lstm", embed_size=3, hidden_size=4, layers=2, rng=0, dtype=np.float64)
    tokens = np.arange(6).reshape(3, 2)
    loss, _ = model.loss(tokens, tokens)
    loss.backward()
    source = draw_graph(loss, model).source
    check_against_graph(source, [loss])
    nodes, _ = parse(source)
    gates = [a["label"].split("\n")[0] for a in nodes.values() if a["shape"] == "ellipse"]
    assert gates.count("SequenceGate") == 2
    labels = {a["label"].split("\n")[0]: a["label"] for a in nodes.values()}
    weight = model.rnn.l1.cell.weight_hh
    assert labels["rnn.l1.cell.weight_hh"].endswith(f"|grad| {np.linalg.norm(weight.grad):.3g}")
    assert "embedding.weight" in labels and "proj.bias" in labels


def test_labels_are_escaped():
    t = ar.Parameter(np.ones(2))
    nodes, _ = parse(draw_graph(t * 2.0, {'a "quoted" \\ name': t}).source)
    assert 'a "quoted" \\ name\n(2,) float64' in [a["label"] for a in nodes.values()]


def test_bad_arguments_are_named():
    with pytest.raises(GateTypeError, match="expected Tensors"):
        draw_graph([np.ones(2)])
    with pytest.raises(GateTypeError, match="names"):
        draw_graph(ar.Parameter(np.ones(2)) * 2.0, {"x": np.ones(2)})
    with pytest.raises(GateTypeError, match="expected a Cell"):
        draw_step(LanguageModel(5, cell="rnn", embed_size=2, hidden_size=3))
    with pytest.raises(GateInputError, match="1 state names"):
        draw_step(LSTMLayer(2, 3), state_names=("h",))
    with pytest.raises(GateInputError, match="ending in .svg"):
        Drawing("digraph G {}").render("graph.jpg")


def test_without_graphviz_rendering_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    drawing = draw_step(RNNLayer(2, 3))
    with pytest.warns(RuntimeWarning, match="Graphviz's dot program is not installed"):
        assert drawing.render(tmp_path / "step.svg") is None
    assert drawing.pipe("png") is None and drawing._repr_svg_() is None
    assert not (tmp_path / "step.svg").exists()
    assert str(drawing).startswith("digraph G {")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_with_graphviz_images_are_rendered(tmp_path):
    drawing = draw_step(GRULayer(2, 3), gradients=True)
    assert drawing.render(tmp_path / "gru.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawing.render(tmp_path / "gru.svg").read_text().lstrip().startswith("<?xml")
    assert "<svg" in drawing._repr_svg_()
