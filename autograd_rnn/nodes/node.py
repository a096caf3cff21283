"""``Node``: named parameters plus a forward written with graph ops, so backward is automatic."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError, GateTypeError, NonFiniteError
from ..graph import Parameter, Tensor

DTYPES = (np.float32, np.float64)

def check_dtype(owner: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in DTYPES:
        raise GateTypeError(f"{owner}: dtype={dtype!r}; expected float32 or float64")
    return dt


def check_size(owner: str, name: str, value, low: int = 1) -> int:
    """``value`` as an int >= ``low``, or a ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{owner}: {name}={value!r}; expected an integer >= {low}")
    return int(value)


def check_probability(owner: str, name: str, value) -> float:
    """``value`` as a float probability in [0, 1), or a ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) or not 0 <= value < 1:
        raise ConfigError(f"{owner}: {name}={value!r}; expected a probability in [0, 1)")
    return float(value)


class Node:
    """A differentiable building block with named :class:`Parameter` s.

    Assigning a Parameter or a Node to an attribute registers it; ``parameters()`` lists them by
    dotted name (own parameters first, in assignment order, then children's), ``state_dict`` and
    ``load_state_dict`` move plain numpy arrays in and out. The dtype (float32 or float64) is set
    once for the node and its children. ``structure`` counts the assignments to the node's
    attributes, so a decision that depends on them (which kernel runs a cell) can be cached.
    """

    def __init__(self, dtype=np.float64):
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "dtype", check_dtype(type(self).__name__, dtype))
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "structure", 0)

    def __setattr__(self, name: str, value) -> None:
        if "_params" not in self.__dict__:
            raise ConfigError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning attributes"
            )
        self._params.pop(name, None)
        self._children.pop(name, None)
        if isinstance(value, Parameter):
            if value.dtype != self.dtype:
                raise GateTypeError(
                    f"{type(self).__name__}.{name}: parameter dtype {value.dtype}; expected the node's {self.dtype}"
                )
            value.name = value.name or name
            self._params[name] = value
        elif isinstance(value, Node):
            self._children[name] = value
        object.__setattr__(self, name, value)
        object.__setattr__(self, "structure", self.structure + 1)

    def parameter(self, name: str, data: np.ndarray, row_sparse: bool = False) -> Parameter:
        """Create, register and return a parameter of the node's dtype (finite values only);
        ``row_sparse``: its gradient is zero outside the rows a batch uses (see ``Parameter``)."""
        data = np.asarray(data)
        if data.dtype.kind not in "biuf":
            raise GateTypeError(f"{type(self).__name__}.{name}: data of dtype {data.dtype}; expected numbers")
        cast = data.astype(self.dtype)
        if not np.isfinite(cast).all():
            raise NonFiniteError(f"{type(self).__name__}.{name}: the values hold NaN or infinity once in "
                                 f"{self.dtype}; expected finite numbers")
        p = Parameter(cast, name=name, row_sparse=row_sparse)
        setattr(self, name, p)
        return p

    def parameters(self) -> dict[str, Parameter]:
        out = dict(self._params)
        for cname, child in self._children.items():
            for pname, p in child.parameters().items():
                out[f"{cname}.{pname}"] = p
        return out

    def resolve(self, name: str) -> Tensor:
        """The tensor at dotted ``name`` now: the parameter, or what :meth:`substituted` put there."""
        *path, attr = name.split(".")
        owner = self
        for part in path:
            owner = owner._children[part]
        return owner.__dict__[attr]

    def n_parameters(self) -> int:
        return sum(p.size for p in self.parameters().values())

    def zero_grad(self) -> None:
        for p in self.parameters().values():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's value, by dotted name."""
        return {k: p.data.copy() for k, p in self.parameters().items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters (cast to the node's dtype). Names and shapes must match
        exactly; otherwise a ConfigError lists every difference. Nothing is changed unless every entry
        fits."""
        if not isinstance(state, Mapping):
            raise ConfigError(f"{type(self).__name__}.load_state_dict: got a {type(state).__name__}; expected a dict "
                              f"of arrays by parameter name")
        params = self.parameters()
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        wrong = [
            f"{k}: dtype {np.asarray(state[k]).dtype}, expected floats"
            for k in params
            if k in state and np.asarray(state[k]).dtype.kind != "f"
        ] + [
            f"{k}: got {tuple(np.shape(state[k]))}, expected {params[k].shape}"
            for k in params
            if k in state and tuple(np.shape(state[k])) != params[k].shape
        ]
        if missing or unexpected or wrong:
            lines = [f"{type(self).__name__}.load_state_dict: the state does not match the parameters"]
            if missing:
                lines.append(f"  missing: {', '.join(missing)}")
            if unexpected:
                lines.append(f"  unexpected: {', '.join(unexpected)}")
            if wrong:
                lines.append("  wrong shape: " + "; ".join(wrong))
            raise ConfigError("\n".join(lines))
        cast = {}
        for k, p in params.items():
            value = np.asarray(state[k])
            with np.errstate(over="ignore"):
                cast[k] = value.astype(p.dtype)
            if not np.array_equal(np.isfinite(cast[k]), np.isfinite(value)):
                raise NonFiniteError(f"{type(self).__name__}.load_state_dict: {k!r} holds values that overflow "
                                     f"{p.dtype} (largest {np.max(np.abs(value[np.isfinite(value)])):.3g}); expected "
                                     f"values within +-{np.finfo(p.dtype).max:.3g}")
        for k, p in params.items():
            np.copyto(p.data, cast[k])

    def train(self, mode: bool = True) -> Node:
        object.__setattr__(self, "training", mode)
        for child in self._children.values():
            child.train(mode)
        return self

    def eval(self) -> Node:
        return self.train(False)

    @contextlib.contextmanager
    def substituted(self, values: dict[str, Tensor]):
        """Temporarily replace parameters (by dotted name) with other tensors, e.g. fresh leaves,
        so a forward can be recorded as a function of given arrays. Restored on exit."""
        saved = []
        try:
            for name, value in values.items():
                *path, attr = name.split(".")
                owner = self
                for part in path:
                    owner = owner._children[part]
                saved.append((owner, attr, owner.__dict__[attr]))
                owner.__dict__[attr] = value
            yield
        finally:
            for owner, attr, old in reversed(saved):
                owner.__dict__[attr] = old

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        inner = [f"  ({k}): " + repr(c).replace("\n", "\n  ") for k, c in self._children.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + (")" if not inner else "\n" + "\n".join(inner) + "\n)")
