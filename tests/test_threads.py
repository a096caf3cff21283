"""Threads for matrix products: the policy's decisions (never timings), the pool, how products are cut, and
the promise that results never depend on the thread count or the machine's load."""

import ast
import os
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import autograd_rnn as ar
from autograd_rnn import products, threads
from autograd_rnn.checkpoint import load_checkpoint
from autograd_rnn.errors import ConfigError
from autograd_rnn.nodes import CELLS
from autograd_rnn.products import matmul, plan
from autograd_rnn.train import TrainConfig, train

ROOT = pathlib.Path(ar.__file__).resolve().parent
BAD_COUNTS = ["0", "-1", "abc", "2.0", "1.5", str(10**20), "1000000000", "two", "1e3", "0x2"]


def run_cli(*args, env=None, timeout=120):
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "autograd_rnn", *args], capture_output=True, text=True, env=full,
                          timeout=timeout)


# ----- decisions ---------------------------------------------------------------------------------
def test_auto_takes_every_core_up_to_the_users_cap_and_a_fixed_count_wins():
    assert threads.decide(2) == 2 and threads.decide(16) == 16
    assert threads.decide(16, cap=4) == 4 and threads.decide(2, cap=1) == 1
    assert threads.decide(16, cap=4, fixed=16) == 16 and threads.decide(2, fixed=1) == 1


@pytest.mark.parametrize("bad", BAD_COUNTS + [True, 0, -3, 2.0, 10**20])
def test_a_bad_count_is_refused_naming_the_setting_and_the_range(bad):
    with pytest.raises(ConfigError, match=r"--threads=.*expected 'auto' or a whole number of threads from 1 to 2"):
        threads.parse(bad, "--threads", 2)


def test_a_count_above_the_cores_is_refused_and_auto_and_counts_parse():
    with pytest.raises(ConfigError, match="from 1 to 4"):
        threads.parse("5", "x", 4)
    assert threads.parse("auto", "x", 4) is None and threads.parse(None, "x", 4) is None
    assert threads.parse(" AUTO ", "x", 4) is None and threads.parse("4", "x", 4) == 4 and threads.parse(3, "x", 4) == 3


# ----- how products are cut ----------------------------------------------------------------------
@given(st.integers(1, 5000), st.integers(1, 2000), st.integers(1, 5000))
def test_a_product_is_cut_into_pieces_that_cover_it_by_its_sizes_alone(m, k, n):
    cut = plan(m, k, n)
    if cut is None:
        return
    axis, bounds = cut
    size = (m, n)[axis]
    assert bounds[0][0] == 0 and bounds[-1][1] == size
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(hi - lo >= (products.MIN_ROWS if axis == 0 else products.MIN_COLS) for lo, hi in bounds)
    assert products.MIN_PIECES <= len(bounds) <= products.MAX_PIECES
    assert 2.0 * m * k * n >= products.MIN_PIECES * products.PIECE_FLOPS
    assert plan(m, k, n) == cut


def test_small_products_stay_whole():
    assert plan(32, 64, 192) is None  # a GRU step at batch 32, hidden 64
    assert plan(1, 100, 400) is None  # the tutorial's sentence step
    assert plan(32, 256, 1024) is None  # the default job's time step: one piece
    assert plan(1, 8192, 8192)[0] == 1  # one row: cut along the columns
    assert plan(1024, 2048, 256)[0] == 0  # a recurrent weight gradient: through its larger operand, the rows
    assert plan(20, 100, 8000) is None and plan(20, 400, 8000)[0] == 1


SHAPES = st.tuples(st.integers(1, 700), st.integers(1, 300), st.integers(1, 700))


@given(SHAPES, st.sampled_from([np.float32, np.float64]), st.integers(0, 3))
@example((512, 256, 512), np.float32, 0)  # cut along the rows, as every layout below
@example((512, 256, 512), np.float64, 3)
@example((64, 600, 2048), np.float32, 1)  # cut along the columns
@example((64, 600, 2048), np.float64, 2)
def test_matmul_is_the_product_and_its_bits_never_depend_on_the_threads(shape, dtype, layout):
    m, k, n = shape
    rng = np.random.default_rng(m * 1000 + k)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    if layout & 1:
        a = np.asfortranarray(a)  # a transposed view, as G.T in a weight gradient
    if layout & 2:
        b = np.ascontiguousarray(b.T).T  # as W.T in a linear map
    tol = 1e-4 if dtype == np.float32 else 1e-12
    results = []
    before = threads.setting()
    try:
        for count in (1, 2):
            threads.set_threads(count)
            results.append(matmul(a, b))
            out = np.empty((m, n), dtype)
            assert matmul(a, b, out=out) is out
            results.append(out)
        results.append(_with_helpers(a, b, helpers=5))
    finally:
        threads.set_threads(before)
    np.testing.assert_allclose(results[0], a.astype(np.float64) @ b.astype(np.float64), rtol=tol, atol=tol * k)
    for r in results[1:]:
        assert r.dtype == dtype and np.array_equal(r, results[0])


def _with_helpers(a, b, helpers):
    cut = plan(a.shape[0], a.shape[1], b.shape[1])
    if cut is None:
        return matmul(a, b)
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    axis, bounds = cut
    parts = [(slice(lo, hi), slice(None)) if axis == 0 else (slice(None), slice(lo, hi)) for lo, hi in bounds]

    def piece(i, in_place):
        return np.matmul(a[parts[i][0]], b[:, parts[i][1]], out=c[parts[i]] if in_place else None)

    def put(i, value):
        c[parts[i]] = value

    threads.POLICY.pool.run(len(bounds), piece, put, helpers)
    return c


def test_vectors_and_outer_products_are_products_too():
    rng = np.random.default_rng(0)
    W, x, y = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    np.testing.assert_allclose(matmul(W, x), W @ x)
    np.testing.assert_allclose(matmul(y, W), y @ W)
    assert np.ndim(matmul(x, x)) == 0 and np.isclose(matmul(x, x), x @ x)
    np.testing.assert_array_equal(matmul(y.reshape(-1, 1), x.reshape(1, -1)), np.outer(y, x))


class Pieces:
    """Pieces that record who computed them; ``slow`` pieces sleep first, as if their thread were put aside."""

    def __init__(self, n, slow=(), fail=None):
        self.n, self.slow, self.fail = n, set(slow), fail
        self.result = np.full(n, -1.0)
        self.by, self.stored = [], []
        self.lock = threading.Lock()

    def task(self, i, in_place):
        if i == self.fail:
            raise MemoryError(f"piece {i}")
        if i in self.slow:  # a helper is put aside for 0.2 s; the caller takes 5 ms a piece, time for helpers to wake
            time.sleep(0.2 if threading.current_thread() is not threading.main_thread() else 0.005)
        with self.lock:
            self.by.append((i, threading.current_thread().name, bool(in_place)))
        if in_place:
            self.result[i] = i
            return None
        return np.float64(i)

    def put(self, i, value):
        self.stored.append((i, threading.current_thread().name))
        self.result[i] = value


def test_the_pool_computes_each_piece_once_on_several_threads_and_hands_back_errors():
    p = Pieces(200)
    threads.POLICY.pool.run(200, p.task, p.put, helpers=3)
    assert np.array_equal(p.result, np.arange(200)) and sorted(i for i, *_ in p.by) == list(range(200))
    assert {name for _, name, _ in p.by} >= {threading.current_thread().name}
    p = Pieces(20, fail=7)
    with pytest.raises(MemoryError, match="piece 7"):
        threads.POLICY.pool.run(20, p.task, p.put, helpers=2)
    p = Pieces(5)
    threads.POLICY.pool.run(5, p.task, p.put, helpers=2)  # the pool still works after an error
    assert np.array_equal(p.result, np.arange(5))


def test_the_caller_takes_back_a_late_piece_instead_of_waiting_and_nothing_is_stored_after():
    for _ in range(5):
        p = Pieces(8, slow=range(8))
        t0 = time.perf_counter()
        threads.POLICY.pool.run(8, p.task, p.put, helpers=1)
        took = time.perf_counter() - t0
        assert np.array_equal(p.result, np.arange(8))
        time.sleep(0.3)  # the helper wakes, finishes its piece, finds it done
        helper_took = [i for i, name, _ in p.by if name != threading.current_thread().name]
        if helper_took:
            break
    assert helper_took, "no helper took a piece in five tries"
    assert took < 0.15, f"the caller waited {took:.2f} s for a helper"
    me = threading.current_thread().name
    assert p.stored and all(name == me for _, name in p.stored)  # the late pieces were stored by the caller only
    # the piece taken back was computed apart by the caller, never into the result while a helper might be
    # storing it there: BLAS adds into its output block by block
    assert all(not in_place for i, name, in_place in p.by if i in helper_took)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_multiplies_without_its_parents_threads():
    a = np.random.default_rng(0).standard_normal((256, 256))
    before = threads.setting()
    threads.set_threads(2)
    try:
        expected = matmul(a, a)  # the parent's helper threads exist now
        pid = os.fork()
        if pid == 0:
            ok = np.array_equal(matmul(a, a), expected)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        threads.set_threads(before)
    assert os.waitstatus_to_exitcode(status) == 0


# ----- one place decides -------------------------------------------------------------------------
PRODUCT_CALLS = {"dot", "matmul", "inner", "vdot", "tensordot", "einsum", "outer"}
OWN_PRODUCTS = {"products.py", "bench.py"}  # the helper itself; the bench times raw products on purpose


def _products_outside_the_helper():
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name in OWN_PRODUCTS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.MatMult):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} @")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in PRODUCT_CALLS and isinstance(node.func.value, ast.Name)
                  and node.func.value.id in ("np", "numpy")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} np.{node.func.attr}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dot":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .dot")
    return found


def test_every_matrix_product_of_the_package_goes_through_the_one_helper():
    # sums of squares for norms and layer norms, and the checkers' float64 dot products of perturbations
    # (compared with a tolerance, never bit for bit): reductions, not matrix products; and the nodes, whose
    # forward is written with graph ops (a Tensor's @ is a MultiplyGate, which multiplies through the helper)
    allowed = {"sequence/kernel.py", "sequence/fused/lnlstm.py", "gradcheck.py", "seqcheck.py"}
    found = [f for f in _products_outside_the_helper() if f.split(":")[0] not in allowed]
    assert [f for f in found if not f.startswith("nodes/")] == []


def test_the_scan_would_find_a_product_written_by_hand(tmp_path, monkeypatch):
    fake = tmp_path / "pkg"
    fake.mkdir()
    (fake / "kernel.py").write_text("import numpy as np\ndef f(a, b):\n    np.dot(a, b, out=a)\n    return a @ b\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake)
    assert _products_outside_the_helper() == ["kernel.py:3 np.dot", "kernel.py:4 @"]


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("fused", [True, False])
def test_every_product_of_a_sequence_is_recorded_by_the_helper(cell, fused):
    """A T-step forward and its Full backward make T recurrent products each way (the bench's table of
    where a step's time goes is built from this record)."""
    T, B, n_in, H = 5, 3, 4, 6
    layer = CELLS[cell](n_in, H, dtype=np.float64)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    x = ar.Tensor(np.random.default_rng(0).normal(size=(T, B, n_in)))
    seq = ar.Sequence(layer, fused=fused)
    threads.POLICY.record = []
    try:
        hs = seq(x)[0]
        forward = list(threads.POLICY.record)
        hs.sum().backward()
        backward = threads.POLICY.record[len(forward):]
    finally:
        threads.POLICY.record = None
    assert forward.count((B, H, gates * H)) == T
    assert backward.count((B, gates * H, H)) == T


# ----- the user's settings win -------------------------------------------------------------------
POLICY_CODE = ("import numpy as np, autograd_rnn.threads as t; from autograd_rnn.products import matmul; "
               "matmul(np.ones((64, 64)), np.ones((64, 64))); print(t.POLICY.cap, t.POLICY.threads()); "
               "print(t.describe())")


@pytest.mark.parametrize("name", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_a_blas_thread_limit_in_the_environment_caps_auto_and_is_reported(name):
    env = {k: v for k, v in os.environ.items() if k not in (threads.ENV, *threads.BLAS_ENV)}
    env[name] = "1"
    out = subprocess.run([sys.executable, "-c", POLICY_CODE], capture_output=True, text=True, env=env).stdout
    first, line = out.splitlines()
    assert first == "1 1" and "BLAS threads: auto: 1 (capped by" in line and name in line


def test_a_threadpoolctl_limit_caps_auto_and_lifting_it_restores_every_core():
    code = ("import numpy as np, time, autograd_rnn.threads as t; from threadpoolctl import threadpool_limits;\n"
            "from autograd_rnn.products import matmul\n"
            "a = np.ones((512, 512))  # large enough to be cut: the cap is looked at before a cut product\n"
            "with threadpool_limits(limits=1):\n"
            "    matmul(a, a); print(t.POLICY.cap, 'a BLAS thread limit' in t.describe())\n"
            "time.sleep(t.INTERVAL * 1.5); matmul(a, a); print(t.POLICY.cap)\n")
    env = {k: v for k, v in os.environ.items() if k not in (threads.ENV, *threads.BLAS_ENV)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if threads.POLICY.blas is None:
        pytest.skip("threadpoolctl cannot control this BLAS")
    assert r.stdout.split() == ["1", "True", str(threads.cores())], r.stderr


def test_blas_runs_one_thread_a_call_once_a_product_has_run():
    matmul(np.ones((2, 2)), np.ones((2, 2)))
    if threads.POLICY.blas is None:
        pytest.skip("threadpoolctl cannot control this BLAS")
    assert {lib.num_threads for lib in threads.POLICY.blas} == {1}


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "2.0", str(10**20), "1000000000"])
def test_a_bad_environment_variable_is_one_line_at_the_first_command_never_at_import(bad):
    env = {threads.ENV: bad}
    r = subprocess.run([sys.executable, "-c", "import autograd_rnn; print('imported')"], capture_output=True,
                       text=True, env={**os.environ, **env})
    assert r.returncode == 0 and r.stdout.strip() == "imported" and r.stderr == ""
    r = run_cli("gradcheck", "--cases", "1", env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"{threads.ENV}={bad!r}" in r.stderr and "from 1 to" in r.stderr
    code = "import numpy as np; from autograd_rnn.products import matmul; matmul(np.ones((2, 2)), np.ones((2, 2)))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})
    assert r.returncode != 0 and "ConfigError" in r.stderr and threads.ENV in r.stderr


@pytest.mark.parametrize("verb", [["train", "--steps", "1"], ["gradcheck", "--cases", "1"], ["bench", "--quick"],
                                  ["sample", "--checkpoint", "none.npz"]])
@pytest.mark.parametrize("bad", ["0", "-1", "abc", "2.0", str(10**20), "1000000000", "999"])
def test_a_bad_threads_option_is_one_line_and_exit_2(verb, bad, tmp_path):
    r = run_cli(*verb, f"--threads={bad}", env={"HOME": str(tmp_path)})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"--threads={bad!r}" in r.stderr and "from 1 to" in r.stderr


def test_the_environment_variable_fixes_the_count_and_the_option_wins_over_it():
    code = "import autograd_rnn.threads as t; print(t.POLICY.fixed, t.describe())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, threads.ENV: "1"}).stdout
    assert out.startswith("1 BLAS threads: 1 for every product")
    r = run_cli("gradcheck", "--cases", "1", "--threads", "auto", env={threads.ENV: "abc"})
    assert r.returncode == 0, r.stderr


# ----- the same weights whatever the load ---------------------------------------------------------
def small(corpus, out, **kw):
    base = dict(corpus=corpus, level="word", hidden=48, embed=16, seq_len=12, batch=8, steps=8, eval_every=4,
                out=str(out), progress=False, plot=False, sample_length=5)
    base.update(kw)
    return TrainConfig(**base)


def weights(out):
    return load_checkpoint(pathlib.Path(out) / "last.npz").model


def test_a_seed_gives_the_same_weights_with_any_thread_count(corpus, tmp_path):
    runs = {}
    for setting in ("1", "2", "auto"):
        train(small(corpus, tmp_path / setting, threads=setting, hidden=96, batch=32))
        runs[setting] = weights(tmp_path / setting)
    for k in runs["1"]:
        assert np.array_equal(runs["1"][k], runs["2"][k]) and np.array_equal(runs["1"][k], runs["auto"][k]), k


def test_a_seed_gives_the_same_weights_beside_a_busy_neighbour(corpus, tmp_path):
    """Two processes train the same run under auto, the second beside two busy loops."""
    args = ["train", "--corpus", corpus, "--level", "word", "--hidden", "96", "--embed", "16", "--seq-len", "12",
            "--batch", "32", "--steps", "6", "--eval-every", "6", "--no-progress", "--no-plot", "--sample-length", "5",
            "--threads", "auto"]
    env = {k: v for k, v in os.environ.items() if k != threads.ENV}
    quiet = subprocess.run([sys.executable, "-m", "autograd_rnn", *args, "--out", str(tmp_path / "quiet")],
                           capture_output=True, text=True, env=env, timeout=300)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = subprocess.run([sys.executable, "-m", "autograd_rnn", *args, "--out", str(tmp_path / "busy")],
                              capture_output=True, text=True, env=env, timeout=300)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert quiet.returncode == 0 and busy.returncode == 0, quiet.stderr + busy.stderr
    a, b = weights(tmp_path / "quiet"), weights(tmp_path / "busy")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_the_thread_setting_is_kept_in_the_checkpoint_and_restored_on_resume(corpus, tmp_path):
    whole = train(small(corpus, tmp_path / "whole", steps=8))
    part = small(corpus, tmp_path / "part", steps=8, stop_after=4, threads="1")
    train(part)
    assert load_checkpoint(tmp_path / "part" / "last.npz").config["train"]["threads"] == "1"
    before = threads.setting()
    seen = []
    original = threads.set_threads

    def spy(value, name="threads"):
        seen.append(value)
        original(value, name)

    threads.set_threads = spy
    try:
        resumed = train(TrainConfig(out=str(tmp_path / "part"), resume=True, progress=False, plot=False))
    finally:
        threads.set_threads = original
    assert seen[0] == "1" and threads.setting() == before  # restored for the run, given back after
    assert resumed.steps == whole.steps
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "part")
    assert all(np.array_equal(a[k], b[k]) for k in a)
