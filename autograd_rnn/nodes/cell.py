"""``Cell``: a recurrent node with ``step(x_t, state) -> state`` and ``initial_state(batch)``."""

from __future__ import annotations

import contextlib
import inspect
import os
import traceback
from collections.abc import Iterator

import numpy as np

from ..errors import AutogradRNNError, CellError, ConfigError, GateInputError, GateTypeError
from ..graph import Tensor
from ..init import as_rng, uniform
from .node import Node, check_size

STANDARD = ("self", "input_size", "hidden_size", "dtype", "rng")
"""Constructor arguments every cell takes; the rest are its options (see :meth:`Cell.config`)."""

CONTRACT = {
    "__init__": "a cell's constructor takes (input_size, hidden_size, ..., dtype=, rng=) and its own options as "
                "keywords, calls super().__init__(input_size, hidden_size, dtype) and adds its parameters with "
                "self.parameter(name, array)",
    "step": "a cell's step(x, state) takes x (batch, input_size) and the state (a Tensor, or a tuple of n_state "
            "Tensors, each (batch, hidden_size)) and returns the new state in the same form, computed with "
            "autograd_rnn operations",
}
"""What a cell must provide, said where its own code fails."""


class Cell(Node):
    """Base class of recurrent cells. A subclass defines ``step`` with graph ops, and sets
    ``input_size``, ``hidden_size`` and ``n_state`` (1 for a state ``h``, 2 for ``(h, c)``, ...).

    The state is a Tensor, or a tuple of Tensors whose first element is the output ``h_t``.
    A cell knows nothing of how it is run: :class:`~autograd_rnn.sequence.Sequence` unrolls
    ``step``, or, for a class listed in the sequence layer's table of fused kernels (the exact
    built-in classes), runs that kernel instead.

    ``static_step = True`` declares that ``step`` builds the same graph at every time step (no
    Python control flow on data or on the time step, no randomness); the composed path then
    records two steps and replays the rest, which is much cheaper. Leave it False otherwise.
    """

    n_state = 1
    static_step = False

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float64):
        super().__init__(dtype)
        owner = type(self).__name__
        self.input_size = check_size(owner, "input_size", input_size)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size)

    def step(self, x: Tensor, state):
        raise NotImplementedError

    def config(self) -> dict:
        """The constructor options that rebuild this cell, beyond the standard ``input_size``,
        ``hidden_size``, ``dtype`` and ``rng``: ``type(cell)(I, H, dtype=..., rng=..., **config)``.
        They must round-trip through JSON (checkpoints store them).

        By default: every other parameter of ``__init__``, read from the attribute of the same name
        (``RNNLayer(3, 4, nonlinearity="relu")`` keeps ``self.nonlinearity``). A cell that stores an
        option under another name, or not at all, overrides this method."""
        params = inspect.signature(type(self).__init__).parameters
        out = {}
        for name, p in params.items():
            if name in STANDARD or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name not in vars(self):
                raise ConfigError(f"{type(self).__name__}: the constructor option {name!r} is not kept as self.{name}, "
                                  f"so the cell cannot be rebuilt from a checkpoint; store it as self.{name} or "
                                  f"override config()")
            out[name] = getattr(self, name)
        return out

    def initial_state(self, batch_size: int):
        """Zeros of shape (batch, hidden) for each part of the state (constants, no gradient)."""
        zeros = [Tensor(np.zeros((batch_size, self.hidden_size), self.dtype)) for _ in range(self.n_state)]
        return zeros[0] if self.n_state == 1 else tuple(zeros)

    def forward(self, x: Tensor, state=None):
        if state is None:
            state = self.initial_state(x.shape[0])
        return self.step(x, state)

    @classmethod
    def step_is_static(cls) -> bool:
        """``static_step`` as declared next to the ``step`` in use: a subclass that overrides
        ``step`` must declare it again."""
        owner = next(c for c in cls.__mro__ if "static_step" in c.__dict__)
        return bool(owner.static_step) and cls.step is owner.step

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class TorchLikeCell(Cell):
    """Cells whose parameters are ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``,
    ``bias_hh`` (G gates), initialised U(-1/sqrt(H), 1/sqrt(H)) from a seedable Generator, like
    torch.nn.RNNCell / LSTMCell / GRUCell."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float64, rng=None):
        super().__init__(input_size, hidden_size, dtype)
        rng = as_rng(rng)
        k = 1 / np.sqrt(hidden_size)
        G, H = self.gates * hidden_size, hidden_size
        self.parameter("weight_ih", uniform((G, input_size), k, rng))
        self.parameter("weight_hh", uniform((G, H), k, rng))
        self.parameter("bias_ih", uniform(G, k, rng))
        self.parameter("bias_hh", uniform(G, k, rng))


def source_file(cls: type) -> str | None:
    """The file that defines ``cls`` (None for a class with no file)."""
    try:
        return inspect.getsourcefile(cls) or inspect.getfile(cls)
    except (TypeError, OSError):
        return None


def defined_at(cls: type) -> str:
    """``path:line`` of ``cls``'s definition (as far as it can be found)."""
    path = source_file(cls)
    if path is None:
        return f"{cls.__module__}.{cls.__qualname__}"
    try:
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return path
    return f"{path}:{line}"


def raised_in(cls: type, exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of ``exc``'s traceback that runs code of the file defining ``cls``."""
    path = source_file(cls)
    if path is None:
        return None
    path = os.path.realpath(path)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.realpath(f.filename) == path]
    return frames[-1] if frames else None


def cell_failure(cls: type, exc: BaseException) -> CellError | None:
    """A :class:`CellError` for ``exc`` when it was raised while running the code of the custom
    cell ``cls`` (its traceback passes through the cell's file), naming the cell, the file and line,
    and what a cell must provide; None for a built-in cell, or an error raised elsewhere. Of the
    package's own errors only a gate's refusal of its inputs (an operation misused inside the
    cell's code) is rewritten so; every other one already says what it is about."""
    if cls.__module__.startswith("autograd_rnn."):
        return None
    if isinstance(exc, AutogradRNNError) and not isinstance(exc, GateInputError | GateTypeError):
        return None
    frame = raised_in(cls, exc)
    if frame is None:
        return None
    what = (f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else
            f"{type(exc).__name__}: {' '.join(str(exc).split()) or 'no message'}")
    contract = CONTRACT.get(frame.name, f"{CONTRACT['__init__']}; {CONTRACT['step']}")
    return CellError(f"the cell {cls.__name__} ({defined_at(cls)}) failed in its own code: {what}, at "
                     f"{frame.filename}:{frame.lineno}, in {frame.name}; {contract}")


@contextlib.contextmanager
def blame_cell(cls: type) -> Iterator[None]:
    """Inside the block, an error raised by the custom cell ``cls``'s own code (or its call of
    ``sys.exit``) becomes the :class:`CellError` of :func:`cell_failure`; every other error passes
    unchanged."""
    try:
        yield
    except (Exception, SystemExit) as e:
        failure = cell_failure(cls, e)
        if failure is None:
            raise
        raise failure from e
