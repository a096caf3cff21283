"""``to_torch``: a cell, a Sequence, a Recurrent stack or a LanguageModel as a torch.nn.Module that
computes what it computes, in torch operations, with its parameters under the same names; and
``load_from_torch``, the weights back.

A Sequence's module runs the time loop as the composed path does: the operations that read x_t
but not the state run once over all steps' rows, the rest once per step. Its truncation policy is
kept exactly, with ``detach()`` where each step's window starts (see :class:`SequenceModule`). A
stack's and a language model's regularisers are the same in eval mode (off) and of the same kind
while training, with torch's masks (see :class:`RecurrentModule`, :class:`LanguageModelModule`).
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ExportError, GateInputError
from ..models import LanguageModel
from ..nodes import Cell, Node
from ..sequence import Recurrent, Sequence, Truncation
from ..sequence.composed import ROWS, STEP, X, dependence, needed
from .cell import CellModule
from .regularise import Dropout, TiedLinear


def chains(policy: Truncation, T: int) -> tuple[list[int], dict[int, int]]:
    """``policy``'s windows over ``T`` steps: ``window_start(t, T)`` for each step t, and the
    chains that give them, ``{start: last step}``: the steps whose windows start at ``start`` take
    their state from one chain of steps run from there, on a detached state."""
    starts = [policy.window_start(t, T) for t in range(T)]
    for t, w in enumerate(starts):
        if not (isinstance(w, int | np.integer) and 0 <= w <= t):
            raise ExportError(f"{policy!r}.window_start({t}, {T}) is {w!r}; expected a step in [0, {t}]")
    return starts, {w: t for t, w in enumerate(starts)}


REPRODUCED = {
    Sequence: ("cell", "truncation", "batch_first", "fused"),
    Recurrent: ("cell", "input_size", "hidden_size", "layers", "dropout", "truncation", "dtype", "rng", "fused",
                "locked", "weight_drop"),
    LanguageModel: ("vocab_size", "cell", "embed_size", "hidden_size", "layers", "dropout", "one_hot", "truncation",
                    "dtype", "rng", "fused", "dropout_input", "dropout_output", "dropout_embed", "weight_drop",
                    "locked_dropout", "tie_weights"),
}
"""The constructor arguments of each kind whose effect its module reproduces (``rng``: the masks
come from torch's generator instead; ``fused``: the module runs the cell's step, the function the
fused kernel computes). A kind's cells' own options live in the recorded step."""

COMPUTES = {Sequence: ("forward", "forward_projected", "project"), Recurrent: ("forward", "dropped_weights"),
            LanguageModel: ("forward", "loss", "embed", "output_weight", "projected_table")}
"""The methods of each kind whose computation its module restates."""


def check_reproduced(obj: Node, kind: type) -> None:
    """ExportError naming what the module of ``obj`` (an instance of ``kind`` or of a subclass)
    would not compute alike: a constructor argument it does not know (a new option, or a
    subclass's own), or a method of ``kind`` the subclass overrides."""
    cls = type(obj)
    extra = [n for n, p in inspect.signature(cls).parameters.items()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and n not in REPRODUCED[kind]]
    if extra:
        raise ExportError(f"to_torch: {cls.__name__}'s option(s) {', '.join(extra)} have no PyTorch counterpart in "
                          f"the exported module, which reproduces only {', '.join(REPRODUCED[kind])}; the module would "
                          f"compute something else")
    overridden = [m for m in COMPUTES[kind] if getattr(cls, m) is not getattr(kind, m)]
    if overridden:
        raise ExportError(f"to_torch: {cls.__name__} overrides {kind.__name__}.{', '.join(overridden)}; the exported "
                          f"module restates {kind.__name__}'s own and would compute something else")


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
        check_reproduced(seq, Sequence)
        self.cell = CellModule(seq.cell)
        self.truncation, self.batch_first = seq.truncation, seq.batch_first
        program, n = self.cell.program, self.cell.n_state
        depends = dependence(program, n)
        self.step_eqns = [i for i, e in enumerate(program.eqns) if depends[e.outs[0]] == STEP]
        self.hoisted = [i for i, e in enumerate(program.eqns) if depends[e.outs[0]] != STEP]
        self.needed = needed(program, self.step_eqns)
        self.rows = [s for s in self.needed if depends[s] == ROWS]

    def forward(self, xs: torch.Tensor, state0=None, weights: dict | None = None):
        """``weights`` ``{name: tensor}``: used in place of the cell's parameters of those names for
        this call, at every step (a recurrent weight with DropConnect, one mask per call)."""
        cell = self.cell
        cell.check(xs, "batch, T, input" if self.batch_first else "T, batch, input")
        xs = xs.transpose(0, 1) if self.batch_first else xs
        T, B = xs.shape[:2]
        template = cell.template(weights)
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
    children ``l0``, ``l1``, ... (each a :class:`SequenceModule`), and while training ``dropout``
    between layers (locked: one ``(1, B, H)`` mask for all time steps, with ``locked=True``) and
    ``weight_drop``, DropConnect on every layer's ``weight_hh``, one mask per layer per call, used
    at every step. In our order: for each layer, the dropout before it (from the second), then its
    weight's mask."""

    def __init__(self, rec: Recurrent):
        super().__init__()
        check_reproduced(rec, Recurrent)
        self.layers = rec.layers
        for k, seq in enumerate(rec.sequences()):
            self.add_module(f"l{k}", SequenceModule(seq))
        self.dropout = Dropout(rec.p_drop, (0,) if rec.locked else ())
        self.weight_drop = Dropout(rec.weight_drop)

    def forward(self, xs: torch.Tensor, states0: list | None = None):
        if states0 is not None and (not isinstance(states0, list | tuple) or len(states0) != self.layers):
            got = f"{len(states0)} states" if isinstance(states0, list | tuple) else f"a {type(states0).__name__}"
            raise GateInputError(f"Recurrent module: states0 is {got}; expected a list with one state per layer "
                                 f"({self.layers}), None for a layer that starts from zeros")
        h, states = xs, []
        for k in range(self.layers):
            seq = self.get_submodule(f"l{k}")
            h = self.dropout(h) if k else h
            weights = {"weight_hh": self.weight_drop(seq.cell.weight_hh)} if self.weight_drop.active() else None
            h, state = seq(h, None if states0 is None else states0[k], weights)
            states.append(state)
        return h, states


class LanguageModelModule(torch.nn.Module):
    """``logits, state = module(tokens, state=None)`` and ``loss, state = module.loss(inputs,
    targets, mask=None, state=None)`` as :class:`~autograd_rnn.models.LanguageModel`: tokens
    ``(T, batch)`` integer ids (torch or numpy), logits ``(T, batch, vocab)``, the mean
    cross-entropy in nats per token (over the tokens the mask keeps). Children ``embedding`` (an
    ``nn.Embedding``, none when one-hot), ``rnn``, ``proj`` (an ``nn.Linear``; with tied weights a
    :class:`~.regularise.TiedLinear` with only ``bias``, which reads ``embedding.weight``), and the
    regularisers, each a :class:`~.regularise.Dropout` acting only while training: ``embed_drop``
    (whole rows of the table, ``(V, 1)``), ``input_drop`` and ``output_drop`` (on the first layer's
    inputs and the last one's outputs; locked across time with ``locked_dropout``), the
    ``rnn``'s ``dropout`` and ``weight_drop``. In our order: the table's rows, the inputs, the
    layers, the outputs."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        check_reproduced(model, LanguageModel)
        dtype = torch.float64 if model.dtype == np.float64 else torch.float32
        self.vocab_size, self.one_hot, self.tied = model.vocab_size, model.one_hot, model.tied
        locked = (0,) if model.locked else ()
        if not model.one_hot:
            self.embedding = torch.nn.Embedding(model.vocab_size, model.embed_size, dtype=dtype)
        self.embed_drop = Dropout(model.p_embed, (1,))
        self.input_drop = Dropout(model.p_input, locked)
        self.rnn = RecurrentModule(model.rnn)
        self.output_drop = Dropout(model.p_output, locked)
        self.proj = TiedLinear(model.hidden_size, model.vocab_size, dtype) if model.tied else \
            torch.nn.Linear(model.hidden_size, model.vocab_size, dtype=dtype)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens (T, B)`` -> the first layer's inputs ``(T, B, E)``: rows of the embedding table
        after ``embed_drop``, or one-hot rows, a dropped token's row all zeros."""
        if not self.one_hot:
            return F.embedding(tokens, self.embed_drop(self.embedding.weight))
        x = F.one_hot(tokens, self.vocab_size).to(self.proj.bias.dtype)
        if self.embed_drop.active():  # the identity table's rows dropped: those tokens' one-hot rows
            x = x * self.embed_drop(x.new_ones(self.vocab_size, 1))[tokens]
        return x

    def forward(self, tokens, state: list | None = None):
        tokens = torch.as_tensor(tokens, device=self.proj.bias.device)
        if tokens.ndim != 2 or tokens.dtype.is_floating_point:
            raise GateInputError(f"LanguageModel module: tokens {tuple(tokens.shape)} {tokens.dtype}; expected "
                                 f"integer ids of shape (T, batch)")
        hs, state = self.rnn(self.input_drop(self.embed(tokens.long())), state)
        hs = self.output_drop(hs)
        return (self.proj(hs, self.embedding.weight) if self.tied else self.proj(hs)), state

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
    mode; a language model's regularisers as child modules (:mod:`.regularise`) drawing torch's
    masks while training. ExportError, naming what is wrong, for a gate without a counterpart, a
    step that is not one program, a truncation policy ``detach`` cannot express, or an option or
    override the module does not restate (:func:`check_reproduced`)."""
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
