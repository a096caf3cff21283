"""Safe single-file checkpoints: an uncompressed ``.npz`` archive, written atomically, read without pickle.

Format (version 1): a zip archive, as ``np.savez`` writes it, holding one ``<key>.npy`` member per array plus
``__meta__.npy``, a uint8 array of UTF-8 JSON ``{"magic": "autograd_rnn-checkpoint", "format_version": 1, ...}``.
Nothing is ever pickled: object and structured arrays are refused on save, and loading uses
``allow_pickle=False`` after checking every member's CRC, so a damaged file raises :class:`CheckpointError`
instead of loading garbage.

Saving goes through :func:`autograd_rnn.atomic.atomic_file`: a temporary file in the target's folder, flushed,
fsynced, renamed over the target, the folder fsynced; after a crash at any point ``path`` holds the old
checkpoint or the new one, and a target that is a symbolic link is refused. ``path`` may also be an open binary
file (an ``io.BytesIO``, say), written or read as it is.
"""

from __future__ import annotations

import io
import json
import os
import urllib.parse
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from .atomic import atomic_file
from .errors import CheckpointError

MAGIC = "autograd_rnn-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__meta__"
MANIFEST = "__arrays__"
_SECTIONS = ("optimizer", "rng_state", "vocab", "config", "progress")


# ----- validation ----------------------------------------------------------------------------------------------
def _check_json(obj: Any, where: str) -> None:
    """Raise CheckpointError unless ``obj`` is made of dicts with str keys, lists, tuples, str, int, float,
    bool and None (not numpy scalars: convert them with ``.item()``). Tuples come back as lists; ints of any
    size Python writes as text (4300 digits, unless ``sys.set_int_max_str_digits`` says otherwise; a longer one
    is refused) and floats round-trip exactly (nan and inf as Python's JSON extensions NaN and Infinity)."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        try:
            str(obj)
        except ValueError:
            raise CheckpointError(f"{where} is an integer of {obj.bit_length():,} bits, more digits than Python "
                                  f"writes as text; store it as a string or an array") from None
        return
    if obj is None or isinstance(obj, str | bool | float):
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{where} has the key {key!r} of type {type(key).__name__}; JSON object keys "
                                      f"must be str")
            _check_json(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            _check_json(value, f"{where}[{i}]")
        return
    raise CheckpointError(f"{where} is a {type(obj).__module__}.{type(obj).__name__}, which JSON cannot hold; "
                          f"use dicts with str keys, lists, str, int, float, bool or None")


def _check_arrays(arrays: dict) -> None:
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or "\x00" in key or "\\" in key or key.endswith(".npy") \
                or not key.isascii() or not key.isprintable():
            raise CheckpointError(f"array key {key!r}: expected a non-empty str of printable ASCII characters, "
                                  f"without backslash, not ending in '.npy'")
        if key == META_KEY:
            raise CheckpointError(f"array key {META_KEY!r} is reserved for the checkpoint's metadata")
        if not isinstance(value, np.ndarray):
            raise CheckpointError(f"array {key!r} is a {type(value).__name__}; expected a numpy ndarray")
        if value.dtype.hasobject or value.dtype.kind == "V":
            raise CheckpointError(f"array {key!r} has dtype {value.dtype}: object and structured arrays would need "
                                  f"pickle; store plain numeric or string arrays")


# ----- low level -----------------------------------------------------------------------------------------------
def _name(path) -> str:
    return os.fspath(path) if isinstance(path, str | os.PathLike) else f"<{type(path).__name__}>"


def save_archive(path: str | os.PathLike | io.IOBase, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write ``arrays`` and the JSON ``meta`` to ``path`` atomically (see the module docstring), or to an
    open binary file.

    Raises CheckpointError, before touching the disk, for an object or structured array, a reserved or
    malformed key, or meta that JSON cannot hold exactly.
    """
    name = _name(path)
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: meta must be a dict; got {type(meta).__name__}")
    if "magic" in meta or "format_version" in meta:
        raise CheckpointError(f"{name}: the meta keys 'magic' and 'format_version' are reserved")
    _check_arrays(arrays)
    _check_json(meta, "meta")
    if MANIFEST in meta:
        raise CheckpointError(f"{name}: the meta key {MANIFEST!r} is reserved")
    manifest = {key: [value.dtype.str, list(value.shape)] for key, value in arrays.items()}
    text = json.dumps({"magic": MAGIC, "format_version": FORMAT_VERSION, **meta, MANIFEST: manifest})
    members = {**arrays, META_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    if isinstance(path, str | os.PathLike):
        with atomic_file(path) as f:
            _write(f, members)
    else:
        _write(path, members)


def _write(f, members: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, value in members.items():
            with zf.open(key + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)


def load_archive(path: str | os.PathLike | io.IOBase) -> tuple[dict[str, np.ndarray], dict]:
    """Read an archive written by :func:`save_archive` (a path, or an open binary file read from its start):
    ``(arrays, meta)``, all in memory, the file closed.

    ``meta`` is the user's meta (without ``magic`` and ``format_version``). Raises CheckpointError naming the
    file when it is missing, truncated, corrupted, not an autograd_rnn checkpoint, from a newer format version,
    or holds a member that would need pickle. Never unpickles anything.
    """
    name = _name(path)
    try:
        if not isinstance(path, str | os.PathLike):
            path.seek(0)
            return _read(name, path)
        with open(path, "rb") as f:
            return _read(name, f)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{name}: no such checkpoint file") from None
    except Exception as e:  # a damaged file can make zipfile or numpy raise almost anything
        raise CheckpointError(f"{name}: cannot read the checkpoint, the file is truncated or corrupted "
                              f"({type(e).__name__}: {e})") from e


def _read(path: str, f) -> tuple[dict[str, np.ndarray], dict]:
    if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise CheckpointError(f"{path}: not an npz archive, so not an autograd_rnn checkpoint")
    f.seek(0)
    try:
        with zipfile.ZipFile(f) as zf:
            names = zf.namelist()
            if len(set(names)) != len(names):
                raise CheckpointError(f"{path}: the archive names a member twice; the file is corrupted")
            bad = zf.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: the zip archive is truncated or corrupted ({e})") from e
    if bad is not None:
        raise CheckpointError(f"{path}: the member {bad!r} fails its CRC check; the file is corrupted")
    f.seek(0)
    arrays: dict[str, np.ndarray] = {}
    with np.load(f, allow_pickle=False) as npz:
        if META_KEY not in npz.files:
            raise CheckpointError(f"{path}: not an autograd_rnn checkpoint (the npz has no {META_KEY!r} entry)")
        for key in npz.files:
            try:
                value = npz[key]
            except ValueError as e:
                if "pickle" in str(e):
                    raise CheckpointError(f"{path}: the member {key!r} is an object array that would need pickle; "
                                          f"refusing to load it") from e
                raise
            if not isinstance(value, np.ndarray):
                raise CheckpointError(f"{path}: the member {key!r} is not a .npy array; not an autograd_rnn "
                                      f"checkpoint")
            arrays[key] = value
    raw = arrays.pop(META_KEY)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise CheckpointError(f"{path}: not an autograd_rnn checkpoint ({META_KEY!r} is {raw.dtype} {raw.shape})")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except ValueError as e:
        raise CheckpointError(f"{path}: not an autograd_rnn checkpoint (unreadable {META_KEY!r}: {e})") from e
    if not isinstance(meta, dict) or meta.get("magic") != MAGIC:
        raise CheckpointError(f"{path}: not an autograd_rnn checkpoint (no {MAGIC!r} magic in {META_KEY!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer autograd_rnn (format_version {version}); this version "
                              f"reads format_version <= {FORMAT_VERSION}")
    del meta["magic"], meta["format_version"]
    manifest = meta.pop(MANIFEST, None)
    if manifest is not None:
        _check_manifest(path, arrays, manifest)
    return arrays, meta


def _check_manifest(path: str, arrays: dict, manifest) -> None:
    """The arrays read are exactly the ones written, with their dtypes and shapes (a damaged member
    name would otherwise drop or rename an array while every CRC still passes)."""
    if not isinstance(manifest, dict):
        raise CheckpointError(f"{path}: its list of arrays is damaged; the file is corrupted")
    missing, extra = sorted(set(manifest) - set(arrays)), sorted(set(arrays) - set(manifest))
    if missing or extra:
        raise CheckpointError(f"{path}: the arrays do not match the list written with them (missing {missing[:3]}, "
                              f"unexpected {extra[:3]}); the file is corrupted")
    for key, value in arrays.items():
        if manifest[key] != [value.dtype.str, list(value.shape)]:
            raise CheckpointError(f"{path}: the array {key!r} is {value.dtype.str} {list(value.shape)}; it was "
                                  f"written as {manifest[key]}; the file is corrupted")


# ----- training checkpoints ------------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """Everything needed to resume training: model arrays, optimizer state dict (``{"arrays", "meta"}``) or
    None, RNG state (e.g. ``Generator.bit_generator.state``), vocabulary, config and progress."""

    model: dict[str, np.ndarray]
    optimizer: dict | None
    rng_state: dict | None
    vocab: dict | None
    config: dict
    progress: dict


def _split_arrays(obj: Any, prefix: str, arrays: dict) -> Any:
    """Replace every ndarray inside ``obj`` by ``{"__array__": key}`` and store it in ``arrays`` under that key
    (numpy's MT19937, SFC64 and Philox states hold arrays). A key's path escapes ``%`` and ``/`` in dict
    keys, so ``{"a/b": x}`` and ``{"a": {"b": y}}`` get different paths."""
    if isinstance(obj, np.ndarray):
        if prefix in arrays:
            raise CheckpointError(f"two arrays would be stored under {prefix!r}")
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            raise CheckpointError(f"{prefix}: a dict whose only key is '__array__' is reserved for stored arrays")
        return {k: _split_arrays(v, f"{prefix}/{_escape(k)}", arrays) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_split_arrays(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    return obj


def _escape(key) -> str:
    """A dict key as one path segment: percent-encoded UTF-8 (surrogates kept), so every member name
    is plain ASCII and no two keys share a segment (the empty key is "%")."""
    text = urllib.parse.quote(str(key).encode("utf-8", "surrogatepass"), safe="")
    return text or "%"


def _join_arrays(obj: Any, arrays: dict) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"} and isinstance(obj["__array__"], str) and obj["__array__"] in arrays:
            return arrays[obj["__array__"]]
        return {k: _join_arrays(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join_arrays(v, arrays) for v in obj]
    return obj


def save_checkpoint(path: str | os.PathLike | io.IOBase, *, model: dict[str, np.ndarray], optimizer: dict | None,
                    rng_state: dict | None, vocab: dict | None, config: dict, progress: dict) -> None:
    """Save a training checkpoint atomically: arrays under ``model/`` and ``optim/`` (and ``rng/`` and
    ``progress/`` for arrays inside the RNG state or the progress, e.g. a carried hidden state), everything else
    in the JSON meta."""
    arrays = {f"model/{k}": v for k, v in model.items()}
    opt_meta = None
    if optimizer is not None:
        if not isinstance(optimizer, dict) or set(optimizer) != {"arrays", "meta"}:
            raise CheckpointError("optimizer must be an optimizer state dict with keys 'arrays' and 'meta'")
        arrays.update({f"optim/{k}": v for k, v in optimizer["arrays"].items()})
        opt_meta = optimizer["meta"]
    rng = _split_arrays(rng_state, "rng", arrays) if rng_state is not None else None
    progress = _split_arrays(progress, "progress", arrays)
    meta = {"optimizer": opt_meta, "rng_state": rng, "vocab": vocab, "config": config, "progress": progress}
    save_archive(path, arrays, meta)


def load_checkpoint(path: str | os.PathLike | io.IOBase) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (CheckpointError as :func:`load_archive`, and when
    the archive is not a training checkpoint)."""
    arrays, meta = load_archive(path)
    path = _name(path)
    missing = [s for s in _SECTIONS if s not in meta]
    if missing:
        raise CheckpointError(f"{path}: an autograd_rnn archive but not a training checkpoint (missing {missing})")
    groups: dict[str, dict[str, np.ndarray]] = {"model": {}, "optim": {}, "rng": {}, "progress": {}}
    for key, value in arrays.items():
        prefix, _, name = key.partition("/")
        if prefix not in groups or not name:
            raise CheckpointError(f"{path}: unexpected array {key!r} (expected model/, optim/, rng/ or progress/ keys)")
        groups[prefix][name] = value
    if meta["optimizer"] is None and groups["optim"]:
        raise CheckpointError(f"{path}: optimizer arrays without optimizer metadata")
    optimizer = None if meta["optimizer"] is None else {"arrays": groups["optim"], "meta": meta["optimizer"]}
    rng_arrays = {f"rng/{k}": v for k, v in groups["rng"].items()}
    rng_state = None if meta["rng_state"] is None else _join_arrays(meta["rng_state"], rng_arrays)
    progress = _join_arrays(meta["progress"], {f"progress/{k}": v for k, v in groups["progress"].items()})
    return Checkpoint(model=groups["model"], optimizer=optimizer, rng_state=rng_state, vocab=meta["vocab"],
                      config=meta["config"], progress=progress)


__all__ = ["CheckpointError", "Checkpoint", "save_archive", "load_archive", "save_checkpoint", "load_checkpoint",
           "MAGIC", "FORMAT_VERSION"]
