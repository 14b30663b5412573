"""The exported model's own weights back in Keras, so TensorFlow and onnxruntime run the same net.

The recipe module (training/recipes/performance_lstm.py) builds the graphs; the weights come from
the .onnx file's initializers, in one of the two layouts this project writes:
  - a tf2onnx export of the recipe's step graph: initializers keep the TensorFlow op names,
    e.g. ".../lstm_0_1/lstm_cell_1/Cast/ReadVariableOp:0" (kernel), "Cast_1" (recurrent kernel),
    "BiasAdd" (bias); Keras gate order already;
  - the random-weights fixture (testsupport/random_model.py): ONNX LSTM ops with W, R, B in ONNX
    gate order (i, o, f, c) and separate input/recurrent biases.
An int8 file (`improvd quantize`, export --quantize) keeps each weight as "<name>_quantized" with
its "_scale" and "_zero_point": those are dequantized back to "<name>", so Keras runs the very
values onnxruntime multiplies by (onnxruntime also quantizes the activations, Keras does not).
A parity check against onnxruntime (see check_parity) proves the mapping before anything is timed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class WeightMapError(ValueError):
    """The .onnx file's initializers do not match the recipe's layers."""


QUANTIZED = "_quantized"


def initializers(path: Path) -> dict[str, np.ndarray]:
    """name -> array of the file's initializers, int8 weights dequantized under their own name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return dequantized({t.name: numpy_helper.to_array(t) for t in model.graph.initializer})


def dequantized(inits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each "<name>_quantized" (with "<name>_scale", "<name>_zero_point") also as float "<name>"."""
    out = dict(inits)
    for name, q in inits.items():
        if name.endswith(QUANTIZED):
            base = name[:-len(QUANTIZED)]
            scale, zero = inits[base + "_scale"], inits[base + "_zero_point"]
            out[base] = ((q.astype(np.float32) - zero.astype(np.float32)) * scale).astype(
                np.float32)
    return out


def is_quantized(inits_or_path) -> bool:
    import onnx

    if isinstance(inits_or_path, dict):
        return any(name.endswith(QUANTIZED) for name in inits_or_path)
    model = onnx.load(str(inits_or_path), load_external_data=False)
    return any(t.name.endswith(QUANTIZED) for t in model.graph.initializer)


def recipe_config(info, inits: dict[str, np.ndarray]):
    """The recipe Config the model was trained with (metadata), or read off the fixture's shapes."""
    from improvd.training.recipes import performance_lstm as recipe

    from .data import recipe_config as trained_config

    if (info.training or {}).get("config"):
        return trained_config(info)
    if "embedding" in inits and "R0" in inits:
        layers = sum(1 for name in inits if name.startswith("R") and name[1:].isdigit())
        return recipe.Config(layers=layers, units=int(inits["R0"].shape[-1]),
                             embed_dim=int(inits["embedding"].shape[1]), dropout=0.0)
    raise WeightMapError("the model's metadata has no training config and its initializers are "
                         "not the test fixture's; cannot rebuild it in Keras")


def _from_tf2onnx(inits: dict[str, np.ndarray], config) -> dict[str, list[np.ndarray]]:
    def find(layer: str, op: str) -> np.ndarray:
        hits = [a for name, a in inits.items()
                if f"/{layer}_1/" in name and name.endswith(f"/{op}/ReadVariableOp:0")]
        if len(hits) != 1:
            raise WeightMapError(f"expected one initializer for {layer} {op}, found {len(hits)}")
        return hits[0]

    weights = {"embedding": [find("embedding", "GatherV2")],
               "logits": [find("logits", "Cast"), find("logits", "BiasAdd")]}
    for i in range(config.layers):
        weights[f"lstm_{i}"] = [find(f"lstm_{i}", "Cast"), find(f"lstm_{i}", "Cast_1"),
                                find(f"lstm_{i}", "BiasAdd")]
    return weights


def _keras_gates(m: np.ndarray) -> np.ndarray:
    """ONNX LSTM gate blocks (i, o, f, c) along the last axis -> Keras order (i, f, c, o)."""
    i, o, f, c = np.split(m, 4, axis=-1)
    return np.concatenate([i, f, c, o], axis=-1)


def _from_onnx_lstm(inits: dict[str, np.ndarray], config) -> dict[str, list[np.ndarray]]:
    units = config.units
    weights = {"embedding": [inits["embedding"]], "logits": [inits["W_out"], inits["b_out"]]}
    for i in range(config.layers):
        bias = inits[f"B{i}"][0]
        kernel, recurrent = inits[f"W{i}"][0].T, inits[f"R{i}"][0].T  # [in, 4H], [H, 4H]
        weights[f"lstm_{i}"] = [_keras_gates(kernel), _keras_gates(recurrent),
                                _keras_gates(bias[:4 * units] + bias[4 * units:])]
    return weights


def keras_models(path: Path, info):
    """-> (config, training graph, step graph), both holding the .onnx file's weights."""
    from improvd.training.recipes import performance_lstm as recipe

    inits = initializers(path)
    config = recipe_config(info, inits)
    weights = _from_onnx_lstm(inits, config) if "R0" in inits else _from_tf2onnx(inits, config)
    model = recipe.build(config)
    for layer, values in weights.items():
        model.get_layer(layer).set_weights([np.asarray(v, np.float32) for v in values])
    return config, model, recipe.build_step(config, model)


def check_parity(runner, config, model, step, tokens, tol: float = 1e-3) -> dict:
    """onnxruntime step logits vs the Keras step graph and the Keras whole-sequence graph."""
    from improvd.export.verify import runner_logits
    from improvd.training.recipes import performance_lstm as recipe

    onnx_logits = runner_logits(runner, tokens)
    report = {
        "tokens": len(tokens),
        "onnx_vs_keras_step": float(np.abs(onnx_logits - recipe.step_logits(step, config, tokens))
                                    .max()),
        "onnx_vs_keras_sequence": float(np.abs(onnx_logits - recipe.full_logits(model, tokens))
                                        .max()),
    }
    runner.reset()
    worst = max(report["onnx_vs_keras_step"], report["onnx_vs_keras_sequence"])
    if worst > tol:
        raise WeightMapError(f"Keras rebuilt from the .onnx weights disagrees with onnxruntime by "
                             f"{worst:.3g} (tolerance {tol:g}): {report}")
    return report
