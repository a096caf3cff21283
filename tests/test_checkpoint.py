"""Checkpoints: exact round trips, atomic writes (exceptions and a real SIGKILL), and damaged, foreign, newer or
pickle-bearing files rejected with CheckpointError without ever unpickling."""

import io
import json
import math
import os
import pathlib
import pickle
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from autograd_rnn import checkpoint as ck
from autograd_rnn.checkpoint import CheckpointError, load_archive, load_checkpoint, save_archive, save_checkpoint
from autograd_rnn.graph import Parameter
from autograd_rnn.optim import Adam, CosineDecay

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sample_arrays(seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "model/cell.weight_ih": rng.standard_normal((4, 3)).astype(np.float32),
        "optim/exp_avg/cell.weight_ih": rng.standard_normal((4, 3)),
        "a.b.c/d.e/f": rng.integers(-2**62, 2**62, size=5, dtype=np.int64),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), np.float32),
        "flags": np.array([True, False]),
        "fortran": np.asfortranarray(rng.standard_normal((3, 2))),
    }


META = {"name": "tiny-shakespeare ü", "big": 2**100 + 1, "lr": 0.1, "best": math.inf, "nested": {"a": [1, 2.5, None]}}


def assert_same_arrays(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_archive_round_trip(tmp_path):
    path = tmp_path / "ck.npz"
    arrays = sample_arrays()
    save_archive(path, arrays, META)
    got, meta = load_archive(path)
    assert_same_arrays(got, arrays)
    assert meta == META and type(meta["big"]) is int
    assert os.listdir(tmp_path) == ["ck.npz"]
    with zipfile.ZipFile(path) as zf:  # the np.savez layout, uncompressed
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        assert "model/cell.weight_ih.npy" in zf.namelist() and "__meta__.npy" in zf.namelist()
    with np.load(path, allow_pickle=False) as npz:  # plain numpy reads it too
        assert json.loads(npz["__meta__"].tobytes())["magic"] == "autograd_rnn-checkpoint"
        assert json.loads(npz["__meta__"].tobytes())["format_version"] == 1


def test_nan_in_meta_round_trips(tmp_path):
    save_archive(tmp_path / "ck.npz", {}, {"losses": [1.0, math.nan, -math.inf]})
    losses = load_archive(tmp_path / "ck.npz")[1]["losses"]
    assert losses[0] == 1.0 and math.isnan(losses[1]) and losses[2] == -math.inf


@pytest.mark.parametrize("arrays, meta, message", [
    ({"x": np.array([object()], dtype=object)}, {}, "object and structured"),
    ({"x": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])}, {}, "object and structured"),
    ({"__meta__": np.zeros(2)}, {}, "reserved"),
    ({"x.npy": np.zeros(2)}, {}, "'.npy'"),
    ({"": np.zeros(2)}, {}, "non-empty"),
    ({"x": [1.0, 2.0]}, {}, "expected a numpy ndarray"),
    ({}, {"lr": np.float32(0.1)}, r"meta\['lr'\] is a numpy.float32"),
    ({}, {"vocab": {0: "a"}}, r"meta\['vocab'\] has the key 0 of type int"),
    ({}, {"tags": {"a", "b"}}, "JSON cannot hold"),
    ({}, {"magic": "mine"}, "reserved"),
])
def test_save_refuses_what_needs_pickle_or_is_not_json(tmp_path, arrays, meta, message):
    with pytest.raises(CheckpointError, match=message):
        save_archive(tmp_path / "ck.npz", arrays, meta)
    assert os.listdir(tmp_path) == []


def test_rng_state_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(12345)
    rng.standard_normal(7)
    state = rng.bit_generator.state
    assert state["state"]["state"] >= 2**64  # the big ints JSON must carry exactly
    save_checkpoint(tmp_path / "ck.npz", model={}, optimizer=None, rng_state=state, vocab=None, config={},
                    progress={})
    expected = rng.standard_normal(10)
    restored = np.random.default_rng()
    restored.bit_generator.state = load_checkpoint(tmp_path / "ck.npz").rng_state
    assert load_checkpoint(tmp_path / "ck.npz").rng_state == state
    np.testing.assert_array_equal(restored.standard_normal(10), expected)


@pytest.mark.parametrize("bitgen", [np.random.MT19937, np.random.SFC64, np.random.Philox])
def test_rng_states_holding_arrays_round_trip(tmp_path, bitgen):
    rng = np.random.Generator(bitgen(7))
    rng.random(3)
    save_checkpoint(tmp_path / "ck.npz", model={}, optimizer=None, rng_state=rng.bit_generator.state, vocab=None,
                    config={}, progress={})
    restored = np.random.Generator(bitgen())
    restored.bit_generator.state = load_checkpoint(tmp_path / "ck.npz").rng_state
    np.testing.assert_array_equal(restored.random(5), rng.random(5))


def test_training_checkpoint_resumes_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    params = {"cell.weight_ih": Parameter(rng.standard_normal((4, 3)).astype(np.float32)),
              "cell.bias": Parameter(np.zeros(4, np.float32))}
    opt = Adam(params, weight_decay=0.01)
    sched = CosineDecay(opt, total_steps=10)
    data_rng = np.random.default_rng(99)

    def train(params, opt, sched, data_rng, steps):
        for _ in range(steps):
            for p in params.values():
                p.grad = data_rng.standard_normal(p.shape).astype(np.float32)
            opt.step()
            sched.step()

    train(params, opt, sched, data_rng, 3)
    vocab, config = {"chars": ["\n", " ", "a", "é"]}, {"hidden": 4, "optimizer": "adam", "betas": [0.9, 0.999]}
    progress = {"step": 3, "epoch": 0, "best_val_loss": math.inf, "losses": [2.5, 2.25, 2.0], "schedule":
                sched.state_dict()}
    save_checkpoint(tmp_path / "ck.npz", model={n: p.data for n, p in params.items()}, optimizer=opt.state_dict(),
                    rng_state=data_rng.bit_generator.state, vocab=vocab, config=config, progress=progress)
    train(params, opt, sched, data_rng, 4)

    c = load_checkpoint(tmp_path / "ck.npz")
    assert (c.vocab, c.config, c.progress) == (vocab, config, progress)
    assert set(c.optimizer) == {"arrays", "meta"} and c.optimizer["meta"]["class"] == "Adam"
    params2 = {n: Parameter(a) for n, a in c.model.items()}
    opt2 = Adam(params2)
    opt2.load_state_dict(c.optimizer)
    sched2 = CosineDecay(opt2, total_steps=1)
    sched2.load_state_dict(c.progress["schedule"])
    rng2 = np.random.default_rng()
    rng2.bit_generator.state = c.rng_state
    train(params2, opt2, sched2, rng2, 4)
    for n, p in params.items():
        assert params2[n].data.dtype == np.float32
        np.testing.assert_array_equal(params2[n].data, p.data)


def test_load_checkpoint_of_a_plain_archive(tmp_path):
    save_archive(tmp_path / "ck.npz", {"x": np.zeros(2)}, {"hello": 1})
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_checkpoint(tmp_path / "ck.npz")


# ----- atomicity ---------------------------------------------------------------------------------------------------
def old_and_new(tmp_path):
    path = tmp_path / "ck.npz"
    old = sample_arrays(0)
    save_archive(path, old, {"version": "old"})
    return path, old, sample_arrays(1)


def assert_old_intact(path, old):
    arrays, meta = load_archive(path)
    assert meta == {"version": "old"}
    assert_same_arrays(arrays, old)
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind


def test_failing_replace_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path, old, new = old_and_new(tmp_path)

    def boom(src, dst):
        assert os.path.getsize(src) > 0 and os.path.dirname(src) == str(tmp_path)  # fully written, same directory
        raise OSError("disk on fire")

    monkeypatch.setattr(ck.os, "replace", boom)
    with pytest.raises(OSError, match="disk on fire"):
        save_archive(path, new, {"version": "new"})
    monkeypatch.undo()
    assert_old_intact(path, old)


@pytest.mark.parametrize("error", [OSError("no space left on device"), KeyboardInterrupt()])
def test_failure_midway_through_the_arrays_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    path, old, new = old_and_new(tmp_path)
    real, calls = np.lib.format.write_array, []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise error
        real(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(type(error)):
        save_archive(path, new, {"version": "new"})
    monkeypatch.undo()
    assert len(calls) == 3
    assert_old_intact(path, old)


def test_failing_fsync_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    path, old, new = old_and_new(tmp_path)

    def no_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(ck.os, "fsync", no_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save_archive(path, new, {"version": "new"})
    monkeypatch.undo()
    assert_old_intact(path, old)


CHILD = """
import sys, time
import numpy as np
from autograd_rnn.checkpoint import save_archive
real = np.lib.format.write_array
def slow(*args, **kwargs):  # a slow disk, so that the kill lands midway
    real(*args, **kwargs)
    time.sleep(0.01)
np.lib.format.write_array = slow
arrays = {f"model/w{i}": np.full((64, 1024), i, np.float32) for i in range(400)}  # 100 MiB
save_archive(sys.argv[1], arrays, {"version": "new"})
"""


def test_sigkill_midway_keeps_the_old_checkpoint(tmp_path):
    path, old, _ = old_and_new(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env)
    try:
        deadline, tmp = time.monotonic() + 30.0, None
        while time.monotonic() < deadline and proc.poll() is None:
            tmps = [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
            if tmps and tmps[0].stat().st_size > 2 * 2**20:
                tmp = tmps[0]
                break
            time.sleep(0.002)
        assert tmp is not None, "the child never started writing its temporary file"
        proc.kill()  # SIGKILL on POSIX
    finally:
        proc.kill()
        proc.wait()
    if os.name == "posix":
        assert proc.returncode == -9
    arrays, meta = load_archive(path)
    assert meta == {"version": "old"}
    assert_same_arrays(arrays, old)
    assert tmp.exists() and tmp.stat().st_size < 100 * 2**20  # the crash left only a partial temporary file
    with pytest.raises(CheckpointError):
        load_archive(tmp)
    save_archive(path, {"x": np.ones(2)}, {"version": "after"})  # a stray temporary file does not get in the way
    assert load_archive(path)[1] == {"version": "after"}


# ----- damaged, foreign and hostile files ----------------------------------------------------------------------------
def valid_bytes(tmp_path) -> bytes:
    save_archive(tmp_path / "good.npz", sample_arrays(), META)
    return (tmp_path / "good.npz").read_bytes()


@pytest.fixture
def no_pickle(monkeypatch):
    """Record every np.load call's kwargs and fail loudly on any unpickling."""
    calls, real_load = [], np.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(np, "load", recording_load)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    yield calls
    assert all(kw.get("allow_pickle") is False for kw in calls), calls


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.npz: no such checkpoint file"):
        load_archive(tmp_path / "nope.npz")


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, fraction, no_pickle):
    data = valid_bytes(tmp_path)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match="cut.npz"):
        load_archive(path)


def test_flipped_bytes_in_the_middle(tmp_path, no_pickle):
    data = bytearray(valid_bytes(tmp_path))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="CRC"):
        load_archive(path)


def member_data_ranges(path) -> list[tuple[int, int]]:
    """Byte ranges of the members' contents (each .npy header and data), which the zip CRCs protect."""
    data, ranges = path.read_bytes(), []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            local = data[info.header_offset: info.header_offset + 30]
            start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30],
                                                                                                        "little")
            ranges.append((start, start + info.compress_size))
    return ranges


def test_flipped_bytes_anywhere_never_load_wrong_data(tmp_path, no_pickle):
    data = valid_bytes(tmp_path)
    want_arrays, want_meta = load_archive(tmp_path / "good.npz")
    ranges = member_data_ranges(tmp_path / "good.npz")
    path, in_members = tmp_path / "flipped.npz", 0
    for pos in range(0, len(data), 3):
        damaged = bytearray(data)
        damaged[pos] ^= 0x5A
        path.write_bytes(bytes(damaged))
        inside = any(a <= pos < b for a, b in ranges)
        in_members += inside
        try:
            arrays, meta = load_archive(path)
        except CheckpointError:
            continue
        assert not inside, f"a flip at byte {pos}, inside a member, went unnoticed"
        assert meta == want_meta, pos  # a flip the zip reader ignores (e.g. a timestamp) must change nothing
        assert_same_arrays(arrays, want_arrays)
    assert in_members > len(data) // 6


def test_valid_checkpoint_loads_with_allow_pickle_false(tmp_path, no_pickle):
    valid_bytes(tmp_path)
    assert load_archive(tmp_path / "good.npz")[1] == META and len(no_pickle) == 1


def test_foreign_npz_without_meta(tmp_path, no_pickle):
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="not an autograd_rnn checkpoint"):
        load_archive(tmp_path / "foreign.npz")


def test_npz_with_foreign_meta(tmp_path, no_pickle):
    meta = np.frombuffer(json.dumps({"magic": "something-else"}).encode(), np.uint8)
    np.savez(tmp_path / "foreign.npz", __meta__=meta)
    with pytest.raises(CheckpointError, match="not an autograd_rnn checkpoint"):
        load_archive(tmp_path / "foreign.npz")
    np.savez(tmp_path / "foreign.npz", __meta__=np.array("not json bytes"))
    with pytest.raises(CheckpointError, match="not an autograd_rnn checkpoint"):
        load_archive(tmp_path / "foreign.npz")


def test_newer_format_version(tmp_path, no_pickle):
    meta = json.dumps({"magic": "autograd_rnn-checkpoint", "format_version": 2})
    np.savez(tmp_path / "future.npz", __meta__=np.frombuffer(meta.encode(), np.uint8))
    with pytest.raises(CheckpointError, match=r"future\.npz: written by a newer .*format_version 2"):
        load_archive(tmp_path / "future.npz")


@pytest.mark.parametrize("content", [b"hello, I am a text file\n", b"\x93NUMPY not really", b"PK\x03\x04garbage"])
def test_not_an_npz(tmp_path, content, no_pickle):
    (tmp_path / "x.npz").write_bytes(content)
    with pytest.raises(CheckpointError, match="x.npz"):
        load_archive(tmp_path / "x.npz")


def test_npy_file_and_foreign_zip(tmp_path, no_pickle):
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="not an npz archive"):
        load_archive(tmp_path / "a.npy")
    meta = json.dumps({"magic": "autograd_rnn-checkpoint", "format_version": 1})
    np.savez(tmp_path / "z.npz", __meta__=np.frombuffer(meta.encode(), np.uint8))
    with zipfile.ZipFile(tmp_path / "z.npz", "a") as zf:
        zf.writestr("readme.txt", "not an array")
    with pytest.raises(CheckpointError, match="'readme.txt' is not a .npy array"):
        load_archive(tmp_path / "z.npz")


class WritesMarker:
    """Unpickling this object creates a file: proof that something was unpickled."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_object_array_is_never_unpickled(tmp_path, no_pickle):
    marker = tmp_path / "UNPICKLED"
    meta = json.dumps({"magic": "autograd_rnn-checkpoint", "format_version": 1})
    np.savez(tmp_path / "evil.npz", __meta__=np.frombuffer(meta.encode(), np.uint8), w=np.zeros(2),
             evil=np.array([WritesMarker(marker)], dtype=object))
    assert not marker.exists()
    with pytest.raises(CheckpointError, match=r"evil\.npz: the member 'evil' is an object array that would need "
                                              r"pickle"):
        load_archive(tmp_path / "evil.npz")
    assert not marker.exists()
    assert no_pickle  # np.load was reached (with allow_pickle=False, checked by the fixture)


def test_the_marker_proof_works(tmp_path):
    """The control for the test above: numpy with allow_pickle=True does run the payload."""
    marker = tmp_path / "UNPICKLED"
    np.savez(tmp_path / "evil.npz", evil=np.array([WritesMarker(marker)], dtype=object))
    with np.load(tmp_path / "evil.npz", allow_pickle=True) as npz:
        npz["evil"]
    assert marker.exists()


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read"):
        load_archive(tmp_path)


def _rewrite(src, dst, change):
    """Copy the archive ``src`` to ``dst`` member by member, each ``(name, bytes)`` passed through
    ``change`` (None drops it): a well-formed zip whose every CRC matches its new contents."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            member = change(name, zin.read(name))
            if member is not None:
                zout.writestr(*member)


def _npy(value) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, value, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["renamed", "dropped", "reshaped", "retyped"])
def test_arrays_that_differ_from_the_list_written_with_them_are_refused(tmp_path, damage):
    """Every CRC can pass while an array is renamed, missing or of another shape or dtype (a damaged
    member name, a member rewritten): the list of arrays in the metadata catches each."""
    good, bad = tmp_path / "good.npz", tmp_path / "bad.npz"
    save_archive(good, {"w": np.arange(6.0).reshape(2, 3), "b": np.zeros(3)}, {"note": 1})

    def change(name, data):
        if name != "b.npy":
            return name, data
        return {"renamed": ("c.npy", data), "dropped": None, "reshaped": ("b.npy", _npy(np.zeros(4))),
                "retyped": ("b.npy", _npy(np.zeros(3, np.float32)))}[damage]

    _rewrite(good, bad, change)
    assert load_archive(good)[1] == {"note": 1}
    with pytest.raises(CheckpointError, match="corrupted"):
        load_archive(bad)
