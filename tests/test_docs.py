"""Every ```python block in docs/ and README.md runs (blocks of one file share a namespace, in order)."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_docs_exist():
    names = {p.name for p in DOCS}
    assert {"gates.md", "testing.md", "architecture.md", "recurrent.md", "language-model.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path, monkeypatch, tmp_path):
    blocks = BLOCK.findall(path.read_text())
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{path.stem}"}
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as e:
            raise AssertionError(f"{path.name}, python block {i} failed: {type(e).__name__}: {e}\n{code}") from e


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
