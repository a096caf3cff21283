"""The computational graph: ``Tensor`` values, the gate applications that made them, and a
reverse-mode walk that turns a composition of gates into its gradient.

Every operator applies a fresh gate (``gate.forward`` on the input arrays) and, when an input
requires a gradient, records the application. ``backward()`` sorts the recorded applications
topologically *without recursion* (a 10,000-step unrolled graph is fine), visits them in reverse
and sums every contribution: a tensor used twice gets the sum of both gradients. The walk never
writes into an array it did not allocate, and it leaves the graph intact, so it can run again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

import numpy as np

from . import gates as G
from .errors import GateInputError, GateTypeError

_grad_enabled = True


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: operations inside record nothing (sampling, evaluation)."""

    def __enter__(self):
        global _grad_enabled
        self.prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev


def is_grad_enabled() -> bool:
    return _grad_enabled


class _Op:
    """One recorded gate application: the gate (holding what its backward needs) and its inputs."""

    __slots__ = ("gate", "inputs", "out_meta")

    def __init__(self, gate, inputs, out_meta):
        self.gate, self.inputs, self.out_meta = gate, inputs, out_meta


class Tensor:
    """A value (``data``, an ndarray), its gradient (``grad``) and the gate application that made it.

    ``requires_grad`` marks a leaf whose gradient ``backward()`` accumulates into ``.grad``.
    Operators ``+ - * @``, indexing and the methods below apply gates and record edges.
    """

    __slots__ = ("data", "grad", "requires_grad", "_op", "_index", "name", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.asarray(data, dtype=dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise GateTypeError(
                f"Tensor{f' {name!r}' if name else ''}: dtype {self.data.dtype} cannot require a "
                f"gradient; expected a floating-point array"
            )
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self._op: _Op | None = None
        self._index = 0
        self.name = name

    # ----- plumbing -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """The same value, cut from the graph (a constant for whatever is built on it)."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    @property
    def is_leaf(self) -> bool:
        return self._op is None

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        flag = ", requires_grad" if self.requires_grad else ""
        return f"Tensor{label}({self.data!r}{flag})"

    # ----- operators ------------------------------------------------------------------------
    def __add__(self, other) -> Tensor:
        return apply(G.AddGate(), self, _lift(other, self))

    def __radd__(self, other) -> Tensor:
        return apply(G.AddGate(), _lift(other, self), self)

    def __sub__(self, other) -> Tensor:
        return apply(G.SubtractGate(), self, _lift(other, self))

    def __rsub__(self, other) -> Tensor:
        return apply(G.SubtractGate(), _lift(other, self), self)

    def __mul__(self, other) -> Tensor:
        return apply(G.HadamardGate(), self, _lift(other, self))

    def __rmul__(self, other) -> Tensor:
        return apply(G.HadamardGate(), _lift(other, self), self)

    def __truediv__(self, other) -> Tensor:
        if isinstance(other, Tensor):
            raise TypeError("Tensor / Tensor is not a gate here; multiply by a reciprocal you compute")
        return self * (1.0 / other)

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __matmul__(self, other) -> Tensor:
        return apply(G.MultiplyGate(), self, _lift(other, self))

    def __rmatmul__(self, other) -> Tensor:
        return apply(G.MultiplyGate(), _lift(other, self), self)

    def __getitem__(self, key) -> Tensor:
        return apply(G.Index(key), self)

    @property
    def T(self) -> Tensor:
        return apply(G.Transpose(), self)

    def transpose(self, *axes) -> Tensor:
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        return apply(G.Transpose(tuple(axes) or None), self)

    def reshape(self, *shape) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return apply(G.Reshape(shape), self)

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        return apply(G.Sum(axis, keepdims), self)

    def mean(self, axis=None) -> Tensor:
        n = self.data.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis) * (1.0 / n)

    def tanh(self) -> Tensor:
        return apply(G.Tanh(), self)

    def sigmoid(self) -> Tensor:
        return apply(G.Sigmoid(), self)

    def relu(self) -> Tensor:
        return apply(G.ReLU(), self)

    def split(self, sections, axis: int = -1) -> tuple[Tensor, ...]:
        """``sections`` equal pieces (an int) or pieces of the given sizes (a list) along ``axis``."""
        return apply(G.Split(sections, axis), self)

    # ----- gradients ------------------------------------------------------------------------
    def backward(self, grad: np.ndarray | None = None) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires a gradient.

        ``grad`` is the upstream gradient (defaults to 1 for a scalar). Gradients add up across
        calls; clear them with ``zero_grad``.
        """
        if grad is None:
            if self.data.size != 1:
                raise GateInputError(
                    f"backward: this tensor has shape {self.shape}; a non-scalar needs an explicit "
                    f"upstream gradient, backward(grad) with grad of that shape"
                )
            grad = np.ones_like(self.data)
        _backprop([self], [np.asarray(grad, dtype=self.dtype)], None)


class Parameter(Tensor):
    """A trainable leaf: a float Tensor that always requires a gradient."""

    __slots__ = ()

    def __init__(self, data, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)


def _make(data: np.ndarray, op: _Op | None, index: int) -> Tensor:
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t._op, t._index, t.name = data, None, op is not None, op, index, None
    return t


def _lift(x, like: Tensor) -> Tensor:
    """Wrap a constant; Python numbers take the dtype of the tensor they meet (no upcast)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, int | float):
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def apply(gate: G.Gate, *inputs) -> Tensor | tuple[Tensor, ...]:
    """Run ``gate.forward`` on the inputs' arrays and record the application when any input
    requires a gradient. Returns a Tensor, or a tuple of them for a multi-output gate."""
    tensors = inputs if all(isinstance(x, Tensor) for x in inputs) else tuple(
        x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
    out = gate.forward(*[t.data for t in tensors])
    track = _grad_enabled and any(t.requires_grad for t in tensors)
    if gate.n_outputs == 1:
        return _make(out, _Op(gate, tensors, None) if track else None, 0)
    op = _Op(gate, tensors, tuple((o.shape, o.dtype) for o in out)) if track else None
    return tuple(_make(o, op, i) for i, o in enumerate(out))


def _toposort(roots: Iterable[Tensor]) -> list[_Op]:
    """Recorded applications reachable from ``roots``, every one after all that feed it.
    An explicit stack instead of recursion."""
    order, seen = [], set()
    stack = [(t._op, False) for t in roots if t._op is not None]
    while stack:
        op, expanded = stack.pop()
        if expanded:
            order.append(op)
            continue
        if id(op) in seen:
            continue
        seen.add(id(op))
        stack.append((op, True))
        for t in op.inputs:
            if t._op is not None and id(t._op) not in seen:
                stack.append((t._op, False))
    return order


def _add(acc, g):
    return g if acc is None else acc + g


def _backprop(roots: Sequence[Tensor], root_grads: Sequence[np.ndarray], wanted: dict | None,
              order: list | None = None):
    """Reverse-mode walk. With ``wanted=None`` leaf gradients are summed into ``leaf.grad``;
    otherwise ``wanted`` maps id(tensor) -> tensor and the gradients of exactly those tensors are
    returned (nothing is written to ``.grad``)."""
    pending: dict = {}
    leaves: dict = {}
    found: dict = {}
    by_op: dict = {}
    for t in (wanted or {}).values():
        if t._op is not None:
            by_op.setdefault(id(t._op), []).append(t)
    for t, g in zip(roots, root_grads):
        if g.shape != t.shape:
            raise GateInputError(f"backward: upstream gradient has shape {g.shape}; expected {t.shape}")
        if wanted is not None and id(t) in wanted and t._op is None:
            found[id(t)] = _add(found.get(id(t)), g)
        elif t._op is None:
            if t.requires_grad:
                leaves[id(t)] = (t, _add(leaves.get(id(t), (None, None))[1], g))
        else:
            slots = pending.setdefault(t._op, [None] * t._op.gate.n_outputs)
            slots[t._index] = _add(slots[t._index], g)
    for op in reversed(order if order is not None else _toposort(roots)):
        slots = pending.pop(op, None)
        if slots is None:
            continue
        gate = op.gate
        for t in by_op.get(id(op), ()):
            found[id(t)] = _add(found.get(id(t)), slots[t._index])
        if gate.n_outputs == 1:
            g = slots[0]
        else:
            g = tuple(s if s is not None else np.zeros(*m) for s, m in zip(slots, op.out_meta))
        grads = gate.backward(g)
        if len(grads) != len(op.inputs):
            raise GateInputError(
                f"{type(gate).__name__}.backward returned {len(grads)} gradients for "
                f"{len(op.inputs)} inputs; expected one per input (None for a constant)"
            )
        for i, (t, dg) in enumerate(zip(op.inputs, grads)):
            if dg is None or not t.requires_grad:
                continue
            if dg.shape != t.data.shape:
                raise GateInputError(
                    f"{type(gate).__name__}.backward returned a gradient of shape {dg.shape} for "
                    f"input {i}; expected that input's shape {t.data.shape}"
                )
            if t._op is None:
                if wanted is None:
                    leaves[id(t)] = (t, _add(leaves.get(id(t), (None, None))[1], dg))
                elif id(t) in wanted:
                    found[id(t)] = _add(found.get(id(t)), dg)
            else:
                s = pending.setdefault(t._op, [None] * t._op.gate.n_outputs)
                s[t._index] = _add(s[t._index], dg)
    if wanted is not None:
        return found
    for t, g in leaves.values():
        t.grad = g if t.grad is None else t.grad + g
    return None


def grad(outputs: Tensor | Sequence[Tensor], inputs: Sequence[Tensor],
         grad_outputs: np.ndarray | Sequence[np.ndarray] | None = None) -> list[np.ndarray | None]:
    """Gradients of ``sum(<grad_outputs_i, outputs_i>)`` with respect to each of ``inputs``,
    without touching any ``.grad`` (``None`` where an input is not reached). Like
    ``torch.autograd.grad``; the graph is kept, so this can run any number of times."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [np.ones_like(o.data) for o in outputs]
    elif isinstance(grad_outputs, np.ndarray):
        grad_outputs = [grad_outputs]
    wanted = {id(t): t for t in inputs}
    found = _backprop(outputs, [np.asarray(g) for g in grad_outputs], wanted)
    return [found.get(id(t)) for t in inputs]


# ----- functions that apply gates -----------------------------------------------------------
def concat(xs: Sequence[Tensor], axis: int = -1) -> Tensor:
    return apply(G.Concat(axis), *xs)


def stack(xs: Sequence[Tensor], axis: int = 0) -> Tensor:
    return apply(G.Stack(axis), *xs)


def linear(x: Tensor, W: Tensor, b: Tensor) -> Tensor:
    """``x @ W.T + b`` as one gate (x: (batch, in), W: (out, in), b: (out,))."""
    return apply(G.LinearGate(), x, W, b)


def embedding(weight: Tensor, indices) -> Tensor:
    """``weight[indices]``: rows of ``weight (V, E)`` for an integer array of any shape."""
    return apply(G.EmbeddingGate(), weight, np.asarray(indices))


def softmax_cross_entropy(logits: Tensor, targets, mask=None, reduction: str = "mean",
                          ignore_index: int | None = None) -> Tensor:
    """Scalar cross-entropy of integer ``targets (N,)`` under softmax(``logits (N, C)``)."""
    gate = G.SoftmaxCrossEntropy(reduction, ignore_index)
    extra = () if mask is None else (np.asarray(mask),)
    return apply(gate, logits, np.asarray(targets), *extra)


def dropout(x: Tensor, p: float, rng: np.random.Generator, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p); identity when
    ``training`` is False or p == 0."""
    if not training or p == 0.0:
        return x
    return apply(G.Dropout.sample(x.shape, p, rng, x.dtype), x)


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def zero_grad(tensors: Iterable[Tensor]) -> None:
    for t in tensors:
        t.grad = None


__all__ = [
    "Tensor",
    "Parameter",
    "apply",
    "grad",
    "no_grad",
    "is_grad_enabled",
    "concat",
    "stack",
    "linear",
    "embedding",
    "softmax_cross_entropy",
    "dropout",
    "tanh",
    "sigmoid",
    "relu",
    "zero_grad",
]
