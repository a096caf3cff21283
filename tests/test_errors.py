"""Every error the package raises on purpose is one of its own types (docs/reliability.md), so that
``except AutogradRNNError`` catches them all: read from the source with ``ast``, every ``raise`` of a
class names a subclass of AutogradRNNError, or one of the few built-in exceptions a protocol asks for."""

import ast
import pathlib
from collections import Counter

import pytest

import autograd_rnn
import autograd_rnn.train  # noqa: F401  (its error types)
from autograd_rnn import optim
from autograd_rnn.errors import AutogradRNNError, ConfigError, GateInputError, GateTypeError

ROOT = pathlib.Path(autograd_rnn.__file__).resolve().parent

PROTOCOL = {
    "NotImplementedError": "an abstract method",
    "KeyboardInterrupt": "the second Ctrl-C stops a run at once",
}
"""Built-in exceptions that are right wherever they are raised."""
IN_GETATTR = {"AttributeError", "ImportError"}
"""A module's ``__getattr__`` says "no such attribute", or that an optional extra is missing."""
ELSEWHERE: dict = {}
"""Bare raises allowed for now (by file and type): none."""


def ours() -> set[str]:
    found, todo = set(), [AutogradRNNError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found


def raised_classes(path: pathlib.Path):
    """(class name, enclosing function name, line) for every ``raise Name(...)`` / ``raise Name``
    whose name is capitalised (a class; a lowercase name is a variable or a factory function)."""
    tree = ast.parse(path.read_text())
    out = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Raise) and child.exc is not None:
                target = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
                name = target.id if isinstance(target, ast.Name) else None
                if name and name[0].isupper():
                    out.append((name, function, child.lineno))
            visit(child, inner)

    visit(tree, None)
    return out


def test_every_deliberate_error_is_one_of_ours():
    project = ours()
    stray, elsewhere = [], Counter()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for name, function, line in raised_classes(path):
            if name in project or name in PROTOCOL or (name in IN_GETATTR and function == "__getattr__"):
                continue
            if (rel, name) in ELSEWHERE:
                elsewhere[rel, name] += 1
                continue
            stray.append(f"{rel}:{line}: raise {name} (in {function})")
    assert not stray, "bare built-in errors raised on purpose:\n" + "\n".join(stray)
    assert all(elsewhere[k] <= v for k, v in ELSEWHERE.items()), f"new bare raises: {elsewhere}"


def test_the_scan_finds_a_planted_bare_raise(tmp_path):
    planted = tmp_path / "m.py"
    planted.write_text("def f(x):\n    if x:\n        raise ValueError('no')\n    raise ConfigError('ok')\n")
    assert [(n, f) for n, f, _ in raised_classes(planted)] == [("ValueError", "f"), ("ConfigError", "f")]


@pytest.mark.parametrize("call, kind", [
    (lambda p: optim.SGD(p, lr=-1.0), ConfigError),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ConfigError),
    (lambda p: optim.Adam(p, betas=(0.9, 1.5)), ConfigError),
    (lambda p: optim.Adam(p, betas="ab"), ConfigError),
    (lambda p: optim.SGD([("w", 3.0)], lr=0.1), GateTypeError),
    (lambda p: optim.make_optimizer("nope", p), ConfigError),
    (lambda p: optim.make_schedule("step:0,1", optim.SGD(p, lr=0.1), 10), ConfigError),
    (lambda p: optim.clip_grad_norm(p, 0.0), ConfigError),
    (lambda p: optim.SGD(p, lr=0.1).load_state_dict({"arrays": {}}), ConfigError),
])
def test_optimizer_errors_are_ours(call, kind):
    p = {"w": autograd_rnn.Parameter([1.0, 2.0])}
    with pytest.raises(kind) as e:
        call(p)
    assert isinstance(e.value, AutogradRNNError)


def test_a_gradient_of_the_wrong_shape_is_named():
    w = autograd_rnn.Parameter([1.0, 2.0])
    opt = optim.SGD({"w": w}, lr=0.1)
    w.grad = autograd_rnn.Parameter([1.0]).data
    with pytest.raises(GateInputError, match="'w' has a gradient of shape"):
        opt.step()
