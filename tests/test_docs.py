"""Every ```python block in docs/ and README.md runs (blocks of one file share a namespace, in order).
A page that opens with ``<!-- needs: torch -->`` is skipped when that optional extra is missing,
except under CI=true, where it must run."""

import importlib.util
import os
import pathlib
import re

import pytest

from autograd_rnn import gates

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
NEEDS = re.compile(r"\A<!-- needs: (\w+) -->")


def test_docs_exist():
    names = {p.name for p in DOCS}
    assert {"gates.md", "testing.md", "architecture.md", "recurrent.md", "language-model.md", "pytorch.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path, monkeypatch, tmp_path):
    text = path.read_text()
    for extra in NEEDS.findall(text):
        if importlib.util.find_spec(extra) is None:
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(f"CI=true but {extra} is not installed: {path.name} needs it")
            pytest.skip(f"{path.name} needs {extra}")
    blocks = BLOCK.findall(text)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{path.stem}"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{path.name}, python block {i} failed: {type(e).__name__}: {e}\n{code}") from e


def test_every_builtin_gate_has_a_section_in_gates_md():
    """A heading (``### Exp: ...``) or a bold entry (``* **Sum(...)**``) per gate of autograd_rnn.gates."""
    text = (ROOT / "docs" / "gates.md").read_text()
    missing = [name for name in gates.__all__ if name != "Gate"
               and not re.search(rf"^#{{2,3}} .*\b{name}\b|\*\*{name}\b", text, re.M)]
    assert not missing, f"gates without a section in docs/gates.md: {missing}"


def test_every_test_reliability_md_names_exists():
    """docs/reliability.md says which tests hold each promise: each file and test it names is there."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    defined = {}
    for path in (ROOT / "tests").glob("test_*.py"):
        defined[path.name] = set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    everywhere = set().union(*defined.values())
    missing = []
    for ref in re.findall(r"`([^`]*test_[^`]*)`", text):
        file, _, name = ref.partition("::")
        file = file.removeprefix("tests/")
        if "*" in file:  # a family of files
            continue
        if file.endswith(".py") and file not in defined:
            missing.append(ref)
        for wanted in filter(None, [name] if file.endswith(".py") else [file]):
            pool = defined.get(file, everywhere)
            if wanted.endswith("*") and not any(t.startswith(wanted[:-1]) for t in pool):
                missing.append(ref)
            elif not wanted.endswith("*") and wanted not in pool:
                missing.append(ref)
    assert not missing, missing
