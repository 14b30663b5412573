"""The default model's data, rebuilt the way training built it: same source, same split by piece.

training/dataset.py splits by a hash of each piece's name, so loading the same source again gives
the same train/valid/test pieces the shipped model was trained and evaluated on. The quick mode
takes a handful of pieces (the CI-sized source) so the harness runs in seconds.
"""

from __future__ import annotations

import dataclasses
import logging

from . import common

log = logging.getLogger(__name__)

QUICK_LIMIT = 12


def recipe_config(info=None):
    """The performance-lstm Config of the model's metadata, else the recipe's default size."""
    from improvd.training.recipes import load_config
    from improvd.training.recipes import performance_lstm as recipe

    saved = (info.training or {}).get("config") if info is not None else None
    if saved:
        known = {f.name for f in dataclasses.fields(recipe.Config)}
        values = {k: v for k, v in saved.items() if k in known}
        values["stretches"] = tuple(values.get("stretches", ()))
        return recipe.Config(**values)
    return load_config(recipe.NAME, "default", recipe.Config)


def splits(config, quick: bool) -> tuple[dict, str]:
    """-> ({"train", "valid", "test": [int32 token arrays]}, description of the source)."""
    from improvd.training import dataset, sources
    from improvd.training.recipes import performance_lstm as recipe

    limit = QUICK_LIMIT if quick else (config.limit or None)
    pieces = sources.load_pieces(config.source, limit=limit,
                                 cache_dir=common.PROJECT_ROOT / ".cache" / "improvd")
    by_split = dataset.split_pieces(pieces)
    tok = recipe.tokenizer(config)
    tokens = {name: dataset.tokenize_split(ps, tok) for name, ps in by_split.items()}
    described = (f"{config.source}" + (f" (first {limit} pieces)" if limit else "") +
                 ": " + ", ".join(f"{k} {len(v)} pieces" for k, v in by_split.items()))
    return tokens, described
