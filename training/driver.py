"""One driver trains every recipe: `improvd train --recipe NAME --size SIZE --out DIR`.

    config (the TOML size table and the command line, or the run's own on --resume)
    -> recipe.load_data -> build + compile under the tf.distribute strategy
    -> run.json + splits.npz -> fit (train.py) -> training summary and figures in run.json

Export reads nothing but the run directory this writes (run_dir.py); `load_trained` rebuilds the
trained model from it for export, verify and the recipe's own figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from improvd.daemon import tokenizers
from improvd.daemon.typed_config import build_section

from .recipe import Recipe, TrainingData
from .recipes import load_config
from .run_dir import (
    BEST,
    RunDirError,
    epochs_done,
    read_run_info,
    read_trained_run,
    save_splits,
    write_run_info,
)
from .train import Schedule, fit, is_chief, machine_summary, make_strategy

log = logging.getLogger(__name__)


def train(recipe: Recipe, args) -> int:
    """Trains `recipe` as the parsed `improvd train` arguments say, into args.out."""
    out = Path(args.out)
    config = resolve_config(recipe, args)
    # First: a multi-worker strategy must be set up before TensorFlow runs anything else.
    strategy = make_strategy(args.strategy)
    log.info("strategy %s with %d replica(s)", args.strategy, strategy.num_replicas_in_sync)
    keras.utils.set_random_seed(config.seed)
    data = recipe.load_data(config)  # before touching `out`: bad data leaves nothing behind
    log.info("data: %s", {k: v for k, v in data.summary.items() if not isinstance(v, list)})
    with strategy.scope():
        model = recipe.build(config, data.tokenizer.vocab_size)
        recipe.compile_model(model, config)
    previous = read_run_info(out).get("training", {}) if args.resume else {}
    run = {"recipe": recipe.name, "size": args.size, "config": dataclasses.asdict(config),
           "tokenizer": data.tokenizer.spec(), "data": data.summary,
           "architecture": describe_layers(model), "parameters": model.count_params(),
           "strategy": args.strategy, "replicas": strategy.num_replicas_in_sync,
           "machine": machine_summary(), "command": _command_line()}
    with _writable_run_dir(out) as run_dir:
        write_run_info(run_dir, run)
        save_splits(run_dir, data.sequences)
        train_ds = data.train
        if args.resume and data.whole_run:  # go on with the batches the last run did not see
            train_ds = train_ds.skip(epochs_done(run_dir) * config.steps_per_epoch)
        started = time.monotonic()
        history = fit(model, train_ds, data.valid, run_dir, schedule(config), resume=args.resume)
        run["training"] = training_summary(history, config, time.monotonic() - started, previous)
        run["metrics"] = recipe.score(config, load_best(recipe, config, data, run_dir), model,
                                      data)
        write_run_info(run_dir, run)
    log.info("trained %s; figures %s", run["training"], run["metrics"])
    return 0


@contextlib.contextmanager
def _writable_run_dir(out: Path) -> Iterator[Path]:
    """Multi-worker: every worker trains, only the chief keeps what it writes (the others write
    to a scratch folder, removed afterwards)."""
    if is_chief():
        yield out
        return
    scratch = Path(tempfile.mkdtemp(prefix="improvd-worker-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def resolve_config(recipe: Recipe, args):
    """The size's table with the command line's overrides; on --resume the run's own config
    (same data, same model) with the new --epochs/--steps and the recipe's resume_from_table
    keys taken from the size's table."""
    if not args.resume:
        overrides = {"source": args.source, "limit": args.limit, "epochs": args.epochs,
                     "steps_per_epoch": args.steps}
        return load_config(recipe.name, args.size, recipe.Config, path=args.config,
                           overrides=overrides)
    if not (Path(args.out) / "run.json").is_file():
        raise RunDirError(f"{args.out}: nothing to resume (no run.json)")
    saved = read_run_info(args.out)["config"]
    table = load_config(recipe.name, args.size, recipe.Config, path=args.config)
    saved.update({k: getattr(table, k) for k in recipe.resume_from_table})
    saved.update({k: v for k, v in (("epochs", args.epochs), ("steps_per_epoch", args.steps))
                  if v})
    return load_config(recipe.name, args.size, recipe.Config, path=args.config, overrides=saved)


def schedule(config) -> Schedule:
    return Schedule(epochs=config.epochs, patience=config.patience, monitor=config.monitor,
                    steps_per_epoch=config.steps_per_epoch or None,
                    validation_steps=config.validation_steps or None,
                    time_limit_s=config.time_limit_min * 60 or None)


def training_summary(history: dict[str, list[float]], config, wall_s: float,
                     previous: dict[str, Any]) -> dict[str, Any]:
    epochs = len(history.get("loss", []))
    new_epochs = max(1, epochs - previous.get("epochs", 0))
    summary = {"epochs": epochs, "batch_size": config.batch_size,
               "steps": epochs * config.steps_per_epoch if config.steps_per_epoch else None,
               "wall_s": round(previous.get("wall_s", 0.0) + wall_s, 1),
               "s_per_epoch": round(wall_s / new_epochs, 1),
               "final_loss": history.get("loss", [None])[-1],
               "best_loss": min(history.get("loss", [float("nan")]))}
    if history.get("val_loss"):
        summary["best_val_loss"] = min(history["val_loss"])
    if history.get("accuracy"):
        summary["final_accuracy"] = history["accuracy"][-1]
    return summary


def load_best(recipe: Recipe, config, data: TrainingData, run_dir: Path):
    model = recipe.build(config, data.tokenizer.vocab_size)
    model.load_weights(Path(run_dir) / BEST)
    return model


def load_trained(recipe: Recipe, run_dir: Path) -> tuple[Any, keras.Model, dict[str, Any]]:
    """-> (config, the model with the best checkpoint's weights, run.json) of a finished run."""
    run = read_trained_run(run_dir)
    if run.get("recipe") != recipe.name:
        raise RunDirError(f"{run_dir}: a {run.get('recipe')!r} run, not {recipe.name!r}")
    config = build_section(recipe.Config, run["config"], f"{run_dir}/run.json config")
    model = recipe.build(config, tokenizers.from_spec(run["tokenizer"]).vocab_size)
    model.load_weights(Path(run_dir) / BEST)
    return config, model, run


def describe_layers(model: keras.Model) -> str:
    """The architecture in one line, read off the model itself, e.g.
    "Embedding(388, 64) -> LSTM(256) -> Dropout(0.1) -> Dense(388)"."""
    parts = []
    for layer in model.layers:
        c = layer.get_config()
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if kind == "Embedding":
            parts.append(f"Embedding({c['input_dim']}, {c['output_dim']})")
        elif kind in ("LSTM", "GRU"):
            parts.append(f"{kind}({c['units']})")
        elif kind == "Conv1D":
            parts.append(f"Conv1D({c['filters']}, kernel {c['kernel_size'][0]}, dilation "
                         f"{c['dilation_rate'][0]}, {c['padding']}, {c['activation']})")
        elif kind == "Dense":
            activation = "" if c["activation"] == "linear" else f", {c['activation']}"
            parts.append(f"Dense({c['units']}{activation})")
        elif kind == "Dropout":
            parts.append(f"Dropout({c['rate']})")
        elif kind == "Activation":
            parts.append(c["activation"])
        else:
            parts.append(kind)
    return " -> ".join(parts)


def _command_line() -> str:
    return "improvd " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""
