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

from . import note_chord_common as common

log = logging.getLogger(__name__)

NAME = "note-chord-lstm"


@dataclasses.dataclass(frozen=True)
class Config(common.DataConfig):
    units: tuple = (512, 256, 128, 64, 32)
    dropout: float = 0.2
    learning_rate: float = 0.001  # Keras' Adam default, as the notebook's optimizer='adam'
    generate_tokens: int = 100  # the seed's own count


def build(config: Config, vocab_size: int):
    layers = common.scaled_input(config, vocab_size)  # as the notebook: ids / vocab_size
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        layers += [keras.layers.LSTM(units, return_sequences=not last, name=f"lstm_{i}"),
                   keras.layers.Dropout(config.dropout, name=f"dropout_{i}")]
    return keras.Sequential(layers + common.softmax_output(vocab_size), name="note_chord_lstm")


RECIPE = common.NoteChordRecipe(NAME, Config, build, keras.optimizers.Adam)
