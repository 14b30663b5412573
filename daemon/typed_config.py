"""TOML tables -> frozen dataclasses, every key checked: the one settings loader.

Used by the daemon's config.toml (daemon/config.py) and meant for any other TOML settings, such
as the recipe configs (training/configs/<recipe>.toml, one table per size):

    @dataclass(frozen=True)
    class TinyConfig:
        units: int = setting(64, lo=1, hi=4096)
        kind: str = setting("recurrent", choices=("recurrent", "window"))
        layers: tuple[int, ...] = setting((64, 64))        # TOML lists become tuples

    tables = read_toml(path)                                # ConfigError names the file
    config = build_section(TinyConfig, tables["tiny"], f"{path} [tiny]")

An unknown key names itself and suggests the closest known one (a typo is never silently
ignored); a value of the wrong type or out of range names the key and what it accepts. A field's
type is taken from its default (int -> float is widened, a list becomes a tuple); `setting(...)`
adds a range (lo..hi), a set of choices, or a `kind` that a `kinds` mapping checks by hand.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# A hand-written check: (where, value) -> the normalised value, or raise ConfigError.
KindCheck = Callable[[str, Any], Any]


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the file and the key."""


def rule(*, lo=None, hi=None, choices=None, kind=None) -> dict[str, Any]:
    """Field metadata: allowed range or choices; kind overrides the type taken from the default."""
    return {"lo": lo, "hi": hi, "choices": choices, "kind": kind}


def setting(default, **field_rule):
    """A dataclass field with a default and a checking rule (see rule())."""
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=rule(**field_rule))
    return field(default=default, metadata=rule(**field_rule))


def suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def check_value(where: str, f: dataclasses.Field, value: Any,
                kinds: Mapping[str, KindCheck] | None = None) -> Any:
    """Check one value against its field; returns it normalised (lists -> tuples, int -> float)."""
    field_rule = {**rule(), **f.metadata}
    kind = field_rule["kind"]
    if kind is not None:
        if kinds is None or kind not in kinds:
            raise KeyError(f"no check for kind {kind!r} of {where}")
        return kinds[kind](where, value)
    default = _default(f)
    if default is None:
        return value  # no default to take a type from: the dataclass accepts what it gets
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, tuple):
        value = tuple(value) if isinstance(value, list) else value  # TOML gives lists
        ok = isinstance(value, tuple)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{where} must be a {type(default).__name__}, not {value!r}")
    choices = field_rule["choices"]
    if choices and value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(map(str, choices))}, not {value!r}"
                          f"{suggest(str(value), [str(c) for c in choices])}")
    if field_rule["lo"] is not None and not field_rule["lo"] <= value <= field_rule["hi"]:
        raise ConfigError(f"{where} must be in {field_rule['lo']}..{field_rule['hi']}, "
                          f"not {value!r}")
    return value


def build_section(cls: type, values: Any, where: str, *, base: Any = None,
                  kinds: Mapping[str, KindCheck] | None = None, key_prefix: str = ""):
    """One TOML table -> a `cls` instance: `base` (default cls()) with each key checked and set.
    Messages start with `where` (the file, the command line) and name `key_prefix + key`."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: {key_prefix.rstrip('.') or 'this'} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown setting {key_prefix}{key}"
                              f"{suggest(key, list(fields))}")
        checked[key] = check_value(f"{where}: {key_prefix}{key}", fields[key], value, kinds)
    if base is None:
        return cls(**checked)
    return dataclasses.replace(base, **checked)


def as_dict(obj) -> dict[str, Any]:
    """A dataclass instance's fields, one level deep (sections stay objects)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file -> its tables; ConfigError names the file when it is missing or malformed."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
