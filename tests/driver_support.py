"""Every recipe's path through the one driver, as a user types it: `improvd train --size tiny`
-> `improvd export --card` -> `improvd verify --run`, checking what each step leaves behind."""

from __future__ import annotations

import json
from pathlib import Path

from improvd.daemon.__main__ import main
from improvd.daemon.runner import load_runner


def improvd(*argv) -> int:
    return main([str(a) for a in argv])


def train_export_verify(recipe: str, out: Path, capsys=None) -> dict:
    """Tiny training, export with a card, verify against the run; returns the paths and the
    exported model's metadata. Asserts what every recipe must give."""
    run, onnx, card = out / "run", out / f"{recipe}.onnx", out / f"{recipe}.md"
    assert improvd("train", "--recipe", recipe, "--size", "tiny", "--out", run) == 0
    for name in ("run.json", "splits.npz", "best.weights.h5", "history.csv", "loss.png",
                 "backup/latest.weights.h5"):
        assert (run / name).is_file(), name
    assert improvd("export", "--run", run, "--out", onnx, "--card", card) == 0
    info = load_runner(onnx).info
    assert info.recipe == recipe
    assert info.metrics["parity"]["onnx_vs_tf_max_abs_diff"] <= 1e-4
    assert info.metrics["parity"]["tokens_checked"] > 0
    # The shared held-out evaluation, next to the baselines, for every recipe.
    assert info.metrics["model"]["tokens"] > 0 and "unigram" in info.metrics["baselines"]
    if capsys is not None:
        capsys.readouterr()
    assert improvd("verify", onnx, "--run", run) == 0
    if capsys is not None:
        assert "ONNX vs TF" in capsys.readouterr().out
    text = card.read_text()
    run_info = json.loads((run / "run.json").read_text())
    # The card describes this model: its own layers (read off the Keras model), its figures.
    assert info.training["architecture"] == run_info["architecture"]
    assert run_info["architecture"] in text and f"# {onnx.name}: {recipe}" in text
    assert f"{info.metrics['model']['nll']:.4f}" in text
    return {"run": run, "onnx": onnx, "card": card, "info": info, "card_text": text,
            "run_info": run_info}
