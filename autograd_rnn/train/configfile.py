"""Config files: ``autograd-rnn train --config recipe.toml``, and the resolved config a run keeps.

A config file is TOML whose keys are :class:`TrainConfig`'s fields by name (``seq_len = 128``,
``cell = "lnlstm"``, ``schedule = "warmcos:100,0.1"``, ``cell_options = { leak = 0.5 }``); every
field the command line sets can be set there (not ``resume``, which is an action). Each value is
checked as the command line's is, and a wrong one is refused in one line naming the file and the
key: an unknown key (with the nearest field's name), a wrong type (``seq_len = "64"``), a value
out of range or not among the choices, a truncation, schedule, split or cell spec that does not
parse. An optional number is unset with ``"none"`` (TOML has no null), as ``--clip none`` is. A
path is read as on the command line, from the current folder. The flags given on the command line
win over the file, the file over the defaults.

Every run writes its resolved settings to ``config.toml`` in its folder (through the one atomic
writer, with its first checkpoint), all of them but where the run lives (``out``): ``autograd-rnn
train --config runs/X/config.toml --out Y`` trains the same run again, bit for bit.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
import sys
import typing
from pathlib import Path

from ..atomic import atomic_write
from ..cellspec import parse_spec
from ..data import parse_split
from ..data.corpus import read_bounded
from ..errors import AutogradRNNError, ConfigError
from ..optim import parse_schedule
from ..sequence import parse_truncation
from .checkpoints import train_config
from .config import TrainConfig, check_field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_FILE = "config.toml"
"""The name of the resolved config in a run's folder."""
MAX_CONFIG_BYTES = 1_000_000
LEFT_OUT = ("out", "resume", "stop_after")
"""Fields a run's config.toml leaves out: where the run lives and how it was started, not what it is."""
SPECS = {"truncation": parse_truncation, "schedule": parse_schedule, "split": parse_split, "cell": parse_spec}
"""The fields whose text is a spec, with the function that reads it."""


def settable() -> dict[str, dataclasses.Field]:
    """The fields a config file may set: those the command line sets, but ``resume``."""
    return {f.name: f for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True) and f.name != "resume"}


def read_config(path: str | Path, no_limits: bool | None = None) -> dict:
    """The settings of the config file ``path``: ``{field: value}``, each value checked (its type, its
    range or choices, its spec; the size limits unless ``no_limits``, by default the file's own
    ``no_limits``). ConfigError naming the file and the key otherwise."""
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES, "split it", what="config")
    except AutogradRNNError as e:
        raise ConfigError(f"--config: {e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"--config {path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--config {path}: not valid TOML: {e}") from None
    fields, hints = settable(), typing.get_type_hints(TrainConfig)
    unknown = [k for k in data if k not in fields]
    if "resume" in unknown:
        raise ConfigError(f"{path}: resume is how a run is started, not a setting of it; pass --resume instead")
    if unknown:
        key = unknown[0]
        near = difflib.get_close_matches(key.replace("-", "_"), list(fields), n=1)
        raise ConfigError(f"{path}: unknown key {key!r}" + (f" (did you mean {near[0]}?)" if near else "")
                          + "; expected the name of a setting: an option of autograd-rnn train --help with _ for -")
    limits_off = data.get("no_limits") is True if no_limits is None else no_limits
    values = {}
    for key, value in data.items():
        value = _from_toml(value, hints[key])
        where = f"{path}: {key} ="
        check_field(fields[key], hints[key], value, limits_off, name=where)
        if key in SPECS and isinstance(value, str):
            try:
                SPECS[key](value)
            except (AutogradRNNError, ValueError) as e:
                raise ConfigError(f"{path}: {e}" if str(e).startswith(key) else f"{where} {value!r}: {e}") from None
        if key == "cell_options" and not all(isinstance(k, str) and k.isidentifier() for k in value):
            raise ConfigError(f"{where} {value!r}: expected a table whose keys are Python names")
        values[key] = value
    return values


def _from_toml(value, annotation):
    """A TOML value as the field holds it: ``"none"`` for an optional number is None, an integer for
    a number is a float."""
    kinds = typing.get_args(annotation) or (annotation,)
    if type(None) in kinds and (int in kinds or float in kinds) and isinstance(value, str) \
            and value.strip().lower() == "none":
        return None
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def config_toml(settings: dict, header: str = "") -> str:
    """The TOML text of ``settings`` (``{field: value}``, a TrainConfig's as a dict), every settable
    field but :data:`LEFT_OUT`, in the order of the fields; ``header``: comment lines above."""
    fields = settable()
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for key, value in settings.items():
        if key not in fields or key in LEFT_OUT:
            continue
        if value is None:
            if fields[key].default is None:
                lines.append(f"# {key} = (not set)")
                continue
            value = "none"
        try:
            lines.append(f"{key} = {toml_value(value)}")
        except ConfigError as e:
            lines.append(f"# {key}: {e}")
    return "\n".join(lines) + "\n"


HEADER = """The settings of the run in this folder, resolved (the command line over --config over the defaults).
autograd-rnn train --config {path} --out NEW trains the same run again, bit for bit."""


def write_config(run) -> None:
    """Write ``run``'s resolved settings to ``config.toml`` in its folder (the one atomic writer)."""
    path = Path(run.out) / CONFIG_FILE
    atomic_write(path, config_toml(train_config(run), HEADER.format(path=path)).encode("utf-8"))


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value) -> str:
    """One value in TOML: a bool, a number, a string, a list or a table of those; ConfigError for
    anything TOML cannot hold (None, a string that is not Unicode text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else "inf" if v > 0 else "-inf")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{ascii(value)} is not Unicode text, which TOML needs") from None
        return '"' + "".join(_escape(ch) for ch in value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [f"{k if _BARE.match(str(k)) else toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise ConfigError(f"{value!r} has no TOML form (TOML has no null)")


def _escape(ch: str) -> str:
    if ch in '"\\':
        return "\\" + ch
    if (ch < " " and ch != "\t") or ch == "\x7f":
        return f"\\u{ord(ch):04x}"
    return ch


__all__ = ["CONFIG_FILE", "read_config", "write_config", "config_toml", "toml_value", "settable"]
