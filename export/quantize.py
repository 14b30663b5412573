"""Optional int8 dynamic quantization of an exported model, and what it costs in held-out NLL.

Dynamic quantization stores MatMul weights as int8 and quantizes activations on the fly: a smaller
file and, on some CPUs, faster steps. Whether the music survives is measured, not assumed:
`compare` reports the NLL of both models on the same held-out sequences.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from improvd.daemon.artifact import METADATA_KEY, ModelInfo
from improvd.daemon.atomic import atomic_path
from improvd.training.evaluate import evaluate_onnx

from .to_onnx import set_metadata

log = logging.getLogger(__name__)


def quantize_model(src: Path, out_path: Path) -> Path:
    """int8 weights; the improvd metadata is carried over. Writes atomically."""
    src, out_path = Path(src), Path(out_path)
    with tempfile.TemporaryDirectory(prefix="improvd-quantize-") as tmp:
        raw = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(src), str(raw), weight_type=QuantType.QInt8)
        quantized = onnx.load(str(raw))
        original = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
        del quantized.metadata_props[:]
        for key, value in original.items():
            entry = quantized.metadata_props.add()
            entry.key, entry.value = key, value
        if METADATA_KEY not in original:
            log.warning("%s has no %s metadata; the daemon will refuse it", src, METADATA_KEY)
        with atomic_path(out_path) as tmp_out:
            onnx.save_model(quantized, str(tmp_out))
    log.info("quantized %s (%.0f kB) -> %s (%.0f kB)", src, src.stat().st_size / 1e3, out_path,
             out_path.stat().st_size / 1e3)
    return out_path


def compare(float_path: Path, int8_path: Path, seqs) -> dict:
    """Held-out NLL and accuracy of both models on the same sequences, and the change."""
    before, after = evaluate_onnx(float_path, seqs), evaluate_onnx(int8_path, seqs)
    report = {
        "float": before, "int8": after,
        "nll_change": after["nll"] - before["nll"],
        "size_bytes": {"float": Path(float_path).stat().st_size,
                       "int8": Path(int8_path).stat().st_size},
    }
    print(f"held-out NLL {before['nll']:.4f} -> {after['nll']:.4f} nats/token "
          f"({report['nll_change']:+.4f}); accuracy {before['accuracy']:.4f} -> "
          f"{after['accuracy']:.4f}; size {report['size_bytes']['float'] / 1e3:.0f} kB -> "
          f"{report['size_bytes']['int8'] / 1e3:.0f} kB")
    return report


def quantized_info(float_path: Path, int8_path: Path, info: ModelInfo, seqs) -> ModelInfo:
    """`info` (the float model's) for its int8 copy: the held-out figures become the int8 model's,
    the float model's are kept beside as float_model, both scored now on the same `seqs`. The
    baselines stay (they were fitted and scored on the same split)."""
    metrics = {**info.metrics, "float_model": evaluate_onnx(float_path, seqs),
               "model": evaluate_onnx(int8_path, seqs), "quantized": True}
    return dataclasses.replace(info, metrics=metrics)


def quantize_described(src: Path, out_path: Path, info: ModelInfo, seqs) -> ModelInfo:
    """int8 copy of `src` at out_path whose metadata (and so its card) tell the int8 figures."""
    with tempfile.TemporaryDirectory(prefix="improvd-quantize-") as tmp:
        raw = quantize_model(src, Path(tmp) / "int8.onnx")
        described = quantized_info(src, raw, info, seqs)
        set_metadata(raw, described, out_path)
    return described
