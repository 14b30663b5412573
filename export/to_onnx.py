"""TensorFlow -> ONNX with tf2onnx: named inputs/outputs, the improvd metadata, atomic writes.

`convert` is generic (any recipe: a Keras model or a tf.function); recipes build their step or
window graph and call it. Keras 3 models go through `from_function`: we wrap the model in a
tf.function that returns a dict, because tf2onnx names graph outputs after dict keys, and the
input TensorSpec names become the graph's input names.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import onnx
import tensorflow as tf
import tf2onnx

from improvd.daemon.artifact import METADATA_KEY, ModelInfo

log = logging.getLogger(__name__)

OPSET = 17


class ExportError(RuntimeError):
    pass


def _as_named_function(fn_or_model: Any, input_signature: Sequence[tf.TensorSpec],
                       output_names: list[str] | None) -> Callable:
    """A tf.function over `input_signature` whose result is {output name: tensor}."""
    if isinstance(fn_or_model, tf.types.experimental.GenericFunction) and output_names is None:
        return fn_or_model  # already a tf.function; it names its own outputs (return a dict)

    def named(*inputs):
        outputs = fn_or_model(list(inputs) if len(inputs) > 1 else inputs[0])
        if isinstance(outputs, dict):
            return outputs
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        names = output_names or [f"output_{i}" for i in range(len(outputs))]
        if len(names) != len(outputs):
            raise ExportError(f"{len(outputs)} outputs but {len(names)} output names: {names}")
        # Identity so two names never alias one tensor (e.g. an LSTM's output and its h state).
        return {n: tf.identity(t, name=n) for n, t in zip(names, outputs)}

    return tf.function(named, input_signature=list(input_signature))


def convert(fn_or_model: Any, input_signature: Sequence[tf.TensorSpec], out_path: Path,
            info: ModelInfo, output_names: list[str] | None = None) -> Path:
    """Converts, checks the graph's names against `info`, stores the metadata, writes atomically."""
    out_path = Path(out_path)
    fn = _as_named_function(fn_or_model, input_signature, output_names)
    model_proto, _ = tf2onnx.convert.from_function(fn, input_signature=list(input_signature),
                                                   opset=OPSET)
    graph_names = {i.name for i in model_proto.graph.input} | {
        o.name for o in model_proto.graph.output}
    wanted = set(info.inputs.values()) | set(info.outputs.values())
    for state in info.states:
        wanted |= {state["input"], state["output"]}
    if wanted - graph_names:
        raise ExportError(f"converted graph lacks {sorted(wanted - graph_names)}; "
                          f"it has {sorted(graph_names)}")
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    onnx.checker.check_model(model_proto)
    write_model_atomic(model_proto, out_path)
    log.info("wrote %s (%.1f kB)", out_path, out_path.stat().st_size / 1e3)
    return out_path


def write_model_atomic(model_proto: onnx.ModelProto, out_path: Path) -> None:
    """A half-written file must never look like a model: write beside it, then rename."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        onnx.save_model(model_proto, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files; a shipped model must be readable
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_metadata(src: Path, info: ModelInfo, out_path: Path) -> Path:
    """Copies `src` to `out_path` (atomically) with its improvd metadata replaced by `info`."""
    model_proto = onnx.load(str(src))
    keep = [p for p in model_proto.metadata_props if p.key != METADATA_KEY]
    del model_proto.metadata_props[:]
    model_proto.metadata_props.extend(keep)
    entry = model_proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, info.to_json()
    write_model_atomic(model_proto, Path(out_path))
    return Path(out_path)


def export_recurrent(recipe, run_dir: Path, out_path: Path, *, quantize: bool = False) -> ModelInfo:
    """A recurrent recipe's run directory -> one verified, evaluated .onnx artifact.

    The recipe module supplies load_trained, build_step, state_names, full_logits, step_logits and
    NAME. Nothing is written to `out_path` unless conversion, parity and evaluation all succeed.
    """
    import dataclasses

    from improvd.training import evaluate
    from improvd.training.train import load_splits, read_run_info

    from . import verify
    from .quantize import quantize_model

    run = read_run_info(run_dir)
    config, model = recipe.load_trained(run_dir)
    splits = load_splits(run_dir)
    step = recipe.build_step(config, model)
    names = recipe.state_names(config)
    signature = [tf.TensorSpec([None, 1], tf.int32, name="token")] + [
        tf.TensorSpec([None, config.units], tf.float32, name=name) for name, _ in names]
    data = {k: v for k, v in run.get("data", {}).items() if k != "test_pieces"}
    info = ModelInfo(
        recipe=recipe.NAME, kind="recurrent", tokenizer=run["tokenizer"],
        context_length=config.window, inputs={"token": "token"}, outputs={"logits": "logits"},
        states=[{"input": i, "output": o, "shape": [1, config.units]} for i, o in names],
        training={**run.get("training", {}), "data": data, "config": run["config"],
                  "machine": run.get("machine"), "command": run.get("command")},
    )
    with tempfile.TemporaryDirectory(prefix="improvd-export-") as tmp:
        float_path = Path(tmp) / "float.onnx"
        convert(step, signature, float_path, info, output_names=["logits"] + [o for _, o in names])
        metrics: dict[str, Any] = {"parity": verify.verify_recurrent(
            float_path, recipe, config, model, step, splits["test"])}
        model_path = float_path
        if quantize:
            model_path = quantize_model(float_path, Path(tmp) / "int8.onnx")
            metrics["float_model"] = evaluate.evaluate_onnx(float_path, splits["test"])
        metrics.update(evaluate.evaluate(model_path, splits["train"], splits["test"]))
        metrics["quantized"] = quantize
        info = dataclasses.replace(info, metrics=metrics)
        set_metadata(model_path, info, out_path)
    return info
