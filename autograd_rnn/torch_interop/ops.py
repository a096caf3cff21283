"""Every gate's PyTorch counterpart, in one table keyed by the gate's exact class.

An entry is a function of the gate (one configured application) that returns a function of torch
tensors computing the gate's forward; PyTorch's autograd then gives its backward. The entry reads
the gate's configuration from the gate itself (``Split``'s sections, ``Power``'s exponent, a
reduction's axes), so one entry serves every application. A user's own gate registers its
counterpart with :func:`register_torch`, and :func:`check_counterpart` compares the two, forward
and backward, on given inputs (the test suite does it for every entry of the table).

The key is the exact class: a subclass of a built-in gate (another backward, say) has no
counterpart until it registers one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import gates as G
from ..errors import ExportError, GradcheckError
from ..gates import Gate

Counterpart = Callable[[Gate], Callable]


def same(fn: Callable) -> Counterpart:
    """The counterpart of a gate without configuration: ``fn`` for every application."""
    return lambda gate: fn


def axes(axis, x: torch.Tensor) -> tuple[int, ...]:
    """A reduction's ``axis`` (None, an int or a tuple) as torch's ``dim``."""
    return tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int | np.integer) else tuple(axis)


def reduction(fn: Callable) -> Counterpart:
    """``Sum``: ``fn(x, dim, keepdim)`` over the gate's axes (none at all: ``x`` itself)."""
    return lambda gate: lambda x: fn(x, axes(gate.axis, x), gate.keepdims) if axes(gate.axis, x) else x.clone()


def mean(gate: G.Mean) -> Callable:
    """``Mean`` as the sum of ``x / n``: like the gate, finite where the sum of ``x`` would overflow."""
    def of(x):
        dims = axes(gate.axis, x)
        return (x / math.prod(x.shape[d] for d in dims)).sum(dims, keepdim=gate.keepdims) if dims else x.clone()

    return of


def variance(gate: G.Var) -> Callable:
    return lambda x: torch.var(x, axes(gate.axis, x), correction=gate.ddof, keepdim=gate.keepdims) \
        if axes(gate.axis, x) else x - x


def split(gate: G.Split) -> Callable:
    def pieces(x):
        n = gate.sections
        parts = torch.split(x, [x.shape[gate.axis] // n] * n if isinstance(n, int) else list(n), dim=gate.axis)
        return parts if gate.n_outputs > 1 else parts[0]

    return pieces


def index(gate: G.Index) -> Callable:
    """``x[key]`` with numpy's meaning for every key (negative steps, mixed basic and advanced
    indexing): the positions numpy picks from ``arange(x.size)`` of x's shape, gathered from the
    flattened x (so repeated positions add up in backward, as in the gate's)."""
    picks: dict = {}

    def pick(x):
        where = (tuple(x.shape), x.device)
        if where not in picks:
            flat = np.ascontiguousarray(np.arange(x.numel()).reshape(x.shape)[gate.key])
            picks[where] = torch.from_numpy(flat).to(x.device)
        return x.reshape(-1)[picks[where]]

    return pick


def transpose(gate: G.Transpose) -> Callable:
    return lambda x: x.permute(*(reversed(range(x.ndim)) if gate.axes is None else gate.axes))


def dropout(gate: G.Dropout) -> Callable:
    mask = torch.from_numpy(np.asarray(gate.mask))
    return lambda x: x * mask.to(x)


def cross_entropy(gate: G.SoftmaxCrossEntropy) -> Callable:
    """Row weights ``w`` (the mask, times "not ignored"), ``sum_n w_n nll_n`` over ``sum_n w_n``
    (``reduction="mean"``) or over 1 (``"sum"``), as the gate."""

    def loss(logits, targets, mask=None):
        kept = torch.ones_like(targets, dtype=torch.bool) if gate.ignore_index is None else targets != gate.ignore_index
        w = kept.to(logits.dtype) if mask is None else kept.to(logits.dtype) * mask.to(logits.dtype)
        nll = F.cross_entropy(logits, torch.where(kept, targets, 0).long(), reduction="none")
        total = (w * nll).sum()
        return total / w.sum() if gate.reduction == "mean" else total

    return loss


TORCH: dict[type, Counterpart] = {
    G.MultiplyGate: same(torch.matmul),
    G.LinearGate: same(F.linear),
    G.AddGate: same(torch.add),
    G.SubtractGate: same(torch.sub),
    G.HadamardGate: same(torch.mul),
    G.Divide: same(torch.div),
    G.Maximum: same(torch.maximum),
    G.Minimum: same(torch.minimum),
    G.Tanh: same(torch.tanh),
    G.Sigmoid: same(torch.sigmoid),
    G.ReLU: same(torch.relu),
    G.Exp: same(torch.exp),
    G.Log: same(torch.log),
    G.Sqrt: same(torch.sqrt),
    G.Rsqrt: same(torch.rsqrt),
    G.Reciprocal: same(torch.reciprocal),
    G.Abs: same(torch.abs),
    G.Power: lambda gate: lambda x: torch.pow(x, gate.p),
    G.Sum: reduction(torch.sum),
    G.Mean: mean,
    G.Var: variance,
    G.Concat: lambda gate: lambda *xs: torch.cat(xs, dim=gate.axis),
    G.Stack: lambda gate: lambda *xs: torch.stack(xs, dim=gate.axis),
    G.Split: split,
    G.Index: index,
    G.Reshape: lambda gate: lambda x: x.reshape(gate.shape),
    G.Transpose: transpose,
    G.EmbeddingGate: same(lambda weight, indices: F.embedding(indices.long(), weight)),
    G.Dropout: dropout,
    G.SoftmaxCrossEntropy: cross_entropy,
}
"""Gate class -> its counterpart: ``TORCH[type(gate)](gate)`` is a function of torch tensors
computing ``gate.forward``."""


def register_torch(gate_cls: type, counterpart: Counterpart) -> None:
    """Make ``counterpart(gate)`` (a function of torch tensors computing ``gate.forward``) the
    PyTorch counterpart of the gate class ``gate_cls`` (exactly that class)."""
    if not (isinstance(gate_cls, type) and issubclass(gate_cls, Gate)) or not callable(counterpart):
        raise ExportError(f"register_torch({gate_cls!r}, {counterpart!r}): expected a Gate subclass and a function "
                          f"of one gate application returning a function of torch tensors")
    TORCH[gate_cls] = counterpart


def counterpart(gate: Gate, where: str = "") -> Callable:
    """The torch function of ``gate``'s application, or an ExportError naming the gate."""
    make = TORCH.get(type(gate))
    if make is None:
        raise ExportError(f"{where}{gate!r} has no PyTorch counterpart; register one with "
                          f"autograd_rnn.torch_interop.register_torch({gate.name}, lambda gate: <a function of torch "
                          f"tensors>)")
    return make(gate)


def check_counterpart(gate: Gate, inputs: tuple, rtol: float = 1e-10, seed: int = 0) -> float:
    """Run a fresh copy of ``gate`` (a configured application) and its counterpart on ``inputs``
    (arrays), forward and backward for a random upstream gradient (the gradients of the inputs
    the gate differentiates); GradcheckError naming the gate when an output or a gradient differs
    by more than ``rtol`` relative to its largest value (at least 1). Returns the largest
    relative difference."""
    ours = gate.fresh()
    out = ours.forward(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(seed)
    ups = tuple(rng.normal(size=o.shape).astype(o.dtype) for o in outs)
    grads = ours.backward(ups if isinstance(out, tuple) else ups[0])
    tensors = [torch.tensor(x, requires_grad=g is not None) for x, g in zip(inputs, grads)]
    theirs = counterpart(gate)(*tensors)
    theirs = theirs if isinstance(theirs, tuple | list) else (theirs,)
    wanted = [t for t in tensors if t.requires_grad]
    got = torch.autograd.grad(theirs, wanted, [torch.from_numpy(u) for u in ups], allow_unused=True) if wanted else []
    pairs = [(f"output {k}", o, t.detach().numpy()) for k, (o, t) in enumerate(zip(outs, theirs))]
    it = iter(got)
    pairs += [(f"the gradient of input {k}", g, next(it)) for k, (g, t) in enumerate(zip(grads, tensors))
              if t.requires_grad]
    worst = 0.0
    for what, a, b in pairs:
        b = np.zeros_like(a) if b is None else b.detach().numpy() if isinstance(b, torch.Tensor) else b
        if np.shape(a) != np.shape(b):
            raise GradcheckError(f"{gate!r}: {what} has shape {np.shape(a)} here and {np.shape(b)} in PyTorch")
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1.0)
        err = float(np.max(np.abs(np.asarray(a) - b), initial=0.0)) / scale
        if not err <= rtol:
            raise GradcheckError(f"{gate!r}: {what} differs from its PyTorch counterpart by {err:.3g} (the largest "
                                 f"difference over the largest value, at least 1); expected at most {rtol:g}")
        worst = max(worst, err)
    return worst
