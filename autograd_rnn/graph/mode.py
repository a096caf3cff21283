"""Gradient mode: whether operations record the graph. Per thread and per context
(``contextvars``), re-entrant, restored on exit even when an exception leaves the block."""

from __future__ import annotations

import contextvars
import functools
import threading

_enabled = contextvars.ContextVar("autograd_rnn_grad_enabled", default=True)


def is_grad_enabled() -> bool:
    """True unless the current thread or context is inside ``no_grad``."""
    return _enabled.get()


class _GradMode:
    """Context manager and decorator that sets the gradient mode for the block or the call."""

    enabled = True

    def __init__(self):
        self._local = threading.local()

    def __enter__(self) -> None:
        stack = self._local.__dict__.setdefault("tokens", [])
        stack.append(_enabled.set(self.enabled))

    def __exit__(self, *exc) -> None:
        _enabled.reset(self._local.tokens.pop())

    def __call__(self, fn):
        """As a decorator: every call runs in its own fresh context manager, so a recursive or
        concurrent function restores the mode of its own caller."""

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside record nothing (sampling, evaluation). Only this thread is affected."""

    enabled = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` block."""

    enabled = True
