"""examples/tutorial.ipynb runs from top to bottom (its code cells in order, in one namespace, in
this process) and is committed without outputs; the README points at it."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "tutorial.ipynb"


def cells(kind: str) -> list[str]:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == kind]


def test_the_committed_notebook_has_no_outputs():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            saved = cell["outputs"] or cell["execution_count"] is not None
            assert not saved, f"cell {i} of the notebook (a code cell) was saved with outputs"


def test_the_notebook_walks_the_tutorials_path():
    headings = [line for text in cells("markdown") for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## 1. Gates and their backward", "## 2. The RNN box",
                        '## 3. Forward over "I like to play.", and the loss',
                        "## 4. Backward, checked by finite differences", "## 5. `bptt_truncate` is `LookBack(k)`",
                        "## 6. Training, and the loss curve", "## 7. Gradient flow through time",
                        "## 8. The graph, drawn"]


def test_the_notebook_runs_from_top_to_bottom(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "tutorial_notebook"}
    try:
        for i, code in enumerate(cells("code")):
            try:
                exec(compile(code, f"tutorial.ipynb[code cell {i}]", "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"tutorial.ipynb, code cell {i} failed: {type(e).__name__}: {e}\n{code}") from e
        assert namespace["losses"][-1] < 0.1 * namespace["losses"][0]
        assert str(namespace["box"]).startswith("digraph G {")
    finally:
        plt.close("all")


def test_the_readme_points_at_the_notebook():
    assert "examples/tutorial.ipynb" in (ROOT / "README.md").read_text(encoding="utf-8")
