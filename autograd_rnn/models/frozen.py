"""``FrozenModel``: a language model in evaluation mode as a function of arrays, for sampling.

Made from a :class:`~autograd_rnn.models.LanguageModel` by reading its parameters once; each
layer is its Sequence's :class:`~autograd_rnn.sequence.FrozenSequence` (the kernel the Sequence
runs, fused or composed, on bare arrays). When the first layer is fused, the embedding table is
projected through its input weights once, ``P = E W_ih^T + b_ih (V, G*H)``, and a token's row of
``P`` is its input projection (with ``one_hot``, ``E`` is the identity and ``P = W_ih^T + b_ih``).
The same function as ``model.eval()``'s forward, which the tests check at T = 1 and over whole
sequences; it is valid while the parameters stay as they were.
"""

from __future__ import annotations

import numpy as np

from ..errors import GateInputError
from ..gates.arithmetic import affine
from ..gates.base import check_indices
from ..graph import no_grad
from .language_model import LanguageModel


class FrozenModel:
    """``logits, state = frozen(tokens, state=None)``: ``tokens (T, batch)`` ids -> ``logits (T,
    batch, V)`` (an array); ``state`` one tuple of ``(batch, H)`` arrays per layer (None: zeros)."""

    def __init__(self, model: LanguageModel):
        self.vocab_size = model.vocab_size
        self.layers = [seq.frozen() for seq in model.rnn.sequences()]
        first = self.layers[0]
        self.projected = first.project is not None
        if not self.projected:
            self.table = np.eye(model.vocab_size, dtype=model.dtype) if model.one_hot else model.embedding.weight.data
        elif model.one_hot and first.linear is not None:  # the identity's rows through x W^T + b: its columns
            W, b = first.linear
            self.table = W.T + b
        elif model.one_hot:
            self.table = first.project(np.eye(model.vocab_size, dtype=model.dtype))
        else:
            with no_grad():
                self.table = model.projected_table().data
        self.W_out, self.b_out = model.output_weight().data, model.proj.bias.data

    def __call__(self, tokens: np.ndarray, state: list | None = None) -> tuple[np.ndarray, list]:
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or 0 in tokens.shape:
            raise GateInputError(f"FrozenModel: tokens have shape {tokens.shape}; expected (T, batch), both >= 1")
        check_indices("FrozenModel", "tokens", tokens, self.vocab_size, "token ids")
        if state is not None and len(state) != len(self.layers):
            raise GateInputError(f"FrozenModel: state has {len(state)} entries; expected one per layer "
                                 f"({len(self.layers)})")
        x = self.table[tokens]
        finals = []
        for k, layer in enumerate(self.layers):
            x, s = layer(x, None if state is None else state[k], projected=self.projected and k == 0)
            finals.append(s)
        T, B, H = x.shape
        return affine(x.reshape(T * B, H), self.W_out, self.b_out).reshape(T, B, -1), finals
