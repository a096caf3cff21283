"""Hooks: callables registered on an object and called with what it records, each removable
through the handle its registration returns (PyTorch's ``register_hook`` and ``RemovableHandle``)."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import GateTypeError


class Hooks:
    """An ordered set of callables: ``handle = hooks.add(fn)``, ``hooks(*args)`` calls each in
    the order added, ``handle.remove()`` takes one out. Empty, it is false."""

    def __init__(self):
        self.registered: dict[int, Callable] = {}
        self.count = 0

    def add(self, hook: Callable, owner: str) -> HookHandle:
        if not callable(hook):
            raise GateTypeError(f"{owner}.register_hook: got a {type(hook).__name__}; expected a callable")
        self.count += 1
        self.registered[self.count] = hook
        return HookHandle(self, self.count)

    def __call__(self, *args) -> None:
        for hook in list(self.registered.values()):
            hook(*args)

    def __bool__(self) -> bool:
        return bool(self.registered)


class HookHandle:
    """What registering a hook returns: ``remove()`` unregisters it (a second call does nothing);
    used as a context manager, it removes the hook on leaving the block."""

    def __init__(self, hooks: Hooks, key: int):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.registered.pop(self.key, None)

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()
