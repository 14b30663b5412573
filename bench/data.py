"""The default model's data, rebuilt the way training built it: same source, same split by piece
(training/held_out.py). The quick mode takes a handful of pieces (the CI-sized source) so the
harness runs in seconds.
"""

from __future__ import annotations

import logging

from . import common

log = logging.getLogger(__name__)

QUICK_LIMIT = 12


def recipe_config(info=None):
    """The performance-lstm Config of the model's metadata, else the recipe's default size."""
    from improvd.training.held_out import trained_config
    from improvd.training.recipes import load_config
    from improvd.training.recipes import performance_lstm as recipe

    return trained_config(info) or load_config(recipe.NAME, "default", recipe.Config)


def splits(config, quick: bool) -> tuple[dict, str]:
    """-> ({"train", "valid", "test": [int32 token arrays]}, description of the source)."""
    from improvd.training.held_out import rebuilt_splits

    return rebuilt_splits(config, QUICK_LIMIT if quick else (config.limit or None),
                          cache_dir=common.PROJECT_ROOT / ".cache" / "improvd")
