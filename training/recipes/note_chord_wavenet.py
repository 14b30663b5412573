"""note-chord-wavenet (seed 003): a WaveNet-style stack of causal dilated Conv1D.

As the Chopin notebook: the piano part of each score as Note/Chord tokens, keeping the tokens
that occur >= 40 times; windows of 32 -> next token; 70/30 train/validation split (here by piece,
so no validation window overlaps a training one); Embedding(100) -> Conv1D(64, k3, causal) +
Dropout + MaxPool -> Conv1D(128, k3, dilation 2) + Dropout + MaxPool -> Conv1D(256, k3,
dilation 4) + Dropout + MaxPool -> GlobalMaxPool -> Dense(256, relu) -> Dense softmax; Adam;
batch 128, 50 epochs, the best val_loss checkpoint. Playback: one token per quarter note.

Export: a window model over the last 32 tokens.
"""

from __future__ import annotations

import dataclasses
import logging

import keras

from . import note_chord_common as common

log = logging.getLogger(__name__)

NAME = "note-chord-wavenet"


@dataclasses.dataclass(frozen=True)
class Config(common.DataConfig):
    embed_dim: int = 100
    filters: tuple = (64, 128, 256)
    dilations: tuple = (1, 2, 4)
    kernel_size: int = 3
    dropout: float = 0.2
    dense_units: int = 256
    learning_rate: float = 0.001
    generate_tokens: int = 10  # the seed's own count


def build(config: Config, vocab_size: int):
    layers = [keras.Input(shape=(config.seq_len,), dtype="int32", name="tokens"),
              keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")]
    for i, (filters, dilation) in enumerate(zip(config.filters, config.dilations)):
        layers += [keras.layers.Conv1D(filters, config.kernel_size, padding="causal",
                                       dilation_rate=dilation, activation="relu", name=f"conv_{i}"),
                   keras.layers.Dropout(config.dropout, name=f"dropout_{i}"),
                   keras.layers.MaxPool1D(2, name=f"pool_{i}")]
    layers += [keras.layers.GlobalMaxPool1D(name="global_pool"),
               keras.layers.Dense(config.dense_units, activation="relu", name="dense")]
    return keras.Sequential(layers + common.softmax_output(vocab_size), name="note_chord_wavenet")


RECIPE = common.NoteChordRecipe(NAME, Config, build, keras.optimizers.Adam)
