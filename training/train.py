"""One readable training loop shared by every recipe: Keras `fit` plus the callbacks we always want.

    with strategy_scope(args.strategy) as strategy:   # build and compile under the strategy
        model = recipe.build(config); model.compile(...)
    history = fit(model, train_ds, valid_ds, out_dir, epochs=20)

What lands in `out_dir`:
  best.weights.h5      best epoch so far (by `monitor`); export reads this
  last.weights.h5      the latest epoch, with the optimizer state, for --resume
  last_epoch.json      how many epochs last.weights.h5 has seen
  history.json         per-epoch metrics (kept across resumes)
  loss.png             the loss curves
  tensorboard/         TensorBoard logs
  run.json             written by the recipe (write_run_info): config, tokenizer spec, data summary
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

BEST = "best.weights.h5"
LAST = "last.weights.h5"
LAST_EPOCH = "last_epoch.json"
HISTORY = "history.json"
LOSS_PNG = "loss.png"
RUN_INFO = "run.json"
STRATEGIES = ("default", "mirrored", "multiworker")
FILE_MODE = 0o644  # mkstemp creates 0600 files; results must be readable like any other file


class RunDirError(ValueError):
    """A run directory that lacks what is asked of it."""


# --- run.json ----------------------------------------------------------------------------------
def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)


def write_run_info(out_dir: Path, info: dict[str, Any]) -> Path:
    """Everything export needs besides the weights: recipe, config, tokenizer spec, data summary."""
    path = Path(out_dir) / RUN_INFO
    write_json_atomic(path, info)
    return path


def read_run_info(out_dir: Path) -> dict[str, Any]:
    path = Path(out_dir) / RUN_INFO
    if not path.is_file():
        raise RunDirError(f"{out_dir}: not a training run directory (no {RUN_INFO}); "
                          "train one with `improvd train --out DIR`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: not valid JSON ({exc})") from exc



def read_trained_run(run_dir: Path, recipe_name: str) -> dict[str, Any]:
    """run.json of a `recipe_name` run that has a best checkpoint; RunDirError otherwise.
    Every recipe's export starts here, so the checks and their messages are the same for all."""
    run_dir = Path(run_dir)
    run = read_run_info(run_dir)
    if run.get("recipe") != recipe_name:
        raise RunDirError(f"{run_dir}: a {run.get('recipe')!r} run, not {recipe_name!r}")
    if not (run_dir / BEST).is_file():
        raise RunDirError(f"{run_dir}: no {BEST}; training has not finished an epoch yet")
    return run

# --- distribution --------------------------------------------------------------------------------
def make_strategy(name: str) -> tf.distribute.Strategy:
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # Without GPUs MirroredStrategy would use CPU:0 only; spread over every logical CPU device
        # instead, so the same code path is exercised on a CPU machine (and in the tests).
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        # Reads the cluster from TF_CONFIG; with no TF_CONFIG it is a single local worker.
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


@contextlib.contextmanager
def strategy_scope(name: str) -> Iterator[tf.distribute.Strategy]:
    """`with strategy_scope("mirrored") as strategy:` build and compile the model inside."""
    strategy = make_strategy(name)
    log.info("strategy %s with %d replica(s)", name, strategy.num_replicas_in_sync)
    with strategy.scope():
        yield strategy


# --- callbacks -----------------------------------------------------------------------------------
class HistoryWriter(keras.callbacks.Callback):
    """Appends each epoch's metrics to history.json, redraws loss.png and records the epoch
    number for --resume (written after last.weights.h5, so the two always agree)."""

    def __init__(self, out_dir: Path, history: dict[str, list[float]]):
        super().__init__()
        self.out_dir = out_dir
        self.history = history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        write_json_atomic(self.out_dir / HISTORY, self.history)
        write_json_atomic(self.out_dir / LAST_EPOCH, {"epoch": epoch + 1})
        plot_history(self.history, self.out_dir / LOSS_PNG)


class TimeBudget(keras.callbacks.Callback):
    """Stops after the epoch that would make the next one overrun `limit_s` of wall time, so a
    run given an hour ends with a finished epoch and its checkpoints."""

    def __init__(self, limit_s: float):
        super().__init__()
        self.limit_s = limit_s
        self.started = time.monotonic()
        self.epoch_started = self.started

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.monotonic()
        if now + (now - self.epoch_started) > self.started + self.limit_s:
            log.info("time budget of %.0f s reached after epoch %d; stopping", self.limit_s,
                     epoch + 1)
            self.model.stop_training = True


def plot_history(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("loss", "val_loss"):
        if history.get(key):
            ax.plot(range(1, len(history[key]) + 1), history[key], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _prepare_resume(model: keras.Model, out_dir: Path) -> tuple[int, dict[str, list[float]]]:
    last, marker = out_dir / LAST, out_dir / LAST_EPOCH
    if not (last.is_file() and marker.is_file()):
        raise RunDirError(f"{out_dir}: nothing to resume (no {LAST} / {LAST_EPOCH})")
    if model.optimizer is not None:
        model.optimizer.build(model.trainable_variables)  # so its saved slots can be loaded
    model.load_weights(last)
    epoch = json.loads(marker.read_text())["epoch"]
    history_path = out_dir / HISTORY
    history = json.loads(history_path.read_text()) if history_path.is_file() else {}
    # Drop epochs the history recorded after the last weights were saved (a crash in between).
    history = {k: v[:epoch] for k, v in history.items()}
    log.info("resuming %s from epoch %d", out_dir, epoch)
    return epoch, history


def fit(model: keras.Model, train_ds, valid_ds, out_dir: Path, *, epochs: int, patience: int = 3,
        resume: bool = False, steps_per_epoch: int | None = None,
        validation_steps: int | None = None, monitor: str = "val_loss",
        time_limit_s: float | None = None) -> dict:
    """Trains a compiled model; returns the whole history (including resumed epochs).
    `time_limit_s` stops at an epoch boundary before the wall-time budget runs out."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    initial_epoch, history = _prepare_resume(model, out_dir) if resume else (0, {})
    if initial_epoch >= epochs:
        log.info("%s already has %d of %d epochs; nothing to do", out_dir, initial_epoch, epochs)
        return history
    if steps_per_epoch is not None:
        train_ds = train_ds.repeat()  # an epoch is then a fixed number of steps, not one pass
    if validation_steps is not None and valid_ds is not None:
        valid_ds = valid_ds.repeat()
    mode = "max" if "acc" in monitor else "min"
    callbacks = [
        keras.callbacks.ModelCheckpoint(out_dir / BEST, monitor=monitor, mode=mode,
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.ModelCheckpoint(out_dir / LAST, save_weights_only=True),
        HistoryWriter(out_dir, history),
        keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience),
        keras.callbacks.TensorBoard(log_dir=str(out_dir / "tensorboard")),
    ]
    if time_limit_s:
        callbacks.append(TimeBudget(time_limit_s))
    if resume and history.get(monitor):
        # The best checkpoint callback must not overwrite a better epoch from before the resume.
        callbacks[0].best = (max if mode == "max" else min)(history[monitor])
    model.fit(train_ds, validation_data=valid_ds, epochs=epochs, initial_epoch=initial_epoch,
              steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
              callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    return history


# --- token splits kept in the run directory (evaluation and export read the same test split) ----
SPLITS = "splits.npz"


def save_splits(out_dir: Path, splits: dict[str, list]) -> Path:
    """Stores each split's (unaugmented) token sequences as one flat array plus offsets."""
    import numpy as np

    arrays = {}
    for name, seqs in splits.items():
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        arrays[f"{name}_tokens"] = np.concatenate(seqs).astype(np.int32) if seqs else \
            np.zeros(0, np.int32)
        arrays[f"{name}_offsets"] = np.concatenate([[0], np.cumsum(lengths)])
    path = Path(out_dir) / SPLITS
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{SPLITS}.", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    return path


def load_splits(out_dir: Path) -> dict[str, list]:
    import numpy as np

    path = Path(out_dir) / SPLITS
    if not path.is_file():
        raise RunDirError(f"{out_dir}: no {SPLITS} (the run's token splits); was it trained here?")
    data = np.load(path)
    names = sorted(k[: -len("_tokens")] for k in data.files if k.endswith("_tokens"))
    out = {}
    for name in names:
        tokens, offsets = data[f"{name}_tokens"], data[f"{name}_offsets"]
        out[name] = [tokens[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return out


def machine_summary() -> str:
    """e.g. "2 x AMD EPYC (x86_64), TensorFlow 2.21.0, CPU only" for run.json and the card."""
    import platform

    from .machine import cpu_model

    model, cpus = cpu_model(), os.cpu_count()
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    return f"{cpus} x {model} ({platform.machine()}), TensorFlow {tf.__version__}, {device}"
