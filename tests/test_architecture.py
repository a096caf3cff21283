"""The package's structure, read from its source with ``ast``: layers import downward only, no
import cycles, no private name imported across modules, no function-level import of the package
outside the command line, and gates are defined only where gate discovery looks."""

import ast
import importlib
import importlib.util
import pathlib
import pkgutil

import pytest

import autograd_rnn
from autograd_rnn.testing.registry import GATE_PACKAGES, builtin_gate_classes, gate_subclasses

ROOT = pathlib.Path(autograd_rnn.__file__).resolve().parent

# bottom to top; a module may import its own layer and the layers below (docs/architecture.md)
LAYERS = [
    ("base", ["errors", "init", "allocator", "threads", "products", "atomic"]),
    ("gates", ["gates"]),
    ("graph", ["graph"]),
    ("nodes", ["nodes"]),
    ("sequence", ["sequence"]),
    ("models", ["models", "data", "optim", "checkpoint", "torch_interop", "cellspec"]),
    ("checking", ["gradcheck", "seqcheck", "testing", "checks"]),
    ("seeing", ["viz"]),
    ("training", ["train"]),
    ("faces", ["cli", "__main__", "bench", ""]),
]
LAZY_ALLOWED = {"autograd_rnn.cli", "autograd_rnn.__main__"}  # start-up time of the command line
LAZY_EXTRAS = {("autograd_rnn.testing", "autograd_rnn.testing.strategies")}  # needs hypothesis, an extra
LAZY_EXTRAS |= {("autograd_rnn.torch_interop", f"autograd_rnn.torch_interop.{m}")  # need torch, an extra
                for m in ("cell", "files", "modules", "ops")}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["autograd_rnn", *parts])


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer_of(module: str) -> int:
    rest = module[len("autograd_rnn"):].lstrip(".")
    top = rest.split(".")[0]
    for i, (_, homes) in enumerate(LAYERS):
        if top in homes:
            return i
    raise AssertionError(f"{module} belongs to no layer; add it to LAYERS and to docs/architecture.md")


def is_package(module: str) -> bool:
    return MODULES[module].name == "__init__.py"


def resolve(module: str, node: ast.ImportFrom | ast.Import) -> list[tuple[str, list[str]]]:
    """(imported autograd_rnn module, names taken from it) for one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.split(".")[0] == "autograd_rnn"]
    if node.level:
        base = module.split(".")
        if not is_package(module):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "autograd_rnn":
        return []
    out = []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        out.append((sub, []) if sub in MODULES else (target, [alias.name]))
    return out


def imports(module: str):
    """(target module, names, at module level?) for every import of the package in ``module``."""
    tree = ast.parse(MODULES[module].read_text())
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for target, names in resolve(module, node):
                yield target, names, id(node) in top


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_downward_only(module):
    mine = layer_of(module)
    for target, _, _ in imports(module):
        assert target in MODULES, f"{module} imports {target}, which does not exist"
        assert layer_of(target) <= mine, (
            f"{module} (layer {LAYERS[mine][0]}) imports {target} (layer {LAYERS[layer_of(target)][0]}): "
            f"an upward import")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_crosses_a_module(module):
    for target, names, _ in imports(module):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{module} imports the private name(s) {private} from {target}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_function_level_import_of_the_package(module):
    if module in LAZY_ALLOWED:
        return
    lazy = [target for target, _, top in imports(module) if not top and (module, target) not in LAZY_EXTRAS]
    assert not lazy, f"{module} imports {lazy} inside a function: import at the top (a cycle means a layer is wrong)"


def test_no_import_cycles():
    graph = {m: {t for t, _, top in imports(m) if top and t != m} for m in MODULES}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_checker_itself_catches_what_it_is_for(tmp_path):
    """The rules above are not vacuous: a planted upward import, private import, lazy import and
    cycle are each seen by the helpers the tests use."""
    mod = "autograd_rnn.gates.base"
    planted = ast.parse("from ..graph import _secret\nfrom . import base\ndef f():\n    from ..nodes import Node\n")
    found = [(t, n, id(node) in set(map(id, planted.body))) for node in ast.walk(planted)
             if isinstance(node, ast.ImportFrom) for t, n in resolve(mod, node)]
    assert ("autograd_rnn.graph", ["_secret"], True) in found
    assert layer_of("autograd_rnn.graph") > layer_of(mod)
    assert ("autograd_rnn.nodes", ["Node"], False) in found
    assert ("autograd_rnn.gates.base", [], True) in found  # a module importing itself: a cycle of one


def test_gates_are_defined_only_where_discovery_looks():
    torch_missing = importlib.util.find_spec("torch") is None
    for info in pkgutil.walk_packages(autograd_rnn.__path__, "autograd_rnn."):
        if not (torch_missing and info.name.startswith("autograd_rnn.torch_interop.")):  # (torch is an extra)
            importlib.import_module(info.name)
    everywhere = set(gate_subclasses())
    outside = [c for c in everywhere if not c.__module__.startswith(GATE_PACKAGES)]
    assert not outside, f"gates defined outside {GATE_PACKAGES}: {outside}"
    assert everywhere == set(builtin_gate_classes())
