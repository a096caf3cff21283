"""Optimizers, gradient clipping and learning-rate schedules for :class:`~autograd_rnn.graph.Parameter` dicts.

Every optimizer follows the update equations of its ``torch.optim`` namesake (single-tensor code path), updates
``p.data`` in place and never changes its dtype: a float32 parameter and its buffers stay float32, because every
hyperparameter is a Python float (a weak scalar for numpy). A parameter whose ``.grad`` is None is skipped: its
data, its buffers and its own step count stay as they are, exactly as PyTorch skips it.

``state_dict()`` returns ``{"arrays": {"<buffer>/<param name>": ndarray}, "meta": {...JSON...}}``; loading it
into a fresh optimizer over the same parameters continues training bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import ConfigError, GateInputError, GateTypeError
from .graph import Tensor
from .products import matmul

ParamsLike = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]


def _named(params: ParamsLike) -> dict[str, Tensor]:
    items = params.items() if isinstance(params, Mapping) else params
    named: dict[str, Tensor] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise GateTypeError(f"optimizer params: expected a dict name -> Parameter or (name, Parameter) pairs; "
                            f"got an item {item!r}")
        name, p = item
        if not isinstance(p, Tensor) or p.data.dtype.kind != "f":
            raise GateTypeError(f"optimizer params: {name!r} is {type(p).__name__}; expected a floating-point "
                                f"Parameter")
        if name in named:
            raise ConfigError(f"optimizer params: the name {name!r} appears twice")
        named[name] = p
    return named


def _tensors(params) -> list[Tensor]:
    """A dict name -> Parameter, (name, Parameter) pairs, Parameters, or one Parameter, as a list."""
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, Mapping):
        return list(params.values())
    return [item[1] if isinstance(item, tuple) else item for item in params]


def _nonneg(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value >= 0.0):
            raise ConfigError(f"{name} must be a finite number >= 0; got {value!r}")


class Optimizer:
    """Base class: holds the named parameters, ``lr``, per-parameter buffers and step counts.

    Subclasses list their hyperparameters in ``hyper_names``, their buffers in ``_buffer_kinds`` and implement
    ``_update(name, w, g, t)``: one in-place update of the array ``w`` given its gradient ``g`` at that
    parameter's step ``t`` (1 on its first update). ``row_sparse`` holds the names of the parameters that
    declare a row-sparse gradient (``Parameter.row_sparse``: an embedding table, whose gradient is zero outside
    the rows a batch looked up).
    """

    hyper_names: tuple[str, ...] = ()

    def __init__(self, params: ParamsLike, lr: float, **hyper: Any):
        self.params = _named(params)
        self._set_hyper(self._check_hyper({"lr": lr, **hyper}))
        self.step_count = 0
        self.param_steps = {name: 0 for name in self.params}
        self.row_sparse = {name for name, p in self.params.items() if getattr(p, "row_sparse", False)}
        self.buffers = {key: np.zeros_like(self.params[key.split("/", 1)[1]].data) for key in self._buffer_keys()}

    # ----- hyperparameters and buffers ---------------------------------------------------------------------
    def _check_hyper(self, hyper: dict) -> dict:
        """Validate and normalize a hyperparameter dict (floats, bools, betas as a tuple); return it."""
        expected = {"lr", *self.hyper_names}
        if set(hyper) != expected:
            raise ConfigError(f"{type(self).__name__}: hyperparameters {sorted(hyper)}; expected {sorted(expected)}")
        out = {}
        for key, value in hyper.items():
            try:
                if key == "betas":
                    b1, b2 = (float(b) for b in value)
                    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
                        raise ConfigError(f"{type(self).__name__}: betas must be in [0, 1); got {value!r}")
                    out[key] = (b1, b2)
                elif key == "nesterov":
                    out[key] = bool(value)
                else:
                    out[key] = float(value)
                    _nonneg(**{key: out[key]})
            except (TypeError, ValueError) as e:
                if isinstance(e, ConfigError):
                    raise
                raise ConfigError(f"{type(self).__name__}: {key}={value!r}; expected "
                                  f"{'two numbers in [0, 1)' if key == 'betas' else 'a number'}") from None
        return out

    def _set_hyper(self, hyper: dict) -> None:
        for key, value in hyper.items():
            setattr(self, key, value)

    def hyperparameters(self) -> dict:
        """The current hyperparameters as a JSON-serializable dict (``lr`` included, betas as a list)."""
        hyper = {key: getattr(self, key) for key in ("lr", *self.hyper_names)}
        return {key: list(value) if isinstance(value, tuple) else value for key, value in hyper.items()}

    def _buffer_kinds(self, hyper: dict) -> tuple[str, ...]:
        return ()

    def _buffer_keys(self, hyper: dict | None = None) -> list[str]:
        kinds = self._buffer_kinds(hyper if hyper is not None else self.hyperparameters())
        return [f"{kind}/{name}" for kind in kinds for name in self.params]

    # ----- the public interface ----------------------------------------------------------------------------
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        self.step_count += 1
        for name, p in self.params.items():
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise GateInputError(f"{type(self).__name__}: {name!r} has a gradient of shape {p.grad.shape}; "
                                 f"expected {p.data.shape}")
            self.param_steps[name] += 1
            self._update(name, p.data, p.grad, self.param_steps[name])

    def _update(self, name: str, w: np.ndarray, g: np.ndarray, t: int) -> None:
        raise NotImplementedError

    def _l2(self, w: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``g + weight_decay * w`` (a new array), or ``g`` itself without weight decay."""
        return g + self.weight_decay * w if getattr(self, "weight_decay", 0.0) else g

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params.values():
            p.grad = None

    def state_dict(self) -> dict:
        """``{"arrays": copies of the buffers, "meta": class name, hyperparameters and step counts (JSON)}``."""
        meta = {
            "class": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "step_count": self.step_count,
            "param_steps": dict(self.param_steps),
        }
        return {"arrays": {key: buf.copy() for key, buf in self.buffers.items()}, "meta": meta}

    def load_state_dict(self, state: dict) -> None:
        """Restore hyperparameters (``lr`` included), step counts and buffers saved by :meth:`state_dict`.

        Raises ConfigError, listing every difference, when the state belongs to another optimizer class or
        another set of parameters, or a buffer is missing, extra, or of the wrong shape or dtype.
        """
        name = type(self).__name__
        if not isinstance(state, Mapping) or set(state) != {"arrays", "meta"}:
            raise ConfigError(f"{name}.load_state_dict: expected a dict with keys 'arrays' and 'meta'")
        meta, arrays = state["meta"], state["arrays"]
        keys = {"class", "hyperparameters", "step_count", "param_steps"}
        if not isinstance(meta, Mapping) or set(meta) != keys:
            raise ConfigError(f"{name}.load_state_dict: 'meta' must have exactly the keys {sorted(keys)}")
        if meta["class"] != name:
            raise ConfigError(f"{name}.load_state_dict: the state was saved by {meta['class']}, not {name}")
        try:
            hyper = self._check_hyper(dict(meta["hyperparameters"]))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{name}.load_state_dict: bad hyperparameters: {e}") from e
        problems = []
        steps = meta["param_steps"]
        for label, names in (("missing", set(self.params) - set(steps)), ("extra", set(steps) - set(self.params))):
            problems += [f"{label} parameter {n!r} in param_steps" for n in sorted(names)]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in [*steps.values(),
                                                                                       meta["step_count"]]):
            problems.append("step counts must be integers >= 0")
        expected = self._buffer_keys(hyper)
        problems += [f"missing buffer {k!r}" for k in expected if k not in arrays]
        problems += [f"extra buffer {k!r}" for k in arrays if k not in expected]
        for key in expected:
            if key in arrays:
                want, got = self.params[key.split("/", 1)[1]].data, np.asarray(arrays[key])
                if got.shape != want.shape or got.dtype != want.dtype:
                    problems.append(f"buffer {key!r} is {got.dtype}{list(got.shape)}; "
                                    f"expected {want.dtype}{list(want.shape)}")
        if problems:
            raise ConfigError(f"{name}.load_state_dict: the state does not fit this optimizer:\n  - "
                             + "\n  - ".join(problems))
        self._set_hyper(hyper)
        self.step_count = meta["step_count"]
        self.param_steps = {n: steps[n] for n in self.params}
        self.buffers = {key: np.array(arrays[key], copy=True) for key in expected}

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay (PyTorch's SGD,
    dampening 0)::

        d = g + weight_decay * w
        b = momentum * b + d                   (b starts at 0, so b = d on the first step, as in PyTorch)
        d = d + momentum * b   if nesterov  else  b   (when momentum > 0)
        w = w - lr * d

    Plain SGD (no momentum, no weight decay) on a parameter that declares a row-sparse gradient
    (``Parameter.row_sparse``, an embedding table) updates only the rows whose gradient is not all zero, when
    they are fewer than a quarter of the rows: the same update (``w - lr * 0 == w`` exactly), without touching
    the rest of the table.
    """

    hyper_names = ("momentum", "nesterov", "weight_decay")

    def __init__(self, params: ParamsLike, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)

    def _check_hyper(self, hyper: dict) -> dict:
        hyper = super()._check_hyper(hyper)
        if hyper["nesterov"] and hyper["momentum"] <= 0.0:
            raise ConfigError("SGD: nesterov=True needs momentum > 0")
        return hyper

    def _buffer_kinds(self, hyper: dict) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] else ()

    def _update(self, name, w, g, t):
        g = self._l2(w, g)
        if self.momentum:
            buf = self.buffers[f"momentum_buffer/{name}"]
            buf *= self.momentum
            buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        elif not self.weight_decay and name in self.row_sparse and g.ndim == 2 and g.flags.c_contiguous:
            rows = np.flatnonzero(np.bitwise_or.reduce(g.view(f"u{g.itemsize}"), axis=1))  # rows not all +0.0
            if len(rows) * 4 < g.shape[0]:
                w[rows] -= self.lr * g[rows]
                return
        w -= self.lr * g


def _scaled_step(w: np.ndarray, g: np.ndarray, v: np.ndarray, lr: float, eps: float) -> None:
    """``w -= lr * g / (sqrt(v) + eps)`` in place, the update Adagrad and RMSprop share."""
    denom = np.sqrt(v)
    denom += eps
    np.divide(g, denom, out=denom)
    denom *= lr
    w -= denom


class Adagrad(Optimizer):
    """Adagrad (min-char-rnn's optimizer; PyTorch's Adagrad with lr_decay 0)::

        d = g + weight_decay * w
        s = s + d * d
        w = w - lr * d / (sqrt(s) + eps)
    """

    hyper_names = ("eps", "weight_decay")

    def __init__(self, params: ParamsLike, lr: float = 0.1, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, eps=eps, weight_decay=weight_decay)

    def _buffer_kinds(self, hyper: dict) -> tuple[str, ...]:
        return ("sum",)

    def _update(self, name, w, g, t):
        g = self._l2(w, g)
        s = self.buffers[f"sum/{name}"]
        s += g * g
        _scaled_step(w, g, s, self.lr, self.eps)


class RMSprop(Optimizer):
    """RMSprop (char-rnn's optimizer, decay rate ``alpha``; PyTorch's RMSprop, not centered, no momentum)::

        d = g + weight_decay * w
        v = alpha * v + (1 - alpha) * d * d
        w = w - lr * d / (sqrt(v) + eps)
    """

    hyper_names = ("alpha", "eps", "weight_decay")

    def __init__(self, params: ParamsLike, lr: float = 2e-3, alpha: float = 0.95, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def _buffer_kinds(self, hyper: dict) -> tuple[str, ...]:
        return ("square_avg",)

    def _update(self, name, w, g, t):
        g = self._l2(w, g)
        v = self.buffers[f"square_avg/{name}"]
        v *= self.alpha
        v += (1.0 - self.alpha) * (g * g)
        _scaled_step(w, g, v, self.lr, self.eps)


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient (PyTorch's Adam, amsgrad off). At a parameter's step t::

        d = g + weight_decay * w
        m = m + (1 - b1) * (d - m)             (= b1 * m + (1 - b1) * d)
        v = b2 * v + (1 - b2) * d * d
        w = w - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)
    """

    hyper_names = ("betas", "eps", "weight_decay")
    decoupled = False

    def __init__(self, params: ParamsLike, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _buffer_kinds(self, hyper: dict) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def _update(self, name, w, g, t):
        b1, b2 = self.betas
        if self.weight_decay and self.decoupled:
            w *= 1.0 - self.lr * self.weight_decay
        else:
            g = self._l2(w, g)
        m, v = self.buffers[f"exp_avg/{name}"], self.buffers[f"exp_avg_sq/{name}"]
        delta = g - m
        delta *= 1.0 - b1
        m += delta
        v *= b2
        v += (1.0 - b2) * (g * g)
        step_size = self.lr / (1.0 - b1**t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1.0 - b2**t)
        denom += self.eps
        np.divide(m, denom, out=denom)
        denom *= step_size
        w -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's AdamW; makemore's settings by default)::

        w = w * (1 - lr * weight_decay)
        then the Adam update above with the raw gradient g (no L2 term)
    """

    decoupled = True

    def __init__(self, params: ParamsLike, lr: float = 5e-4, betas: tuple[float, float] = (0.9, 0.99),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ----- gradient clipping ---------------------------------------------------------------------------------------
def clip_grad_norm(params, max_norm: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm`` (PyTorch's rule)::

        norm = sqrt(sum over parameters of sum(g * g))
        if norm > max_norm:  g = g * max_norm / (norm + 1e-6)   for every g

    Returns ``norm`` before clipping (a Python float, summed in float64). When it is not finite (inf or nan)
    the gradients are left untouched, so the caller can see it and stop or skip the step. Each clipped ``.grad``
    is replaced by a new array of the same dtype: a gradient array shared by two parameters is scaled once.
    """
    if not max_norm > 0.0:
        raise ConfigError(f"clip_grad_norm: max_norm must be > 0; got {max_norm!r}")
    tensors = [p for p in _tensors(params) if p.grad is not None]
    total = 0.0
    for p in tensors:
        flat = p.grad.ravel().astype(np.float64, copy=False)
        total += float(matmul(flat, flat))
    norm = math.sqrt(total)
    if math.isfinite(norm) and norm > max_norm:
        coef = float(max_norm) / (norm + 1e-6)
        for p in tensors:
            p.grad = p.grad * coef
    return norm


def clip_grad_value(params, clip: float) -> None:
    """Clamp every gradient elementwise to ``[-clip, clip]`` (min-char-rnn / char-rnn style). NaN stays NaN.
    Each ``.grad`` is replaced by a new array of the same dtype."""
    if not clip > 0.0:
        raise ConfigError(f"clip_grad_value: clip must be > 0; got {clip!r}")
    for p in _tensors(params):
        if p.grad is not None:
            p.grad = np.clip(p.grad, -float(clip), float(clip))


# ----- learning-rate schedules ---------------------------------------------------------------------------------
class Schedule:
    """A schedule changes ``optimizer.lr``; its state (a JSON-able dict) holds everything but the optimizer."""

    _fields: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer

    def state_dict(self) -> dict:
        return {"class": type(self).__name__, **{k: getattr(self, k) for k in self._fields}}

    def load_state_dict(self, state: dict) -> None:
        expected = {"class", *self._fields}
        if not isinstance(state, Mapping) or set(state) != expected:
            raise ConfigError(f"{type(self).__name__}.load_state_dict: expected the keys {sorted(expected)}")
        if state["class"] != type(self).__name__:
            raise ConfigError(f"{type(self).__name__}.load_state_dict: the state was saved by {state['class']}")
        for key in self._fields:
            setattr(self, key, state[key])


class StepDecay(Schedule):
    """Multiply ``lr`` by ``gamma`` on every ``step_size``-th call of :meth:`step`: after n calls,
    ``lr = lr0 * gamma ** (n // step_size)`` (applied multiplicatively, so it composes with other changes)."""

    _fields = ("step_size", "gamma", "count")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float):
        super().__init__(optimizer)
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ConfigError(f"StepDecay: step_size must be an int >= 1; got {step_size!r}")
        _nonneg(gamma=float(gamma))
        self.step_size, self.gamma, self.count = step_size, float(gamma), 0

    def step(self) -> float:
        """Count one call; decay when the count reaches a multiple of ``step_size``. Returns the new lr."""
        self.count += 1
        if self.count % self.step_size == 0:
            self.optimizer.lr *= self.gamma
        return self.optimizer.lr


class CosineDecay(Schedule):
    """Cosine annealing from the optimizer's lr at construction (``lr0``) to ``min_lr``. After n calls::

        lr = min_lr + (lr0 - min_lr) * (1 + cos(pi * min(n, total_steps) / total_steps)) / 2
    """

    _fields = ("base_lr", "min_lr", "total_steps", "count")

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        if not (isinstance(total_steps, int) and total_steps >= 1):
            raise ConfigError(f"CosineDecay: total_steps must be an int >= 1; got {total_steps!r}")
        _nonneg(min_lr=float(min_lr))
        self.base_lr, self.min_lr, self.total_steps, self.count = float(optimizer.lr), float(min_lr), total_steps, 0

    def step(self) -> float:
        """Count one call and set the lr for it. Returns the new lr (``min_lr`` from ``total_steps`` on)."""
        self.count += 1
        frac = min(self.count, self.total_steps) / self.total_steps
        self.optimizer.lr = self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac))
        return self.optimizer.lr


class WarmupCosine(Schedule):
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``floor * lr0`` at ``total_steps``
    (``lr0`` the optimizer's lr at construction). The lr of optimizer step ``s`` (1, 2, ...)::

        s <= warmup:   lr0 * s / warmup
        s >  warmup:   lr_min + (lr0 - lr_min) * (1 + cos(pi * min(s - warmup, D) / D)) / 2
                       lr_min = floor * lr0,   D = max(total_steps - warmup, 1)

    The optimizer holds the lr of its next step at all times: construction sets step 1's, each
    :meth:`step` (called after an optimizer step) the next one's, and loading a state sets it again."""

    _fields = ("base_lr", "warmup", "floor", "total_steps", "count")

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup: int, floor: float = 0.1):
        super().__init__(optimizer)
        if not (isinstance(total_steps, int) and total_steps >= 1):
            raise ConfigError(f"WarmupCosine: total_steps must be an int >= 1; got {total_steps!r}")
        if not (isinstance(warmup, int) and warmup >= 0):
            raise ConfigError(f"WarmupCosine: warmup must be an int >= 0 steps; got {warmup!r}")
        if not (isinstance(floor, int | float) and 0.0 <= floor <= 1.0):
            raise ConfigError(f"WarmupCosine: floor must be a fraction of the lr in [0, 1]; got {floor!r}")
        self.base_lr, self.warmup, self.floor = float(optimizer.lr), warmup, float(floor)
        self.total_steps, self.count = total_steps, 0
        optimizer.lr = self.lr_at(1)

    def lr_at(self, s: int) -> float:
        """The lr of optimizer step ``s`` (1-based)."""
        if s <= self.warmup:
            return self.base_lr * s / self.warmup
        lr_min, span = self.floor * self.base_lr, max(self.total_steps - self.warmup, 1)
        return lr_min + (self.base_lr - lr_min) * 0.5 * (1.0 + math.cos(math.pi * min(s - self.warmup, span) / span))

    def step(self) -> float:
        """Count one optimizer step; set and return the lr of the next."""
        self.count += 1
        self.optimizer.lr = self.lr_at(self.count + 1)
        return self.optimizer.lr

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.optimizer.lr = self.lr_at(self.count + 1)


class HalveOnIncrease(Schedule):
    """rnn-from-scratch's rule: halve ``lr`` whenever the loss is higher than the previous one.

    A non-finite loss counts as an increase and is not remembered (the next loss is compared with the last
    finite one).
    """

    _fields = ("last_loss",)

    def __init__(self, optimizer: Optimizer):
        super().__init__(optimizer)
        self.last_loss: float | None = None

    def step(self, loss: float) -> bool:
        """Record ``loss``; halve the lr when it rose. Returns whether the lr was halved."""
        loss = float(loss)
        finite = math.isfinite(loss)
        halve = not finite or (self.last_loss is not None and loss > self.last_loss)
        if halve:
            self.optimizer.lr *= 0.5
        if finite:
            self.last_loss = loss
        return halve


# ----- by name: the one list of optimizers and schedules ------------------------------------------------------
OPTIMIZERS: dict[str, tuple[type[Optimizer], dict]] = {
    "sgd": (SGD, {"lr": 0.005}),
    "momentum": (SGD, {"lr": 0.005, "momentum": 0.9}),
    "nesterov": (SGD, {"lr": 0.005, "momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "adamw": (AdamW, {}),
}
"""Optimizer name -> (class, settings that differ from the class defaults). The tutorial's 0.005 for SGD."""

SCHEDULES = ("none", "cosine", "halve", "step:N,GAMMA", "warmcos:WARMUP,FLOOR")
"""The learning-rate schedules :func:`make_schedule` understands (``step:N,GAMMA`` and
``warmcos:WARMUP,FLOOR`` with numbers; :func:`parse_schedule` reads them)."""


def make_optimizer(name: str, params: ParamsLike, lr: float | None = None,
                   weight_decay: float | None = None) -> Optimizer:
    """The optimizer called ``name`` (a key of :data:`OPTIMIZERS`).

    ``lr`` None takes that optimizer's default (0.005 for the SGD family, as in the tutorial);
    ``weight_decay`` None takes its default (0.01 for adamw, 0 otherwise).
    """
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    cls, kwargs = OPTIMIZERS[name]
    kwargs = dict(kwargs)
    if lr is not None:
        kwargs["lr"] = lr
    if weight_decay is not None:
        kwargs["weight_decay"] = weight_decay
    return cls(params, **kwargs)


def parse_schedule(spec: str | None) -> tuple[str, tuple]:
    """``(name, arguments)`` of a schedule spec (one of :data:`SCHEDULES`): ``("step", (N, GAMMA))``,
    ``("warmcos", (WARMUP, FLOOR))``, ``("cosine", ())``, ...; ConfigError saying what was expected."""
    if spec in ("none", "", None):
        return "none", ()
    if not isinstance(spec, str):
        raise ConfigError(f"schedule {spec!r}; expected one of {', '.join(SCHEDULES)}")
    if spec in ("cosine", "halve"):
        return spec, ()
    name, _, args = spec.partition(":")
    if name == "step":
        try:
            size, gamma = args.split(",")
            size, gamma = int(size), float(gamma)
        except ValueError:
            size, gamma = 0, 0.0
        if size < 1 or not 0.0 < gamma <= 1.0:
            raise ConfigError(f"schedule {spec!r}; expected step:N,GAMMA with N >= 1 steps and 0 < GAMMA <= 1")
        return "step", (size, gamma)
    if name == "warmcos":
        try:
            warmup, floor = args.split(",")
            warmup, floor = int(warmup), float(floor)
        except ValueError:
            warmup, floor = -1, -1.0
        if warmup < 0 or not 0.0 <= floor <= 1.0:
            raise ConfigError(f"schedule {spec!r}; expected warmcos:WARMUP,FLOOR with WARMUP >= 0 steps of linear "
                             f"warm-up and FLOOR in [0, 1], the fraction of the lr the cosine decays to")
        return "warmcos", (warmup, floor)
    raise ConfigError(f"schedule {spec!r}; expected one of {', '.join(SCHEDULES)}")


def make_schedule(spec: str | None, optimizer: Optimizer, total: int) -> Schedule | None:
    """The schedule ``spec`` names (one of :data:`SCHEDULES`) over ``total`` steps, or None for none:
    ``cosine`` decays to a tenth of the lr, ``halve`` halves it when the validation loss rises,
    ``step:N,GAMMA`` multiplies it by GAMMA every N steps, ``warmcos:WARMUP,FLOOR`` warms up
    linearly over WARMUP steps, then decays along a cosine to FLOOR times the lr at ``total``."""
    name, args = parse_schedule(spec)
    if name == "none":
        return None
    if name == "cosine":
        return CosineDecay(optimizer, total_steps=total, min_lr=optimizer.lr * 0.1)
    if name == "halve":
        return HalveOnIncrease(optimizer)
    if name == "step":
        return StepDecay(optimizer, *args)
    return WarmupCosine(optimizer, total, *args)


__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "clip_grad_norm",
    "clip_grad_value",
    "StepDecay",
    "CosineDecay",
    "WarmupCosine",
    "HalveOnIncrease",
    "Schedule",
    "make_optimizer",
    "make_schedule",
    "parse_schedule",
    "OPTIMIZERS",
    "SCHEDULES",
]
