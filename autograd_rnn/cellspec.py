"""Naming a cell class in a config or a checkpoint, and loading it back only from code the user
names as trusted.

A cell is named by a *spec*:

* a built-in name: ``rnn``, ``lstm``, ``gru`` (``nodes.CELLS``);
* ``package.module:Class``: a class an import statement reaches;
* ``path/to/file.py:Class``: a class in a Python file (a script's own cells: a class defined in the
  script being run, ``__main__``, is named by the script's path, so another program can load it).

Loading a spec that is not built in runs that module's code, so :func:`load_cell` does it only
when ``allow`` names the source (a module, or a package above it; a file, by path), and otherwise
raises :class:`CellImportError` saying which ``--allow-import`` to add. Nothing is imported by
default. :func:`import_cell` is for a spec the user has just named themselves (``--cell``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import ConfigError
from .nodes import CELLS, Cell, cell_name

_FILES: dict[str, str] = {}  # module name given to a loaded file -> the file's absolute path
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class CellImportError(ConfigError):
    """A checkpoint or config names a cell whose code was not named as trusted, or it cannot be
    found or imported."""


def spec_of(cls: type) -> str:
    """The spec that names ``cls`` in a checkpoint (see the module docstring)."""
    name = cell_name(cls)
    if name is not None:
        return name
    qual = cls.__qualname__
    if "<locals>" in qual:
        raise ConfigError(f"{qual} is defined inside a function, where no checkpoint can name it; define the cell "
                          f"at the top level of a module or script")
    module = cls.__module__
    if module == "__main__":
        path = getattr(sys.modules.get("__main__"), "__file__", None)
        if path is None:
            raise ConfigError(f"{qual} is defined in an interactive session, which no checkpoint can name; put it "
                              f"in a file and import it")
        return f"{Path(path).resolve()}:{qual}"
    if module in _FILES:
        return f"{_FILES[module]}:{qual}"
    return f"{module}:{qual}"


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``(kind, source, qualname)``: kind ``"builtin"``, ``"module"`` or ``"file"``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"cell={spec!r}; expected {', '.join(CELLS)}, module:Class or path/to/file.py:Class")
    if spec.lower() in CELLS:
        return "builtin", spec.lower(), spec.lower()
    source, sep, qual = spec.rpartition(":")
    if not sep or not source or not all(part.isidentifier() for part in qual.split(".")):
        raise ConfigError(f"cell={spec!r}; expected one of {', '.join(CELLS)}, module:Class or path/to/file.py:Class")
    if source.endswith(".py") or "/" in source or "\\" in source:
        return "file", source, qual
    if not _MODULE.match(source):
        raise ConfigError(f"cell={spec!r}: {source!r} is neither a module name nor a path to a .py file")
    return "module", source, qual


def is_builtin(spec: str) -> bool:
    return isinstance(spec, str) and spec.lower() in CELLS


def allowed(spec: str, allow: Iterable[str]) -> bool:
    """Whether ``allow`` names the source of ``spec`` (built-in cells need nothing)."""
    kind, source, _ = parse_spec(spec)
    if kind == "builtin":
        return True
    for entry in allow:
        if kind == "module" and (entry == source or source.startswith(entry + ".")):
            return True
        is_file = entry.endswith(".py") or "/" in entry
        if kind == "file" and is_file and Path(entry).resolve() == Path(source).resolve():
            return True
    return False


def load_cell(spec: str, allow: Iterable[str] = ()) -> type:
    """The class ``spec`` names, importing its code only if ``allow`` names the source."""
    kind, source, _ = parse_spec(spec)
    if not allowed(spec, allow):
        raise CellImportError(f"the cell {spec} is not built in, and loading it runs the code in {source}; to trust "
                              f"that code, add --allow-import {source}")
    return import_cell(spec)


def import_cell(spec: str) -> type:
    """The class ``spec`` names, importing its module or file (the caller trusts the code)."""
    kind, source, qual = parse_spec(spec)
    if kind == "builtin":
        return CELLS[source]
    if kind == "module":
        try:
            module = importlib.import_module(source)
        except ImportError as e:
            raise CellImportError(f"cell {spec}: cannot import {source} ({e})") from None
    else:
        module = _load_file(source, spec)
    obj = module
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CellImportError(f"cell {spec}: {source} has no {qual}")
    if not (isinstance(obj, type) and issubclass(obj, Cell)):
        raise CellImportError(f"cell {spec}: {qual} is a {type(obj).__name__}, not a Cell subclass")
    return obj


def _load_file(source: str, spec: str):
    path = Path(source).resolve()
    if not path.is_file():
        raise CellImportError(f"cell {spec}: no such file {path}")
    name = f"autograd_rnn_cells_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    _FILES[name] = str(path)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise CellImportError(f"cell {spec}: running {path} failed ({type(e).__name__}: {e})") from None
    return module


def check_options(cls: type, options: dict) -> dict:
    """``options`` after a JSON round trip (tuples become lists), or ConfigError naming the first
    option a checkpoint cannot hold."""
    out = {}
    for key, value in options.items():
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{cls.__name__}: the cell option {key}={value!r} cannot be stored in a checkpoint "
                              f"({e}); options must be JSON values (numbers, strings, booleans, None, lists, "
                              f"dicts), or the cell must override config()") from None
        out[key] = json.loads(text)
    return out


__all__ = ["CellImportError", "spec_of", "parse_spec", "is_builtin", "allowed", "load_cell", "import_cell",
           "check_options"]
