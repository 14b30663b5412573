"""The run directory: the one contract on disk between `improvd train` and `improvd export`.

  run.json          recipe, size, config, tokenizer spec, data summary, training summary, figures
  splits.npz        each split's unaugmented token ids per piece (evaluation and parity read it)
  best.weights.h5   the best epoch by the config's `monitor`: what export converts
  backup/           Keras BackupAndRestore: the latest epoch's weights, optimizer and epoch number
  history.csv       Keras CSVLogger: per-epoch metrics, kept across resumes
  loss.png          the loss curves; tensorboard/ the TensorBoard logs
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from improvd.daemon.atomic import atomic_open, write_json_atomic

log = logging.getLogger(__name__)

RUN_INFO = "run.json"
SPLITS = "splits.npz"
BEST = "best.weights.h5"
BACKUP = "backup"
HISTORY = "history.csv"
LOSS_PNG = "loss.png"


class RunDirError(ValueError):
    """A run directory that lacks what is asked of it."""


def write_run_info(run_dir: Path, info: dict[str, Any]) -> Path:
    return write_json_atomic(Path(run_dir) / RUN_INFO, info, default=float)


def read_run_info(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / RUN_INFO
    if not path.is_file():
        raise RunDirError(f"{run_dir}: not a training run directory (no {RUN_INFO}); "
                          "train one with `improvd train --out DIR`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from exc


def read_trained_run(run_dir: Path) -> dict[str, Any]:
    """run.json of a run that has a best checkpoint; RunDirError otherwise."""
    run = read_run_info(run_dir)
    if not (Path(run_dir) / BEST).is_file():
        raise RunDirError(f"{run_dir}: no {BEST}; training has not finished an epoch yet")
    return run


def save_splits(run_dir: Path, splits: dict[str, list]) -> Path:
    """Each split's token sequences as one flat array plus offsets."""
    arrays = {}
    for name, seqs in splits.items():
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        arrays[f"{name}_tokens"] = (np.concatenate(seqs).astype(np.int32) if seqs
                                    else np.zeros(0, np.int32))
        arrays[f"{name}_offsets"] = np.concatenate([[0], np.cumsum(lengths)])
    path = Path(run_dir) / SPLITS
    with atomic_open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_splits(run_dir: Path) -> dict[str, list[np.ndarray]]:
    path = Path(run_dir) / SPLITS
    if not path.is_file():
        raise RunDirError(f"{run_dir}: no {SPLITS} (the run's token splits); was it trained here?")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    names = sorted(k[: -len("_tokens")] for k in arrays if k.endswith("_tokens"))
    out = {}
    for name in names:
        tokens, offsets = arrays[f"{name}_tokens"], arrays[f"{name}_offsets"]
        out[name] = [tokens[a:b] for a, b in itertools.pairwise(offsets)]
    return out


def epochs_done(run_dir: Path) -> int:
    """Epochs the run's backup has seen (0 when there is none)."""
    path = Path(run_dir) / BACKUP / "training_metadata.json"
    return int(json.loads(path.read_text())["epoch"]) if path.is_file() else 0
