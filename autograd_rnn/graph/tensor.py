"""``Tensor``: a value, its gradient and the gate application that made it; ``apply`` runs a
gate on tensors and records the application when a gradient is wanted.

Every operator applies a fresh gate (``gate.forward`` on the input arrays) and, when grad mode is
on and an input requires a gradient, records the application as an
:class:`~autograd_rnn.graph.walk.Op`. ``backward()`` hands the recorded graph to the one
reverse-mode walk, :func:`autograd_rnn.graph.walk.backprop`.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import gates as G
from ..errors import GateInputError, GateTypeError
from ..gates.base import shape_str
from .mode import is_grad_enabled
from .walk import Op, backprop


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
        self._op: Op | None = None
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
        if self.data.ndim == 0:
            raise GateTypeError("len() of a 0-d Tensor; expected a Tensor with at least one axis")
        return len(self.data)

    def __iter__(self):
        """The slices along the first axis, each a Tensor recorded like ``t[i]``."""
        if self.data.ndim == 0:
            raise GateTypeError("iteration over a 0-d Tensor; expected a Tensor with at least one axis")
        return (self[i] for i in range(len(self.data)))

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
        return apply(G.AddGate(), self, lift(other, self))

    def __radd__(self, other) -> Tensor:
        return apply(G.AddGate(), lift(other, self), self)

    def __sub__(self, other) -> Tensor:
        return apply(G.SubtractGate(), self, lift(other, self))

    def __rsub__(self, other) -> Tensor:
        return apply(G.SubtractGate(), lift(other, self), self)

    def __mul__(self, other) -> Tensor:
        return apply(G.HadamardGate(), self, lift(other, self))

    def __rmul__(self, other) -> Tensor:
        return apply(G.HadamardGate(), lift(other, self), self)

    def __truediv__(self, other) -> Tensor:
        return apply(G.Divide(), self, lift(other, self))

    def __rtruediv__(self, other) -> Tensor:
        return apply(G.Divide(), lift(other, self), self)

    def __pow__(self, p) -> Tensor:
        if isinstance(p, Tensor):
            raise GateTypeError("Tensor ** Tensor: the exponent must be a number; for a tensor exponent write "
                                "(b * a.log()).exp()")
        return apply(G.Power(p), self)

    def __neg__(self) -> Tensor:
        return self * -1.0

    def __abs__(self) -> Tensor:
        return self.abs()

    def __matmul__(self, other) -> Tensor:
        return apply(G.MultiplyGate(), self, lift(other, self))

    def __rmatmul__(self, other) -> Tensor:
        return apply(G.MultiplyGate(), lift(other, self), self)

    def __getitem__(self, key) -> Tensor:
        return apply(G.Index(key), self)

    @property
    def T(self) -> Tensor:
        return apply(G.Transpose(), self)

    def transpose(self, *axes) -> Tensor:
        """The axes permuted (``t.transpose(1, 0, 2)`` or ``t.transpose((1, 0, 2))``); no axes: reversed."""
        if not axes:
            return apply(G.Transpose(None), self)
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        return apply(G.Transpose(tuple(axes)), self)

    def reshape(self, *shape) -> Tensor:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return apply(G.Reshape(shape), self)

    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        return apply(G.Sum(axis, keepdims), self)

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        return apply(G.Mean(axis, keepdims), self)

    def var(self, axis=None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """The variance over ``axis`` (``ddof=0``: divided by n, as a layer norm uses)."""
        return apply(G.Var(axis, keepdims, ddof), self)

    def exp(self) -> Tensor:
        return apply(G.Exp(), self)

    def log(self) -> Tensor:
        return apply(G.Log(), self)

    def sqrt(self) -> Tensor:
        return apply(G.Sqrt(), self)

    def rsqrt(self) -> Tensor:
        """``1 / sqrt(self)``."""
        return apply(G.Rsqrt(), self)

    def reciprocal(self) -> Tensor:
        return apply(G.Reciprocal(), self)

    def abs(self) -> Tensor:
        return apply(G.Abs(), self)

    def maximum(self, other) -> Tensor:
        """Elementwise larger of ``self`` and ``other`` (one may broadcast onto the other); at a tie
        the gradient goes half to each."""
        return apply(G.Maximum(), self, lift(other, self))

    def minimum(self, other) -> Tensor:
        """Elementwise smaller of ``self`` and ``other``; at a tie the gradient goes half to each."""
        return apply(G.Minimum(), self, lift(other, self))

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
        backprop([self], [_upstream(grad, self)])


class Parameter(Tensor):
    """A trainable leaf: a float Tensor that always requires a gradient. ``row_sparse`` declares
    that its gradient is zero outside the rows a batch uses (an embedding table's), which an
    optimizer may use to update only those rows."""

    __slots__ = ("row_sparse",)

    def __init__(self, data, dtype=None, name: str | None = None, row_sparse: bool = False):
        super().__init__(data, requires_grad=True, dtype=dtype, name=name)
        self.row_sparse = bool(row_sparse)


def make_tensor(data: np.ndarray, op: Op | None, index: int = 0) -> Tensor:
    """A Tensor holding ``data``, output ``index`` of the recorded ``op`` (None: a constant)."""
    t = Tensor.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t._op, t._index, t.name = data, None, op is not None, op, index, None
    return t


def lift(x, like: Tensor) -> Tensor:
    """Wrap a constant; Python numbers take the dtype of the tensor they meet (no upcast)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, int | float) and not isinstance(x, bool):
        return Tensor(np.asarray(x, dtype=like.dtype))
    return Tensor(x)


def _upstream(grad, t: Tensor) -> np.ndarray:
    g = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
    if g.dtype.kind not in "biuf":
        raise GateTypeError(f"backward: the upstream gradient has dtype {g.dtype}; expected numbers")
    if g.shape != t.shape:
        raise GateInputError(f"backward: upstream gradient has shape {shape_str(g.shape)}; expected the "
                             f"tensor's shape {shape_str(t.shape)}")
    return g.astype(t.dtype, copy=False)


def apply(gate: G.Gate, *inputs) -> Tensor | tuple[Tensor, ...]:
    """Run ``gate.forward`` on the inputs' arrays and record the application when grad mode is on
    and any input requires a gradient. Returns a Tensor, or a tuple of them for a multi-output
    gate. A gate instance is one application: applying it twice is refused."""
    if gate.saved is not None:
        raise GateInputError(f"{gate.name}: this gate instance was already applied; a gate instance is one "
                             f"application, so pass a new one (gate.fresh() copies its configuration)")
    tensors = inputs
    for x in inputs:
        if not isinstance(x, Tensor):
            tensors = tuple(x if isinstance(x, Tensor) else make_tensor(np.asarray(x), None) for x in inputs)
            break
    user = type(gate) not in G.BUILTIN  # the package's own gates keep their results with save()
    if user:
        kept, had_saved = len(gate.__dict__), "saved" in gate.__dict__
    out = gate.forward(*[t.data for t in tensors])
    if user and len(gate.__dict__) - kept > ("saved" in gate.__dict__ and not had_saved):
        _kept_as_attributes(gate, kept)
    track = is_grad_enabled() and any(t.requires_grad for t in tensors)
    if gate.n_outputs == 1:
        return make_tensor(out, Op(gate, tensors, None) if track else None)
    op = Op(gate, tensors, tuple((o.shape, o.dtype) for o in out)) if track else None
    return tuple([make_tensor(o, op, i) for i, o in enumerate(out)])


_WARNED: set[type] = set()


def _kept_as_attributes(gate: G.Gate, kept: int) -> None:
    """Warn once per gate class whose forward keeps its results as new attributes instead of
    ``save``: they read as configuration, so two applications never compare equal and a composed
    sequence cannot replay a step that uses the gate (it records every step again)."""
    if type(gate) in _WARNED:
        return
    _WARNED.add(type(gate))
    names = [k for k in list(gate.__dict__)[kept:] if k != "saved"]
    warnings.warn(f"{gate.name} keeps what forward computed as attributes ({', '.join(names)}) instead of "
                  f"self.save(...): it works, but a composed sequence cannot replay a step that uses it, and records "
                  f"every step again (slower); keep forward's results with self.save(name=value)", stacklevel=3)
