"""TensorFlow -> ONNX with tf2onnx: named inputs and outputs, the improvd metadata, atomic writes.

`convert` takes any recipe's inference graph (a Keras model or a plain function of TF ops) and
wraps it in a tf.function that returns a dict, because tf2onnx names graph outputs after dict
keys; the input TensorSpec names become the graph's input names. Both sets of names come from
the artifact contract (ModelInfo), so the file always matches its own metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import onnx
import tensorflow as tf
import tf2onnx

from improvd.daemon.artifact import RECURRENT, ModelInfo, set_metadata_props
from improvd.daemon.atomic import atomic_path

log = logging.getLogger(__name__)

OPSET = 17


class ExportError(RuntimeError):
    pass


def input_signature(info: ModelInfo) -> list[tf.TensorSpec]:
    """recurrent: token [batch, 1] int32 then each state [batch, units]; window: tokens [1, n]."""
    if info.kind == RECURRENT:
        return [tf.TensorSpec([None, 1], tf.int32, name=info.input_names[0])] + [
            tf.TensorSpec([None, *s.shape[1:]], tf.float32, name=s.input) for s in info.states]
    return [tf.TensorSpec([1, None], tf.int32, name=info.input_names[0])]


def _named_function(graph: Callable, signature: list[tf.TensorSpec],
                    output_names: list[str]) -> Callable:
    """A tf.function over `signature` whose result is {output name: tensor}."""
    def named(*inputs):
        outputs = graph(list(inputs) if len(inputs) > 1 else inputs[0])
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        if len(output_names) != len(outputs):
            raise ExportError(f"{len(outputs)} outputs but {len(output_names)} output names: "
                              f"{output_names}")
        # Identity so two names never alias one tensor (e.g. an LSTM's output and its h state).
        return {n: tf.identity(t, name=n) for n, t in zip(output_names, outputs)}

    return tf.function(named, input_signature=signature)


def convert(graph: Callable, out_path: Path, info: ModelInfo,
            output_names: list[str] | None = None) -> Path:
    """Converts `graph` (inputs and outputs in the contract's order), checks the graph's names
    against `info`, stores the metadata and writes atomically. `output_names` defaults to the
    contract's; other names are an ExportError."""
    signature = input_signature(info)
    fn = _named_function(graph, signature, output_names or info.output_names)
    model_proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=OPSET)
    graph_names = {i.name for i in model_proto.graph.input} | {
        o.name for o in model_proto.graph.output}
    missing = set(info.input_names + info.output_names) - graph_names
    if missing:
        raise ExportError(f"converted graph lacks {sorted(missing)}; it has {sorted(graph_names)}")
    set_metadata_props(model_proto, info)
    onnx.checker.check_model(model_proto)
    write_model(model_proto, out_path)
    log.info("wrote %s (%.1f kB)", out_path, Path(out_path).stat().st_size / 1e3)
    return Path(out_path)


def write_model(model_proto: onnx.ModelProto, out_path: Path) -> None:
    """A half-written file must never look like a model."""
    with atomic_path(out_path) as tmp:
        onnx.save_model(model_proto, str(tmp))


def set_metadata(src: Path, info: ModelInfo, out_path: Path) -> Path:
    """Copies `src` to `out_path` (atomically) with its improvd metadata replaced by `info`."""
    model_proto = onnx.load(str(src))
    set_metadata_props(model_proto, info)
    write_model(model_proto, Path(out_path))
    return Path(out_path)
