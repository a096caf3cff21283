"""PyTorch: any model of this package as a torch module, and weights both ways.

* :func:`to_torch` (``modules.py``): a Cell, Sequence, Recurrent or LanguageModel as a
  ``torch.nn.Module`` computing the same function in torch operations, built from the cell's
  recorded step and one table of gate counterparts (``ops.py``: :data:`TORCH`,
  :func:`register_torch` for a gate of your own, :func:`check_counterpart`);
  :func:`load_from_torch` copies the module's weights back. A language model's regularisers
  (dropout, locked or not, embedding dropout, weight drop) and its tied projection are modules of
  ``regularise.py``, drawing torch's masks while training.
* :func:`save_pt` / :func:`load_pt` (``files.py``): a run's checkpoint as a ``.pt`` state dict plus
  what rebuilds the model, and back (``autograd-rnn export``).
* ``builtin.py``: the built-in cells' weights under torch.nn.RNN/LSTM/GRU's own names and modules.

This package is the only one that imports torch, and it is an optional extra: its ``builtin``
functions import it inside themselves; the rest is loaded, with torch, on first use of one of its
names (an ImportError saying how to install torch when it is missing). Nothing else in
autograd_rnn imports this package.
"""

from .builtin import load_torch_state_dict, to_torch_module, to_torch_state_dict, torch_names

_NEEDS_TORCH = {
    "to_torch": "modules", "load_from_torch": "modules", "numpy_state_dict": "modules",
    "CellModule": "cell", "SequenceModule": "modules", "RecurrentModule": "modules", "LanguageModelModule": "modules",
    "TORCH": "ops", "register_torch": "ops", "check_counterpart": "ops", "save_pt": "files", "load_pt": "files",
}


def __getattr__(name: str):
    if name not in _NEEDS_TORCH:
        raise AttributeError(f"module 'autograd_rnn.torch_interop' has no attribute {name!r}")
    try:
        import torch  # noqa: F401
    except ImportError as e:
        raise ImportError(f"autograd_rnn.torch_interop.{name} needs PyTorch: pip install torch") from e
    from . import cell, files, modules, ops

    return getattr({"cell": cell, "files": files, "modules": modules, "ops": ops}[_NEEDS_TORCH[name]], name)


__all__ = ["torch_names", "to_torch_state_dict", "load_torch_state_dict", "to_torch_module", *_NEEDS_TORCH]
