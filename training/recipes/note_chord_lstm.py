"""note-chord-lstm (seed 002): five stacked LSTMs over music21 Note/Chord tokens.

As the course notebook: 20 tokens, scaled to [0, 1] by the vocabulary size, one feature per step
-> LSTM 512-256-128-64-32, each followed by Dropout 0.2 -> Dense softmax over the vocabulary;
Adam; the checkpoint kept is the best training loss (the notebook's ModelCheckpoint on `loss`),
and `improvd train --resume` continues from the run (the notebook's LOAD_PREVIOUS).

Export: a window model over the last 20 tokens (the notebook's own inference loop, minus the
per-note `model.predict`): the daemon's window runner feeds it the context it has heard.
"""

from __future__ import annotations

import dataclasses
import logging

import keras

from ..generate import generate_file
from . import note_chord_common as common

log = logging.getLogger(__name__)

NAME = "note-chord-lstm"


@dataclasses.dataclass(frozen=True)
class Config(common.DataConfig):
    units: tuple = (512, 256, 128, 64, 32)
    dropout: float = 0.2
    learning_rate: float = 0.001  # Keras' Adam default, as the notebook's optimizer='adam'


def build(config: Config, vocab_size: int):
    layers = [keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens"),
              # The notebook feeds ids / vocab_size as one float feature per step.
              keras.layers.Rescaling(1.0 / vocab_size, name="scale"),
              keras.layers.Reshape((config.seq_len, 1), name="feature")]
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        layers += [keras.layers.LSTM(units, return_sequences=not last, name=f"lstm_{i}"),
                   keras.layers.Dropout(config.dropout, name=f"dropout_{i}")]
    layers += [keras.layers.Dense(vocab_size, name="logits"),
               keras.layers.Activation("softmax", name="softmax")]
    return keras.Sequential(layers, name="note_chord_lstm")


def compile_model(model, config: Config) -> None:
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class NoteChordLstm(common.NoteChordRecipe):
    name = NAME
    Config = Config

    build = staticmethod(build)
    compile_model = staticmethod(compile_model)


RECIPE = NoteChordLstm()


def generate(model_path, prompt, out, *, tokens: int = 100, **kwargs) -> dict:
    """`improvd generate` for this recipe: the shared offline generation, 100 tokens by default
    (the seed's own count)."""
    return generate_file(model_path, prompt, out, tokens=tokens, **kwargs)
