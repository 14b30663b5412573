"""A model's token splits rebuilt from the model file's own metadata, when its run is gone.

dataset.split_pieces splits by a hash of each piece's name, so the recipe's source loaded again
with the config the model was trained with (kept in the file) gives the same train/valid/test
pieces it was trained and evaluated on, and the same unaugmented tokens. Only performance-lstm's
data stage is that simple (its source through its tokenizer); other recipes need their run
directory's splits.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import cache
from .run_dir import RunDirError

REBUILDABLE = "performance-lstm"


def trained_config(info):
    """The performance-lstm Config stored in the model's metadata; None when it has none."""
    from .recipes import performance_lstm as recipe

    saved = (info.training or {}).get("config") if info is not None else None
    if not saved:
        return None
    known = {f.name for f in dataclasses.fields(recipe.Config)}
    values = {k: v for k, v in saved.items() if k in known}
    values["stretches"] = tuple(values.get("stretches", ()))
    return recipe.Config(**values)


def rebuilt_splits(config, limit: int | None = None, cache_dir: Path | None = cache.CACHE_DIR
                   ) -> tuple[dict[str, list[np.ndarray]], str]:
    """-> ({"train", "valid", "test": [int32 token arrays per piece]}, what the source was)."""
    from . import dataset, sources
    from .recipes import performance_lstm as recipe

    pieces = sources.load_pieces(config.source, limit=limit, cache_dir=cache_dir)
    by_split = dataset.split_pieces(pieces)
    tok = recipe.tokenizer(config)
    tokens = {name: dataset.tokenize_split(ps, tok) for name, ps in by_split.items()}
    described = (f"{config.source}" + (f" (first {limit} pieces)" if limit else "") +
                 ": " + ", ".join(f"{k} {len(v)} pieces" for k, v in by_split.items()))
    return tokens, described


def held_out(info, model_path) -> list[np.ndarray]:
    """The model's test split, rebuilt from its metadata; RunDirError when it cannot be."""
    config = trained_config(info) if info.recipe == REBUILDABLE else None
    if config is None:
        raise RunDirError(f"{model_path}: a {info.recipe} model's held-out split cannot be "
                          "rebuilt from its metadata; give the training run (--run DIR)")
    return rebuilt_splits(config, limit=config.limit or None)[0]["test"]
