"""Fuzzing the command line with hostile arguments. The documented outcomes of ``python -m autograd_rnn VERB``
are exit 0 (success), 1 (gradcheck failures), 2 (an error: stderr is exactly one line starting with
"error: "), 3 (training diverged: one "error: " line) and 130 (interrupted); anything else, a traceback
on stderr, or a run that does not finish in TIMEOUT seconds is a failure.

Each run gets its own working directory and output folder, and an address-space limit of 4 GiB, so a
run that tries to allocate a huge model fails inside the child (as a MemoryError the CLI must turn into
an "error: " line) instead of exhausting the machine.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn.errors import AutogradRNNError, CheckpointError
from autograd_rnn.train.runs import RUN_FILES

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20
MEMORY_LIMIT = 4 << 30
TINY = ["--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8", "--steps", "2", "--eval-every", "2",
        "--no-progress", "--no-plot"]
CLI = settings(deadline=None, max_examples=3, phases=[Phase.explicit, Phase.reuse, Phase.generate])
"""Subprocess runs are slow: no shrinking (the failing command is printed in full)."""
_counter = itertools.count()


@dataclass
class Result:
    args: list
    rc: int | None
    out: str
    err: str
    cwd: Path

    def __str__(self) -> str:
        shown = " ".join(a if isinstance(a, str) else repr(a) for a in self.args)
        return f"`python -m autograd_rnn {shown}` -> exit {self.rc}\n--- stderr ---\n{self.err[-3000:]}"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(args: list, cwd: Path, timeout: float = TIMEOUT) -> Result:
    """``python -m autograd_rnn *args`` in ``cwd`` (str or bytes arguments), with the package under test first
    on the path."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cwd.mkdir(parents=True, exist_ok=True)
    cmd = [os.fsencode(sys.executable), b"-m", b"autograd_rnn", *(os.fsencode(a) for a in args)]
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout, preexec_fn=_limit_memory)
    except subprocess.TimeoutExpired as e:
        err = (e.stderr or b"").decode("utf-8", "replace")
        return Result(args, None, (e.stdout or b"").decode("utf-8", "replace"), err, cwd)
    return Result(args, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), cwd)


def assert_documented(r: Result, allowed=(0, 1, 2, 3, 130)) -> None:
    """The documented-outcome rule, and the exit code one of ``allowed``."""
    assert r.rc is not None, f"still running after {TIMEOUT} s (a hang, or a refusal that is not quick): {r}"
    assert "Traceback" not in r.err, f"a traceback on stderr: {r}"
    assert r.rc in (0, 1, 2, 3, 130), f"an undocumented exit code: {r}"
    lines = r.err.rstrip("\n").split("\n")
    if r.rc == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), (
            f"exit 2 must come with exactly one stderr line starting with 'error: ': {r}")
    if r.rc == 3:
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1, f"exit 3 (diverged) must come with one 'error: ' line: {r}"
    assert r.rc in allowed, f"expected exit {' or '.join(map(str, allowed))}: {r}"


def assert_finite_checkpoint(path: Path, what: str) -> None:
    """``path`` loads, its weights are finite, and the model rebuilt from it gives finite logits: nothing
    sampled or evaluated from it comes from NaN or infinity."""
    try:
        ck = ar.load_checkpoint(path)
    except CheckpointError as e:
        raise AssertionError(f"{what}: {path} does not load: {e}") from e
    bad = [k for k, v in ck.model.items() if not np.isfinite(v).all()]
    assert not bad, f"{what}: {path} holds non-finite weights in {bad}"
    model, vocab = ar.model_from_checkpoint(ck)
    ids = np.arange(len(vocab))
    # every token alone, as sampling feeds them; all tokens at once (the projected-embedding path); one sequence
    for tokens in [ids[i:i + 1].reshape(1, 1) for i in ids] + [ids.reshape(1, -1), ids.reshape(-1, 1)]:
        try:
            with ar.no_grad(), np.errstate(all="ignore"):
                logits, _ = model(tokens)
        except AutogradRNNError:
            continue  # refusing to compute from such weights is a documented outcome
        bad = sorted({int(i) for i in tokens[np.nonzero(~np.isfinite(logits.data).all(axis=-1))]})
        assert not bad, (
            f"{what}: {path} has finite weights (largest {max(float(np.abs(v).max()) for v in ck.model.values()):.3g})"
            f", but the model rebuilt from it gives NaN/inf logits without an error (token ids {bad[:10]} of "
            f"{len(vocab)}, input shape {tokens.shape})")


# ----- fixtures ---------------------------------------------------------------------------------------------------
def _text(n_lines: int = 60, seed: int = 0) -> str:
    words = "the quick brown fox jumps over a lazy dog while cats sit on warm mats and birds sing".split()
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(words) for _ in range(10)) for _ in range(n_lines)) + "\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with the corpora the cases name, and a trained checkpoint ``trained/last.npz``."""
    d = tmp_path_factory.mktemp("cli")
    (d / "small.txt").write_text(_text(), encoding="utf-8")
    (d / "three.txt").write_text("abc", encoding="utf-8")
    (d / "empty.txt").write_bytes(b"")
    rng = random.Random(1)
    (d / "garbage.bin").write_bytes(b"\xff\xfe\x00" + bytes(rng.randrange(256) for _ in range(3000)))
    (d / "adir").mkdir()
    with open(os.fsencode(d) + b"/na\xffme.txt", "wb") as f:
        f.write(_text(seed=2).encode("utf-8"))
    r = run_cli(["train", "--corpus", str(d / "small.txt"), *TINY, "--out", str(d / "trained")], d / "runs" / "fixture")
    assert r.rc == 0 and (d / "trained" / "last.npz").exists(), f"a tiny valid training run failed: {r}"
    return d


def fresh(work: Path) -> Path:
    return work / "runs" / f"run{next(_counter)}"


# ----- hostile arguments, one at a time ---------------------------------------------------------------------------
REFUSED, ANY, OK = (2,), (0, 2, 3), (0,)
TRAIN_CASES = [  # (id, extra arguments (corpus small.txt and the tiny model unless given), allowed exits)
    ("epochs-inf", ["--epochs", "inf"], ANY),
    ("epochs-nan", ["--epochs", "nan"], REFUSED),
    ("epochs-negative", ["--epochs", "-1"], REFUSED),
    ("epochs-1e30", ["--epochs", "1e30"], ANY),
    ("hidden-0", ["--hidden", "0"], REFUSED),
    ("hidden-negative", ["--hidden", "-3"], REFUSED),
    ("hidden-1e8", ["--hidden", "100000000"], ANY),
    ("hidden-abc", ["--hidden", "abc"], REFUSED),
    ("layers-1e5", ["--layers", "100000"], ANY),
    ("steps-0", ["--steps", "0"], REFUSED),
    ("batch-1e9", ["--batch", str(10**9)], (0, 2)),
    ("seq-len-1e9", ["--seq-len", str(10**9)], (0, 2)),
    ("lr-1e39", ["--lr", "1e39"], ANY),
    ("lr-nan", ["--lr", "nan"], REFUSED),
    ("lr-negative", ["--lr", "-1"], REFUSED),
    ("dropout-1.5", ["--dropout", "1.5"], REFUSED),
    ("truncation-junk", ["--truncation", "junk"], REFUSED),
    ("schedule-junk", ["--schedule", "junk"], REFUSED),
    ("out-empty", ["--out", ""], (0, 2)),
    ("corpus-missing", ["--corpus", "{work}/missing.txt"], REFUSED),
    ("corpus-directory", ["--corpus", "{work}/adir"], REFUSED),
    ("corpus-empty", ["--corpus", "{work}/empty.txt"], REFUSED),
    ("corpus-binary", ["--corpus", "{work}/garbage.bin"], REFUSED),
    ("corpus-3-chars", ["--corpus", "{work}/three.txt"], (0, 2)),
    ("corpus-non-utf8-name", ["--corpus", b"{work}/na\xffme.txt"], OK),
    ("cell-junk", ["--cell", "junk"], REFUSED),
    ("cell-junk-module", ["--cell", "junk:Class"], REFUSED),
    ("cell-missing-file", ["--cell", "nonexistent.py:Cell"], REFUSED),
]


def _expand(args: list, work: Path) -> list:
    w = str(work)
    return [a.replace(b"{work}", os.fsencode(w)) if isinstance(a, bytes) else a.replace("{work}", w) for a in args]


def _train_args(extra: list, work: Path, out: Path) -> list:
    base = ["train", "--corpus", str(work / "small.txt"), *TINY, "--out", str(out)]
    return base + _expand(extra, work)  # argparse: a later option overrides an earlier one


@pytest.mark.parametrize("extra, allowed", [c[1:] for c in TRAIN_CASES], ids=[c[0] for c in TRAIN_CASES])
def test_train_with_a_hostile_argument_has_a_documented_outcome(work, extra, allowed):
    cwd = fresh(work)
    out = cwd / "out"
    r = run_cli(_train_args(extra, work, out), cwd)
    assert_documented(r, allowed)
    if r.rc == 0:
        last = (cwd if extra[:2] == ["--out", ""] else out) / "last.npz"
        assert last.exists(), f"exit 0 but no {last}: {r}"
        assert_finite_checkpoint(last, str(r.args))


SAMPLE_CASES = [
    ("sample-missing-checkpoint", ["sample", "--checkpoint", "{work}/nope.npz"], REFUSED),
    ("sample-not-a-checkpoint", ["sample", "--checkpoint", "{work}/small.txt"], REFUSED),
    ("sample-binary-checkpoint", ["sample", "--checkpoint", "{work}/garbage.bin"], REFUSED),
    ("sample-temperature-0", ["sample", "--checkpoint", "{work}/trained/last.npz", "--temperature", "0"], (0, 2)),
    ("sample-temperature-negative", ["sample", "--checkpoint", "{work}/trained/last.npz", "--temperature", "-1"],
     REFUSED),
    ("sample-temperature-nan", ["sample", "--checkpoint", "{work}/trained/last.npz", "--temperature", "nan"], REFUSED),
    ("sample-top-k-0", ["sample", "--checkpoint", "{work}/trained/last.npz", "--top-k", "0"], REFUSED),
    ("sample-length-negative", ["sample", "--checkpoint", "{work}/trained/last.npz", "--length", "-5"], REFUSED),
    ("evaluate-missing-checkpoint", ["evaluate", "--checkpoint", "{work}/nope.npz", "--corpus", "{work}/small.txt"],
     REFUSED),
    ("evaluate-not-a-checkpoint", ["evaluate", "--checkpoint", "{work}/small.txt", "--corpus", "{work}/small.txt"],
     REFUSED),
    ("gradcheck-cases-0", ["gradcheck", "--cases", "0"], REFUSED),
    ("evaluate-split-test", ["evaluate", "--checkpoint", "{work}/trained/last.npz", "--split", "test"], (0,)),
    ("evaluate-split-bogus", ["evaluate", "--checkpoint", "{work}/trained/last.npz", "--split", "dev"], REFUSED),
    ("evaluate-split-and-corpus", ["evaluate", "--checkpoint", "{work}/trained/last.npz", "--split", "val",
                                   "--corpus", "{work}/small.txt"], REFUSED),
    ("evaluate-neither", ["evaluate", "--checkpoint", "{work}/trained/last.npz"], REFUSED),
]


@pytest.mark.parametrize("args, allowed", [c[1:] for c in SAMPLE_CASES], ids=[c[0] for c in SAMPLE_CASES])
def test_sample_evaluate_gradcheck_with_a_hostile_argument_have_a_documented_outcome(work, args, allowed):
    r = run_cli(_expand(args, work), fresh(work))
    assert_documented(r, allowed)
    if r.rc == 0:
        assert r.out.strip(), f"exit 0 but nothing printed: {r}"


# ----- hostile arguments, several at once (hypothesis) ------------------------------------------------------------
OPTION_VALUES = {
    "--hidden": ["1", "3", "0", "-1", "x", "1e3"],
    "--embed": ["1", "0", "2.5"],
    "--layers": ["2", "0", "-2"],
    "--batch": ["1", "0", "5000"],
    "--seq-len": ["1", "2", "0"],
    "--dropout": ["0.5", "-0.1", "1", "nan"],
    "--lr": ["1e-3", "0", "inf", "1e30"],
    "--clip": ["0", "none", "-1", "nan"],
    "--clip-value": ["1e-3", "0", "-1", "inf"],
    "--weight-decay": ["-1", "nan", "1e30"],
    "--truncation": ["lookback:1", "lookback:-1", "tbptt:2,1", "tbptt:1,2", "tbptt:", "full:1"],
    "--schedule": ["cosine", "halve", "step:1,0.5", "step:0,2", "step:x"],
    "--optimizer": ["sgd", "adagrad", "rmsprop", "adamw", "bogus"],
    "--level": ["word", "byte"],
    "--batching": ["lines", "tokens"],
    "--max-vocab": ["1", "2", "0"],
    "--eval-every": ["1", "0"],
    "--eval-tokens": ["1", "0"],
    "--sample-length": ["0", "-1"],
    "--temperature": ["1e-30", "0", "inf"],
    "--dtype": ["float64", "float16"],
    "--seed": ["-1", str(2**70)],
    "--cell": ["rnn", "gru", "RNN", "lstm:Cell"],
    "--cell-option": ["nonlinearity=relu", "bogus=1", "=1"],
    "--split": ["nanogpt", "0.5,0.5", "1,0", "0,1", "x", "0.9,0.05,0.05,0", "round:0.8,0.1,0.1", ""],
    "--val-corpus": ["{work}/small.txt", "{work}/nope.txt", "{work}/garbage.bin", "", "{work}"],
    "--patience": ["1", "0", "-1", "x"],
    "--config": ["{work}/nope.toml", "{work}/small.txt", "{work}/garbage.bin", "{work}/trained/config.toml"],
}


@settings(CLI, max_examples=3)
@given(options=st.lists(st.sampled_from(sorted(OPTION_VALUES)), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: st.sampled_from(OPTION_VALUES[k]) for k in keys})))
def test_train_with_random_option_combinations_has_a_documented_outcome(work, options):
    extra = [x for kv in options.items() for x in kv]
    cwd = fresh(work)
    r = run_cli(_train_args(extra, work, cwd / "out"), cwd)
    assert_documented(r, ANY)
    if r.rc == 0:
        assert_finite_checkpoint(cwd / "out" / "last.npz", str(r.args))


# ----- divergence -------------------------------------------------------------------------------------------------
def check_divergence_outcome(r: Result, out: Path, work: Path) -> None:
    """Exit 3 with one error line, and the checkpoint it names as the last good one is usable (finite weights
    and logits); or exit 0, and ``last.npz`` is usable; and ``sample`` on every checkpoint left in ``out``
    prints text from a usable checkpoint or refuses with exit 2."""
    if r.rc == 0:
        assert_finite_checkpoint(out / "last.npz", f"training exited 0: {r}")
    if r.rc == 3:
        (line,) = [line for line in r.err.splitlines() if line.startswith("error: ")]
        named = re.findall(r"(\S+\.npz)", line)
        for name in named:
            path = Path(name) if Path(name).is_absolute() else r.cwd / name
            assert_finite_checkpoint(path, f"the last good checkpoint named by {line!r}")
    for ck in sorted(out.glob("*.npz")):
        s = run_cli(["sample", "--checkpoint", str(ck), "--length", "20", "--seed", "0"], fresh(work))
        assert_documented(s, (0, 2))
        if s.rc == 0:
            assert_finite_checkpoint(ck, f"`sample` exited 0 and printed {s.out.strip()[:40]!r} from {ck.name}")
            assert "RuntimeWarning" not in s.err, f"sample printed text computed through an overflow or NaN: {s}"


DIVERGENCE = [  # (id, extra arguments, allowed exits)
    ("lr-1e39", ["--lr", "1e39"], (3,)),  # diverges before any checkpoint
    ("lr-1e38-after-a-checkpoint", ["--lr", "1e38", "--clip", "none"], (2, 3)),
    ("lr-1e30-no-clip", ["--lr", "1e30", "--clip", "none"], (0, 2, 3)),
]


@pytest.mark.parametrize("extra, allowed", [c[1:] for c in DIVERGENCE], ids=[c[0] for c in DIVERGENCE])
def test_divergence_exits_3_and_leaves_only_usable_checkpoints(work, extra, allowed):
    cwd = fresh(work)
    out = cwd / "out"
    args = ["train", "--corpus", str(work / "small.txt"), *extra, "--optimizer", "sgd", "--eval-every", "1",
            "--steps", "5", "--batch", "1", "--seq-len", "4", "--hidden", "8", "--embed", "4", "--no-progress",
            "--no-plot", "--out", str(out)]
    r = run_cli(args, cwd)
    assert_documented(r, allowed)
    check_divergence_outcome(r, out, work)


@settings(CLI, max_examples=2)
@given(lr=st.sampled_from(["1e38", "1e30", "1e20"]), clip=st.sampled_from(["none", "5"]),
       optimizer=st.sampled_from(["sgd", "momentum", "adam"]))
def test_huge_learning_rates_diverge_cleanly_or_leave_usable_checkpoints(work, lr, clip, optimizer):
    cwd = fresh(work)
    out = cwd / "out"
    args = ["train", "--corpus", str(work / "small.txt"), "--lr", lr, "--clip", clip, "--optimizer", optimizer,
            "--eval-every", "1", "--steps", "4", "--batch", "1", "--seq-len", "4", "--hidden", "8", "--embed", "4",
            "--no-progress", "--no-plot", "--out", str(out)]
    r = run_cli(args, cwd)
    assert_documented(r, (0, 2, 3))
    check_divergence_outcome(r, out, work)


@pytest.mark.parametrize("lr", ["1e39", "1e30"])
def test_divergence_without_validation_or_samples_is_still_never_saved(work, lr):
    """No validation split and no periodic sample: nothing but the finite check before writing stands
    between blown-up weights and the checkpoint."""
    cwd = fresh(work)
    cwd.mkdir(parents=True)
    out = cwd / "out"
    tiny = cwd / "tiny.txt"
    tiny.write_text("the cat sat on a mat.\n")  # 22 characters: a validation split of one, none to validate on
    args = ["train", "--corpus", str(tiny), "--lr", lr, "--clip", "none", "--optimizer", "sgd", "--eval-every", "1",
            "--steps", "5", "--batch", "1", "--seq-len", "4", "--hidden", "8", "--embed", "4", "--sample-length", "0",
            "--no-progress", "--no-plot", "--out", str(out)]
    from autograd_rnn.data import split_stream

    assert len(split_stream(np.arange(len(tiny.read_text())))[1]) < 2  # the trainer validates nothing
    r = run_cli(args, cwd)
    assert_documented(r, (0, 3))
    check_divergence_outcome(r, out, work)


# ----- links and special files where a run writes, and as its corpus (hypothesis) -----------------------------------
PLANTED_NAMES = [".lock", *RUN_FILES, f".history.json.{0}.tmp", ".last.npz.0.tmp"]
PLANTED_KINDS = ["link to a file outside", "dangling link", "link to a folder", "fifo", "folder"]


def plant(folder: Path, name: str, kind: str, victim: Path) -> None:
    path = folder / name
    if kind == "link to a file outside":
        path.symlink_to(victim)
    elif kind == "dangling link":
        path.symlink_to(folder / "nowhere")
    elif kind == "link to a folder":
        path.symlink_to(victim.parent)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()


@settings(CLI, max_examples=4)
@given(planted=st.lists(st.tuples(st.sampled_from(PLANTED_NAMES), st.sampled_from(PLANTED_KINDS)), min_size=1,
                        max_size=3, unique_by=lambda t: t[0]),
       resume=st.booleans())
def test_links_and_special_files_in_the_out_folder_are_never_followed_nor_waited_on(work, planted, resume):
    """Whatever sits where a run writes, the run finishes or refuses in one line, quickly; no file outside the
    folder changes, and no temporary file of ours is left."""
    cwd = fresh(work)
    out = cwd / "out"
    victim = cwd / "victim.txt"
    cwd.mkdir(parents=True)
    victim.write_text("precious")
    if resume:
        shutil.copytree(work / "trained", out)  # the fixture's run, on the same corpus and settings
    else:
        out.mkdir()
    for name, kind in planted:
        if os.path.lexists(out / name):
            (out / name).unlink()
        plant(out, name, kind, victim)
    r = run_cli(_train_args(["--steps", "4", *(["--resume"] if resume else [])], work, out), cwd)
    assert_documented(r, (0, 2))
    assert victim.read_text() == "precious", f"a file outside --out was written through a link: {r}"
    ours = [p.name for p in out.iterdir() if p.name.endswith(".tmp") and p.is_file() and not p.is_symlink()
            and p.name not in PLANTED_NAMES]
    assert not ours, f"temporary files left behind: {ours}: {r}"


CORPUS_KINDS = ["fifo", "link to /dev/zero", "link to /dev/null", "link to a folder", "dangling link",
                "link to a good corpus", "sparse file above the limit", "empty file"]


@settings(CLI, max_examples=4)
@given(kind=st.sampled_from(CORPUS_KINDS), verb=st.sampled_from(["train", "evaluate"]))
def test_a_corpus_that_is_a_link_or_a_special_file_is_read_with_bounds_or_refused_at_once(work, kind, verb):
    cwd = fresh(work)
    cwd.mkdir(parents=True)
    path = cwd / "corpus.txt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "sparse file above the limit":
        with open(path, "wb") as f:
            f.truncate(100_000_001)
    elif kind == "empty file":
        path.write_bytes(b"")
    else:
        target = {"link to /dev/zero": "/dev/zero", "link to /dev/null": "/dev/null", "link to a folder": str(cwd),
                  "dangling link": str(cwd / "nowhere"), "link to a good corpus": str(work / "small.txt")}[kind]
        path.symlink_to(target)
    if verb == "train":
        r = run_cli(_train_args(["--corpus", str(path)], work, cwd / "out"), cwd)
    else:
        r = run_cli(["evaluate", "--checkpoint", str(work / "trained" / "last.npz"), "--corpus", str(path)], cwd)
    assert_documented(r, (0,) if kind == "link to a good corpus" else (2,))
    if r.rc == 2:
        assert "corpus" in r.err and "--hidden" not in r.err, r


# ----- the user's own code failing at import, construction and step (hypothesis) ----------------------------------
FAILURES = {
    "raise ValueError": "raise ValueError('bad value')",
    "raise TypeError": "raise TypeError('bad type')",
    "raise KeyError": "raise KeyError('k')",
    "raise RuntimeError": "raise RuntimeError('boom')",
    "raise an exception of its own": "raise type('MyError', (Exception,), {})('mine')",
    "divide by zero": "1 / 0",
    "sys.exit(0)": "sys.exit(0)",
    "sys.exit(5)": "sys.exit(5)",
    "an assertion": "assert False, 'not ready'",
    "a NameError": "undefined_name",
    "misuse an operation": "ar.Tensor(np.ones((2, 3))) @ ar.Tensor(np.ones((2, 3)))",
}
STEP_RESULTS = {  # a step that returns something other than the new state
    "None": "None",
    "an ndarray": "h.data",
    "a tuple": "(h, h)",
    "a wrong shape": "ar.Tensor(np.zeros((1, 1)))",
    "NaN": "h * float('nan')",
    "infinity": "h + float('inf')",
}


def cell_source(where: str, failure: str) -> str:
    code = FAILURES.get(failure, "pass")
    at_import = f"{code}\n" if where == "import" else ""
    in_init = f"        {code}\n" if where == "constructor" else ""
    good = "        return (x @ self.W.T + h).tanh()"
    step = (f"        {code}\n        return h" if where == "step" and failure in FAILURES else
            f"        return {STEP_RESULTS[failure]}" if where == "step" else good)
    return ("import sys\nimport numpy as np\nimport autograd_rnn as ar\nfrom autograd_rnn.nodes import Cell\n"
            f"{at_import}class C(Cell):\n"
            "    def __init__(self, input_size, hidden_size, dtype=np.float64, rng=None):\n"
            "        super().__init__(input_size, hidden_size, dtype)\n"
            "        self.parameter('W', ar.init.xavier_uniform((hidden_size, input_size), rng=ar.as_rng(rng)))\n"
            f"{in_init}    def step(self, x, h):\n{step}\n")


@settings(CLI, max_examples=5)
@given(case=st.one_of(st.tuples(st.sampled_from(["import", "constructor", "step"]), st.sampled_from(sorted(FAILURES))),
                      st.tuples(st.just("step"), st.sampled_from(sorted(STEP_RESULTS)))),
       check=st.booleans())
def test_a_custom_cell_failing_in_its_own_code_is_one_line_naming_its_file(work, case, check):
    """Never exit 70 ("a bug in autograd_rnn"), never exit 0 with nothing done: exit 2, one line, naming the
    cell's file, whether or not the gradient check runs first."""
    where, failure = case
    cwd = fresh(work)
    cwd.mkdir(parents=True)
    (cwd / "mycell.py").write_text(cell_source(where, failure))
    r = run_cli(_train_args(["--cell", "mycell.py:C", *([] if check else ["--no-check-cell"])], work, cwd / "out"),
                cwd)
    assert_documented(r, (2,))
    assert "mycell.py" in r.err, f"the error does not name the cell's file: {r}"
