"""Random generators and weight initialisation, shared by the built-in nodes and by your own cells.

Every function takes ``rng``: None (fresh entropy), an int seed, or a ``numpy.random.Generator``
(used as is, so one Generator threaded through a model's constructors makes it reproducible), and
returns a float64 array (a node casts it to its dtype when it registers the parameter).

* :func:`uniform`: U(-bound, bound); ``bound=None`` is PyTorch's ``1 / sqrt(fan_in)`` for recurrent
  and linear layers.
* :func:`xavier_uniform` (Glorot & Bengio): U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``.
* :func:`orthogonal` (Saxe et al.): a (semi-)orthogonal matrix, per gate block when ``blocks > 1``,
  the usual choice for recurrent weights.
* :func:`normal`: N(0, std^2), an embedding's default.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError


def as_rng(rng=None) -> np.random.Generator:
    """A numpy Generator from None, a seed (int or sequence of ints), or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not (rng is None or isinstance(rng, int | np.integer | list | tuple)):
        raise ConfigError(f"rng={rng!r}; expected None, an int seed, a sequence of ints or a numpy Generator")
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"rng={rng!r}: {e}; expected None, a non-negative int seed or a numpy Generator") from None


MAX_ELEMENTS = 2**36
"""More elements than this (512 GiB of float64) in one initialised array is refused outright."""


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise ConfigError(f"shape={shape!r}; expected non-negative ints")
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) > MAX_ELEMENTS:
        raise ConfigError(f"shape={shape}: {math.prod(shape):,} elements is more than any machine holds; expected a "
                          f"smaller size")
    return shape


def _allocated(draw, shape: tuple) -> np.ndarray:
    try:
        return draw()
    except MemoryError:
        gb = math.prod(shape) * 8 / 2**30
        raise ConfigError(f"shape={shape}: {gb:,.1f} GB does not fit in this machine's memory; expected a "
                          f"smaller size") from None


def _fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight ``(out, in)`` (PyTorch's layout); a vector counts as one row."""
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[1], shape[0]


def uniform(shape, bound: float | None = None, rng=None) -> np.ndarray:
    """U(-bound, bound) of ``shape``; ``bound=None`` is ``1 / sqrt(fan_in)``, PyTorch's default for
    nn.Linear, nn.RNN/LSTM/GRU (where fan_in is the hidden size)."""
    shape = _shape(shape)
    if bound is None:
        bound = 1 / math.sqrt(max(1, _fans(shape)[0]))
    if not (math.isfinite(bound) and bound >= 0):
        raise ConfigError(f"uniform: bound={bound!r}; expected a finite number >= 0")
    rng = as_rng(rng)
    return _allocated(lambda: rng.uniform(-bound, bound, shape), shape)


def xavier_uniform(shape, gain: float = 1.0, rng=None) -> np.ndarray:
    """Glorot & Bengio (2010): U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` for a
    weight ``(out, in)``; keeps the activations' variance through a layer."""
    shape = _shape(shape)
    fan_in, fan_out = _fans(shape)
    return uniform(shape, gain * math.sqrt(6 / max(1, fan_in + fan_out)), rng)


def orthogonal(shape, gain: float = 1.0, blocks: int = 1, rng=None) -> np.ndarray:
    """A (semi-)orthogonal ``(rows, cols)`` matrix times ``gain``: rows orthonormal when rows <=
    cols, columns otherwise (Saxe et al. 2014), from the QR decomposition of a Gaussian matrix with
    the signs fixed. ``blocks > 1`` splits the rows into that many equal gate blocks, each
    orthogonal on its own (a recurrent weight ``(G*H, H)`` with ``blocks=G``)."""
    shape = _shape(shape)
    if len(shape) != 2:
        raise ConfigError(f"orthogonal: shape={shape}; expected (rows, cols)")
    if blocks < 1 or shape[0] % blocks:
        raise ConfigError(f"orthogonal: {shape[0]} rows do not split into blocks={blocks}")
    rng = as_rng(rng)
    rows = shape[0] // blocks
    parts = []
    for _ in range(blocks):
        a = rng.standard_normal((max(rows, shape[1]), min(rows, shape[1])))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        parts.append(q if rows >= shape[1] else q.T)
    return gain * np.concatenate(parts, axis=0)


def constant(shape, value: float) -> np.ndarray:
    """``shape`` filled with ``value`` (a layer norm's ones and zeros), size-checked like the rest."""
    shape = _shape(shape)
    return _allocated(lambda: np.full(shape, float(value)), shape)


def normal(shape, std: float = 1.0, rng=None) -> np.ndarray:
    """N(0, std^2) of ``shape`` (nn.Embedding's default with std = 1)."""
    if not (math.isfinite(std) and std >= 0):
        raise ConfigError(f"normal: std={std!r}; expected a finite number >= 0")
    shape, rng = _shape(shape), as_rng(rng)
    return _allocated(lambda: std * rng.standard_normal(shape), shape)


__all__ = ["as_rng", "uniform", "xavier_uniform", "orthogonal", "normal", "constant"]
