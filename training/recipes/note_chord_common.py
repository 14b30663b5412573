"""What the three Note/Chord recipes (seeds 002-004) share: their data and their window graph.

A subclass of NoteChordRecipe supplies its Config (DataConfig's fields plus its model's), build
and compile_model. Every model takes token ids [batch, seq_len] int32 and ends with Dense(vocab,
name="logits") followed by a softmax layer, so the exported graph can take the pre-softmax
logits the daemon samples from.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from improvd.daemon.tokenizers.note_chord import NoteChordTokenizer

from .. import cache, dataset
from ..note_chord_data import (
    NoteChordDataError,
    build_vocabulary,
    load_note_chord_pieces,
    next_token_windows,
    to_ids,
)
from ..recipe import InferenceGraph, Recipe, TrainConfig, TrainingData, window_reference

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DataConfig(TrainConfig):
    source: str = "music21:piano"
    piano_only: bool = False  # seed 003 keeps only the piano part of each score
    min_count: int = 1  # seed 003 keeps tokens seen >= 40 times
    seq_len: int = 20
    valid_fraction: float = 0.15  # held-out pieces (never windows of a training piece)
    test_fraction: float = 0.0  # the seeds hold out one split: valid is also the test split
    batch_size: int = 64
    patience: int = 1000  # the seeds train their full epochs; early stopping is opt-in
    monitor: str = "loss"
    tempo_bpm: float = 120.0  # playback timing of the timing-free tokens (stored in the spec)
    beats_per_token: float = 0.5
    generate_tokens: int = 100  # `improvd generate`'s default length: each seed's own count


# --- data ----------------------------------------------------------------------------------------
def prepare_data(config: DataConfig, cache_dir: Path = cache.CACHE_DIR):
    """-> (vocabulary, {"train": (x, y), "valid": (x, y)}, pieces per split, summary)."""
    pieces = load_note_chord_pieces(config.source, cache_dir=cache_dir, limit=config.limit or None,
                                    piano_only=config.piano_only)
    if len(pieces) < 2:
        raise NoteChordDataError(f"{config.source}: one piece; need two or more to hold one out")
    split = dataset.split_pieces(pieces, config.valid_fraction, config.test_fraction)
    train_pieces, valid_pieces = split["train"], split["valid"]
    # The vocabulary comes from the training pieces only: validation may hold unseen tokens.
    vocab = build_vocabulary(train_pieces, config.min_count)
    ids = {"train": to_ids(train_pieces, vocab), "valid": to_ids(valid_pieces, vocab)}
    windows = {name: next_token_windows(seqs, config.seq_len) for name, seqs in ids.items()}
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
    return vocab, windows, ids, summary


def load_data(config: DataConfig) -> TrainingData:
    vocab, windows, ids, summary = prepare_data(config)
    tok = NoteChordTokenizer(vocab, tempo_bpm=config.tempo_bpm,
                             beats_per_token=config.beats_per_token)
    # The seeds hold out one split; it is also the test split evaluation and parity read.
    return TrainingData(
        tokenizer=tok, summary=summary,
        sequences={"train": ids["train"], "valid": ids["valid"], "test": ids["valid"]},
        train=dataset.batches(*windows["train"], config.batch_size, seed=config.seed,
                              shuffle=len(windows["train"][1])),
        valid=dataset.batches(*windows["valid"], config.batch_size))


def heldout_figures(config: DataConfig, best: keras.Model, data: TrainingData) -> dict:
    """Loss/accuracy of the best checkpoint on the held-out pieces' windows, next to a unigram
    baseline (training-target frequencies, add-one smoothed) on the same targets."""
    train_y = next_token_windows(data.sequences["train"], config.seq_len)[1]
    valid_x, valid_y = next_token_windows(data.sequences["valid"], config.seq_len)
    loss, accuracy = best.evaluate(valid_x, valid_y, batch_size=256, verbose=0)
    counts = np.bincount(train_y, minlength=data.tokenizer.vocab_size) + 1.0
    unigram = -np.log(counts / counts.sum())[valid_y].mean()
    return {"valid_loss": float(loss), "valid_accuracy": float(accuracy),
            "valid_windows": len(valid_y), "unigram_valid_loss": float(unigram),
            "unigram_valid_accuracy": float(np.mean(valid_y == counts.argmax()))}


# --- export: a window graph over the last seq_len tokens ------------------------------------------
def logits_model(model: keras.Model) -> keras.Model:
    """The trained model up to its pre-softmax logits."""
    return keras.Model(model.inputs, model.get_layer("logits").output)


def window_function(logits: keras.Model, seq_len: int):
    """tokens [1, n] int32 (n grows from 1 as the daemon hears more) -> logits [1, vocab].

    The model was trained on full windows, so a short context is left-padded with its own first
    token up to seq_len; a longer one keeps its last seq_len tokens."""
    def window(tokens):
        # Always prepend seq_len copies and cut: no zero-sized tensors in the graph.
        padded = tf.concat([tf.tile(tokens[:, :1], [1, seq_len]), tokens], axis=1)
        return logits(padded[:, -seq_len:], training=False)

    return window


def scaled_input(config: DataConfig, vocab_size: int) -> list:
    """The seeds' input: ids / vocab_size as one float feature per step."""
    return [keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens"),
            keras.layers.Rescaling(1.0 / vocab_size, name="scale"),
            keras.layers.Reshape((config.seq_len, 1), name="feature")]


def softmax_output(vocab_size: int) -> list:
    return [keras.layers.Dense(vocab_size, name="logits"),
            keras.layers.Activation("softmax", name="softmax")]


class NoteChordRecipe(Recipe):
    """The Note/Chord data, the held-out figures and the window export. A recipe of this family
    is its Config, its network (build) and its optimizer:
    RECIPE = NoteChordRecipe(NAME, Config, build, keras.optimizers.Adam)."""

    def __init__(self, name: str, config_class: type, build, optimizer):
        super().__init__(build=build)
        self.name, self.Config, self.optimizer = name, config_class, optimizer

    def compile_model(self, model, config: DataConfig) -> None:
        model.compile(optimizer=self.optimizer(config.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def generation(self, config: DataConfig) -> dict:
        return {"tokens": config.generate_tokens}

    def load_data(self, config: DataConfig) -> TrainingData:
        return load_data(config)

    def inference_graph(self, config: DataConfig, model: keras.Model) -> InferenceGraph:
        window = window_function(logits_model(model), config.seq_len)

        def last_logits(ids):
            return np.asarray(window(np.asarray(ids, np.int32)))[0]

        return InferenceGraph(kind="window", function=window, context_length=config.seq_len,
                              reference=window_reference(last_logits, config.seq_len),
                              parity_tokens=config.seq_len + 8)

    def score(self, config: DataConfig, best, last, data: TrainingData) -> dict:
        self.compile_model(best, config)
        return heldout_figures(config, best, data)
