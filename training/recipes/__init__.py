"""Recipe registry: a recipe name -> its module in training/recipes/ and its Recipe object.

Each module defines a `Recipe` subclass (see training/recipe.py for the protocol) and an instance
of it named RECIPE; training/configs/<name>.toml holds one table per size. Modules are imported
only when asked for, so listing recipes never loads TensorFlow. To add a recipe, add one line to
RECIPES.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

RECIPES: dict[str, str] = {
    "performance-lstm": "improvd.training.recipes.performance_lstm",
    "abc-char-lstm": "improvd.training.recipes.abc_char_lstm",
    "chorale-wavenet": "improvd.training.recipes.chorale_wavenet",
    "note-chord-lstm": "improvd.training.recipes.note_chord_lstm",
    "note-chord-wavenet": "improvd.training.recipes.note_chord_wavenet",
    "note-chord-composer": "improvd.training.recipes.note_chord_composer",
}


class UnknownRecipeError(ValueError):
    pass


def known() -> list[str]:
    return sorted(RECIPES)


def get_recipe(name: str) -> ModuleType:
    """-> the recipe's module; an unknown name raises UnknownRecipeError listing the known ones."""
    module_name = RECIPES.get(name)
    if module_name is None:
        raise UnknownRecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(known())}")
    return importlib.import_module(module_name)


def recipe(name: str):
    """-> the recipe's Recipe object (what the training and export drivers take)."""
    return get_recipe(name).RECIPE


# --- sized configs from TOML (training/configs/<recipe>.toml, one table per size) ---------------
class ConfigError(ValueError):
    pass


def config_path(recipe: str) -> Path:
    return Path(__file__).resolve().parent.parent / "configs" / f"{recipe}.toml"


def load_config(recipe: str, size: str, cls: type, path: Path | None = None,
                overrides: dict[str, Any] | None = None):
    """-> cls(**table) for the [size] table. Unknown sizes, unknown keys and values of the wrong
    type are errors that name the file, the table and the key."""
    path = Path(path) if path else config_path(recipe)
    try:
        with open(path, "rb") as f:
            tables = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    if size not in tables:
        raise ConfigError(f"{path}: no size [{size}]; sizes: {', '.join(sorted(tables))}")
    values = dict(tables[size])
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{path} [{size}]: unknown key {key!r}; known keys: "
                              f"{', '.join(sorted(fields))}")
        expected = type(fields[key].default) if fields[key].default is not dataclasses.MISSING \
            else None
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = value = float(value)
        if expected is tuple and isinstance(value, list):
            values[key] = value = tuple(value)  # frozen configs hold tuples, TOML gives lists
        if expected is not None and not isinstance(value, expected):
            raise ConfigError(f"{path} [{size}]: {key} = {value!r} should be a {expected.__name__}")
    return cls(**values)
