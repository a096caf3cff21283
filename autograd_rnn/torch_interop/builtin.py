"""The built-in cells under PyTorch's own modules: weights both ways with torch.nn.RNN/LSTM/GRU
and their cells. torch is imported only inside these functions.

Names: a cell's ``weight_ih`` ... equal torch.nn.RNNCell/LSTMCell/GRUCell's; a
:class:`~autograd_rnn.nodes.Recurrent`'s ``l{k}.cell.weight_ih`` ... map to torch.nn.RNN/LSTM/GRU's
``weight_ih_l{k}`` ... (same shapes, same gate order).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, ExportError
from ..nodes import CELLS, Cell, RNNLayer
from ..sequence import Recurrent

# torch.nn's module and cell class for each built-in cell torch.nn has, by the built-in name: nn.RNN /
# nn.RNNCell, ... (the layer-normalised LSTM has none: to_torch writes it from its step)
_TORCH_CLASS = {cls: (name.upper(), name.upper() + "Cell") for name, cls in CELLS.items()
                if name in ("rnn", "lstm", "gru")}


def torch_names(model) -> dict[str, str]:
    """Our parameter name -> PyTorch's, for a built-in cell or a Recurrent stack of them."""
    if isinstance(model, Cell):
        return {k: k for k in model.parameters()}
    if isinstance(model, Recurrent):
        out = {}
        for name in model.parameters():
            layer, _, pname = name.split(".")
            out[name] = f"{pname}_l{layer[1:]}"
        return out
    raise ExportError(f"torch_names: {type(model).__name__}; expected a Cell or a Recurrent")


def to_torch_state_dict(model) -> dict:
    """Our weights as a PyTorch state dict (torch tensors, same dtype)."""
    import torch

    names = torch_names(model)
    return {names[k]: torch.from_numpy(p.data.copy()) for k, p in model.parameters().items()}


def load_torch_state_dict(model, state: dict) -> None:
    """Load a PyTorch state dict (tensors or arrays) of the matching nn module or cell."""
    names = torch_names(model)
    theirs = {}
    for k, v in state.items():
        theirs[k] = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
    inverse = {v: k for k, v in names.items()}
    unknown = [k for k in theirs if k not in inverse]
    if unknown:
        raise ConfigError(f"load_torch_state_dict: unexpected PyTorch names {unknown}; expected {sorted(inverse)}")
    model.load_state_dict({inverse[k]: v for k, v in theirs.items()})


def to_torch_module(model):
    """A torch module with our weights: nn.RNN/LSTM/GRU for a Recurrent (time-major), or the
    matching nn.*Cell for a cell; float64 or float32 like the model."""
    import torch

    if isinstance(model, Recurrent):
        cls = model.cell_type
        if cls not in _TORCH_CLASS:
            raise ExportError(f"to_torch_module: torch.nn has no module for {cls.__name__}; to_torch(model) writes "
                              f"any cell in torch operations")
        kwargs = {"num_layers": model.layers, "dropout": model.p_drop}
        first = model.sequences()[0].cell
        if cls is RNNLayer:
            kwargs["nonlinearity"] = first.nonlinearity
        module = getattr(torch.nn, _TORCH_CLASS[cls][0])(model.input_size, model.hidden_size, **kwargs)
    elif isinstance(model, Cell) and type(model) in _TORCH_CLASS:
        kwargs = {"nonlinearity": model.nonlinearity} if isinstance(model, RNNLayer) else {}
        module = getattr(torch.nn, _TORCH_CLASS[type(model)][1])(model.input_size, model.hidden_size, **kwargs)
    else:
        raise ExportError(f"to_torch_module: torch.nn has no module for {type(model).__name__}; to_torch(model) "
                          f"writes any cell in torch operations")
    module = module.to(torch.float64 if model.dtype == np.float64 else torch.float32)
    module.load_state_dict(to_torch_state_dict(model))
    return module
