"""``Cell``: a recurrent node with ``step(x_t, state) -> state`` and ``initial_state(batch)``."""

from __future__ import annotations

import inspect

import numpy as np

from ..errors import ConfigError
from ..graph import Tensor
from ..init import as_rng, uniform
from .node import Node, check_size

STANDARD = ("self", "input_size", "hidden_size", "dtype", "rng")
"""Constructor arguments every cell takes; the rest are its options (see :meth:`Cell.config`)."""


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
