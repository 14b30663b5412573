"""performance-lstm: a stacked LSTM over performance tokens, as Magenta's Performance RNN.

Two graphs share one set of weights (layers are matched by name):
  build(config)       tokens [batch, time] -> logits [batch, time, vocab]   (training)
  build_step(config)  token [batch, 1] + each layer's h, c -> logits [batch, vocab] + new h, c
The step graph is what gets exported: the daemon feeds one token per event and carries the state.
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import numpy as np
import tensorflow as tf

from improvd.daemon.artifact import lstm_states
from improvd.daemon.typed_config import setting
from improvd.daemon.tokenizers.beat_performance import BeatPerformanceTokenizer
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

from .. import dataset, performances, sources
from ..recipe import (
    InferenceGraph,
    Recipe,
    TrainConfig,
    TrainingData,
    lstm_step_graph,
    sequence_reference,
)

log = logging.getLogger(__name__)

NAME = "performance-lstm"
VOCAB_SIZE = PerformanceTokenizer().vocab_size


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    source: str = "music21"
    layers: int = 2
    units: int = 256
    embed_dim: int = 64
    dropout: float = 0.1
    window: int = 256
    stride: int = 128
    learning_rate: float = 0.002
    clipnorm: float = 1.0
    transpose: int = 0
    stretches: tuple = ()
    velocity_levels: tuple = ()  # (low, high): each augmented variant gets a level in this range
    velocity_swell: int = 0  # and a crescendo or diminuendo of up to this much across the piece
    velocity_jitter: int = 0  # and up to +- this much per note
    # Performances (performances.py) in place of the transpose/stretch grid: this many random
    # renderings of each training piece, drawn from the ranges below (velocity_levels = level).
    variants: int = 0
    transpose_range: tuple = (-6, 5)
    tempo_range: tuple = (0.6, 1.6)
    articulation_range: tuple = (0.35, 1.1)
    jitter_ms: float = 6.0
    accent_range: tuple = (0, 24)
    arc_range: tuple = (0, 16)
    # Window the pieces as one stream, one after the other: a piece shorter than a window (most
    # folk tunes) still counts, and the model learns what the daemon feeds it, one phrase
    # after another. False: each piece windowed alone (the shipped [default]).
    join_pieces: bool = False
    # The time representation: "absolute" (10 ms shifts; the tempo range above teaches it every
    # tempo) or "beat" (shifts of 1/24 beat, tempo scaled away, rendered live at the tracked
    # tempo: daemon/tokenizers/beat_performance.py).
    time: str = setting("absolute", choices=("absolute", "beat"))
    vocab_size: int = VOCAB_SIZE


def tokenizer(config: Config) -> PerformanceTokenizer:
    return BeatPerformanceTokenizer() if config.time == "beat" else PerformanceTokenizer()


# --- graphs --------------------------------------------------------------------------------------
def build(config: Config, vocab_size: int = VOCAB_SIZE) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")(tokens)
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)
        if config.dropout:
            x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="performance_lstm")


def build_step(config: Config, trained: keras.Model | None = None) -> keras.Model:
    """One token + states in -> logits + new states out; copies `trained`'s weights if given."""
    vocab_size = trained.get_layer("logits").units if trained is not None else config.vocab_size
    states = lstm_states([config.units] * config.layers)
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    states_in = [keras.Input(shape=(config.units,), name=s.input) for s in states]
    x = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")(token)
    states_out = []
    for i in range(config.layers):
        # unroll: one time step needs no loop, which keeps the ONNX graph flat and fast.
        lstm = keras.layers.LSTM(config.units, return_sequences=True, return_state=True,
                                 unroll=True, name=f"lstm_{i}")
        x, h, c = lstm(x, initial_state=states_in[2 * i: 2 * i + 2])
        states_out += [h, c]
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    logits = keras.layers.Reshape((vocab_size,), name="last")(logits)
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
    """Whole-sequence logits [time, vocab] of the training graph."""
    return sequence_reference(model)(tokens)[1]


def step_logits(step: keras.Model, config: Config, tokens: np.ndarray) -> np.ndarray:
    """The same logits, one token at a time through the step graph with the state carried."""
    run_step = tf.function(lambda inputs: step(inputs, training=False))  # traced once, not eager
    states = [tf.zeros((1, config.units)) for _ in range(2 * config.layers)]
    out = []
    for t in tokens:
        logits, *states = run_step([tf.constant([[t]], tf.int32), *states])
        out.append(logits.numpy()[0])
    return np.stack(out)


# --- data ----------------------------------------------------------------------------------------
def load_data(config: Config) -> TrainingData:
    pieces = sources.load_pieces(config.source, limit=config.limit or None)
    if len(pieces) < 3:
        raise sources.SourceError(
            f"{config.source}: {len(pieces)} usable piece(s); need at least 3 (train/valid/test)")
    splits = dataset.split_pieces(pieces)
    tok = tokenizer(config)
    augmented = _augmented_train(splits["train"], tok, config)
    plain = {name: dataset.tokenize_split(ps, tok) for name, ps in splits.items()}
    windows = {"train": _windows(augmented, config, config.stride),
               "valid": _windows(plain["valid"], config, config.window)}
    for name, w in windows.items():
        if len(w) == 0:
            raise sources.SourceError(
                f"{config.source}: the {name} split has no window of {config.window + 1} tokens")
    summary = {
        "source": config.source,
        "pieces": {name: len(ps) for name, ps in splits.items()},
        "tokens": {name: int(sum(len(s) for s in seqs)) for name, seqs in plain.items()},
        "train_tokens_augmented": int(sum(len(s) for s in augmented)),
        "windows": {name: len(w) for name, w in windows.items()},
        "test_pieces": [p.name for p in splits["test"]],
    }
    return TrainingData(
        tokenizer=tok, sequences=plain, summary=summary,
        train=dataset.to_tf_dataset(windows["train"], config.batch_size, shuffle=True,
                                    seed=config.seed),
        valid=dataset.to_tf_dataset(windows["valid"], config.batch_size, shuffle=False))


def _windows(sequences: list[np.ndarray], config: Config, stride: int) -> np.ndarray:
    if config.join_pieces and sequences:
        sequences = [np.concatenate(sequences)]
    return dataset.make_windows(sequences, config.window, stride)


def _augmented_train(pieces, tok, config: Config) -> list[np.ndarray]:
    if config.variants:
        ranges = performances.Ranges(
            transpose=tuple(config.transpose_range), tempo=tuple(config.tempo_range),
            articulation=tuple(config.articulation_range), jitter_s=config.jitter_ms / 1000,
            level=tuple(config.velocity_levels or (35, 115)),
            accent=tuple(config.accent_range), arc=tuple(config.arc_range))
        return performances.performances(pieces, tok, config.variants, ranges, config.seed)
    shifts = tuple(s for s in range(-config.transpose, config.transpose + 1) if s)
    return dataset.tokenize_split(
        pieces, tok, augment_transpositions=shifts, stretches=config.stretches,
        velocity_levels=config.velocity_levels, velocity_swell=config.velocity_swell,
        velocity_jitter=config.velocity_jitter, seed=config.seed)


class PerformanceLstm(Recipe):
    name = NAME
    Config = Config
    # A copy of a run can be fine-tuned with new dynamics and a new time budget (same model).
    resume_from_table = ("velocity_levels", "velocity_swell", "velocity_jitter", "time_limit_min")

    def inference_graph(self, config: Config, model: keras.Model) -> InferenceGraph:
        return lstm_step_graph(build_step(config, model), model, config.window,
                               [config.units] * config.layers)


RECIPE = PerformanceLstm(load_data=load_data, build=build, compile_model=compile_model)
