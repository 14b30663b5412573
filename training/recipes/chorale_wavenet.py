"""chorale-wavenet (seed 001): Bach chorales as 4-voice arpeggios, a small WaveNet + LSTM.

As in the seed (Hands-On ML ch. 15 exercise): the JSB chorales tgz with its own train/valid/test
split; each 16th-note step [S, A, T, B] is flattened into four tokens (0 = silence, notes 36..81
-> 1..46, 47 classes); windows of 32 + 1 chords (132 tokens) every 16 chords, target = the window
shifted by one; Embedding(5) -> 4 x [causal Conv1D k=2, dilation 1/2/4/8, 32/48/64/96 filters,
relu, BatchNorm] -> LSTM(256) -> Dense(47); Nadam 1e-3, batch 32, 20 epochs.

One change: the last layer returns logits and the loss applies the softmax (from_logits=True),
the same function as the seed's softmax layer, because the daemon samples from logits.

Exported as a window model: the daemon runs it on the last 128 tokens (32 chords).
"""

from __future__ import annotations

import dataclasses
import logging
import operator
from pathlib import Path

import keras
import numpy as np

from improvd.daemon.tokenizers.chorale_arpeggio import ChoraleArpeggioTokenizer

from .. import dataset, jsb
from ..errors import SourceError
from ..jsb import VOICES
from ..recipe import InferenceGraph, Recipe, TrainConfig, TrainingData, window_reference

log = logging.getLogger(__name__)

NAME = "chorale-wavenet"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPLITS = ("train", "valid", "test")
VOCAB_SIZE = 47  # silence + notes 36..81


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    source: str = "jsb:../shared/data/jsb_chorales.tgz"  # relative paths: from the project root
    window_chords: int = 32
    shift_chords: int = 16
    embed_dim: int = 5
    filters: tuple = (32, 48, 64, 96)
    dilations: tuple = (1, 2, 4, 8)
    lstm_units: int = 256
    learning_rate: float = 1e-3
    batch_size: int = 32
    shuffle_buffer: int = 1000
    epochs: int = 20
    patience: int = 20  # the seed trains all 20 epochs; the best epoch (val_loss) is kept
    context_length: int = 128  # tokens the exported window model sees (32 chords)
    step_s: float = 0.25
    seed: int = 42


def tokenizer(config: Config) -> ChoraleArpeggioTokenizer:
    return ChoraleArpeggioTokenizer(step_s=config.step_s)


# --- data ----------------------------------------------------------------------------------------
def resolve_data(source: str) -> Path:
    """jsb:<path> (or the bare path); a relative path is looked up from the working directory,
    then from the project root."""
    p = Path(source.removeprefix("jsb:"))
    if p.is_absolute() or p.exists():
        return p
    return PROJECT_ROOT / p


def load_chorales(source: str, limit: int = 0) -> dict[str, list[np.ndarray]]:
    """The tgz -> {"train"|"valid"|"test": [int array [steps, 4] of MIDI notes, ...]}, in the
    tgz's own split and order; `limit` keeps the first chorales of each split (CI)."""
    tgz = resolve_data(source)
    # The one split rule: JSB pieces are named after the tgz's folders, which it honours.
    named = dataset.split_pieces(jsb.read_chorales(tgz)[0], name=operator.itemgetter(0))
    splits = {split: [grid for _, grid in pieces][:limit or None]
              for split, pieces in named.items()}
    empty = [name for name, chorales in splits.items() if not chorales]
    if empty:
        raise SourceError(f"{tgz}: no chorale CSVs under {', '.join(empty)}/")
    return splits


def to_ids(chords: np.ndarray) -> np.ndarray:
    """The seed's preprocess: notes 36..81 -> 1..46 (0 stays silence), flattened S,A,T,B."""
    return np.where(chords == 0, 0, chords - 36 + 1).reshape(-1).astype(np.int32)


def make_windows(chorales: list[np.ndarray], config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The seed's bach_dataset windows: 33 chords every 16, X = ids[:-1], Y = ids[1:]."""
    w = dataset.make_windows([to_ids(c) for c in chorales],
                             VOICES * (config.window_chords + 1) - 1,
                             VOICES * config.shift_chords)
    return w[:, :-1], w[:, 1:]


def datasets(splits: dict[str, list[np.ndarray]], config: Config) -> dict:
    out = {}
    for name in SPLITS:
        x, y = make_windows(splits[name], config)
        out[name] = dataset.batches(x, y, config.batch_size, seed=config.seed, prefetch=1,
                                    shuffle=config.shuffle_buffer if name == "train" else 0)
        out[f"{name}_windows"] = len(x)
    return out


# --- model ---------------------------------------------------------------------------------------
def build(config: Config, vocab_size: int = VOCAB_SIZE) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")(tokens)
    for i, (filters, dilation) in enumerate(zip(config.filters, config.dilations)):
        x = keras.layers.Conv1D(filters, kernel_size=2, padding="causal", activation="relu",
                                dilation_rate=dilation, name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
    x = keras.layers.LSTM(config.lstm_units, return_sequences=True, name="lstm")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="chorale_wavenet")


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(optimizer=keras.optimizers.Nadam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def chorale_nll(model: keras.Model, chorales: list[np.ndarray], batch_size: int = 8) -> dict:
    """NLL per token over whole chorales, each predicted with its full context. The chorales are
    padded at the end into one batch and the padding weighs nothing; the model is causal, so
    padding never reaches a scored token either. Recompiles `model` (for evaluation only)."""
    seqs = [to_ids(c) for c in chorales]
    inputs = np.zeros((len(seqs), max(len(s) for s in seqs) - 1), np.int32)
    targets, weights = np.zeros_like(inputs), np.zeros(inputs.shape, np.float32)
    for row, ids in enumerate(seqs):
        inputs[row, :len(ids) - 1], targets[row, :len(ids) - 1] = ids[:-1], ids[1:]
        weights[row, :len(ids) - 1] = 1.0
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[keras.metrics.SparseCategoricalCrossentropy(from_logits=True),
                                    keras.metrics.SparseCategoricalAccuracy()])
    _, nll, accuracy = model.evaluate(inputs, targets, sample_weight=weights,
                                      batch_size=batch_size, verbose=0)
    return {"nll_per_token": float(nll), "accuracy": float(accuracy),
            "tokens": int(weights.sum()), "chorales": len(chorales)}


def score(config: Config, best: keras.Model, last: keras.Model, data: TrainingData) -> dict:
    """The seed's figures for the best epoch (what export ships) and the last one (what the seed
    evaluated): loss/accuracy on the test windows, and NLL per token over whole test chorales
    with full context."""
    splits = load_chorales(config.source, config.limit)
    test, chorales = datasets(splits, config)["test"], splits["test"]
    metrics = {"seed_reference": {"loss": 0.6426, "accuracy": 0.8196}}
    for name, model in (("best_epoch", best), ("last_epoch", last)):
        compile_model(model, config)
        loss, accuracy = model.evaluate(test, verbose=0)
        metrics[name] = {"test_windows": {"loss": float(loss), "accuracy": float(accuracy)},
                         "test_chorales": chorale_nll(model, chorales)}
        log.info("%s: test windows loss %.4f accuracy %.4f; whole chorales %s", name, loss,
                 accuracy, metrics[name]["test_chorales"])
    return metrics


def load_data(config: Config) -> TrainingData:
    splits = load_chorales(config.source, config.limit)
    data = datasets(splits, config)
    summary = {"source": config.source, "chorales": {n: len(splits[n]) for n in SPLITS},
               "windows": {n: data[f"{n}_windows"] for n in SPLITS}}
    return TrainingData(tokenizer=tokenizer(config), train=data["train"], valid=data["valid"],
                        sequences={n: [to_ids(c) for c in splits[n]] for n in SPLITS},
                        summary=summary)


class ChoraleWavenet(Recipe):
    name = NAME
    Config = Config

    def inference_graph(self, config: Config, model: keras.Model) -> InferenceGraph:
        """The trained graph itself is the window model: tokens [1, n] -> logits [1, n, 47]."""
        def last_logits(ids):
            return np.asarray(model(ids, training=False))[0, -1]

        return InferenceGraph(kind="window", function=model,
                              context_length=config.context_length,
                              reference=window_reference(last_logits, config.context_length),
                              parity_tokens=config.context_length + 8)

    def score(self, config: Config, best, last, data: TrainingData) -> dict:
        return score(config, best, last, data)

    def generation(self, config: Config) -> dict:
        """The seed's: the first 16 chords of test chorale 2, and 56 chords (224 tokens)."""
        chorale = load_chorales(config.source)["test"][2]
        return {"tokens": 56 * 4, "prompt": to_ids(chorale[:16]).tolist()}


RECIPE = ChoraleWavenet(load_data=load_data, build=build, compile_model=compile_model)
