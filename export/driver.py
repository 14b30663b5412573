"""The export half of the one driver, the same for every recipe:

    run directory -> the recipe's inference graph (step or window) -> tf2onnx -> parity with the
    trained model through the daemon's runner -> [int8] -> held-out NLL next to baselines
    -> metadata -> X.onnx [-> model card]

Nothing is written to X.onnx unless conversion, parity and evaluation all succeed. `verify_run`
repeats the parity check of a file against the run it came from.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path
from typing import Any

from improvd.daemon import tokenizers
from improvd.daemon.artifact import ModelInfo, build_info
from improvd.daemon.runner import open_session
from improvd.training import evaluate
from improvd.training.driver import describe_layers, load_trained
from improvd.training.recipes import recipe as recipe_named
from improvd.training.run_dir import load_splits, read_run_info

from .quantize import quantize_model
from .to_onnx import convert, set_metadata
from .verify import check_parity

log = logging.getLogger(__name__)


def export_run(run_dir: Path, out_path: Path, *, quantize: bool = False) -> ModelInfo:
    """A finished run directory -> one verified, evaluated .onnx file; returns its metadata."""
    run_dir, out_path = Path(run_dir), Path(out_path)
    recipe = recipe_named(read_run_info(run_dir)["recipe"])
    config, model, run = load_trained(recipe, run_dir)
    graph = recipe.inference_graph(config, model)
    splits = load_splits(run_dir)
    info = build_info(
        recipe.name, graph.kind,
        # This build's spec of the run's tokenizer (its live-input settings may be newer).
        tokenizers.from_spec(run["tokenizer"]).spec(), graph.context_length,
        states=graph.states,
        training={**training_record(run, model), "generation": recipe.generation(config)})
    with tempfile.TemporaryDirectory(prefix="improvd-export-") as tmp:
        float_path = Path(tmp) / "float.onnx"
        convert(graph.function, float_path, info)
        metrics: dict[str, Any] = {**run.get("metrics", {}),
                                   "parity": check_parity(float_path, graph, splits["test"])}
        model_path = float_path
        if quantize:
            model_path = quantize_model(float_path, Path(tmp) / "int8.onnx")
            metrics["float_model"] = evaluate.evaluate_onnx(float_path, splits["test"])
        metrics.update(evaluate.evaluate(model_path, splits["train"], splits["test"]))
        metrics["quantized"] = quantize
        info = dataclasses.replace(info, metrics=metrics)
        set_metadata(model_path, info, out_path)
    log.info("exported %s: a %s model, context %d", out_path, info.kind, info.context_length)
    return info


def training_record(run: dict[str, Any], model) -> dict[str, Any]:
    """What the model file keeps of its run: the summary, data, config, architecture, machine."""
    data = {k: v for k, v in run.get("data", {}).items() if k not in ("test_pieces",)}
    return {**run.get("training", {}), "data": data, "config": run["config"],
            "size": run.get("size"), "architecture": describe_layers(model),
            "parameters": model.count_params(), "machine": run.get("machine"),
            "command": run.get("command")}


def verify_run(onnx_path: Path, run_dir: Path) -> dict:
    """`improvd verify X.onnx --run DIR`: the file against its run's trained weights, on the
    run's test split, with the check export made."""
    _, info = open_session(onnx_path)  # a bad file is reported before TensorFlow loads
    if info.metrics.get("quantized"):
        from .verify import ParityError

        raise ParityError(f"{onnx_path}: int8 weights cannot match the run to 1e-4; parity was "
                          "checked on the float32 export before quantizing, and the int8 file "
                          "is judged by its held-out figures (its card)")
    recipe = recipe_named(info.recipe)
    config, model, _ = load_trained(recipe, Path(run_dir))
    return check_parity(Path(onnx_path), recipe.inference_graph(config, model),
                        load_splits(run_dir)["test"])
