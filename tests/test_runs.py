"""The user's runs are theirs (DESIGN invariant 12): a second run keeps the first, every file of a run
is written by the one atomic writer (synced, never through a symbolic link, no temporary left), a
corpus is read with bounds, and a checkpoint is never called good with a non-finite carried state."""

import dataclasses
import hashlib
import os
import pathlib
import sys

import numpy as np
import pytest

import autograd_rnn as ar
from autograd_rnn import atomic
from autograd_rnn.checkpoint import save_checkpoint
from autograd_rnn.errors import CheckpointError, ConfigError, DataError, TrainingDiverged
from autograd_rnn.graph import Tensor
from autograd_rnn.train import Run
from autograd_rnn.train.checkpoints import save_run
from autograd_rnn.train.lock import OutLock

from .limits import time_limit
from .test_reliability import cli, one_error_line, small

TINY = ["--hidden", "8", "--embed", "4", "--batch", "2", "--seq-len", "8", "--steps", "2", "--eval-every", "2",
        "--no-progress", "--no-plot"]


def digest(folder: pathlib.Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


# ----- a second run keeps the first ---------------------------------------------------------------------------------
def test_a_second_plain_run_keeps_the_first_whole_and_latest_points_at_the_newest(corpus, tmp_path):
    first = cli("train", "--corpus", corpus, *TINY, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (a,) = [p for p in (tmp_path / "runs").iterdir() if not p.is_symlink()]
    kept = digest(a)
    assert {"last.npz", "best.npz", "history.json"} <= set(kept)
    second = cli("train", "--corpus", corpus, *TINY, "--seed", "1", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    runs = sorted(p for p in (tmp_path / "runs").iterdir() if not p.is_symlink())
    assert len(runs) == 2 and digest(a) == kept  # the first run, byte for byte
    assert (tmp_path / "runs" / "latest").resolve() == runs[-1].resolve() != a.resolve()
    resumed = cli("train", "--resume", "--steps", "4", "--no-progress", "--no-plot", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "done: 2 steps" in resumed.stderr and "(steps 3 to 4)" in resumed.stderr  # the steps this run ran
    assert ar.load_checkpoint(runs[-1] / "last.npz").progress["step"] == 4 and digest(a) == kept


@pytest.mark.parametrize("out", ["runs/latest", "mine"])
def test_an_out_that_holds_a_run_is_refused_without_resume(corpus, tmp_path, out):
    assert cli("train", "--corpus", corpus, *TINY, *(["--out", out] if out == "mine" else []),
               cwd=tmp_path).returncode == 0
    kept = digest(tmp_path / out)
    line = one_error_line(cli("train", "--corpus", corpus, *TINY, "--out", out, cwd=tmp_path))
    assert "already holds a run" in line and "--resume" in line
    assert digest(tmp_path / out) == kept
    with pytest.raises(ConfigError, match="already holds a run"):
        ar.fit(small(corpus, tmp_path / out, steps=2))


def test_resume_without_a_run_and_a_failed_new_run_leave_nothing(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no run under runs/ to continue"):
        ar.fit(dataclasses.replace(small(corpus, "x", resume=True), out=None))
    with pytest.raises(DataError, match="does not exist"):
        ar.fit(dataclasses.replace(small(str(tmp_path / "missing.txt"), "x"), out=None))
    assert list((tmp_path / "runs").iterdir()) == []  # the new folder of a run that wrote nothing is gone


# ----- one writer: synced, never through a link, no temporary left --------------------------------------------------
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name the files that were synced")
def test_every_file_of_a_run_is_synced_with_its_folder(corpus, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    synced, real = [], os.fsync

    def recording(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    out = tmp_path / "run"
    ar.fit(small(corpus, out, steps=2, plot=True))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["best.npz", "config.toml", "history.json", "last.npz", "loss_curve.png"]  # nothing else left
    for name in names:
        assert any(os.path.basename(s).startswith(f".{name}.") for s in synced), f"{name} was never synced"
    assert str(out) in synced  # the folder, after the renames


def test_symlinks_planted_in_the_run_folder_are_never_followed(corpus, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "run"
    out.mkdir()
    pid = os.getpid()  # the names the writers used to derive from the process id
    for name in (".lock", f".history.json.{pid}.tmp", f".preflight.{pid}.npz", f"loss_curve.png.{pid}.tmp.png"):
        (out / name).symlink_to(victim)
    with pytest.raises(ConfigError, match=r"\.lock is a symbolic link"):
        ar.fit(small(corpus, out, steps=2))
    assert victim.read_text() == "precious"
    (out / ".lock").unlink()
    ar.fit(small(corpus, out, steps=2))
    assert victim.read_text() == "precious"
    for name in ("history.json", "last.npz"):  # a resumed run meets a planted link where it writes
        (out / name).unlink()
        (out / name).symlink_to(victim)
        with pytest.raises((ConfigError, CheckpointError), match="symbolic link|not an npz"):
            ar.fit(small(corpus, out, steps=4, resume=True))
        assert victim.read_text() == "precious"
        (out / name).unlink()
        if name == "history.json":
            (out / name).write_text("[]")
        else:
            break
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]  # none of ours left


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_where_a_run_writes_is_refused_without_waiting(corpus, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / ".lock")
    with time_limit(10, "a run meeting a FIFO"), pytest.raises(ConfigError, match="not a regular file"):
        ar.fit(small(corpus, out, steps=2))


@pytest.mark.parametrize("fail_in", ["block", "fsync", "replace"])
def test_the_writer_leaves_the_old_file_and_no_temporary_on_failure(tmp_path, monkeypatch, fail_in):
    target = tmp_path / "metrics.csv"
    atomic.atomic_write(target, b"step,loss\n1,2.0\n")
    if fail_in != "block":
        monkeypatch.setattr(os, fail_in, lambda *a: (_ for _ in ()).throw(OSError(f"{fail_in} failed")))
    with pytest.raises(OSError, match="failed"):
        with atomic.atomic_file(target) as f:
            f.write(b"step,loss\n1,2.0\n2,1.5\n")
            if fail_in == "block":
                raise OSError("the caller failed")
    monkeypatch.undo()
    assert target.read_bytes() == b"step,loss\n1,2.0\n" and os.listdir(tmp_path) == ["metrics.csv"]
    atomic.atomic_write(target, target.read_bytes() + b"2,1.5\n")  # appending a row is rewriting the file
    assert target.read_bytes().splitlines()[-1] == b"2,1.5"


# ----- a checkpoint called good is finite, carried state included ---------------------------------------------------
def test_a_non_finite_carried_state_is_never_saved_nor_resumed(corpus, tmp_path):
    out = tmp_path / "run"
    ar.fit(small(corpus, out, steps=2))
    run = Run(small(corpus, out, steps=2))
    run.progress.carry = [(Tensor(np.full((2, 8), np.nan, np.float32)), Tensor(np.zeros((2, 8), np.float32)))]
    with pytest.raises(TrainingDiverged, match="carried state of layer 0"):
        save_run(tmp_path / "bad.npz", run)
    assert not (tmp_path / "bad.npz").exists()
    ck = ar.load_checkpoint(out / "last.npz")
    ck.progress["carry"] = [[np.full_like(a, np.inf) for a in layer] for layer in ck.progress["carry"]]
    save_checkpoint(out / "last.npz", **dataclasses.asdict(ck))
    with pytest.raises(CheckpointError, match="carried into the next chunk.*NaN or infinity"):
        ar.fit(small(corpus, out, steps=4, resume=True))


# ----- the lock is the folder's -------------------------------------------------------------------------------------
def test_the_lock_says_who_holds_it_and_is_released(tmp_path):
    out = tmp_path / "run"
    with OutLock(out):
        assert f"pid {os.getpid()}" in (out / ".lock").read_text()
        with pytest.raises(ConfigError, match=f"in use by another run \\(pid {os.getpid()}"):
            OutLock(out).__enter__()
    assert not (out / ".lock").exists()
    with OutLock(out):
        pass


def test_an_out_that_is_a_file_is_named(corpus, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        ar.fit(small(corpus, tmp_path / "file", steps=2))


# ----- a corpus is read with bounds ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["device", "fifo", "link to a device", "too large"])
def test_a_corpus_that_may_never_end_or_is_too_large_is_refused_at_once_naming_it(tmp_path, kind):
    path = tmp_path / "corpus.txt"
    if kind == "device":
        path = pathlib.Path("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to a device":
        path.symlink_to("/dev/zero")
    else:
        with open(path, "wb") as f:  # sparse: 100 MB and one byte, without writing them
            f.truncate(100_000_001)
    with time_limit(30, f"train on a {kind}"):
        result = cli("train", "--corpus", str(path), *TINY, "--out", str(tmp_path / "o"))
    line = one_error_line(result)
    assert str(path) in line and "--hidden" not in line
    assert ("--no-limits" in line and "100,000,000 bytes" in line) if kind == "too large" else "not a regular" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_the_corpus_size_limit_is_lifted_by_no_limits(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("autograd_rnn.train.corpus.MAX_CORPUS_BYTES", 1000)  # the corpus is 7 kB
    with pytest.raises(DataError, match="above the limit of 1,000 bytes for a corpus; pass --no-limits"):
        ar.fit(small(corpus, tmp_path / "a", steps=2))
    assert ar.fit(small(corpus, tmp_path / "b", steps=2, no_limits=True)).steps == 2
    with pytest.raises(DataError, match="pass max_bytes=None"):
        ar.data.load_text(corpus, max_bytes=10)


def test_a_file_that_grows_after_it_was_measured_is_cut_at_the_limit(tmp_path, monkeypatch):
    path = tmp_path / "corpus.txt"
    path.write_text("abc " * 10_000)
    real = os.fstat

    def measured_small(fd):  # as if the file had 10 bytes when it was measured, and grew before it was read
        st = real(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 10,
                               st.st_atime, st.st_mtime, st.st_ctime))

    monkeypatch.setattr(os, "fstat", measured_small)
    with pytest.raises(DataError, match="growing while it is read, above the limit of 1,000"):
        ar.data.load_text(path, max_bytes=1000)


def test_the_activation_limit_uses_the_longest_line(tmp_path):
    path = tmp_path / "one-long-line.txt"
    path.write_text("short line\n" * 50 + "x" * 300_000 + "\nshort again\n" * 50)
    cfg = ar.TrainConfig(corpus=str(path), batching="lines", hidden=256, batch=32, seq_len=8, steps=1,
                         out=str(tmp_path / "o"), progress=False, plot=False)
    with time_limit(60, "refusing a line too long for memory"), pytest.raises(ConfigError) as e:
        ar.fit(cfg)
    assert "the longest line: 300,001 steps" in str(e.value) and "--no-limits" in str(e.value)


if sys.platform == "win32":  # pragma: no cover
    pytestmark = pytest.mark.skip("POSIX links and FIFOs")
