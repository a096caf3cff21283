"""``to_torch``: a cell, a Sequence, a Recurrent stack or a LanguageModel as a torch.nn.Module that
computes what it computes, in torch operations, with its parameters under the same names; and
``load_from_torch``, the weights back.

A Sequence's module runs the time loop as the composed path does: the operations that read x_t
but not the state run once over all steps' rows, the rest once per step. Its truncation policy is
kept exactly, with ``detach()`` where each step's window starts (see :class:`SequenceModule`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExportError, GateInputError
from ..models import LanguageModel
from ..nodes import Cell, Node
from ..sequence import Recurrent, Sequence, Truncation
from ..sequence.composed import ROWS, STEP, X, dependence, needed
from .cell import CellModule


def chains(policy: Truncation, T: int) -> tuple[list[int], dict[int, int]]:
    """``policy``'s windows over ``T`` steps: ``window_start(t, T)`` for each step t, and the
    chains that give them, ``{start: last step}``: the steps whose windows start at ``start`` take
    their state from one chain of steps run from there, on a detached state."""
    starts = [policy.window_start(t, T) for t in range(T)]
    for t, w in enumerate(starts):
        if not (isinstance(w, int | np.integer) and 0 <= w <= t):
            raise ExportError(f"{policy!r}.window_start({t}, {T}) is {w!r}; expected a step in [0, {t}]")
    return starts, {w: t for t, w in enumerate(starts)}


class SequenceModule(torch.nn.Module):
    """``hs, state = module(xs, state0=None)`` as :class:`~autograd_rnn.sequence.Sequence`:
    ``xs (T, batch, input)`` (``(batch, T, input)`` with ``batch_first``), ``hs (T, batch,
    hidden)``, the final state one tensor or a tuple. Child ``cell``: the cell's module.

    The operations that read x_t but not the state run once over all steps' rows; the rest run
    step by step. The truncation policy is exact: the gradient of ``h_t`` must stop at the step
    where its window starts, so ``h_t`` comes from a chain of steps run from there on the
    ``detach()``-ed state. Under ``Full()`` that is one chain (T steps), under ``Truncated(k)``
    with k dividing T one chain per block (T steps in all); otherwise chains overlap and steps run
    again: about ``T * k2 / k1`` steps for ``Truncated(k1, k2)``, ``T * (k + 1)`` for ``LookBack(k)``.
    """

    def __init__(self, seq: Sequence):
        super().__init__()
        self.cell = CellModule(seq.cell)
        self.truncation, self.batch_first = seq.truncation, seq.batch_first
        program, n = self.cell.program, self.cell.n_state
        depends = dependence(program, n)
        self.step_eqns = [i for i, e in enumerate(program.eqns) if depends[e.outs[0]] == STEP]
        self.hoisted = [i for i, e in enumerate(program.eqns) if depends[e.outs[0]] != STEP]
        self.needed = needed(program, self.step_eqns)
        self.rows = [s for s in self.needed if depends[s] == ROWS]

    def forward(self, xs: torch.Tensor, state0=None):
        cell = self.cell
        cell.check(xs, "batch, T, input" if self.batch_first else "T, batch, input")
        xs = xs.transpose(0, 1) if self.batch_first else xs
        T, B = xs.shape[:2]
        template = cell.template()
        values = template.copy()
        values[X] = xs.reshape(T * B, -1)
        cell.run(values, self.hoisted)
        for s in self.needed:
            template[s] = values[s]
        stacked = [(s, values[s].reshape(T, B, *values[s].shape[1:]).unbind(0)) for s in self.rows]
        x_steps = xs.unbind(0)  # (one unbind, not T selects: each select's backward writes a (T, ...) tensor)

        def step(t: int, state: tuple) -> tuple:
            values = template.copy()
            values[X] = x_steps[t]
            values[1:1 + len(state)] = state
            for s, v in stacked:
                values[s] = v[t]
            cell.run(values, self.step_eqns)
            return tuple(values[s] for s in cell.program.outs)

        starts, ends = chains(self.truncation, T)
        state0 = cell.parts(state0, xs[0])
        after, out = {}, [None] * T
        for start in sorted(ends):
            state = state0 if start == 0 else tuple(p.detach() for p in after[start - 1])
            for t in range(start, ends[start] + 1):
                state = step(t, state)
                after.setdefault(t, state)
                if starts[t] == start:
                    out[t] = state
        hs = torch.stack([s[0] for s in out])
        return hs.transpose(0, 1) if self.batch_first else hs, out[-1] if len(out[-1]) > 1 else out[-1][0]

    def extra_repr(self) -> str:
        return f"truncation={self.truncation!r}" + (", batch_first=True" if self.batch_first else "")


class RecurrentModule(torch.nn.Module):
    """``hs, states = module(xs, states0=None)`` as :class:`~autograd_rnn.sequence.Recurrent`:
    children ``l0``, ``l1``, ... (each a :class:`SequenceModule`), dropout between layers while
    training."""

    def __init__(self, rec: Recurrent):
        super().__init__()
        self.layers = rec.layers
        for k, seq in enumerate(rec.sequences()):
            self.add_module(f"l{k}", SequenceModule(seq))
        self.dropout = torch.nn.Dropout(rec.p_drop)

    def forward(self, xs: torch.Tensor, states0: list | None = None):
        h, states = xs, []
        for k in range(self.layers):
            h, state = self.get_submodule(f"l{k}")(self.dropout(h) if k else h, None if states0 is None else states0[k])
            states.append(state)
        return h, states


class LanguageModelModule(torch.nn.Module):
    """``logits, state = module(tokens, state=None)`` and ``loss, state = module.loss(inputs,
    targets, mask=None, state=None)`` as :class:`~autograd_rnn.models.LanguageModel`: tokens
    ``(T, batch)`` integer ids (torch or numpy), logits ``(T, batch, vocab)``, the mean
    cross-entropy in nats per token (over the tokens the mask keeps). Children ``embedding`` (an
    ``nn.Embedding``, none when one-hot), ``rnn``, ``proj`` (an ``nn.Linear``)."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        dtype = torch.float64 if model.dtype == np.float64 else torch.float32
        self.vocab_size, self.one_hot = model.vocab_size, model.one_hot
        if not model.one_hot:
            self.embedding = torch.nn.Embedding(model.vocab_size, model.embed_size, dtype=dtype)
        self.rnn = RecurrentModule(model.rnn)
        self.proj = torch.nn.Linear(model.hidden_size, model.vocab_size, dtype=dtype)

    def forward(self, tokens, state: list | None = None):
        tokens = torch.as_tensor(tokens, device=self.proj.weight.device)
        if tokens.ndim != 2 or tokens.dtype.is_floating_point:
            raise GateInputError(f"LanguageModel module: tokens {tuple(tokens.shape)} {tokens.dtype}; expected "
                                 f"integer ids of shape (T, batch)")
        x = F.one_hot(tokens.long(), self.vocab_size).to(self.proj.weight.dtype) if self.one_hot else \
            self.embedding(tokens.long())
        hs, state = self.rnn(x, state)
        return self.proj(hs), state

    def loss(self, inputs, targets, mask=None, state: list | None = None):
        logits, state = self(inputs, state)
        targets = torch.as_tensor(targets, device=logits.device).reshape(-1).long()
        nll = F.cross_entropy(logits.reshape(-1, self.vocab_size), targets, reduction="none")
        if mask is None:
            return nll.mean(), state
        w = torch.as_tensor(mask, device=logits.device).reshape(-1).to(nll.dtype)
        return (w * nll).sum() / w.sum(), state


MODULES = ((LanguageModel, LanguageModelModule), (Recurrent, RecurrentModule), (Sequence, SequenceModule),
           (Cell, CellModule))
"""What each kind of our objects becomes (the first that matches)."""


def to_torch(obj: Node) -> torch.nn.Module:
    """A torch module computing what ``obj`` (a Cell, Sequence, Recurrent or LanguageModel) computes,
    built from its cell's recorded step (:mod:`.cell`), its parameters copied under the same names
    (``module.state_dict()`` has ``obj.state_dict()``'s keys), in ``obj``'s dtype and training
    mode. ExportError, naming what is wrong, for a gate without a counterpart, a step that is not
    one program, or a truncation policy ``detach`` cannot express."""
    for kind, make in MODULES:
        if isinstance(obj, kind):
            module = make(obj)
            module.load_state_dict({k: torch.tensor(v) for k, v in obj.state_dict().items()})
            return module.train(obj.training)
    raise ExportError(f"to_torch: {type(obj).__name__}; expected a Cell, Sequence, Recurrent or LanguageModel")


def numpy_state_dict(source) -> dict[str, np.ndarray]:
    """A torch module's (or state dict's) tensors as numpy arrays, by name (from any device)."""
    state = source.state_dict() if isinstance(source, torch.nn.Module) else source
    out = {}
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu()
            v = (v.double() if v.dtype in (torch.float16, torch.bfloat16) else v).numpy()
        out[k] = np.array(v)
    return out


def load_from_torch(obj: Node, source) -> None:
    """Copy the weights of a module made by :func:`to_torch` (or its state dict) into ``obj``: the
    same names and shapes, cast to ``obj``'s dtype (a ConfigError lists every mismatch)."""
    obj.load_state_dict(numpy_state_dict(source))
