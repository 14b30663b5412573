"""A random-weights model that meets the artifact contract, built with onnx.helper (no TensorFlow).

Same graph shape as an exported performance LSTM: Gather embedding -> one ONNX LSTM op per layer
with explicit h/c state inputs and outputs -> MatMul logits. Daemon tests use it so they run
without training anything; the end-to-end tests and benchmarks prefer the shipped
models/default.onnx.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from improvd.daemon.artifact import (
    LOGITS_OUTPUT,
    RECURRENT,
    TOKEN_INPUT,
    build_info,
    lstm_states,
    set_metadata_props,
)
from improvd.daemon.atomic import atomic_path
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout: testsupport/ sits at its root
SHIPPED_MODEL = PROJECT_ROOT / "models" / "default.onnx"


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def make_random_recurrent_model(path, units: int = 64, layers: int = 2, seed: int = 0,
                                embedding: int = 32, tokenizer=None) -> Path:
    """Write a recurrent .onnx with random weights to `path`; returns the path. tokenizer: a
    performance tokenizer of either time representation (default: absolute time)."""
    rng = np.random.default_rng(seed)
    tok = tokenizer or PerformanceTokenizer()
    vocab = tok.vocab_size
    inits = [_init("embedding", rng.normal(0, 0.5, (vocab, embedding))),
             helper.make_tensor("state_shape", TensorProto.INT64, [2], [1, units]),
             helper.make_tensor("lstm_shape", TensorProto.INT64, [3], [1, 1, units]),
             helper.make_tensor("seq_shape", TensorProto.INT64, [3], [1, 1, -1])]
    # token [1, 1] -> [1, 1, embedding]; with batch = time = 1 the layout question disappears.
    nodes = [helper.make_node("Gather", ["embedding", TOKEN_INPUT], ["x0"], axis=0)]
    inputs = [helper.make_tensor_value_info(TOKEN_INPUT, TensorProto.INT32, [1, 1])]
    outputs = [helper.make_tensor_value_info(LOGITS_OUTPUT, TensorProto.FLOAT, [1, vocab])]
    states = lstm_states([units] * layers)
    x, width = "x0", embedding
    for i in range(layers):
        scale = 1.0 / np.sqrt(width)
        inits += [_init(f"W{i}", rng.normal(0, scale, (1, 4 * units, width))),
                  _init(f"R{i}", rng.normal(0, 1.0 / np.sqrt(units), (1, 4 * units, units))),
                  _init(f"B{i}", np.zeros((1, 8 * units)))]
        h, c = states[2 * i], states[2 * i + 1]  # lstm_states: h then c of each layer
        for s, state in (("h", h), ("c", c)):
            inputs.append(helper.make_tensor_value_info(state.input, TensorProto.FLOAT,
                                                        [1, units]))
            outputs.append(helper.make_tensor_value_info(state.output, TensorProto.FLOAT,
                                                         [1, units]))
            nodes.append(helper.make_node("Reshape", [state.input, "lstm_shape"], [f"{s}{i}_3d"]))
        nodes.append(helper.make_node(
            "LSTM", [x, f"W{i}", f"R{i}", f"B{i}", "", f"h{i}_3d", f"c{i}_3d"],
            [f"y{i}", f"yh{i}", f"yc{i}"], hidden_size=units))
        nodes += [helper.make_node("Reshape", [f"yh{i}", "state_shape"], [h.output]),
                  helper.make_node("Reshape", [f"yc{i}", "state_shape"], [c.output]),
                  # Y is [time, directions, batch, units]; the next layer wants [time, batch, -1].
                  helper.make_node("Reshape", [f"y{i}", "seq_shape"], [f"x{i + 1}"])]
        x, width = f"x{i + 1}", units
    inits += [_init("W_out", rng.normal(0, 2.0 / np.sqrt(units), (units, vocab))),
              _init("b_out", np.zeros(vocab))]
    nodes += [helper.make_node("Reshape", [states[-2].output, "state_shape"], ["h_last"]),
              helper.make_node("MatMul", ["h_last", "W_out"], ["mm"]),
              helper.make_node("Add", ["mm", "b_out"], [LOGITS_OUTPUT])]
    graph = helper.make_graph(nodes, "random_performance_lstm", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by any onnxruntime this project supports
    info = build_info("random-fixture", RECURRENT, tok.spec(), 512, states=states,
                      training={"data": "none: random weights for tests", "seed": seed})
    set_metadata_props(model, info)
    onnx.checker.check_model(model)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))
    return Path(path)


def model_for_tests(tmp_dir) -> Path:
    """The shipped model when it exists, else a random fixture model written into tmp_dir."""
    if SHIPPED_MODEL.is_file():
        return SHIPPED_MODEL
    return make_random_recurrent_model(Path(tmp_dir) / "random.onnx")
