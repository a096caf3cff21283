"""A run's checkpoint as a PyTorch file, and back.

A ``.pt`` file written here is what ``torch.save`` writes for the dict::

    {"state_dict": {name: tensor, ...},          # the model's weights, our names (on the CPU)
     "autograd_rnn": "<JSON text>"}              # format, version, and the checkpoint's config,
                                                 # vocabulary, progress and RNG states

so PyTorch reads it with ``torch.load(path, weights_only=True)`` and a module from
:func:`~autograd_rnn.torch_interop.to_torch` loads ``["state_dict"]`` as it is. The JSON is what
rebuilds the model (``config.model`` names the cell, with its options) and samples and evaluates
it (the vocabulary); :func:`load_pt` gives it back as a :class:`~autograd_rnn.checkpoint.Checkpoint`
without an optimizer state (a state carried between chunks of a stream is not kept either).
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from ..atomic import atomic_file
from ..checkpoint import Checkpoint
from ..errors import CheckpointError
from .modules import numpy_state_dict

FORMAT, VERSION = "autograd_rnn-torch", 1
SECTIONS = ("config", "vocab", "progress", "rng_state")


def save_pt(path: str | os.PathLike, weights, checkpoint: Checkpoint, overwrite: bool = False) -> None:
    """Write ``weights`` (a module from ``to_torch``, a state dict, or our arrays by name) with
    ``checkpoint``'s sections to the ``.pt`` file ``path``, atomically; an existing file is
    replaced only with ``overwrite``."""
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise CheckpointError(f"{path} exists; choose another file or remove it first")
    arrays = numpy_state_dict(weights) if isinstance(weights, torch.nn.Module) else numpy_state_dict(dict(weights))
    progress = {**checkpoint.progress, "carry": None}
    meta = {"format": FORMAT, "version": VERSION, **{k: getattr(checkpoint, k) for k in SECTIONS}, "progress": progress}
    try:
        text = json.dumps(meta, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else _refuse(v))
    except (CheckpointError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's sections are not JSON ({e})") from None
    obj = {"state_dict": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()},
           "autograd_rnn": text}
    with atomic_file(path) as f:
        torch.save(obj, f)


def _refuse(value):
    raise CheckpointError(f"a {type(value).__name__} in the checkpoint's sections; expected JSON values or arrays")


def load_pt(path: str | os.PathLike) -> Checkpoint:
    """The checkpoint a ``.pt`` file written by :func:`save_pt` holds (weights as numpy arrays, no
    optimizer state). Read with ``weights_only=True``: nothing in the file is executed."""
    path = os.fspath(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:  # a damaged or foreign file makes torch.load raise almost anything
        raise CheckpointError(f"{path}: not a PyTorch file torch.load reads safely ({type(e).__name__}: "
                              f"{str(e)[:200]})") from None
    foreign = (f"{path}: not a model written by autograd-rnn export; expected a dict with 'state_dict' and "
               f"'autograd_rnn'")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{foreign} (got a {type(obj).__name__})")
    try:
        meta = json.loads(obj["autograd_rnn"])
        weights = numpy_state_dict(obj["state_dict"])
        known = meta["format"] == FORMAT and isinstance(meta["version"], int)
    except (TypeError, KeyError, ValueError, AttributeError) as e:
        raise CheckpointError(f"{foreign} ({type(e).__name__}: {e})") from None
    if not known:
        raise CheckpointError(f"{foreign} (format {meta.get('format')!r})")
    if meta["version"] > VERSION:
        raise CheckpointError(f"{path}: written by a newer autograd_rnn (version {meta['version']}); this one reads "
                              f"version <= {VERSION}")
    missing = [k for k in SECTIONS if k not in meta]
    if missing:
        raise CheckpointError(f"{path}: the autograd_rnn section lacks {missing}")
    return Checkpoint(model=weights, optimizer=None, **{k: meta[k] for k in SECTIONS})
