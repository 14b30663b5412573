"""chorale-wavenet (seed 001): Bach chorales as 4-voice arpeggios, a small WaveNet + LSTM.

As in the seed (Hands-On ML ch. 15 exercise): the JSB chorales tgz with its own train/valid/test
split; each 16th-note step [S, A, T, B] is flattened into four tokens (0 = silence, notes 36..81
-> 1..46, 47 classes); windows of 32 + 1 chords (132 tokens) every 16 chords, target = the window
shifted by one; Embedding(5) -> 4 x [causal Conv1D k=2, dilation 1/2/4/8, 32/48/64/96 filters,
relu, BatchNorm] -> LSTM(256) -> Dense(47); Nadam 1e-3, batch 32, 20 epochs.

One change: the last layer returns logits and the loss applies the softmax (from_logits=True),
the same function as the seed's softmax layer, because the daemon samples from logits.

Exported as a window model: the daemon runs it on the last 128 tokens (32 chords).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import sys
import tarfile
import time
from pathlib import Path

import keras
import numpy as np

from improvd.daemon.tokenizers.chorale_arpeggio import ChoraleArpeggioTokenizer

from . import load_config

log = logging.getLogger(__name__)

NAME = "chorale-wavenet"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Config:
    data: str = "../shared/data/jsb_chorales.tgz"
    limit: int = 0  # 0 = every chorale; else at most this many per split (CI)
    window_chords: int = 32
    shift_chords: int = 16
    embed_dim: int = 5
    filters: tuple = (32, 48, 64, 96)
    dilations: tuple = (1, 2, 4, 8)
    lstm_units: int = 256
    learning_rate: float = 1e-3
    batch_size: int = 32
    shuffle_buffer: int = 1000
    epochs: int = 20
    steps_per_epoch: int = 0  # 0 = one pass over the training windows
    patience: int = 20  # the seed trains all 20 epochs; the best epoch (val_loss) is kept
    context_length: int = 128  # tokens the exported window model sees (32 chords)
    step_s: float = 0.25
    seed: int = 42


def tokenizer(config: Config) -> ChoraleArpeggioTokenizer:
    return ChoraleArpeggioTokenizer(step_s=config.step_s)


# --- data ----------------------------------------------------------------------------------------
def resolve_data(path: str) -> Path:
    """A relative path is looked up from the working directory, then from the project root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return PROJECT_ROOT / p


def load_chorales(path: str, limit: int = 0) -> dict[str, list[np.ndarray]]:
    """The tgz -> {"train"|"valid"|"test": [int array [steps, 4] of MIDI notes, ...]}."""
    from ..sources import SourceError

    tgz = resolve_data(path)
    splits: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    try:
        with tarfile.open(tgz) as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()
                              and m.name.endswith(".csv")), key=lambda m: m.name)
            for m in members:
                split = m.name.removeprefix("./").split("/")[0]
                if split not in splits or (limit and len(splits[split]) >= limit):
                    continue
                splits[split].append(_read_csv(tar.extractfile(m).read().decode(), m.name))
    except (tarfile.TarError, OSError) as exc:
        raise SourceError(f"{tgz}: not a readable chorales tgz ({exc})") from exc
    empty = [name for name, chorales in splits.items() if not chorales]
    if empty:
        raise SourceError(f"{tgz}: no chorale CSVs under {', '.join(empty)}/")
    return splits


def _read_csv(text: str, name: str) -> np.ndarray:
    from ..sources import SourceError

    rows = list(csv.reader(io.StringIO(text)))
    try:
        chords = np.array([[int(v) for v in row] for row in rows[1:] if row], dtype=np.int64)
    except ValueError as exc:
        raise SourceError(f"{name}: not a chorale CSV of note numbers ({exc})") from exc
    if chords.ndim != 2 or chords.shape[1] != 4 or len(chords) == 0:
        raise SourceError(f"{name}: expected rows of 4 voices, got shape {chords.shape}")
    return chords


def to_ids(chords: np.ndarray) -> np.ndarray:
    """The seed's preprocess: notes 36..81 -> 1..46 (0 stays silence), flattened S,A,T,B."""
    return np.where(chords == 0, 0, chords - 36 + 1).reshape(-1).astype(np.int32)


def make_windows(chorales: list[np.ndarray], config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The seed's bach_dataset windows: 33 chords every 16, X = ids[:-1], Y = ids[1:]."""
    size = config.window_chords + 1
    windows = [to_ids(c[start:start + size]) for c in chorales
               for start in range(0, len(c) - size + 1, config.shift_chords)]
    w = np.stack(windows)
    return w[:, :-1], w[:, 1:]


def datasets(splits: dict[str, list[np.ndarray]], config: Config) -> dict:
    import tensorflow as tf

    out = {}
    for name in SPLITS:
        x, y = make_windows(splits[name], config)
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        if name == "train":
            ds = ds.shuffle(config.shuffle_buffer, seed=config.seed)
        out[name] = ds.batch(config.batch_size).prefetch(1)
        out[f"{name}_windows"] = len(x)
    return out


# --- model ---------------------------------------------------------------------------------------
def build(config: Config) -> keras.Model:
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(47, config.embed_dim, name="embedding")(tokens)
    for i, (filters, dilation) in enumerate(zip(config.filters, config.dilations)):
        x = keras.layers.Conv1D(filters, kernel_size=2, padding="causal", activation="relu",
                                dilation_rate=dilation, name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
    x = keras.layers.LSTM(config.lstm_units, return_sequences=True, name="lstm")(x)
    logits = keras.layers.Dense(47, name="logits")(x)
    return keras.Model(tokens, logits, name="chorale_wavenet")


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(optimizer=keras.optimizers.Nadam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def chorale_nll(model: keras.Model, chorales: list[np.ndarray], batch_size: int = 8) -> dict:
    """NLL per token over whole chorales, each predicted with its full context. The chorales are
    padded at the end into one batch; the model is causal, so padding never reaches a scored
    token."""
    seqs = [to_ids(c) for c in chorales]
    longest = max(len(s) for s in seqs)
    batch = np.zeros((len(seqs), longest - 1), np.int32)
    for row, ids in zip(batch, seqs):
        row[:len(ids) - 1] = ids[:-1]
    logits = np.asarray(model.predict(batch, batch_size=batch_size, verbose=0), np.float64)
    total_nll, total_right, total = 0.0, 0, 0
    for lg, ids in zip(logits, seqs):
        lg, target = lg[:len(ids) - 1], ids[1:]
        logp = lg - np.logaddexp.reduce(lg, axis=-1, keepdims=True)
        total_nll -= float(logp[np.arange(len(target)), target].sum())
        total_right += int((lg.argmax(-1) == target).sum())
        total += len(target)
    return {"nll_per_token": total_nll / total, "accuracy": total_right / total,
            "tokens": total, "chorales": len(chorales)}


def load_trained(run_dir: Path) -> tuple[Config, keras.Model, dict]:
    from ..train import BEST, read_trained_run

    run = read_trained_run(run_dir, NAME)
    saved = run["config"]
    config = Config(**{**saved, "filters": tuple(saved["filters"]),
                       "dilations": tuple(saved["dilations"])})
    model = build(config)
    model.load_weights(Path(run_dir) / BEST)
    return config, model, run


# --- train ---------------------------------------------------------------------------------------
def train(args) -> int:
    from ..train import fit, machine_summary, read_run_info, strategy_scope, write_run_info

    out = Path(args.out)
    overrides = {"epochs": getattr(args, "epochs", None),
                 "steps_per_epoch": getattr(args, "steps", None),
                 "limit": getattr(args, "limit", None)}
    source = getattr(args, "source", None)
    if source:
        overrides["data"] = source.removeprefix("jsb:")
    if getattr(args, "resume", False):
        overrides = {**read_run_info(out)["config"], **{k: v for k, v in overrides.items() if v}}
    config = load_config(NAME, args.size, Config, path=getattr(args, "config", None),
                         overrides=overrides)
    keras.utils.set_random_seed(config.seed)
    splits = load_chorales(config.data, config.limit)  # bad data fails before `out` is touched
    data = datasets(splits, config)
    summary = {"source": config.data, "chorales": {n: len(splits[n]) for n in SPLITS},
               "windows": {n: data[f"{n}_windows"] for n in SPLITS}}
    log.info("data: %s", summary)
    with strategy_scope(getattr(args, "strategy", "default")):
        model = build(config)
        compile_model(model, config)
    out.mkdir(parents=True, exist_ok=True)
    run = {"recipe": NAME, "size": args.size, "config": dataclasses.asdict(config),
           "tokenizer": tokenizer(config).spec(), "data": summary, "machine": machine_summary(),
           "command": "improvd " + " ".join(sys.argv[1:])}
    write_run_info(out, run)
    started = time.monotonic()
    history = fit(model, data["train"], data["valid"], out, epochs=config.epochs,
                  patience=config.patience, resume=getattr(args, "resume", False),
                  steps_per_epoch=config.steps_per_epoch or None)
    run["training"] = {"epochs": len(history.get("loss", [])),
                       "wall_s": round(time.monotonic() - started, 1),
                       "best_val_loss": min(history.get("val_loss", [float("nan")])),
                       "batch_size": config.batch_size}
    write_run_info(out, run)
    score_run(out)
    return 0


def score_run(run_dir: Path) -> dict:
    """Test figures of the best epoch (what export ships) and of the last one (what the seed
    evaluated), stored in run.json: loss/accuracy on the seed's test windows, and NLL per token
    over whole test chorales with full context."""
    from ..train import LAST, read_run_info, write_run_info

    config, model, run = load_trained(run_dir)
    compile_model(model, config)
    splits = load_chorales(config.data, config.limit)
    test = datasets(splits, config)["test"]
    metrics = {"seed_reference": {"loss": 0.6426, "accuracy": 0.8196}}
    for name, weights in (("best_epoch", None), ("last_epoch", Path(run_dir) / LAST)):
        if weights is not None:
            model.load_weights(weights)
        loss, accuracy = model.evaluate(test, verbose=0)
        metrics[name] = {"test_windows": {"loss": float(loss), "accuracy": float(accuracy)},
                         "test_chorales": chorale_nll(model, splits["test"])}
        log.info("%s: test windows loss %.4f accuracy %.4f; whole chorales %s", name, loss,
                 accuracy, metrics[name]["test_chorales"])
    run = read_run_info(run_dir)
    run["metrics"] = metrics
    write_run_info(run_dir, run)
    return metrics


# --- export --------------------------------------------------------------------------------------
def export(run_dir: Path, out_path: Path, **_):
    """The trained graph itself is the window model: tokens [1, N] -> logits [1, N, 47]."""
    import tempfile

    import tensorflow as tf

    from improvd.daemon.artifact import ModelInfo
    from improvd.daemon.runner import load_runner
    from improvd.export.to_onnx import convert, set_metadata
    from improvd.export.verify import compare_logits

    config, model, run = load_trained(run_dir)
    # The tokenizer spec of this build (its live-input settings may be newer than the run's).
    info = ModelInfo(recipe=NAME, kind="window", tokenizer=tokenizer(config).spec(),
                     context_length=config.context_length, inputs={"tokens": "tokens"},
                     outputs={"logits": "logits"},
                     training={**run.get("training", {}), "data": run.get("data", {}),
                               "config": run["config"], "machine": run.get("machine"),
                               "command": run.get("command")},
                     metrics=run.get("metrics", {}))
    splits = load_chorales(config.data, limit=3)
    with tempfile.TemporaryDirectory(prefix="improvd-export-") as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        convert(model, [tf.TensorSpec([1, None], tf.int32, name="tokens")], tmp_path, info,
                output_names=["logits"])
        # Parity on held-out windows, through the daemon's own runner: last-token logits of
        # each growing window against the Keras model on the same window.
        runner = load_runner(tmp_path)
        worst = 0.0
        for chords in splits["test"][:2]:
            ids = to_ids(chords)[: config.context_length + 8]
            runner.reset()
            got = np.stack([runner.advance(int(t)).copy() for t in ids])
            want = np.stack([np.asarray(model(np.asarray(list(runner_window), np.int32)[None],
                                              training=False))[0, -1]
                             for runner_window in _windows(ids, config.context_length)])
            worst = max(worst, compare_logits(want, got, what="ONNX window vs TF")["max_abs_diff"])
        metrics = {**info.metrics, "parity": {"onnx_vs_tf_max_abs_diff": worst, "tol": 1e-4}}
        info = dataclasses.replace(info, metrics=metrics)
        set_metadata(tmp_path, info, Path(out_path))
    print(f"exported {out_path}: window of {config.context_length} tokens, "
          f"parity max |diff| {worst:.2e}")
    return info


def _windows(ids: np.ndarray, n: int):
    for end in range(1, len(ids) + 1):
        yield ids[max(0, end - n):end]


def generate(model_path, prompt, out, *, tokens: int = 56 * 4, **kwargs):
    """Offline generation through the exported model (training/generate.py). With no prompt, the
    seed's: the first 16 chords of test chorale 2; 56 chords (224 tokens) follow by default."""
    from ..generate import generate_file

    prompt_tokens = None
    if prompt is None:
        chorale = load_chorales(Config.data)["test"][2]
        prompt_tokens = to_ids(chorale[:16]).tolist()
    return generate_file(model_path, prompt, out, tokens=tokens, prompt_tokens=prompt_tokens,
                         **kwargs)
