"""Recipe registry: a recipe is a TOML file training/configs/<name>.toml (one table per size) and
a module training/recipes/<name with _ for ->.py defining a `Recipe` subclass (the protocol is
training/recipe.py) and an instance of it named RECIPE. Adding both is all a new recipe takes.

Modules are imported only when asked for, so listing recipes never loads TensorFlow.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from improvd.daemon.typed_config import ConfigError, build_section, read_toml

__all__ = ["ConfigError", "UnknownRecipeError", "config_path", "get_recipe", "known",
           "load_config", "recipe"]

log = logging.getLogger(__name__)

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

class UnknownRecipeError(ValueError):
    pass


def known() -> list[str]:
    return sorted(p.stem for p in CONFIGS.glob("*.toml"))


def get_recipe(name: str) -> ModuleType:
    """-> the recipe's module; an unknown name raises UnknownRecipeError listing the known ones."""
    if name not in known():
        raise UnknownRecipeError(f"unknown recipe {name!r}; known recipes: {', '.join(known())}")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def recipe(name: str):
    """-> the recipe's Recipe object (what the training and export drivers take)."""
    return get_recipe(name).RECIPE


# --- sized configs from TOML (training/configs/<recipe>.toml, one table per size) ---------------
def config_path(recipe: str) -> Path:
    return CONFIGS / f"{recipe}.toml"


def load_config(recipe: str, size: str, cls: type, path: Path | None = None,
                overrides: dict[str, Any] | None = None):
    """-> cls for the [size] table with `overrides` (None values ignored), through the one TOML
    loader: unknown sizes, unknown keys and values of the wrong type are ConfigErrors that name
    the file, the table and the key."""
    path = Path(path) if path else config_path(recipe)
    tables = read_toml(path)
    if size not in tables:
        raise ConfigError(f"{path}: no size [{size}]; sizes: {', '.join(sorted(tables))}")
    values = {**tables[size], **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return build_section(cls, values, f"{path} [{size}]")
