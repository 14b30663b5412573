"""note-chord-composer (seed 004): the LSTM video-game composer (after Skuli's piano composer).

As the blog post's code: 100 tokens scaled to [0, 1] -> LSTM(512) + Dropout(0.3) -> LSTM(512) +
Dropout(0.3) -> LSTM(512) -> Dense(256) + Activation(relu) + Dropout(0.3) -> Dense(vocab) +
Activation(softmax); RMSprop; batch 64, 250 epochs; one checkpoint file with a stable name (the
author's own fix: here best.weights.h5, kept by training loss).

Export (`export_kind`): "recurrent" (the default) is a step graph, one token and the three layers'
(h, c) in: the daemon pays one LSTM step per token and the state carries the whole context, past
the 100 tokens the model was trained on (note_chord_step.py checks it against the window model
after a full window). "window" re-runs the last 100 tokens from a zero state for every token,
exactly as trained and as the seed predicts, at 100 LSTM steps per token.
"""

from __future__ import annotations

import dataclasses
import logging

import keras

from improvd.daemon.typed_config import setting

from ..recipe import InferenceGraph
from . import note_chord_common as common
from .note_chord_step import step_graph

log = logging.getLogger(__name__)

NAME = "note-chord-composer"


@dataclasses.dataclass(frozen=True)
class Config(common.DataConfig):
    units: tuple = (512, 512, 512)
    dropout: float = 0.3
    dense_units: int = 256
    learning_rate: float = 0.001  # Keras' RMSprop default, as optimizer='rmsprop'
    export_kind: str = setting("recurrent", choices=("recurrent", "window"))
    generate_tokens: int = 500  # the count of Skuli's predict.py, which the post's follows


def build(config: Config, vocab_size: int):
    layers = common.scaled_input(config, vocab_size)
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        layers.append(keras.layers.LSTM(units, return_sequences=not last, name=f"lstm_{i}"))
        if not last:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}"))
    layers += [keras.layers.Dense(config.dense_units, name="dense"),
               keras.layers.Activation("relu", name="relu"),
               keras.layers.Dropout(config.dropout, name="dropout_dense")]
    return keras.Sequential(layers + common.softmax_output(vocab_size),
                            name="note_chord_composer")


class NoteChordComposer(common.NoteChordRecipe):
    """The family's recipe, exported as a step graph unless export_kind says "window"."""

    def inference_graph(self, config: Config, model) -> InferenceGraph:
        if config.export_kind == "window":
            return super().inference_graph(config, model)
        return step_graph(config, model)


RECIPE = NoteChordComposer(NAME, Config, build, keras.optimizers.RMSprop)
