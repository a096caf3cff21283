"""Fuzzing checkpoints: a damaged file loads as exactly what was saved or raises CheckpointError, never
anything else and never something that silently differs; what ``save_checkpoint`` accepts loads back
exactly, and what cannot round-trip is refused when it is saved.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_rnn as ar
from autograd_rnn.checkpoint import save_checkpoint
from autograd_rnn.errors import CheckpointError, TrainingDiverged

from .limits import time_limit

SAMPLE_ABOVE = 40_000
SAMPLE_SIZE = 3000


def difference(a, b, where: str = "") -> str | None:
    """Where ``a`` and ``b`` differ (arrays by dtype, shape and value; containers by type and contents;
    NaN equal to NaN), or None when they are exactly equal."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return f"{where}: {type(a).__name__} vs {type(b).__name__}"
        if a.dtype != b.dtype or a.shape != b.shape:
            return f"{where}: {a.dtype} {a.shape} vs {b.dtype} {b.shape}"
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            return f"{where}: values differ"
        return None
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} {a!r} vs {type(b).__name__} {b!r}"
    if isinstance(a, dict):
        if set(a) != set(b):
            return f"{where}: keys {sorted(a)} vs {sorted(b)}"
        return next((d for k in a if (d := difference(a[k], b[k], f"{where}[{k!r}]"))), None)
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return f"{where}: length {len(a)} vs {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := difference(x, y, f"{where}[{i}]"))), None)
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return None
    return None if a == b else f"{where}: {a!r} vs {b!r}"


def checkpoint_difference(got, want) -> str | None:
    for part in ("model", "optimizer", "config", "vocab", "progress", "rng_state"):
        d = difference(getattr(got, part), getattr(want, part), part)
        if d:
            return d
    return None


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """``last.npz`` of a tiny model trained for 2 steps."""
    d = tmp_path_factory.mktemp("ck")
    words = "one two three four five six seven eight nine ten".split()
    text = "\n".join(" ".join(words[(i * j) % len(words)] for j in range(9)) for i in range(80))
    (d / "corpus.txt").write_text(text, encoding="utf-8")
    ar.fit(ar.TrainConfig(corpus=str(d / "corpus.txt"), hidden=4, embed=2, batch=2, seq_len=4, steps=2,
                            eval_every=2, progress=False, plot=False, out=str(d / "run")))
    path = d / "run" / "last.npz"
    assert path.exists()
    return path


def flip_positions(data: bytes, path: Path) -> list[int]:
    """Every byte, or for a large file a deterministic sample that includes every byte of every zip header
    (local headers with their names and extras, the central directory, the end records), the .npy header
    at the start of every member and the whole JSON metadata member."""
    if len(data) <= SAMPLE_ABOVE:
        return list(range(len(data)))
    must: set[int] = set()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            start = info.header_offset
            n_name = int.from_bytes(data[start + 26:start + 28], "little")
            n_extra = int.from_bytes(data[start + 28:start + 30], "little")
            body = start + 30 + n_name + n_extra
            must.update(range(start, body + min(info.compress_size, 256)))
            if info.filename == "__meta__.npy":
                must.update(range(body, body + info.compress_size))
        must.update(range(zf.start_dir, len(data)))
    rest = sorted(set(range(len(data))) - must)
    rng = np.random.default_rng(0)
    extra = rng.choice(rest, size=min(len(rest), max(0, SAMPLE_SIZE - len(must))), replace=False).tolist()
    return sorted(must | set(extra))


def test_a_bit_flip_anywhere_loads_exactly_the_original_or_raises_checkpoint_error(trained, tmp_path):
    data = trained.read_bytes()
    original = ar.load_checkpoint(trained)
    damaged = tmp_path / "damaged.npz"
    failures = []
    for pos in flip_positions(data, trained):
        b = bytearray(data)
        b[pos] ^= 1 << (pos % 8)
        damaged.write_bytes(bytes(b))
        try:
            with time_limit(5), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = ar.load_checkpoint(damaged)
        except CheckpointError:
            continue
        except Exception as e:
            failures.append((pos, f"{type(e).__name__}: {e}"))
            continue
        d = checkpoint_difference(got, original)
        if d:
            failures.append((pos, f"loaded without an error but differs: {d}"))
    shown = "\n".join(f"  byte {pos} (0x{pos:x}), bit {pos % 8}: {what}" for pos, what in failures[:8])
    assert not failures, f"{len(failures)} single-bit flips of a {len(data)}-byte checkpoint neither raise " \
                         f"CheckpointError nor load the original exactly; the first:\n{shown}"


@pytest.mark.parametrize("member", ["model/proj.bias.npy", "__meta__.npy", "optim/exp_avg/proj.weight.npy"])
def test_a_zip_with_two_members_of_one_name_is_refused(trained, tmp_path, member):
    path = tmp_path / "dup.npz"
    path.write_bytes(trained.read_bytes())
    with zipfile.ZipFile(trained) as zf:
        raw = zf.read(member)
    if member == "__meta__.npy":
        with zipfile.ZipFile(trained) as zf, zf.open(member) as f:
            meta = np.lib.format.read_array(f)
        text = meta.tobytes().decode("utf-8").replace('"hidden": 4', '"hidden": 5', 1)
        other = np.frombuffer(text.encode("utf-8"), np.uint8)
    else:
        with zipfile.ZipFile(trained) as zf, zf.open(member) as f:
            other = np.lib.format.read_array(f) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(path, "a") as zf, zf.open(member, "w") as f:
            np.lib.format.write_array(f, other, allow_pickle=False)
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()].count(member) == 2 and zf.read(member) != raw
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = ar.load_checkpoint(path)
    except CheckpointError:
        return
    pytest.fail(f"a checkpoint with two different {member!r} members loaded without an error (it took one of "
                f"them silently: {checkpoint_difference(got, ar.load_checkpoint(trained))})")


def _round_trip(tmp_path: Path, progress):
    """Save ``progress`` in a checkpoint and load it back: ``(loaded progress, None)``, or ``(None, error)``
    when the save refused it with CheckpointError."""
    path = tmp_path / "p.npz"
    try:
        save_checkpoint(path, model={"w": np.arange(3.0)}, optimizer=None, rng_state=None, vocab=None,
                        config={"c": 1}, progress=progress)
    except CheckpointError as e:
        return None, e
    try:
        loaded = ar.load_checkpoint(path)
    except CheckpointError as e:
        raise AssertionError(f"save_checkpoint accepted progress={progress!r}, but loading it fails: {e}") from e
    assert difference(loaded.model, {"w": np.arange(3.0)}, "model") is None, "the model arrays changed"
    return loaded.progress, None


AWKWARD_PROGRESS = {
    "slash key beside a nested dict": lambda: {"a/b": 1, "a": {"b": np.zeros(2)}},
    "two arrays under one flattened name": lambda: {"a/b": np.ones(3), "a": {"b": np.zeros(2)}},
    "list index against a slash key": lambda: {"a/0": np.ones(2), "a": [np.zeros(2)]},
    "a dict that looks like an array reference": lambda: {"x": np.zeros(2), "y": {"__array__": "progress/x"}},
    "an empty key": lambda: {"": np.zeros(2)},
    "a key ending in .npy": lambda: {"k.npy": np.zeros(1)},
    "a trailing slash": lambda: {"a/": np.zeros(1), "a": {"": np.ones(1)}},
    "nan, inf and a big int": lambda: {"n": float("nan"), "i": float("-inf"), "big": 2**80},
    "a non-ascii and a surrogate key": lambda: {"é": 1, "\udcff": np.zeros(1)},
}


@pytest.mark.parametrize("case", sorted(AWKWARD_PROGRESS))
def test_progress_with_awkward_keys_round_trips_exactly_or_is_refused_at_save(tmp_path, case):
    progress = AWKWARD_PROGRESS[case]()
    loaded, _ = _round_trip(tmp_path, progress)
    if loaded is not None:
        d = difference(loaded, progress, "progress")
        assert d is None, f"{case}: progress={progress!r} was saved but loads differently: {d}"


KEYS = st.sampled_from(["a", "b", "a/b", "b/a", "", "/", "0", "1", "__array__", "x.npy", "é", "a\\b", "progress"])
LEAVES = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans(),
    hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.uint8]), hnp.array_shapes(min_dims=0, max_dims=2,
                                                                                             min_side=0, max_side=2)),
)
PROGRESS = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(KEYS, inner, max_size=3)), max_leaves=8)


@settings(max_examples=40, deadline=None)
@given(progress=st.dictionaries(KEYS, PROGRESS, max_size=4))
def test_any_progress_round_trips_exactly_or_is_refused_at_save(tmp_path_factory, progress):
    tmp = tmp_path_factory.mktemp("progress")
    loaded, _ = _round_trip(tmp, progress)
    if loaded is not None:
        d = difference(loaded, progress, "progress")
        assert d is None, f"progress={progress!r} was saved but loads differently: {d}"


# ----- a run with non-finite weights or optimizer state is never written ----------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from autograd_rnn.train import Run

    work = tmp_path_factory.mktemp("run")
    corpus = work / "text.txt"
    corpus.write_text("the cat sat on the mat while the dog ran to the red door and back again.\n" * 20)
    r = Run(ar.TrainConfig(corpus=str(corpus), hidden=4, embed=2, batch=2, seq_len=4, steps=3, eval_every=3,
                           out=str(work / "out"), progress=False, plot=False))
    r.out.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        r.train_step()
    return r


@settings(max_examples=40, deadline=None)
@given(data=st.data(), bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.sampled_from(["weights", "optimizer"]))
def test_a_run_whose_weights_or_optimizer_state_are_not_finite_is_never_saved(run, data, bad, where):
    arrays = ({k: p.data for k, p in run.model.parameters().items()} if where == "weights"
              else run.optimizer.buffers)
    key = data.draw(st.sampled_from(sorted(arrays)), label="array")
    array = arrays[key]
    index = data.draw(st.integers(0, array.size - 1), label="element")
    target = run.out / "fuzz.npz"
    target.unlink(missing_ok=True)
    saved = array.flat[index]
    array.flat[index] = bad
    try:
        with pytest.raises(TrainingDiverged, match=key.split("/")[-1]):
            run.save(target)
    finally:
        array.flat[index] = saved
    assert not target.exists(), f"a checkpoint was written with {key}[{index}] = {bad}"
    run.save(target)  # and the restored run saves
    assert target.exists()
