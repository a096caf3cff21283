"""Custom cells end to end: options stored and rebuilt, the cell checked before training, loaded
only from code the user names, and the math a cell author needs."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn.cellspec import CellImportError, allowed, load_cell, parse_spec, spec_of
from autograd_rnn.checkpoint import CheckpointError
from autograd_rnn.errors import ConfigError
from autograd_rnn.init import orthogonal, uniform, xavier_uniform
from autograd_rnn.nodes import Cell, LayerNorm, RNNLayer
from autograd_rnn.testing import Draw, GateCase, property_check
from autograd_rnn.train import CellCheckFailed, check_cell

CELLS_FILE = textwrap.dedent('''
    import numpy as np
    import autograd_rnn as ar
    from autograd_rnn.nodes import Cell

    IMPORTED = []
    IMPORTED.append(__name__)


    class Gated(Cell):
        """h' = (1 - z) * h + z * act(x W^T + h U^T), z = sigmoid(x V^T); an option picks act."""

        static_step = True

        def __init__(self, input_size, hidden_size, act="tanh", scale=1.0, dtype=np.float64, rng=None):
            super().__init__(input_size, hidden_size, dtype)
            rng = ar.as_rng(rng)
            self.act, self.scale = act, scale
            self.parameter("W", ar.init.xavier_uniform((hidden_size, input_size), rng=rng))
            self.parameter("U", ar.init.orthogonal((hidden_size, hidden_size), rng=rng))
            self.parameter("V", ar.init.xavier_uniform((hidden_size, input_size), rng=rng))

        def step(self, x, h):
            a = (x @ self.W.T + h @ self.U.T) * self.scale
            new = a.tanh() if self.act == "tanh" else a.sigmoid()
            z = (x @ self.V.T).sigmoid()
            return (1.0 - z) * h + z * new


    class Hidden(Cell):
        """Keeps its option under another name: config() cannot find it."""

        def __init__(self, input_size, hidden_size, gain=1.0, dtype=np.float64, rng=None):
            super().__init__(input_size, hidden_size, dtype)
            self._g = gain
            self.parameter("W", np.ones((hidden_size, input_size)))

        def step(self, x, h):
            return (x @ self.W.T * self._g + h).tanh()


    class Wrong(Cell):
        """A gate with a wrong backward inside its step."""

        def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):
            super().__init__(input_size, hidden_size, dtype)
            self.parameter("W", ar.init.uniform((hidden_size, input_size), rng=rng))

        def step(self, x, h):
            return ar.apply(SloppyTanh(), x @ self.W.T + h)


    class SloppyTanh(ar.gates.Tanh):
        def backward(self, g):
            return (g * (1 - self.saved.y),)
''')


@pytest.fixture(scope="module")
def cells_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cells") / "mycells.py"
    path.write_text(CELLS_FILE)
    return path


def small(corpus, out, **kw):
    base = dict(corpus=corpus, hidden=12, embed=8, batch=4, seq_len=16, eval_every=4, eval_tokens=500,
                sample_length=10, out=str(out), progress=False, plot=False)
    base.update(kw)
    return ar.TrainConfig(**base)


def run_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


# ----- naming and loading cells ----------------------------------------------------------------------------------
def test_specs_parse_and_name_built_in_and_module_cells():
    assert parse_spec("LSTM") == ("builtin", "lstm", "lstm")
    assert parse_spec("pkg.mod:Cell") == ("module", "pkg.mod", "Cell")
    assert parse_spec("a/b.py:Outer.Inner") == ("file", "a/b.py", "Outer.Inner")
    for bad in ("", "nocolon", "pkg.mod:", ":Cell", "pkg mod:Cell", "pkg.mod:1bad"):
        with pytest.raises(ConfigError):
            parse_spec(bad)
    assert spec_of(RNNLayer) == "rnn"
    assert spec_of(LayerNorm.__mro__[0]) == "autograd_rnn.nodes.layernorm:LayerNorm"

    class Local(Cell):
        pass

    with pytest.raises(ConfigError, match="inside a function"):
        spec_of(Local)


def test_loading_needs_the_source_to_be_named(cells_file):
    spec = f"{cells_file}:Gated"
    with pytest.raises(CellImportError, match=re.escape(f"pass allow_import=[{str(cells_file)!r}]")):
        load_cell(spec)  # from Python: the parameter; the command line names its flag
    with pytest.raises(CellImportError, match=f"add --allow-import {cells_file}"):
        load_cell(spec, flag="--allow-import")
    assert not allowed(spec, ["other.py", "mycells"])
    cls = load_cell(spec, [str(cells_file)])
    assert cls.__name__ == "Gated" and spec_of(cls) == spec
    assert allowed("pkg.sub.mod:C", ["pkg"]) and not allowed("pkgx.mod:C", ["pkg"])
    with pytest.raises(CellImportError, match="has no Nope"):
        load_cell(f"{cells_file}:Nope", [str(cells_file)])
    with pytest.raises(CellImportError, match="not a Cell subclass"):
        load_cell(f"{cells_file}:IMPORTED", [str(cells_file)])


# ----- options: stored, rebuilt, refused at step 0 ---------------------------------------------------------------
def test_built_in_and_custom_cells_declare_their_options(cells_file):
    assert RNNLayer(2, 3, nonlinearity="relu").config() == {"nonlinearity": "relu"}
    assert ar.nodes.LSTMLayer(2, 3).config() == {}
    Gated = load_cell(f"{cells_file}:Gated", [str(cells_file)])
    assert Gated(2, 3, act="sigmoid", scale=0.5).config() == {"act": "sigmoid", "scale": 0.5}
    Hidden = load_cell(f"{cells_file}:Hidden", [str(cells_file)])
    with pytest.raises(ConfigError, match="option 'gain' is not kept as self.gain"):
        Hidden(2, 3).config()


def test_checkpoint_of_non_default_options_loads_back_equal(corpus, cells_file, tmp_path):
    Gated = load_cell(f"{cells_file}:Gated", [str(cells_file)])
    out = tmp_path / "g"
    ar.fit(small(corpus, out, steps=4, cell=Gated, cell_options={"act": "sigmoid", "scale": 0.5}))
    ck = ar.load_checkpoint(out / "last.npz")
    assert ck.config["model"]["cell"] == f"{cells_file}:Gated"
    assert ck.config["model"]["cell_options"] == {"act": "sigmoid", "scale": 0.5}
    model, vocab = ar.model_from_checkpoint(ck, allow_import=[str(cells_file)])
    cell = model.rnn.sequences()[0].cell
    assert (cell.act, cell.scale) == ("sigmoid", 0.5)
    for k, p in model.state_dict().items():
        np.testing.assert_array_equal(p, ck.model[k])
    default, _ = ar.model_from_checkpoint(ck, allow_import=[str(cells_file)])
    default.rnn.sequences()[0].cell.act = "tanh"  # the option matters: a tanh cell computes other outputs
    tokens = vocab.encode("the cat sat")[:, None]
    with ar.no_grad():
        assert not np.allclose(model(tokens)[0].data, default(tokens)[0].data)


def test_a_model_rebuilt_from_its_checkpoint_is_the_same_model(cells_file, tmp_path):
    Gated = load_cell(f"{cells_file}:Gated", [str(cells_file)])
    model = ar.LanguageModel(9, cell=Gated, embed_size=4, hidden_size=5, layers=2, act="sigmoid", scale=0.5,
                             dtype=np.float64, rng=3)
    vocab = ar.Vocabulary.build("abcdefghi", "char")
    ar.checkpoint.save_checkpoint(tmp_path / "m.npz", model=model.state_dict(), optimizer=None, rng_state=None,
                                  vocab=vocab.to_dict(), config={"model": model.config()}, progress={})
    again, _ = ar.model_from_checkpoint(ar.load_checkpoint(tmp_path / "m.npz"), allow_import=[str(cells_file)])
    assert again.config() == model.config()
    assert [c.cell.config() for c in again.rnn.sequences()] == [{"act": "sigmoid", "scale": 0.5}] * 2
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[k], v)
    tokens = np.array([[1, 4], [3, 3], [8, 0]])
    with ar.no_grad():
        np.testing.assert_array_equal(again(tokens)[0].data, model(tokens)[0].data)


@pytest.mark.parametrize("options, match", [
    ({"gain": 2.0}, "option 'gain' is not kept as self.gain"),
])
def test_options_that_cannot_be_rebuilt_fail_before_the_first_step(corpus, cells_file, tmp_path, options, match):
    Hidden = load_cell(f"{cells_file}:Hidden", [str(cells_file)])
    out = tmp_path / "h"
    with pytest.raises(ConfigError, match=match):
        ar.fit(small(corpus, out, steps=4, cell=Hidden, cell_options=options, check_cell=False))
    assert not (out / "last.npz").exists()


def test_an_option_json_cannot_hold_is_named_before_the_first_step(corpus, cells_file, tmp_path):
    Gated = load_cell(f"{cells_file}:Gated", [str(cells_file)])
    with pytest.raises(ConfigError, match=r"the cell option scale=.* cannot be stored in a checkpoint"):
        ar.fit(small(corpus, tmp_path / "j", steps=4, cell=Gated, cell_options={"scale": np.float32(0.5)},
                       check_cell=False))
    with pytest.raises(ConfigError, match=r"the cell option scale=nan"):
        ar.fit(small(corpus, tmp_path / "k", steps=4, cell=Gated, cell_options={"scale": float("nan")},
                       check_cell=False))


# ----- the check before training ---------------------------------------------------------------------------------
def test_a_wrong_backward_stops_training_with_the_checkers_report(corpus, cells_file, tmp_path):
    Wrong = load_cell(f"{cells_file}:Wrong", [str(cells_file)])
    with pytest.raises(CellCheckFailed) as info:
        ar.fit(small(corpus, tmp_path / "w", steps=4, cell=Wrong))
    message = str(info.value)
    assert "fails its gradient check under Full()" in message and "W[" in message
    assert "single step's backward is wrong at t = [0, 1, 2, 3]" in message
    assert info.value.report.bad_steps == [0, 1, 2, 3]
    assert not (tmp_path / "w" / "last.npz").exists()
    result = ar.fit(small(corpus, tmp_path / "w2", steps=4, cell=Wrong, check_cell=False))
    assert result.steps == 4


def test_check_cell_passes_a_good_cell_under_every_policy(cells_file):
    Gated = load_cell(f"{cells_file}:Gated", [str(cells_file)])
    reports = check_cell(Gated, {"act": "sigmoid"}, ar.LookBack(1))
    assert len(reports) == 4 and all(r.passed for r in reports)


# ----- the command line ------------------------------------------------------------------------------------------
def test_command_line_trains_samples_evaluates_and_resumes_a_custom_cell(corpus, cells_file, tmp_path):
    out = tmp_path / "cli"
    spec = f"{cells_file}:Gated"
    args = ["train", "--corpus", corpus, "--cell", spec, "--cell-option", "act=sigmoid", "--hidden", "10",
            "--embed", "6", "--batch", "4", "--seq-len", "12", "--eval-every", "3", "--no-progress", "--no-plot",
            "--out", str(out)]
    r = run_cli(*args, "--steps", "3")
    assert r.returncode == 0, r.stderr
    assert "checking Gated's gradients" in r.stderr
    for verb in (["sample", "--checkpoint", str(out / "last.npz"), "--length", "5"],
                 ["evaluate", "--checkpoint", str(out / "last.npz"), "--corpus", corpus],
                 ["train", "--resume", "--out", str(out), "--steps", "6", "--no-progress"]):
        refused = run_cli(*verb)
        assert refused.returncode == 2
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and f"add --allow-import {cells_file}" in lines[0], refused.stderr
        allowed_run = run_cli(*verb, "--allow-import", str(cells_file))
        assert allowed_run.returncode == 0, allowed_run.stderr
    full = tmp_path / "full"
    r = run_cli(*[a if a != str(out) else str(full) for a in args], "--steps", "6")
    assert r.returncode == 0, r.stderr
    a, b = ar.load_checkpoint(out / "last.npz"), ar.load_checkpoint(full / "last.npz")
    assert a.progress["step"] == b.progress["step"] == 6
    for k in a.model:
        np.testing.assert_array_equal(a.model[k], b.model[k], err_msg=k)


def test_a_module_cell_is_named_by_module_and_nothing_is_imported_by_default(corpus, cells_file, tmp_path):
    out = tmp_path / "m"
    env_path = str(cells_file.parent)
    code = (f"import sys; sys.path.insert(0, {env_path!r})\n"
            f"import autograd_rnn as ar, mycells\n"
            f"ar.fit(ar.TrainConfig(corpus={corpus!r}, cell=mycells.Gated, steps=2, eval_every=2, hidden=8, "
            f"embed=4, batch=2, seq_len=8, out={str(out)!r}, progress=False, plot=False))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ck = ar.load_checkpoint(out / "last.npz")
    assert ck.config["model"]["cell"] == "mycells:Gated"
    check = (f"import sys; sys.path.insert(0, {env_path!r})\nimport autograd_rnn as ar\n"
             f"ck = ar.load_checkpoint({str(out / 'last.npz')!r})\n"
             f"try:\n    ar.model_from_checkpoint(ck)\nexcept ar.errors.ConfigError as e:\n    print(e)\n"
             f"print('mycells' in sys.modules)\n"
             f"ar.model_from_checkpoint(ck, allow_import=['mycells'])\nprint('mycells' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2:] == ["False", "True"] and "allow_import=['mycells']" in r.stdout


def test_a_cell_defined_in_the_script_being_run_is_named_by_the_script_path(corpus, tmp_path):
    script = tmp_path / "trainer.py"
    out = tmp_path / "s"
    script.write_text(CELLS_FILE + textwrap.dedent(f'''
        if __name__ == "__main__":
            ar.fit(ar.TrainConfig(corpus={corpus!r}, cell=Gated, steps=2, eval_every=2, hidden=8, embed=4,
                                    batch=2, seq_len=8, out={str(out)!r}, progress=False, plot=False))
            print("TRAINED")
    '''))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert r.returncode == 0 and "TRAINED" in r.stdout, r.stderr
    ck = ar.load_checkpoint(out / "last.npz")
    assert ck.config["model"]["cell"] == f"{script.resolve()}:Gated"
    r = run_cli("sample", "--checkpoint", str(out / "last.npz"), "--length", "3", "--allow-import", str(script))
    assert r.returncode == 0 and "TRAINED" not in r.stdout, r.stderr


# ----- the math a cell author reaches for ------------------------------------------------------------------------
def test_tensor_math_matches_numpy_and_passes_gradcheck():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 2, (3, 4))
    b = rng.uniform(0.5, 2, (4,))

    def f(a, b):
        return ((a / b).exp().log() + a.sqrt() * a.rsqrt() + a ** 1.5 + (2.0 / a) + abs(a - 1.2)
                + ar.graph.maximum(a, b) - ar.graph.minimum(a, 1.0) + a.mean(-1, keepdims=True)
                + a.var(0, keepdims=True) + a.reciprocal())

    expected = (a / b + np.sqrt(a) / np.sqrt(a) + a ** 1.5 + 2 / a + np.abs(a - 1.2) + np.maximum(a, b)
                - np.minimum(a, 1.0) + a.mean(-1, keepdims=True) + a.var(0, keepdims=True) + 1 / a)
    np.testing.assert_allclose(f(ar.Tensor(a), ar.Tensor(b)).data, expected, rtol=1e-12)
    assert ar.gradcheck(f, [a, b]).passed


def test_domain_errors_are_named():
    x = ar.Tensor(np.array([1.0, -2.0, 0.0]))
    with pytest.raises(ValueError, match=r"Log: input 'x' holds -2.0 at index \(1,\) .* expected x > 0"):
        x.log()
    with pytest.raises(ValueError, match="Sqrt: input 'x' holds -2.0"):
        x.sqrt()
    with pytest.raises(ValueError, match="Divide: input 'b' holds 0.0 at index"):
        ar.Tensor(np.ones(3)) / x
    with pytest.raises(ValueError, match="exp overflows"):
        ar.Tensor(np.array([800.0])).exp()
    with pytest.raises(TypeError, match="exponent must be a number"):
        x ** x
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        x.mean(2)
    with pytest.raises(ValueError, match="hold no elements"):
        ar.Tensor(np.zeros((0, 3))).mean(0)


def test_kinks_pass_with_the_middle_subgradient():
    """abs at 0 and maximum at a tie return the subgradient in the middle of the one-sided
    derivatives: the central difference there is exactly that, so the check passes; a subgradient
    at an end (ReLU's 0 at 0) is reported as a kink."""
    report = ar.gradcheck(lambda x: abs(x), [np.array([0.0, 1.0, -2.0])])
    assert report.passed and not report.failures
    a, b = np.array([1.0, 2.0]), np.array([1.0, 0.5])
    report = ar.gradcheck(lambda a, b: ar.graph.maximum(a, b), [a, b])
    assert report.passed and not report.failures
    ta = ar.Tensor(a, requires_grad=True)
    (g,) = ar.grad(ar.graph.maximum(ta, ar.Tensor(b)), [ta], np.ones(2))
    np.testing.assert_array_equal(g, [0.5, 1.0])
    report = ar.gradcheck(lambda x: x.relu(), [np.array([0.0, 1.0])])
    assert report.passed and report.kinks


def test_layer_norm_normalises_rows_and_passes_gradcheck():
    rng = np.random.default_rng(0)
    ln = LayerNorm(5)
    ln.weight.data[:] = rng.normal(size=5)
    ln.bias.data[:] = rng.normal(size=5)
    x = rng.normal(size=(3, 2, 5)) * 4 + 1
    y = LayerNorm(5, affine=False)(ar.Tensor(x)).data
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)

    def f(x, w, b):
        with ln.substituted({"weight": w, "bias": b}):
            return ln(x)

    assert ar.gradcheck(f, [x, ln.weight.data, ln.bias.data]).passed


# ----- public helpers ----------------------------------------------------------------------------------------------
def test_initialisation_helpers():
    w = orthogonal((12, 3), blocks=4, rng=0)
    for block in np.split(w, 4):
        np.testing.assert_allclose(block.T @ block, np.eye(3), atol=1e-12)
    wide = orthogonal((3, 8), rng=1)
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-12)
    x = xavier_uniform((50, 30), rng=2)
    assert np.abs(x).max() <= np.sqrt(6 / 80) and np.abs(x).max() > 0.9 * np.sqrt(6 / 80)
    assert np.abs(uniform((64, 16), rng=3)).max() <= 0.25
    np.testing.assert_array_equal(uniform((4, 5), rng=7), uniform((4, 5), rng=np.random.default_rng(7)))
    with pytest.raises(ConfigError, match="rng="):
        ar.as_rng("seed")


# ----- the testing kit in float32 ---------------------------------------------------------------------------------
def test_float32_bounds_that_float32_cannot_hold_are_rounded_inward():
    seen = []

    def case(d: Draw) -> GateCase:
        x = d.floats((3,), 0.05, 4.0)
        seen.append(x)
        return GateCase(ar.gates.Log, (x,))

    property_check(case, dtype=np.float32, max_examples=20)
    assert seen and all(x.dtype == np.float32 and x.min() >= 0.05 and x.max() <= 4.0 for x in seen)
    from autograd_rnn.testing.strategies import representable_bounds
    lo, hi = representable_bounds(0.05, 4.1, np.float32)
    assert lo >= 0.05 and np.float32(lo) == lo and hi <= 4.1 and np.float32(hi) == hi


# ----- gradcheck_sequence of a stack -----------------------------------------------------------------------------
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_gradcheck_sequence_checks_a_recurrent_stack(fused):
    rng = np.random.default_rng(0)
    rec = ar.Recurrent("lstm", 2, 3, layers=2, rng=0, fused=fused, truncation=ar.LookBack(1))
    report = ar.gradcheck_sequence(rec, rng.normal(size=(4, 2, 2)))
    assert report.passed and "Recurrent(LSTMLayer x2" in report.name


def test_gradcheck_sequence_names_the_layer_and_step_of_a_bug():
    from .test_sequence import BuggyRNN

    rec = ar.Recurrent(BuggyRNN, 2, 3, layers=2, rng=0)
    with pytest.raises(ar.GradcheckError) as info:
        ar.gradcheck_sequence(rec, np.random.default_rng(0).normal(size=(5, 2, 2)))
    assert info.value.report.bad_steps == [(0, 2), (1, 2)]


def test_gradcheck_sequence_says_what_it_does_not_accept():
    with pytest.raises(ValueError, match="expected a Sequence or a Recurrent"):
        ar.gradcheck_sequence(RNNLayer(2, 3), np.zeros((3, 1, 2)))
    rec = ar.Recurrent("gru", 2, 3, layers=2, dropout=0.5)
    with pytest.raises(ValueError, match=r"dropout .* call .eval\(\)"):
        ar.gradcheck_sequence(rec, np.zeros((3, 1, 2)))
    assert ar.gradcheck_sequence(rec.eval(), np.random.default_rng(0).normal(size=(3, 1, 2))).passed
    with pytest.raises(ValueError, match="xs has shape"):
        ar.gradcheck_sequence(ar.Sequence(RNNLayer(2, 3)), np.zeros((3, 2)))


# ----- options a cell does not take ------------------------------------------------------------------------------
class Open(Cell):
    """Takes any option (``**options``): nothing to check before it is built."""

    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None, **options):
        super().__init__(input_size, hidden_size, dtype)
        self.options = options
        self.parameter("U", np.eye(hidden_size, input_size))

    def step(self, x, h):
        return (x @ self.U.T + h).tanh()


@pytest.mark.parametrize("cell, takes", [("rnn", "nonlinearity"), ("lstm", "none"), ("gru", "none"),
                                         (RNNLayer, "nonlinearity")])
def test_an_option_the_cell_does_not_take_is_named_with_those_it_does(cell, takes):
    with pytest.raises(ConfigError, match=rf"no cell option 'bogus', 'k'; its options are {takes} \("):
        ar.LanguageModel(5, cell=cell, embed_size=2, hidden_size=3, bogus=1, k=2)
    with pytest.raises(ConfigError, match="no cell option 'input_size'"):
        ar.LanguageModel(5, cell=cell, input_size=4)


def test_a_cell_that_takes_any_option_gets_them():
    model = ar.LanguageModel(5, cell=Open, embed_size=2, hidden_size=3, anything=1)
    assert model.rnn.sequences()[0].cell.options == {"anything": 1}


@pytest.mark.parametrize("name", ["hidden_size", "vocab_size", "dropout", "fused", "rng"])
def test_a_cell_option_named_like_a_model_option_is_refused_before_training(corpus, tmp_path, name):
    with pytest.raises(ConfigError, match=rf"--cell-option {name}: the model sets that itself"):
        small(corpus, tmp_path, cell_options={name: 1}).validate()
    r = run_cli("train", "--corpus", corpus, "--cell-option", f"{name}=1", "--steps", "1", "--no-progress",
                "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"--cell-option {name}" in r.stderr


def test_a_checkpoint_whose_cell_options_shadow_the_models_is_refused(corpus, tmp_path):
    ar.fit(small(corpus, tmp_path / "c", steps=2, cell="rnn", cell_options={"nonlinearity": "relu"}))
    ck = ar.load_checkpoint(tmp_path / "c" / "last.npz")
    assert ar.model_from_checkpoint(ck)[0].rnn.sequences()[0].cell.nonlinearity == "relu"
    ck.config["model"]["cell_options"] = {"hidden_size": 3}
    with pytest.raises(CheckpointError, match="cell_options"):
        ar.model_from_checkpoint(ck)


def test_the_command_line_names_an_option_the_cell_does_not_take(corpus, tmp_path):
    r = run_cli("train", "--corpus", corpus, "--cell", "lstm", "--cell-option", "nonlinearity=relu", "--steps", "1",
                "--no-progress", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.strip() == ("error: LSTMLayer: no cell option 'nonlinearity'; its options "
                                                      "are none (input and hidden sizes, dtype and rng are set by "
                                                      "the model)"), r.stderr


# ----- the user's own mistakes are named as theirs -----------------------------------------------------------------
HEAD = "import sys\nimport numpy as np\nimport autograd_rnn as ar\nfrom autograd_rnn.nodes import Cell\n"
GOOD_INIT = ("    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):\n"
             "        super().__init__(input_size, hidden_size, dtype)\n"
             "        self.parameter('W', ar.init.xavier_uniform((hidden_size, input_size), rng=ar.as_rng(rng)))\n")
GOOD_STEP = "    def step(self, x, h):\n        return (x @ self.W.T + h).tanh()\n"
MISTAKES = {  # name: (the file's text after HEAD, what the one-line error must say)
    "no rng=": ("class C(Cell):\n" + GOOD_INIT.replace(", rng=None", "").replace("rng=ar.as_rng(rng)", "rng=0")
                + GOOD_STEP, ["takes no rng=", "mycell.py:5", "rng=..."]),
    "no dtype=": ("class C(Cell):\n" + GOOD_INIT.replace("dtype=np.float64, ", "").replace(", dtype)", ")")
                  + GOOD_STEP, ["takes no dtype=", "mycell.py:5"]),
    "constructor raises": ("class C(Cell):\n" + GOOD_INIT + "        raise RuntimeError('broken on purpose')\n"
                           + GOOD_STEP, ["RuntimeError: broken on purpose", "mycell.py:9, in __init__",
                                         "constructor takes (input_size, hidden_size"]),
    "step raises": ("class C(Cell):\n" + GOOD_INIT + "    def step(self, x, h):\n        return h[0, 0, 0]\n",
                    ["mycell.py:10, in step", "step(x, state) takes x (batch, input_size)"]),
    "step breaks python": ("class C(Cell):\n" + GOOD_INIT + "    def step(self, x, h):\n        return 1 / 0\n",
                           ["ZeroDivisionError", "mycell.py:10, in step"]),
    "step returns an array": ("class C(Cell):\n" + GOOD_INIT + "    def step(self, x, h):\n        return h.data\n",
                              ["its step returned a ndarray", "must return one Tensor"]),
    "step gives NaN": ("class C(Cell):\n" + GOOD_INIT + "    def step(self, x, h):\n"
                       "        return (x @ self.W.T + h) * float('nan')\n", ["NaN or infinity", "mycell.py:5"]),
    "SyntaxError": ("def broken(:\n    pass\n", ["mycell.py:5: SyntaxError", "must import without errors"]),
    "raises on import": ("raise ImportError('no such helper')\n", ["mycell.py:5: ImportError: no such helper"]),
    "sys.exit on import": ("sys.exit(0)\n", ["mycell.py:5: called sys.exit(0)", "without exiting"]),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_mistake_in_a_cells_own_code_is_a_one_line_error_naming_the_file_and_line(mistake, corpus, tmp_path):
    source, says = MISTAKES[mistake]
    (tmp_path / "mycell.py").write_text(HEAD + source)
    with pytest.raises(ConfigError) as e:
        ar.fit(small(corpus, tmp_path / "o", steps=2, cell=f"{tmp_path / 'mycell.py'}:C"))
    message = str(e.value)
    assert isinstance(e.value, ar.errors.CellError) and "\n" not in message, message
    missing = [s for s in says if s not in message]
    assert not missing, f"{missing} not in: {message}"
    assert "config() misses" not in message and "a bug in autograd_rnn" not in message


@pytest.mark.parametrize("mistake", ["step raises", "sys.exit on import", "no rng="])
def test_the_command_line_says_a_cells_mistake_in_one_line_with_exit_2(mistake, corpus, tmp_path):
    source, says = MISTAKES[mistake]
    (tmp_path / "mycell.py").write_text(HEAD + source)
    r = run_cli("train", "--corpus", corpus, "--cell", "mycell.py:C", "--steps", "2", "--hidden", "8",
                "--no-progress", "--no-plot", cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr and lines[-1].startswith("error: "), r.stderr
    assert [line for line in lines if line.startswith("error: ")] == [lines[-1]] and says[0] in lines[-1]
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_module_specs_and_odd_names_are_one_line_errors(corpus, tmp_path):
    (tmp_path / "exits.py").write_text(HEAD + "sys.exit(3)\n")
    (tmp_path / "noext").write_text(HEAD + "class C(Cell):\n" + GOOD_INIT + GOOD_STEP)
    cases = {"exits:C": "called sys.exit(3)", "noext:C": "noext is a file here: name it by its path, ./noext:C",
             "nosuchmodule:C": "no module named 'nosuchmodule'"}
    for spec, says in cases.items():
        r = run_cli("train", "--corpus", corpus, "--cell", spec, "--steps", "2", "--hidden", "8", "--no-progress",
                    cwd=tmp_path)
        assert r.returncode == 2 and says in r.stderr and len(r.stderr.strip().splitlines()) == 1, (spec, r.stderr)
    r = run_cli("train", "--corpus", corpus, "--cell", "./noext:C", "--steps", "2", "--hidden", "8", "--embed", "4",
                "--batch", "2", "--seq-len", "8", "--no-progress", "--no-plot", cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # a Python file named by its path loads whatever its extension


def test_an_option_named_like_a_size_is_refused_for_a_cell_taking_any_option(corpus, tmp_path):
    r = run_cli("train", "--corpus", corpus, "--cell", f"{__file__}:Open", "--cell-option", "input_size=3",
                "--steps", "2", "--no-progress", cwd=tmp_path)
    assert r.returncode == 2 and "no cell option 'input_size'" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_cell_file_imports_a_helper_next_to_it_and_the_check_says_it_passed(corpus, tmp_path):
    folder = tmp_path / "cells"
    folder.mkdir()
    (folder / "myhelper.py").write_text("def act(t):\n    return t.tanh()\n")
    (folder / "mycell.py").write_text(HEAD + "from myhelper import act\nclass C(Cell):\n    static_step = True\n"
                                      + GOOD_INIT + "    def step(self, x, h):\n        return act(x @ self.W.T + h)\n")
    path_before = list(sys.path)
    r = run_cli("train", "--corpus", corpus, "--cell", str(folder / "mycell.py:C"), "--steps", "2", "--hidden", "8",
                "--embed", "4", "--batch", "2", "--seq-len", "8", "--no-progress", "--no-plot", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "gradient check passed: C's backward agrees with finite differences" in r.stderr
    load_cell(f"{folder / 'mycell.py'}:C", [str(folder / "mycell.py")])
    assert sys.path == path_before  # the folder is on the path only while the file is imported


def test_a_step_failing_while_sampling_or_evaluating_names_the_cell(corpus, tmp_path):
    (tmp_path / "mycell.py").write_text(HEAD + "import os\nclass C(Cell):\n" + GOOD_INIT
                                        + "    def step(self, x, h):\n        if os.environ.get('BREAK_STEP'):\n"
                                          "            raise KeyError('broken now')\n"
                                          "        return (x @ self.W.T + h).tanh()\n")
    assert run_cli("train", "--corpus", corpus, "--cell", "mycell.py:C", "--steps", "2", "--hidden", "8",
                   "--no-progress", "--no-plot", "--out", "o", cwd=tmp_path).returncode == 0
    for verb in (["sample", "--length", "5"], ["evaluate", "--corpus", corpus]):
        r = run_cli(*verb, "--checkpoint", "o/last.npz", "--allow-import", "mycell.py", cwd=tmp_path,
                    env={**os.environ, "BREAK_STEP": "1"})
        assert r.returncode == 2 and "KeyError: 'broken now'" in r.stderr and "mycell.py:12, in step" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
