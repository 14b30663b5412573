"""The step graph of a stacked-LSTM Note/Chord recipe (seed 004): one token and each layer's
(h, c) in, next-token logits and the new states out, so the daemon pays one LSTM step per token
instead of re-reading a whole window (100 steps for seed 004).

The step graph holds the trained weights: its LSTMs copy them by layer name, and the layers after
the last LSTM (Dense, Activation, Dropout...) are the trained model's own layer objects, reused up
to the softmax. Parity: after a full window of tokens from a zero state the ONNX step model must
give the window model's logits. Beyond the window it keeps listening (the state carries on),
where the seed would forget; export's held-out NLL measures it with that carried state.
"""

from __future__ import annotations

import logging

import keras

from improvd.daemon.artifact import lstm_states

from ..recipe import InferenceGraph, full_window_reference
from .note_chord_common import logits_model

log = logging.getLogger(__name__)


def build_step(config, vocab_size: int, trained: keras.Model) -> keras.Model:
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    states_in = [keras.Input(shape=s.shape[1:], name=s.input) for s in lstm_states(config.units)]
    x = keras.layers.Rescaling(1.0 / vocab_size, name="scale")(token)
    x = keras.layers.Reshape((1, 1), name="feature")(x)
    states_out = []
    for i, units in enumerate(config.units):
        # unroll: one time step needs no loop, which keeps the ONNX graph flat and fast.
        lstm = keras.layers.LSTM(units, return_sequences=True, return_state=True, unroll=True,
                                 name=f"lstm_{i}")
        x, h, c = lstm(x, initial_state=states_in[2 * i: 2 * i + 2])
        lstm.set_weights(trained.get_layer(f"lstm_{i}").get_weights())
        states_out += [h, c]
    x = keras.layers.Reshape((config.units[-1],), name="last")(x)
    names = [layer.name for layer in trained.layers]
    for layer in trained.layers[names.index(f"lstm_{len(config.units) - 1}") + 1:]:
        if layer.name == "softmax":
            break
        x = layer(x)
    return keras.Model([token, *states_in], [x, *states_out], name="note_chord_step")


def step_graph(config, model: keras.Model) -> InferenceGraph:
    vocab_size = model.get_layer("logits").units
    return InferenceGraph(kind="recurrent", function=build_step(config, vocab_size, model),
                          context_length=config.seq_len, states=lstm_states(config.units),
                          reference=full_window_reference(logits_model(model), config.seq_len),
                          parity_tokens=config.seq_len)
