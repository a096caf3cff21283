"""Naming a cell class in a config or a checkpoint, and loading it back only from code the user
names as trusted.

A cell is named by a *spec*:

* a built-in name: ``rnn``, ``lstm``, ``gru`` (``nodes.CELLS``);
* ``package.module:Class``: a class an import statement reaches;
* ``path/to/file.py:Class``: a class in a Python file (a script's own cells: a class defined in the
  script being run, ``__main__``, is named by the script's path, so another program can load it).

Loading a spec that is not built in runs that module's code, so :func:`load_cell` does it only
when ``allow`` names the source (a module, or a package above it; a file, by path), and otherwise
raises :class:`~autograd_rnn.errors.CellImportError` saying what to trust (``--allow-import`` on
the command line, ``allow_import=`` in Python). Nothing is imported by default. :func:`import_cell`
is for a spec the user has just named themselves (``--cell``).

A cell file is run with its own folder first on the import path, so it can import a helper module
next to it, as a script can. Whatever its module does wrong on import (a SyntaxError, an
exception, ``sys.exit``) is a CellImportError naming the file and line.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import re
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path

from .errors import CellImportError, ConfigError
from .nodes import CELLS, Cell, cell_name

_FILES: dict[str, str] = {}  # module name given to a loaded file -> the file's absolute path
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
MODULE_MUST = ("a cell's module must import without errors and without exiting (script code goes under "
               "`if __name__ == \"__main__\":`)")


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


def load_cell(spec: str, allow: Iterable[str] = (), flag: str = "allow_import=") -> type:
    """The class ``spec`` names, importing its code only if ``allow`` names the source; ``flag`` is
    how the refusal tells the caller to trust it (the command line passes ``--allow-import``)."""
    kind, source, _ = parse_spec(spec)
    if not allowed(spec, allow):
        trust = f"add --allow-import {source}" if flag == "--allow-import" else f"pass allow_import=[{source!r}]"
        raise CellImportError(f"the cell {spec} is not built in, and loading it runs the code in {source}; to trust "
                              f"that code, {trust}")
    return import_cell(spec)


def import_cell(spec: str) -> type:
    """The class ``spec`` names, importing its module or file (the caller trusts the code)."""
    kind, source, qual = parse_spec(spec)
    if kind == "builtin":
        return CELLS[source]
    module = _import_module(source, spec) if kind == "module" else _load_file(source, spec)
    obj = module
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CellImportError(f"cell {spec}: {source} has no {qual}")
    if not (isinstance(obj, type) and issubclass(obj, Cell)):
        raise CellImportError(f"cell {spec}: {qual} is a {type(obj).__name__}, not a Cell subclass")
    return obj


def _import_module(source: str, spec: str):
    try:
        return importlib.import_module(source)
    except ModuleNotFoundError as e:
        if e.name is None or not (source == e.name or source.startswith(e.name + ".")):
            raise _import_failure(spec, e) from None
        hint = (f"; {source} is a file here: name it by its path, ./{source}:{spec.rpartition(':')[2]}"
                if Path(source).is_file() else "; name a module on the import path, or a file by its path")
        raise CellImportError(f"cell {spec}: no module named {e.name!r}{hint}") from None
    except (Exception, SystemExit) as e:
        raise _import_failure(spec, e) from None


def _load_file(source: str, spec: str):
    path = Path(source).resolve()
    if not path.is_file():
        raise CellImportError(f"cell {spec}: no such file {path}")
    name = f"autograd_rnn_cells_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    loader = importlib.machinery.SourceFileLoader(name, str(path))  # any extension: the file was named as Python
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader, origin=str(path)))
    module.__file__ = str(path)
    sys.modules[name] = module
    _FILES[name] = str(path)
    sys.path.insert(0, str(path.parent))  # its helper modules, as for a script
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as e:
        del sys.modules[name]
        raise _import_failure(spec, e) from None
    finally:
        sys.path.remove(str(path.parent))
    return module


def _import_failure(spec: str, e: BaseException) -> CellImportError:
    """The error for a cell module that fails as it is imported, naming the file and line."""
    if isinstance(e, SyntaxError):
        where, what = f"{e.filename}:{e.lineno}", f"SyntaxError: {e.msg}"
    else:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if not f.filename.startswith("<")]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "its module"
        what = (f"called sys.exit({e.code!r})" if isinstance(e, SystemExit) else
                f"{type(e).__name__}: {' '.join(str(e).split()) or 'no message'}")
    return CellImportError(f"cell {spec}: importing its module failed at {where}: {what}; {MODULE_MUST}")


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
