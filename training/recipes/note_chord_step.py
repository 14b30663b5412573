"""Recurrent export for a stacked-LSTM Note/Chord recipe: one token and each layer's (h, c) in,
next-token logits and the new states out, so the daemon pays one LSTM step per token instead of
re-reading a whole window (100 steps for seed 004).

The step graph holds the trained weights: its LSTMs copy them by layer name, and the layers after
the last LSTM (Dense, Activation, Dropout...) are the trained model's own layer objects, reused up
to the softmax. Parity: after a full window of tokens from a zero state the ONNX step model must
give the window model's logits. Beyond the window it keeps listening (the state carries on),
where the seed would forget; the held-out loss with that carried state is measured and stored.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

from . import note_chord_common as common

log = logging.getLogger(__name__)


def state_names(config) -> list[tuple[str, str, int]]:
    """[(input name, output name, units)] for h then c of each LSTM layer."""
    return [(f"state_in_{i}_{hc}", f"state_out_{i}_{hc}", units)
            for i, units in enumerate(config.units) for hc in ("h", "c")]


def build_step(config, vocab_size: int, trained):
    import keras

    token = keras.Input(shape=(1,), dtype="int32", name="token")
    states_in = [keras.Input(shape=(units,), name=name) for name, _, units in state_names(config)]
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


def export_recurrent(recipe: ModuleType, run_dir: Path, out_path: Path, *,
                     quantize: bool = False, windows: int = 4):
    import keras
    import tensorflow as tf
    from improvd.daemon.artifact import ModelInfo
    from improvd.daemon.runner import load_runner
    from improvd.export.quantize import quantize_model
    from improvd.export.to_onnx import convert, set_metadata
    from improvd.export.verify import compare_logits

    config, model, run = common.load_trained(recipe, run_dir)
    vocab_size = len(run["vocabulary"])
    step = build_step(config, vocab_size, model)
    names = state_names(config)
    signature = [tf.TensorSpec([None, 1], tf.int32, name="token")] + [
        tf.TensorSpec([None, units], tf.float32, name=name) for name, _, units in names]
    info = ModelInfo(recipe=recipe.NAME, kind="recurrent", tokenizer=run["tokenizer"],
                     context_length=config.seq_len, inputs={"token": "token"},
                     outputs={"logits": "logits"},
                     states=[{"input": i, "output": o, "shape": [1, u]} for i, o, u in names],
                     training={**run.get("training", {}), "data": run["data"],
                               "config": run["config"], "parameters": run["parameters"],
                               "machine": run["machine"], "command": run.get("command")},
                     metrics=run.get("metrics", {}))
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    with tempfile.TemporaryDirectory(prefix="improvd-export-") as tmp:
        float_path = Path(tmp) / "float.onnx"
        convert(step, signature, float_path, info,
                output_names=["logits"] + [o for _, o, _ in names])
        runner = load_runner(float_path)
        rng = np.random.default_rng(0)
        tf_logits, onnx_logits = [], []
        for _ in range(windows):
            tokens = rng.integers(0, vocab_size, size=config.seq_len)
            runner.reset()
            for t in tokens:
                runner.advance(int(t))
            onnx_logits.append(runner.logits.copy())
            tf_logits.append(np.asarray(logits_model(tokens[None, :].astype(np.int32)))[0])
        parity = compare_logits(np.stack(tf_logits), np.stack(onnx_logits),
                                what="ONNX step after a full window vs TF window model")
        parity["checked"] = windows
        print(f"parity ONNX step (daemon runner) vs TF window model on {windows} full windows: "
              f"max |logit diff| {parity['max_abs_diff']:.2e} (tol {parity['tol']:g})")
        metrics = {**info.metrics, "parity": parity, "quantized": quantize,
                   **streaming_loss(runner, recipe, run)}
        model_path = quantize_model(float_path, Path(tmp) / "int8.onnx") if quantize \
            else float_path
        info = dataclasses.replace(info, metrics=metrics)
        set_metadata(model_path, info, out_path)
    log.info("exported %s (recurrent step, trained on windows of %d)", out_path, config.seq_len)
    return info


def streaming_loss(runner, recipe: ModuleType, run: dict) -> dict:
    """NLL/accuracy per token over the whole held-out pieces, the state carried from each piece's
    first token (the daemon's way), next to nothing else: the window figures are in run.json."""
    from ..note_chord_data import load_note_chord_pieces, to_ids

    config = recipe.Config(**run["config"])
    pieces = load_note_chord_pieces(config.source, cache_dir=common.CACHE_DIR,
                                    limit=config.limit or None, piano_only=config.piano_only)
    held_out = [p for p in pieces if p.name in set(run["data"]["valid_pieces"])]
    nll, hits, n = 0.0, 0, 0
    for seq in to_ids(held_out, run["vocabulary"]):
        runner.reset()
        for prev, nxt in itertools.pairwise(seq):
            z = runner.advance(int(prev)).astype(np.float64)
            nll += float(np.log(np.exp(z - z.max()).sum()) + z.max() - z[nxt])
            hits += int(np.argmax(z) == nxt)
            n += 1
    if not n:
        return {}
    return {"valid_loss_streaming": nll / n, "valid_accuracy_streaming": hits / n,
            "valid_tokens_streaming": n}
