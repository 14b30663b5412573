"""What the three Note/Chord recipes (seeds 002-004) share: data, training, window export.

A recipe module supplies NAME, a Config dataclass (DataConfig's fields plus its model's),
build(config, vocab_size) -> keras.Model and compile_model(model, config). Every model takes
token ids [batch, seq_len] int32 and ends with Dense(vocab, name="logits") followed by a softmax
layer, so the export can take the pre-softmax logits the daemon samples from.

The run directory holds run.json (config, vocabulary, data summary, figures) beside the shared
training loop's checkpoints; export rebuilds the model from run.json alone.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
from improvd.daemon.tokenizers.note_chord import NoteChordTokenizer

from . import load_config

log = logging.getLogger(__name__)

CACHE_DIR = Path(".cache") / "note_chord"


@dataclasses.dataclass(frozen=True)
class DataConfig:
    source: str = "music21:piano"
    limit: int = 0  # 0 = every file of the source
    piano_only: bool = False  # seed 003 keeps only the piano part of each score
    min_count: int = 1  # seed 003 keeps tokens seen >= 40 times
    seq_len: int = 20
    valid_fraction: float = 0.15  # held-out pieces (never windows of a training piece)
    batch_size: int = 64
    epochs: int = 10
    steps_per_epoch: int = 0  # 0 = one pass over the training windows
    patience: int = 1000  # the seeds train their full epochs; early stopping is opt-in
    monitor: str = "loss"
    tempo_bpm: float = 120.0  # playback timing of the timing-free tokens (stored in the spec)
    beats_per_token: float = 0.5
    seed: int = 0


# --- data ----------------------------------------------------------------------------------------
def prepare_data(config: DataConfig, cache_dir: Path = CACHE_DIR):
    """-> (vocabulary, {"train": (x, y), "valid": (x, y)}, summary). Raises NoteChordDataError."""
    from ..note_chord_data import (
        build_vocabulary,
        load_note_chord_pieces,
        next_token_windows,
        split_by_piece,
        to_ids,
    )

    pieces = load_note_chord_pieces(config.source, cache_dir=cache_dir, limit=config.limit or None,
                                    piano_only=config.piano_only)
    train_pieces, valid_pieces = split_by_piece(pieces, config.valid_fraction, config.seed)
    # The vocabulary comes from the training pieces only: validation may hold unseen tokens.
    vocab = build_vocabulary(train_pieces, config.min_count)
    windows = {name: next_token_windows(to_ids(ps, vocab), config.seq_len)
               for name, ps in (("train", train_pieces), ("valid", valid_pieces))}
    summary = {
        "source": config.source,
        "pieces": {"train": len(train_pieces), "valid": len(valid_pieces)},
        "valid_pieces": [p.name for p in valid_pieces],
        "tokens": {"train": sum(len(p.tokens) for p in train_pieces),
                   "valid": sum(len(p.tokens) for p in valid_pieces)},
        "distinct_tokens": len({t for p in pieces for t in p.tokens}),
        "vocab_size": len(vocab),
        "windows": {name: len(xy[1]) for name, xy in windows.items()},
    }
    return vocab, windows, summary


def tokenizer_for(vocab: list[str], config: DataConfig) -> NoteChordTokenizer:
    return NoteChordTokenizer(vocab, tempo_bpm=config.tempo_bpm,
                              beats_per_token=config.beats_per_token)


def _tf_dataset(xy, batch_size: int, shuffle: bool, seed: int):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(xy)
    if shuffle:
        ds = ds.shuffle(len(xy[1]), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --- train ---------------------------------------------------------------------------------------
def train(recipe: ModuleType, args) -> int:
    import keras

    from ..train import fit, machine_summary, read_run_info, write_run_info

    out = Path(args.out)
    overrides = {"source": getattr(args, "source", None), "epochs": getattr(args, "epochs", None),
                 "steps_per_epoch": getattr(args, "steps", None),
                 "limit": getattr(args, "limit", None)}
    resume = bool(getattr(args, "resume", False))
    if resume:  # the run's own config, so the data and the model are the same ones
        saved = read_run_info(out)["config"]
        overrides = {**saved, **{k: overrides[k] for k in ("epochs", "steps_per_epoch")
                                 if overrides[k]}}
    config = load_config(recipe.NAME, args.size, recipe.Config,
                         path=getattr(args, "config", None), overrides=overrides)
    keras.utils.set_random_seed(config.seed)
    vocab, windows, summary = prepare_data(config)  # before touching `out`: bad data leaves nothing
    log.info("data: %s", summary)
    model = recipe.build(config, len(vocab))
    recipe.compile_model(model, config)
    out.mkdir(parents=True, exist_ok=True)
    run = {"recipe": recipe.NAME, "size": args.size, "config": dataclasses.asdict(config),
           "vocabulary": vocab, "tokenizer": tokenizer_for(vocab, config).spec(),
           "data": summary, "machine": machine_summary(), "parameters": model.count_params(),
           "command": "improvd " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""}
    previous = read_run_info(out).get("training", {}) if resume else {}
    write_run_info(out, run)
    started = time.monotonic()
    history = fit(model, _tf_dataset(windows["train"], config.batch_size, True, config.seed),
                  _tf_dataset(windows["valid"], config.batch_size, False, config.seed), out,
                  epochs=config.epochs, patience=config.patience, resume=resume,
                  steps_per_epoch=config.steps_per_epoch or None, monitor=config.monitor)
    trained_s = time.monotonic() - started
    wall_s = previous.get("wall_s", 0.0) + trained_s
    epochs_done = len(history.get("loss", []))
    run["metrics"] = heldout_figures(recipe, out, windows)
    run["training"] = {
        "epochs": epochs_done, "batch_size": config.batch_size, "wall_s": round(wall_s, 1),
        "s_per_epoch": round(trained_s / max(1, epochs_done - previous.get("epochs", 0)), 1),
        "final_loss": history["loss"][-1], "best_loss": min(history["loss"]),
        "final_accuracy": history.get("accuracy", [None])[-1],
    }
    write_run_info(out, run)
    log.info("trained %d epochs in %.0f s; held out: %s", epochs_done, wall_s, run["metrics"])
    return 0


def heldout_figures(recipe: ModuleType, run_dir: Path, windows) -> dict:
    """Loss/accuracy of the best checkpoint on the held-out pieces' windows, next to a unigram
    baseline (training-target frequencies, add-one smoothed) on the same targets."""
    config, best, run = load_trained(recipe, run_dir)
    recipe.compile_model(best, config)
    loss, accuracy = best.evaluate(*windows["valid"], batch_size=256, verbose=0)
    vocab_size = len(run["vocabulary"])
    counts = np.bincount(windows["train"][1], minlength=vocab_size) + 1.0
    unigram = -np.log(counts / counts.sum())[windows["valid"][1]].mean()
    return {"valid_loss": float(loss), "valid_accuracy": float(accuracy),
            "valid_windows": len(windows["valid"][1]),
            "unigram_valid_loss": float(unigram),
            "unigram_valid_accuracy": float(np.mean(windows["valid"][1] == counts.argmax()))}


def load_trained(recipe: ModuleType, run_dir: Path):
    """-> (config, model with the best weights, run info)."""
    from ..train import BEST, read_trained_run

    run = read_trained_run(run_dir, recipe.NAME)
    config = recipe.Config(**run["config"])
    model = recipe.build(config, len(run["vocabulary"]))
    model.load_weights(Path(run_dir) / BEST)
    return config, model, run


# --- export: a window graph over the last seq_len tokens ------------------------------------------
def window_function(logits_model, seq_len: int):
    """tokens [1, n] int32 (n grows from 1 as the daemon hears more) -> logits [1, vocab].

    The model was trained on full windows, so a short context is left-padded with its own first
    token up to seq_len; a longer one keeps its last seq_len tokens."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int32, name="tokens")])
    def window(tokens):
        # Always prepend seq_len copies and cut: no zero-sized tensors in the graph.
        padded = tf.concat([tf.tile(tokens[:, :1], [1, seq_len]), tokens], axis=1)
        return {"logits": logits_model(padded[:, -seq_len:], training=False)}

    return window


def export(recipe: ModuleType, run_dir: Path, out_path: Path, *, quantize: bool = False,
           verify_windows: int = 8):
    """Best checkpoint -> window ONNX model with metadata -> ModelInfo. Nothing is written to
    out_path unless ONNX (through the daemon's runner) agrees with TensorFlow."""
    import tempfile

    import keras
    from improvd.daemon.artifact import ModelInfo
    from improvd.export.quantize import quantize_model
    from improvd.export.to_onnx import convert, set_metadata

    config, model, run = load_trained(recipe, run_dir)
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    fn = window_function(logits_model, config.seq_len)
    info = ModelInfo(recipe=recipe.NAME, kind="window", tokenizer=run["tokenizer"],
                     context_length=config.seq_len, inputs={"tokens": "tokens"},
                     outputs={"logits": "logits"},
                     training={**run.get("training", {}), "data": run["data"],
                               "config": run["config"], "parameters": run["parameters"],
                               "machine": run["machine"], "command": run.get("command")},
                     metrics=run.get("metrics", {}))
    with tempfile.TemporaryDirectory(prefix="improvd-export-") as tmp:
        float_path = Path(tmp) / "float.onnx"
        convert(fn, fn.input_signature, float_path, info)
        parity = verify_window(fn, float_path, len(run["vocabulary"]), config.seq_len,
                               verify_windows)
        print(f"parity ONNX (daemon runner) vs TF on {parity['checked']} contexts: "
              f"max |logit diff| {parity['max_abs_diff']:.2e} (tol {parity['tol']:g})")
        model_path = quantize_model(float_path, Path(tmp) / "int8.onnx") if quantize \
            else float_path
        info = dataclasses.replace(info, metrics={**info.metrics, "parity": parity,
                                                  "quantized": quantize})
        set_metadata(model_path, info, out_path)
    log.info("exported %s (window of %d tokens)", out_path, config.seq_len)
    return info


def verify_window(fn, onnx_path: Path, vocab_size: int, seq_len: int, windows: int) -> dict:
    """ONNX through the daemon's runner vs the TF window function, on contexts of 1 token up to
    past seq_len (the runner's window grows as it hears tokens). Raises ParityError."""
    from improvd.daemon.runner import load_runner
    from improvd.export.verify import compare_logits

    rng = np.random.default_rng(0)
    runner = load_runner(onnx_path)
    checkpoints = sorted({1, 2, seq_len // 2, seq_len, seq_len + 3})
    tf_logits, onnx_logits = [], []
    for _ in range(windows):
        tokens = rng.integers(0, vocab_size, size=max(checkpoints))
        runner.reset()
        for n, t in enumerate(tokens, start=1):
            runner.advance(int(t))
            if n in checkpoints:
                onnx_logits.append(runner.logits.copy())
                context = tokens[max(0, n - seq_len):n][None, :].astype(np.int32)
                tf_logits.append(np.asarray(fn(context)["logits"])[0])
    report = compare_logits(np.stack(tf_logits), np.stack(onnx_logits), what="ONNX window vs TF")
    return {**report, "checked": len(tf_logits)}
