"""abc-char-lstm (seed 000, MIT 6.S191 lab 1 style): a character-level LSTM over ABC tune text.

As in the seed: the tunes are joined by blank lines into one text; training draws random windows
of 100 characters (target = the window shifted by one); Embedding(256) -> LSTM(1024) ->
Dense(vocab) logits; Adam 5e-3, batch 4, 2000 iterations (here: `epochs` x `steps_per_epoch`, so
the shared loop checkpoints and plots as it goes).

Two changes, both about the graph and not the function learnt: the seed's LSTM was `stateful`,
which only carried state from one random window into an unrelated next one, so training here
starts each window from a zero state; and the exported graph is a one-character step with the
state carried (`build_step`), which is what the seed's batch-1 sampling loop computed.

Data: any ABC file or folder, or "music21:<folder>[,<folder>...]" for ABC folders of the
installed music21 corpus; "music21:folk" = its folk collections (O'Neill's 1850, Ryan's
Mammoth, Aird's Airs, Nottingham, Essen, misc). Each tune keeps its X:, T:, M:, L:, K: header
fields and its body (the seed's data carried no book or transcriber fields either); comments,
lyrics and characters outside printable ASCII go. Tunes are split train/valid/test by the one
split rule (dataset.split_pieces: a hash of the tune's file and number, 3% / 3%, at most
valid_tunes / test_tunes held out).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import operator
import re
from pathlib import Path

import keras
import numpy as np

from improvd.daemon.artifact import lstm_states
from improvd.daemon.tokenizers.abc_chars import AbcCharsTokenizer

from .. import dataset
from ..errors import SourceError
from ..recipe import (
    InferenceGraph,
    Recipe,
    TrainConfig,
    TrainingData,
    lstm_step_graph,
)
from ..sources import ABC_SUFFIXES, FOLK_FOLDERS, files_under

log = logging.getLogger(__name__)

NAME = "abc-char-lstm"
KEEP_FIELDS = "XTMLK"
_TUNE_START = re.compile(r"^X:", re.MULTILINE)
# ABC's own syntax is printable ASCII; accented letters in titles would only grow the vocabulary.
_ASCII_ONLY = re.compile(r"[^\x20-\x7e]")


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    source: str = "music21:folk"
    embed_dim: int = 256
    units: int = 1024
    window: int = 100
    batch_size: int = 4
    learning_rate: float = 5e-3
    steps_per_epoch: int = 200  # 10 x 200 = the seed's 2000 iterations
    patience: int = 10
    valid_fraction: float = 0.03
    test_fraction: float = 0.03
    valid_windows: int = 64
    valid_tunes: int = 60  # at most this many of the held-out tunes
    test_tunes: int = 40
    quarter_bpm: float = 120.0


# --- data ----------------------------------------------------------------------------------------
def abc_files(source: str) -> list[Path]:
    """An ABC file or folder, or music21:<folder>[,<folder>...] of the installed corpus ("folk":
    its folk collections) -> the .abc files, sorted."""
    if not source.startswith("music21:"):
        return files_under(Path(source), ABC_SUFFIXES, "ABC")
    import music21  # only for where its corpus is installed

    root = Path(music21.__file__).parent / "corpus"
    names = source.removeprefix("music21:").split(",")
    folders = [f for n in names for f in (FOLK_FOLDERS if n == "folk" else (n,))]
    missing = [f for f in folders if not (root / f).is_dir()]
    if missing:
        raise SourceError(f"{source}: no music21 corpus folder {', '.join(missing)}")
    return sorted(p for f in folders for p in files_under(root / f, ABC_SUFFIXES, "ABC"))


def split_tunes(text: str) -> list[str]:
    """ABC text -> cleaned tunes (header fields X T M L K, then the body; no comments)."""
    tunes = []
    starts = [m.start() for m in _TUNE_START.finditer(text)] + [len(text)]
    for a, b in itertools.pairwise(starts):
        lines = []
        for line in text[a:b].splitlines():
            line = _ASCII_ONLY.sub("", line.replace("\t", " ")).rstrip()
            if not line or line.startswith("%"):
                continue
            if re.match(r"[A-Za-z]:", line):
                if line[0] not in KEEP_FIELDS:
                    continue
                line = f"{line[0]}:{line[2:].strip()}"
            lines.append(line)
        if any(not re.match(r"[A-Za-z]:", line) for line in lines):  # a tune with a body
            tunes.append("\n".join(lines))
    return tunes


def load_tunes(source: str, limit: int = 0) -> list[tuple[str, str]]:
    """-> [(name, tune text)]; a source with no tune is a SourceError naming it."""
    tunes = []
    for path in abc_files(source):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise SourceError(f"{path}: cannot read ({exc})") from exc
        tunes += [(f"{path.name}#{i}", t) for i, t in enumerate(split_tunes(text))]
    if not tunes:
        raise SourceError(f"{source}: no ABC tunes (no 'X:' line followed by music)")
    return tunes[:limit] if limit else tunes


def random_windows(ids: np.ndarray, count: int, window: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """The seed's extrai_batch: random starts, input = window, target = window shifted by one."""
    if len(ids) < window + 2:
        raise SourceError(f"only {len(ids)} characters of text; need more than {window + 1}")
    starts = rng.integers(0, len(ids) - window - 1, size=count)
    x = np.stack([ids[s:s + window] for s in starts])
    y = np.stack([ids[s + 1:s + window + 1] for s in starts])
    return x, y


# --- graphs --------------------------------------------------------------------------------------
def build(config: Config, vocab_size: int) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")(tokens)
    x = keras.layers.LSTM(config.units, return_sequences=True, recurrent_initializer="glorot_uniform",
                          recurrent_activation="sigmoid", name="lstm_0")(x)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    return keras.Model(tokens, logits, name="abc_char_lstm")


def build_step(config, trained: keras.Model) -> keras.Model:
    """One character + (h, c) in -> logits + new (h, c); the trained weights copied by name."""
    vocab_size = trained.get_layer("logits").units
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    states_in = [keras.Input(shape=(config.units,), name=s.input)
                 for s in lstm_states([config.units])]
    x = keras.layers.Embedding(vocab_size, config.embed_dim, name="embedding")(token)
    x, h, c = keras.layers.LSTM(config.units, return_sequences=True, return_state=True,
                                unroll=True, name="lstm_0")(x, initial_state=states_in)
    logits = keras.layers.Dense(vocab_size, name="logits")(x)
    logits = keras.layers.Reshape((vocab_size,), name="last")(logits)
    step = keras.Model([token, *states_in], [logits, h, c], name="abc_char_lstm_step")
    for layer in step.layers:
        if layer.weights:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    return step


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


# --- data ----------------------------------------------------------------------------------------
def load_data(config: Config) -> TrainingData:
    """Tunes -> split -> one text per split -> character ids -> the seed's random windows, drawn
    once for the whole run (each epoch reads the next slice of them)."""
    splits = {name: [text for _, text in tunes] for name, tunes in dataset.split_pieces(
        load_tunes(config.source, config.limit), config.valid_fraction, config.test_fraction,
        max_valid=config.valid_tunes, max_test=config.test_tunes,
        name=operator.itemgetter(0)).items()}
    texts = {name: "\n\n".join(ts) for name, ts in splits.items()}
    tok = AbcCharsTokenizer("".join(sorted(set("".join(texts.values())))),
                            quarter_bpm=config.quarter_bpm)
    ids = {name: np.asarray(tok.text_to_ids(t), np.int32) for name, t in texts.items()}
    rng = np.random.default_rng(config.seed)
    x, y = random_windows(ids["train"], config.epochs * config.steps_per_epoch * config.batch_size,
                          config.window, rng)
    vx, vy = random_windows(ids["valid"], config.valid_windows, config.window, rng)
    summary = {"source": config.source, "tunes": {n: len(t) for n, t in splits.items()},
               "characters": {n: len(i) for n, i in ids.items()},
               "vocab_size": tok.vocab_size}
    return TrainingData(
        tokenizer=tok, summary=summary, whole_run=True,
        sequences={n: [np.asarray(tok.text_to_ids(t), np.int32) for t in ts]
                   for n, ts in splits.items()},
        train=dataset.batches(x, y, config.batch_size), valid=dataset.batches(vx, vy, 32))


class AbcCharLstm(Recipe):
    name = NAME
    Config = Config

    def inference_graph(self, config: Config, model: keras.Model) -> InferenceGraph:
        return lstm_step_graph(build_step(config, model), model, config.window, [config.units])


RECIPE = AbcCharLstm(load_data=load_data, build=build, compile_model=compile_model)
