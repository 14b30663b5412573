"""One training loop for every recipe: Keras `fit` with Keras' own callbacks for what they do
(BackupAndRestore for --resume, CSVLogger for the history, ModelCheckpoint for the best epoch,
EarlyStopping, TensorBoard) and two of ours (a wall-time budget, the loss plot).

    strategy = make_strategy("mirrored")       # build and compile under the strategy
    with strategy.scope():
        model = recipe.build(config, vocab_size); recipe.compile_model(model, config)
    history = fit(model, train_ds, valid_ds, run_dir, Schedule(epochs=20, ...))

What lands in the run directory is listed in run_dir.py.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from .machine import cpu_model
from .run_dir import BACKUP, BEST, HISTORY, LOSS_PNG, RunDirError, epochs_done

log = logging.getLogger(__name__)

STRATEGIES = ("default", "mirrored", "multiworker")


# --- distribution --------------------------------------------------------------------------------
def make_strategy(name: str) -> tf.distribute.Strategy:
    """Build and compile the model inside `make_strategy(name).scope()`."""
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


def is_chief() -> bool:
    """False on every multi-worker worker but the chief (worker 0 when TF_CONFIG names no
    chief): those train alongside and write their checkpoints to a scratch folder."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if "chief" in config.get("cluster", {}):
        return kind == "chief"
    return kind == "worker" and index == 0


# --- callbacks -----------------------------------------------------------------------------------
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


class LossPlot(keras.callbacks.Callback):
    """Redraws loss.png from history.csv after each epoch (CSVLogger writes it first)."""

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        plot_history(read_history(self.run_dir), self.run_dir / LOSS_PNG)


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


def read_history(run_dir: Path, epochs: int | None = None) -> dict[str, list[float]]:
    """history.csv -> {metric: [value per epoch]}, the first `epochs` rows when given."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))[:epochs]
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(row[k]) for row in rows] for k in keys}


def _truncate_history(run_dir: Path, epochs: int) -> None:
    """Drops rows the history recorded after the backup was saved (a crash in between)."""
    path = Path(run_dir) / HISTORY
    if path.is_file():
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(lines[:epochs + 1]))


# --- fit -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    epochs: int
    patience: int = 3
    monitor: str = "val_loss"
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    time_limit_s: float | None = None


def fit(model: keras.Model, train_ds, valid_ds, run_dir: Path, schedule: Schedule, *,
        resume: bool = False) -> dict[str, list[float]]:
    """Trains a compiled model; returns the whole history (resumed epochs included)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    done = _start(run_dir, resume)
    if done >= schedule.epochs:
        log.info("%s already has %d of %d epochs; nothing to do", run_dir, done, schedule.epochs)
        return read_history(run_dir)
    if schedule.steps_per_epoch is not None:
        train_ds = train_ds.repeat()  # an epoch is then a fixed number of steps, not one pass
    if schedule.validation_steps is not None and valid_ds is not None:
        valid_ds = valid_ds.repeat()
    strategy = model.distribute_strategy
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _fit_across_workers(model)
    with strategy.scope():
        model.fit(train_ds, validation_data=valid_ds, epochs=schedule.epochs,
                  steps_per_epoch=schedule.steps_per_epoch,
                  validation_steps=schedule.validation_steps,
                  callbacks=_callbacks(run_dir, schedule, read_history(run_dir, done)),
                  verbose=1 if sys.stdout.isatty() else 2)
    return read_history(run_dir)


def _fit_across_workers(model: keras.Model) -> None:
    """Keras 3's fit does two things MultiWorkerMirroredStrategy refuses (keras-team/keras
    #20585): it averages a batch of int token ids across the workers to build the model eagerly,
    and averages each step's scalar metrics along axis 0, which they lack. Left to the enclosing
    scope, the strategy is the same but the build happens in the traced step; given an axis, the
    step metrics average fine. The epoch's figures (history, checkpoints, early stopping) are
    read from the metrics' variables, which add up every worker's share."""
    model._distribute_strategy = None
    for name in ("train_step", "test_step"):
        step = getattr(model, name)
        setattr(model, name, lambda data, step=step: {k: tf.reshape(v, [1])
                                                      for k, v in step(data).items()})


def _start(run_dir: Path, resume: bool) -> int:
    """Epochs already done: the backup's on --resume (an error if there is none); a fresh run
    removes an old backup and history, which Keras would otherwise quietly resume from."""
    if not resume:
        shutil.rmtree(run_dir / BACKUP, ignore_errors=True)
        (run_dir / HISTORY).unlink(missing_ok=True)
        return 0
    done = epochs_done(run_dir)
    if not done:
        raise RunDirError(f"{run_dir}: nothing to resume (no {BACKUP}/ of a finished epoch)")
    _truncate_history(run_dir, done)
    log.info("resuming %s from epoch %d", run_dir, done)
    return done


def _callbacks(run_dir: Path, schedule: Schedule, history: dict[str, list[float]]) -> list:
    mode = "max" if "acc" in schedule.monitor else "min"
    best = keras.callbacks.ModelCheckpoint(run_dir / BEST, monitor=schedule.monitor, mode=mode,
                                           save_best_only=True, save_weights_only=True)
    if history.get(schedule.monitor):
        # The best checkpoint must not be overwritten by a worse epoch after a resume.
        best.best = (max if mode == "max" else min)(history[schedule.monitor])
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / BACKUP), delete_checkpoint=False),
        best,
        keras.callbacks.CSVLogger(str(run_dir / HISTORY), append=bool(history)),
        LossPlot(run_dir),
        keras.callbacks.EarlyStopping(monitor=schedule.monitor, mode=mode,
                                      patience=schedule.patience),
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")),
    ]
    if schedule.time_limit_s:
        callbacks.append(TimeBudget(schedule.time_limit_s))
    return callbacks


def machine_summary() -> str:
    """e.g. "2 x AMD EPYC (x86_64), TensorFlow 2.21.0, CPU only" for run.json and the card."""
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else "CPU only"
    return (f"{os.cpu_count()} x {cpu_model()} ({platform.machine()}), "
            f"TensorFlow {tf.__version__}, {device}")
