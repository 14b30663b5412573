"""A new recipe is one module and one TOML file: a small causal-convolution window model over
performance tokens, written here, goes through the one driver (train -> export with card ->
verify) with nothing else added anywhere."""

from __future__ import annotations

import dataclasses
import sys
import types

import keras
import pytest
from driver_support import train_export_verify

from improvd.daemon.tokenizers.performance import PerformanceTokenizer
from improvd.training import dataset, recipes, sources
from improvd.training.recipe import (
    InferenceGraph,
    Recipe,
    TrainConfig,
    TrainingData,
    window_reference,
)

pytestmark = pytest.mark.slow


@dataclasses.dataclass(frozen=True)
class TinyConvConfig(TrainConfig):
    window: int = 16
    filters: int = 8


class TinyConv(Recipe):
    name = "tiny-conv"
    Config = TinyConvConfig

    def load_data(self, config: TinyConvConfig) -> TrainingData:
        splits = dataset.split_pieces(sources.load_pieces(config.source, workers=1,
                                                           cache_dir=None))
        tok = PerformanceTokenizer()
        seqs = {name: dataset.tokenize_split(pieces, tok) for name, pieces in splits.items()}
        windows = {name: dataset.make_windows(seqs[name], config.window, config.window)
                   for name in ("train", "valid")}
        return TrainingData(tokenizer=tok, sequences=seqs, summary={"source": config.source},
                            train=dataset.to_tf_dataset(windows["train"], config.batch_size,
                                                        shuffle=True, seed=config.seed),
                            valid=dataset.to_tf_dataset(windows["valid"], config.batch_size,
                                                        shuffle=False))

    def build(self, config: TinyConvConfig, vocab_size: int) -> keras.Model:
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(vocab_size, 8)(tokens)
        x = keras.layers.Conv1D(config.filters, 2, padding="causal", activation="relu")(x)
        return keras.Model(tokens, keras.layers.Dense(vocab_size)(x))

    def compile_model(self, model: keras.Model, config: TinyConvConfig) -> None:
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))

    def inference_graph(self, config: TinyConvConfig, model: keras.Model) -> InferenceGraph:
        def last_logits(ids):
            return model(ids, training=False)[0, -1].numpy()

        return InferenceGraph(kind="window", function=model, context_length=config.window,
                              reference=window_reference(last_logits, config.window),
                              parity_tokens=config.window + 4)


def test_a_module_and_a_toml_file_make_a_recipe(tmp_path, midi_writer, monkeypatch, capsys):
    for i in range(6):  # six short real MIDI files: a rising arpeggio each
        midi_writer(tmp_path / "midi" / f"phrase_{i}.mid",
                    [(60 + i + 3 * k, 90, 240 * k, 240 * k + 200) for k in range(12)])
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "tiny-conv.toml").write_text(
        f'[tiny]\nsource = "{tmp_path / "midi"}"\nbatch_size = 4\nepochs = 1\n')
    module = types.ModuleType("improvd.training.recipes.tiny_conv")
    module.RECIPE = TinyConv()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(recipes, "CONFIGS", configs)
    made = train_export_verify("tiny-conv", tmp_path / "out", capsys)
    assert made["info"].kind == "window" and made["info"].context_length == 16
    assert "Embedding(388, 8) -> Conv1D(8, kernel 2, dilation 1, causal, relu) -> Dense(388)" \
        in made["card_text"]
