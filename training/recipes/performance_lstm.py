"""performance-lstm: a stacked LSTM over performance tokens, as Magenta's Performance RNN.

Two graphs share one set of weights (layers are matched by name):
  build(config)       tokens [batch, time] -> logits [batch, time, vocab]   (training)
  build_step(config)  token [batch, 1] + each layer's h, c -> logits [batch, vocab] + new h, c
The step graph is what gets exported: the daemon feeds one token per event and carries the state.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path

import keras
import numpy as np

from improvd.daemon.tokenizers.performance import PerformanceTokenizer

from . import load_config

log = logging.getLogger(__name__)

NAME = "performance-lstm"


@dataclasses.dataclass(frozen=True)
class Config:
    source: str = "music21"
    limit: int = 0
    layers: int = 2
    units: int = 256
    embed_dim: int = 64
    dropout: float = 0.1
    window: int = 256
    stride: int = 128
    batch_size: int = 32
    learning_rate: float = 0.002
    clipnorm: float = 1.0
    epochs: int = 10
    steps_per_epoch: int = 0  # 0 = one pass over the training windows
    validation_steps: int = 0  # 0 = the whole validation split
    patience: int = 3
    time_limit_min: float = 0.0  # 0 = no wall-time budget
    transpose: int = 0
    stretches: tuple = ()
    velocity_levels: tuple = ()  # (low, high): each augmented variant gets a level in this range
    velocity_swell: int = 0  # and a crescendo or diminuendo of up to this much across the piece
    velocity_jitter: int = 0  # and up to +- this much per note
    seed: int = 0
    vocab_size: int = PerformanceTokenizer().vocab_size


# Keys --resume takes from the chosen size's table rather than from the run being resumed.
RESUME_FROM_TABLE = ("velocity_levels", "velocity_swell", "velocity_jitter", "time_limit_min")


def tokenizer() -> PerformanceTokenizer:
    return PerformanceTokenizer()


# --- graphs --------------------------------------------------------------------------------------
def build(config: Config) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(config.vocab_size, config.embed_dim, name="embedding")(tokens)
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(config.vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="performance_lstm")


def state_names(config: Config) -> list[tuple[str, str]]:
    """[(input name, output name)] for h then c of each layer, in the step model's order."""
    return [(f"state_in_{i}_{hc}", f"state_out_{i}_{hc}")
            for i in range(config.layers) for hc in ("h", "c")]


def build_step(config: Config, trained: keras.Model | None = None) -> keras.Model:
    """One token + states in -> logits + new states out; copies `trained`'s weights if given."""
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    states_in = [keras.Input(shape=(config.units,), name=name) for name, _ in state_names(config)]
    x = keras.layers.Embedding(config.vocab_size, config.embed_dim, name="embedding")(token)
    states_out = []
    for i in range(config.layers):
        # unroll: one time step needs no loop, which keeps the ONNX graph flat and fast.
        lstm = keras.layers.LSTM(config.units, return_sequences=True, return_state=True,
                                 unroll=True, name=f"lstm_{i}")
        x, h, c = lstm(x, initial_state=states_in[2 * i: 2 * i + 2])
        states_out += [h, c]
    logits = keras.layers.Dense(config.vocab_size, name="logits")(x)
    logits = keras.layers.Reshape((config.vocab_size,), name="last")(logits)
    step = keras.Model([token, *states_in], [logits, *states_out], name="performance_lstm_step")
    if trained is not None:
        for layer in step.layers:
            if layer.weights:
                layer.set_weights(trained.get_layer(layer.name).get_weights())
    return step


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def full_logits(model: keras.Model, tokens: np.ndarray) -> np.ndarray:
    """Whole-sequence logits [time, vocab] of the training graph (the reference for parity)."""
    return np.asarray(model(np.asarray(tokens, np.int32)[None, :], training=False))[0]


def step_logits(step: keras.Model, config: Config, tokens: np.ndarray) -> np.ndarray:
    """The same logits, one token at a time through the step graph with the state carried."""
    import tensorflow as tf

    run_step = tf.function(lambda inputs: step(inputs, training=False))  # traced once, not eager
    states = [tf.zeros((1, config.units)) for _ in state_names(config)]
    out = []
    for t in tokens:
        logits, *states = run_step([tf.constant([[t]], tf.int32), *states])
        out.append(logits.numpy()[0])
    return np.stack(out)


def load_trained(run_dir: Path) -> tuple[Config, keras.Model]:
    from ..train import BEST, read_trained_run

    run = read_trained_run(run_dir, NAME)
    config = Config(**{**run["config"], "stretches": tuple(run["config"]["stretches"]),
                       "velocity_levels": tuple(run["config"].get("velocity_levels", ()))})
    model = build(config)
    model.load_weights(Path(run_dir) / BEST)
    return config, model


# --- train ---------------------------------------------------------------------------------------
def _load_data(config: Config):
    from .. import dataset, sources

    pieces = sources.load_pieces(config.source, limit=config.limit or None)
    if len(pieces) < 3:
        raise sources.SourceError(
            f"{config.source}: {len(pieces)} usable piece(s); need at least 3 (train/valid/test)")
    splits = dataset.split_pieces(pieces)
    tok = tokenizer()
    shifts = tuple(s for s in range(-config.transpose, config.transpose + 1) if s)
    augmented = dataset.tokenize_split(
        splits["train"], tok, augment_transpositions=shifts, stretches=config.stretches,
        velocity_levels=config.velocity_levels, velocity_swell=config.velocity_swell,
        velocity_jitter=config.velocity_jitter, seed=config.seed)
    plain = {name: dataset.tokenize_split(ps, tok) for name, ps in splits.items()}
    windows = {"train": dataset.make_windows(augmented, config.window, config.stride),
               "valid": dataset.make_windows(plain["valid"], config.window, config.window)}
    for name, w in windows.items():
        if len(w) == 0:
            raise sources.SourceError(
                f"{config.source}: the {name} split has no window of {config.window + 1} tokens")
    summary = {
        "source": config.source,
        "pieces": {name: len(ps) for name, ps in splits.items()},
        "tokens": {name: int(sum(len(s) for s in seqs)) for name, seqs in plain.items()},
        "train_tokens_augmented": int(sum(len(s) for s in augmented)),
        "windows": {name: int(len(w)) for name, w in windows.items()},
        "test_pieces": [p.name for p in splits["test"]],
    }
    return plain, windows, summary


def train(args) -> int:
    from .. import dataset
    from ..train import fit, machine_summary, read_run_info, save_splits, strategy_scope, \
        write_run_info

    out = Path(args.out)
    overrides = {"source": args.source, "epochs": args.epochs, "steps_per_epoch": args.steps,
                 "limit": args.limit}
    if args.resume:  # the run's own config, so the data and the model are the same ones
        saved = read_run_info(out)["config"]
        # ...except what the size's table says of dynamics and time budget: a copy of a run
        # can be fine-tuned with new velocity augmentation (the model stays the same).
        table = load_config(NAME, args.size, Config, path=args.config)
        saved.update({k: getattr(table, k) for k in RESUME_FROM_TABLE})
        overrides = {**saved, **{k: v for k, v in (("epochs", args.epochs),
                                                   ("steps_per_epoch", args.steps)) if v}}
    config = load_config(NAME, args.size, Config, path=args.config, overrides=overrides)
    keras.utils.set_random_seed(config.seed)
    plain, windows, summary = _load_data(config)  # before touching `out`: bad data leaves nothing
    log.info("data: %s", {k: v for k, v in summary.items() if k != "test_pieces"})
    train_ds = dataset.to_tf_dataset(windows["train"], config.batch_size, shuffle=True,
                                     seed=config.seed)
    valid_ds = dataset.to_tf_dataset(windows["valid"], config.batch_size, shuffle=False)
    with strategy_scope(args.strategy) as strategy:
        model = build(config)
        compile_model(model, config)
    out.mkdir(parents=True, exist_ok=True)
    run = {"recipe": NAME, "size": args.size, "config": dataclasses.asdict(config),
           "tokenizer": tokenizer().spec(), "data": summary, "strategy": args.strategy,
           "replicas": strategy.num_replicas_in_sync, "machine": machine_summary(),
           "command": "improvd " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""}
    previous = read_run_info(out).get("training", {}) if args.resume else {}
    write_run_info(out, run)
    save_splits(out, plain)
    started = time.monotonic()
    history = fit(model, train_ds, valid_ds, out, epochs=config.epochs, patience=config.patience,
                  resume=args.resume, steps_per_epoch=config.steps_per_epoch or None,
                  validation_steps=config.validation_steps or None,
                  time_limit_s=config.time_limit_min * 60 or None)
    wall_s = previous.get("wall_s", 0.0) + time.monotonic() - started
    epochs_done = len(history.get("loss", []))
    run["training"] = {
        "epochs": epochs_done,
        "steps": epochs_done * config.steps_per_epoch if config.steps_per_epoch else None,
        "batch_size": config.batch_size, "window": config.window, "wall_s": round(wall_s, 1),
        "best_val_loss": min(history.get("val_loss", [float("nan")])),
        "final_loss": history.get("loss", [None])[-1],
    }
    write_run_info(out, run)
    log.info("trained %d epochs in %.0f s; best val_loss %.4f", epochs_done, wall_s,
             run["training"]["best_val_loss"])
    return 0


# --- export --------------------------------------------------------------------------------------
def export(run_dir: Path, out_path: Path, *, quantize: bool = False):
    from improvd.export.to_onnx import export_recurrent

    return export_recurrent(sys.modules[__name__], Path(run_dir), Path(out_path),
                            quantize=quantize)
