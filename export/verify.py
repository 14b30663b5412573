"""Parity: the exported file, run by the daemon's own runner, against the trained TensorFlow model.

One check for every recipe: held-out token sequences are fed to the ONNX runner one token at a
time (as the daemon feeds it), and its logits after each token are compared with the trained
model's at every position the recipe's reference can predict (training/recipe.py): the whole
sequence for a causal model, the last N tokens for a window model, one full window for a model
trained on whole windows only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from improvd.daemon.runner import load_runner
from improvd.training.recipe import InferenceGraph

log = logging.getLogger(__name__)

TOLERANCE = 1e-4


class ParityError(AssertionError):
    pass


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ParityError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def runner_logits(runner, tokens) -> np.ndarray:
    """[time, vocab]: the logits after each token, fed one at a time from a fresh state."""
    runner.reset()
    return np.stack([runner.advance(int(t)).copy() for t in tokens])


def parity_pieces(sequences, length: int, pieces: int) -> list[np.ndarray]:
    """The first `pieces` held-out sequences of at least `length` tokens, cut to `length`; when
    none is that long, the held-out sequences end to end."""
    long_enough = [s for s in sequences if len(s) >= length]
    if not long_enough:
        long_enough = [np.concatenate([np.asarray(s) for s in sequences])] if sequences else []
    return [np.asarray(s[:length]) for s in long_enough[:pieces]]


def check_parity(onnx_path: Path, graph: InferenceGraph, sequences, *, pieces: int = 3,
                 tol: float = TOLERANCE) -> dict:
    """-> the worst difference seen; ParityError when it is over `tol` or nothing was checked."""
    runner = load_runner(onnx_path)
    chosen = parity_pieces(sequences, graph.parity_tokens, pieces)
    worst, checked = 0.0, 0
    for tokens in chosen:
        positions, want = graph.reference(tokens)
        if len(positions) == 0:
            continue
        worst = max(worst, max_abs_diff(want, runner_logits(runner, tokens)[positions]))
        checked += len(positions)
    if not checked:
        raise ParityError(f"{onnx_path}: no held-out sequence of {graph.parity_tokens} tokens "
                          "to check parity on")
    report = {"onnx_vs_tf_max_abs_diff": worst, "tokens_checked": checked,
              "pieces": len(chosen), "tol": tol, "ok": worst <= tol}
    print(f"parity: ONNX vs TF (through the daemon's runner) on {checked} held-out positions of "
          f"{len(chosen)} pieces: max |logit diff| {worst:.2e} (tol {tol:g})")
    if worst > tol:
        raise ParityError(f"{onnx_path}: ONNX vs TF max |logit diff| {worst:.3g} exceeds {tol:g}")
    return report


def check_file(onnx_path: Path) -> dict:
    """What needs only the file: the contract loads, logits are finite, reset reproduces them."""
    runner = load_runner(onnx_path)  # the daemon's own loader: the contract is checked here
    tokens = np.arange(min(64, runner.vocab_size)) % runner.vocab_size
    first, again = runner_logits(runner, tokens), runner_logits(runner, tokens)
    if not np.all(np.isfinite(first)):
        raise ParityError(f"{onnx_path}: non-finite logits")
    diff = max_abs_diff(first, again)
    if diff > 0.0:
        raise ParityError(f"{onnx_path}: logits after a reset differ by {diff:.3g}")
    print(f"{onnx_path}: {runner.info.recipe} ({runner.info.kind}) loads and runs; "
          "reset reproduces logits exactly")
    return {"rerun_max_abs_diff": diff}
