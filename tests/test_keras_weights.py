"""The bench's rebuild of Keras weights from a .onnx file: int8 weights come back dequantized
under their own names, as onnxruntime multiplies by them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # bench/ is a top-level folder, not an installed package
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.keras_weights import dequantized, is_quantized


def test_int8_and_uint8_weights_come_back_as_scale_times_offset_from_zero_point():
    inits = {"k_quantized": np.array([[-128, 0, 127]], np.int8),
             "k_scale": np.array(0.5, np.float32), "k_zero_point": np.array(0, np.int8),
             "e_quantized": np.array([0, 128, 255], np.uint8),
             "e_scale": np.array(0.25, np.float32), "e_zero_point": np.array(128, np.uint8),
             "bias": np.array([1.5], np.float32)}
    out = dequantized(inits)
    np.testing.assert_array_equal(out["k"], [[-64.0, 0.0, 63.5]])
    np.testing.assert_array_equal(out["e"], [-32.0, 0.0, 31.75])
    assert out["k"].dtype == out["e"].dtype == np.float32
    assert out["bias"] is inits["bias"] and is_quantized(inits)
    assert not is_quantized({"bias": inits["bias"]})
