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

from ..generate import generate_file
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


def build(config: Config, vocab_size: int):
    layers = [keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens"),
              keras.layers.Rescaling(1.0 / vocab_size, name="scale"),
              keras.layers.Reshape((config.seq_len, 1), name="feature")]
    for i, units in enumerate(config.units):
        last = i == len(config.units) - 1
        layers.append(keras.layers.LSTM(units, return_sequences=not last, name=f"lstm_{i}"))
        if not last:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{i}"))
    layers += [keras.layers.Dense(config.dense_units, name="dense"),
               keras.layers.Activation("relu", name="relu"),
               keras.layers.Dropout(config.dropout, name="dropout_dense"),
               keras.layers.Dense(vocab_size, name="logits"),
               keras.layers.Activation("softmax", name="softmax")]
    return keras.Sequential(layers, name="note_chord_composer")


def compile_model(model, config: Config) -> None:
    model.compile(optimizer=keras.optimizers.RMSprop(config.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class NoteChordComposer(common.NoteChordRecipe):
    name = NAME
    Config = Config

    build = staticmethod(build)
    compile_model = staticmethod(compile_model)

    def inference_graph(self, config: Config, model) -> InferenceGraph:
        if config.export_kind == "window":
            return super().inference_graph(config, model)
        return step_graph(config, model)


RECIPE = NoteChordComposer()


def generate(model_path, prompt, out, *, tokens: int = 500, **kwargs) -> dict:
    """`improvd generate` for this recipe: the shared offline generation, 500 tokens by default
    (the count of Skuli's predict.py, which the post's predict.py follows)."""
    return generate_file(model_path, prompt, out, tokens=tokens, **kwargs)
