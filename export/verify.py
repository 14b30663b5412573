"""Parity checks: onnxruntime (through the daemon's own runner) against TensorFlow.

compare_logits is generic (window recipes reuse it); verify_recurrent checks a recurrent recipe:
  ONNX step by step  ==  TF whole-sequence model  ==  TF step model, on held-out sequences.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from improvd.daemon.runner import load_runner

log = logging.getLogger(__name__)

TOLERANCE = 1e-4


class ParityError(AssertionError):
    pass


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ParityError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare_logits(tf_logits, onnx_logits, tol: float = TOLERANCE, what: str = "ONNX vs TF",
                   raise_on_fail: bool = True) -> dict:
    """-> {"what", "max_abs_diff", "tol", "ok"}; raises ParityError when over `tol`."""
    diff = max_abs_diff(tf_logits, onnx_logits)
    report = {"what": what, "max_abs_diff": diff, "tol": tol, "ok": diff <= tol}
    log.info("%s: max |diff| %.3g (tol %.0e)", what, diff, tol)
    if raise_on_fail and not report["ok"]:
        raise ParityError(f"{what}: max |logit diff| {diff:.3g} exceeds {tol:g}")
    return report


def runner_logits(runner, tokens) -> np.ndarray:
    """[time, vocab]: the logits after each token, fed one at a time from a fresh state."""
    runner.reset()
    return np.stack([runner.advance(int(t)).copy() for t in tokens])


def verify_recurrent(onnx_path: Path, recipe, config, model, step, seqs, *, pieces: int = 3,
                     max_tokens: int = 200, tol: float = TOLERANCE) -> dict:
    """Raises ParityError on a mismatch; returns the worst differences seen."""
    runner = load_runner(onnx_path)
    chosen = [s[:max_tokens] for s in seqs if len(s) >= 2][:pieces]
    if not chosen:
        raise ParityError("no held-out sequence of at least 2 tokens to check parity on")
    worst_onnx = worst_step = 0.0
    for tokens in chosen:
        reference = recipe.full_logits(model, tokens)
        onnx_report = compare_logits(reference, runner_logits(runner, tokens), tol,
                                     "ONNX step vs TF sequence")
        worst_onnx = max(worst_onnx, onnx_report["max_abs_diff"])
        worst_step = max(worst_step, compare_logits(
            reference, recipe.step_logits(step, config, tokens), tol,
            "TF step vs TF sequence")["max_abs_diff"])
    report = {"onnx_vs_tf_max_abs_diff": worst_onnx, "tf_step_vs_sequence_max_abs_diff": worst_step,
              "tokens_checked": int(sum(len(t) for t in chosen)), "tol": tol}
    print(f"parity on {report['tokens_checked']} held-out tokens ({len(chosen)} pieces): "
          f"ONNX vs TF {worst_onnx:.2e}, TF step vs TF sequence {worst_step:.2e} (tol {tol:g})")
    return report


def verify_file(onnx_path: Path, run_dir: Path | None = None) -> dict:
    """`improvd verify`: with a run directory, full parity against its TF weights on the run's test
    split; without one, the checks that need only the file (contract, finite, deterministic)."""
    runner = load_runner(onnx_path)  # the daemon's own loader: the contract is checked here
    if run_dir is None:
        tokens = np.arange(min(64, runner.vocab_size)) % runner.vocab_size
        first, again = runner_logits(runner, tokens), runner_logits(runner, tokens)
        if not np.all(np.isfinite(first)):
            raise ParityError(f"{onnx_path}: non-finite logits")
        report = compare_logits(first, again, 0.0, "ONNX rerun after reset")
        print(f"{onnx_path}: {runner.info.recipe} ({runner.info.kind}) loads and runs; "
              f"reset reproduces logits exactly (max |diff| {report['max_abs_diff']:.1e})")
        return report
    from improvd.training.recipes import get_recipe
    from improvd.training.train import load_splits

    recipe = get_recipe(runner.info.recipe)
    config, model = recipe.load_trained(run_dir)
    step = recipe.build_step(config, model)
    return verify_recurrent(onnx_path, recipe, config, model, step, load_splits(run_dir)["test"])
