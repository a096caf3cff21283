"""Gradient mode: whether operations record the graph. Per thread and per context
(``contextvars``), re-entrant, restored on exit even when an exception leaves the block."""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Generator

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
        concurrent function restores the mode of its own caller. A generator function runs each
        stretch of its body (up to a ``yield``) in the mode, and its caller, between two values,
        in its own; a coroutine function runs its body in the mode (its task has its own context)."""
        mode = type(self)
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args, **kwargs):
                return (yield from _in_mode(mode, fn(*args, **kwargs)))

            return generator
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def coroutine(*args, **kwargs):
                with mode():
                    return await fn(*args, **kwargs)

            return coroutine

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with mode():
                return fn(*args, **kwargs)

        return wrapper


def _in_mode(mode: type, gen: Generator):
    """Drive ``gen`` with every resumption (next, send, throw, close) inside ``mode()``; its values
    reach the caller outside it, and its return value is this generator's."""
    resume, arg = gen.send, None
    while True:
        try:
            with mode():
                value = resume(arg)
        except StopIteration as stop:
            return stop.value
        try:
            arg, resume = (yield value), gen.send
        except GeneratorExit:
            with mode():
                gen.close()
            raise
        except BaseException as e:
            arg, resume = e, gen.throw


class no_grad(_GradMode):
    """Operations inside record nothing (sampling, evaluation). Only this thread is affected."""

    enabled = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` block."""

    enabled = True
