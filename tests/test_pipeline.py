"""The performance-lstm pipeline through its real parts: TensorFlow training on real music21
pieces -> tf2onnx export -> parity check -> the daemon's runner -> sampled tokens -> events.
Tiny config (1 x LSTM(32), a few steps) so it runs in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from driver_support import train_export_verify

from improvd.daemon.__main__ import main
from improvd.daemon.events import Event
from improvd.daemon.runner import OnnxRecurrentRunner, load_runner
from improvd.training.run_dir import epochs_done
from improvd.training.train import read_history

pytestmark = pytest.mark.slow


def improvd(*argv: str) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return train_export_verify("performance-lstm", tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def tiny_run(made):
    return made["run"]


@pytest.fixture(scope="module")
def tiny_model(made):
    return made["onnx"], made["card"]


def test_training_writes_a_complete_run_directory(tiny_run):
    assert any((tiny_run / "tensorboard").rglob("events.out.tfevents*"))
    run = json.loads((tiny_run / "run.json").read_text())
    assert run["recipe"] == "performance-lstm" and run["tokenizer"]["name"] == "performance"
    assert run["data"]["pieces"]["train"] > 0 and run["data"]["pieces"]["test"] > 0
    history = read_history(tiny_run)
    assert len(history["loss"]) == run["training"]["epochs"] == 2
    # Real training on real data moves the loss down from the uniform guess (log 388 = 5.96).
    assert history["val_loss"][-1] < np.log(388)


def test_export_verify_load_sample_decode(tiny_run, tiny_model, capsys):
    model, card = tiny_model
    assert model.stat().st_size < 10_000_000
    assert improvd("verify", model, "--run", tiny_run) == 0
    assert "ONNX vs TF" in capsys.readouterr().out

    runner = load_runner(model)
    assert isinstance(runner, OnnxRecurrentRunner)
    info = runner.info
    assert info.recipe == "performance-lstm" and info.kind == "recurrent"
    assert [s.input for s in info.states] == ["state_in_0_h", "state_in_0_c"]
    parity = info.metrics["parity"]
    assert parity["onnx_vs_tf_max_abs_diff"] <= 1e-4
    assert info.metrics["model"]["tokens"] > 0 and "markov-5" in info.metrics["baselines"]

    # Prime with a held-out phrase, then sample: the daemon's loop in miniature.
    test_tokens = np.load(tiny_run / "splits.npz")["test_tokens"][:32]
    for t in test_tokens:
        logits = runner.advance(int(t))
    rng = np.random.default_rng(0)
    sampled = []
    for _ in range(200):
        p = np.exp(logits - logits.max())
        token = int(rng.choice(len(p), p=p / p.sum()))
        sampled.append(token)
        logits = runner.advance(token)
    events = runner.tokenizer.decode(sampled)
    assert all(isinstance(e, Event) for e in events)
    ons = [e for e in events if e.kind == "note_on"]
    offs = [e for e in events if e.kind == "note_off"]
    assert ons and len(ons) == len(offs)  # every sounding note is closed
    assert all(b.time >= a.time for a, b in zip(events, events[1:]))

    text = card.read_text()
    assert f"{info.metrics['model']['nll']:.4f}" in text and "markov-5" in text
    assert "Embedding(388, 16) -> LSTM(32) -> Dense(388)" in text


def test_evaluate_by_source_scores_each_collection_next_to_markov(tiny_run, tiny_model,
                                                                  tmp_path, capsys):
    model, _ = tiny_model
    out = tmp_path / "eval.json"
    assert improvd("evaluate", model, "--run", tiny_run, "--by-source", "--json", out) == 0
    result = json.loads(out.read_text())
    bach = result["by_source"]["bach"]  # the tiny size reads music21:bach only
    assert bach["pieces"] == result["model"]["pieces"]
    assert bach["model"]["nll"] == pytest.approx(result["model"]["nll"])
    assert bach["markov-5"] == pytest.approx(result["baselines"]["markov-5"]["nll"])
    assert "bach" in capsys.readouterr().out


def test_resume_continues_from_last_epoch(tiny_run, tmp_path):
    resumed = tmp_path / "resumed"
    shutil.copytree(tiny_run, resumed)
    before = read_history(resumed)
    assert improvd("train", "--size", "tiny", "--out", resumed, "--resume", "--epochs", "3") == 0
    after = read_history(resumed)
    assert len(after["loss"]) == 3
    assert after["loss"][:2] == before["loss"][:2]  # the first two epochs were not re-run
    assert epochs_done(resumed) == 3
    assert json.loads((resumed / "run.json").read_text())["training"]["epochs"] == 3


def test_resume_takes_new_dynamics_from_the_size_table(tiny_run, tmp_path):
    """Fine-tuning a copy of a run with velocity augmentation: --resume keeps the run's model and
    data but takes the velocity keys (and time budget) from the chosen size's table."""
    from improvd.training.recipes import config_path

    resumed = tmp_path / "resumed"
    shutil.copytree(tiny_run, resumed)
    saved = json.loads((resumed / "run.json").read_text())["config"]
    config = tmp_path / "dyn.toml"
    config.write_text(config_path("performance-lstm").read_text() + """
[tiny-dyn]
layers = 7
velocity_levels = [50, 60]
velocity_swell = 0
velocity_jitter = 1
""")
    assert improvd("train", "--size", "tiny-dyn", "--config", config, "--out", resumed,
                   "--resume", "--epochs", "3") == 0
    run = json.loads((resumed / "run.json").read_text())
    assert run["config"]["velocity_levels"] == [50, 60] and run["config"]["velocity_jitter"] == 1
    assert run["config"]["layers"] == saved["layers"]  # the model is the run's own
    assert run["config"]["time_limit_min"] == 0.0 and saved["velocity_levels"] == [30, 120]


def test_quantize_reports_nll_change(tiny_run, tiny_model, tmp_path, capsys):
    model, _ = tiny_model
    out = tmp_path / "int8.onnx"
    assert improvd("quantize", model, "--out", out, "--run", tiny_run) == 0
    assert "held-out NLL" in capsys.readouterr().out
    assert load_runner(out).info.recipe == "performance-lstm"  # metadata carried over


def test_the_held_out_split_is_rebuilt_from_the_model_files_metadata(tiny_run, tiny_model):
    from improvd.training.held_out import held_out
    from improvd.training.run_dir import load_splits

    model, _ = tiny_model
    rebuilt, kept = held_out(load_runner(model).info, model), load_splits(tiny_run)["test"]
    assert len(rebuilt) == len(kept) > 0
    assert all(np.array_equal(a, b) for a, b in zip(rebuilt, kept, strict=True))


def test_quantize_with_a_card_describes_the_int8_file(tiny_run, tiny_model, tmp_path, capsys):
    model, _ = tiny_model
    out, card = tmp_path / "int8.onnx", tmp_path / "int8.md"
    # No --run: the held-out split comes from the model's own metadata.
    assert improvd("quantize", model, "--out", out, "--card", card) == 0
    metrics = load_runner(out).info.metrics
    assert metrics["quantized"] is True
    assert metrics["model"]["tokens"] == metrics["float_model"]["tokens"] > 0
    assert metrics["model"]["nll"] != metrics["float_model"]["nll"]  # each scored on its own
    text = card.read_text()
    assert "int8 dynamic-quantized weights" in text and "same model, float32 weights" in text
    assert f"held-out NLL {metrics['float_model']['nll']:.4f} -> " in capsys.readouterr().out
    # Parity with the run is a float32 check: asked of the int8 file, it says why not.
    assert improvd("verify", out, "--run", tiny_run) == 2
    assert "parity was checked on the float32 export" in capsys.readouterr().err


def test_export_quantize_writes_the_int8_file_and_its_card(tiny_run, tmp_path, capsys):
    # The path `make train-default` takes: export, parity on float32, then int8 and its card.
    out, card = tmp_path / "default.onnx", tmp_path / "default.md"
    assert improvd("export", "--run", tiny_run, "--out", out, "--quantize", "--card", card) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    metrics = load_runner(out).info.metrics
    assert metrics["quantized"] is True and metrics["parity"]["onnx_vs_tf_max_abs_diff"] <= 1e-4
    assert metrics["model"]["tokens"] == metrics["float_model"]["tokens"] > 0
    assert metrics["model"]["nll"] != metrics["float_model"]["nll"]  # each scored on its own
    assert "int8 dynamic-quantized weights" in card.read_text()


MIRRORED = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from improvd.daemon.__main__ import main
sys.exit(main(["train", "--size", "tiny", "--out", sys.argv[1], "--strategy", "mirrored",
               "--epochs", "1", "--steps", "2"]))
"""


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    run = tmp_path / "mirrored"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", MIRRORED, str(run)], capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["strategy"] == "mirrored" and info["replicas"] == 2
    assert (run / "best.weights.h5").is_file()
