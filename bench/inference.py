"""Figure 1: per-token inference at batch 1, three ways, same weights, same run.

  onnx step      the daemon's way: improvd's OnnxRecurrentRunner.advance(token), one thread, state
                 carried, O(1) per token
  seeds' way     Keras `model.predict` on the whole context window for every note, as the seed
                 notebooks generate
  TF eager       the Keras step graph called eagerly with the state carried

The Keras graphs hold the .onnx file's own weights (bench/keras_weights.py), checked for parity
first. The machine is shared and noisy, so the three are measured in interleaved rounds and
compared by medians and ratios.

An int8 model (the shipped one is) is also timed against its float32 twin: the Keras step graph,
which holds the int8 weights dequantized, converted with tf2onnx as export does. The twin is what
the parity check is run on (Keras and onnxruntime then compute the same thing), and how far the
int8 logits are from it is reported beside.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from . import common, harness

log = logging.getLogger(__name__)

NAME = "inference"
ONNX_P99_MS = 0.2
MIN_SPEEDUP = 250.0


def phrase_tokens(tokenizer, length: int) -> np.ndarray:
    """A real performance-token stream (a scale in eighths with varied dynamics), `length` long."""
    from improvd.daemon.events import Note, notes_to_events

    scale = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
    notes = [Note(scale[i % len(scale)], 50 + (i * 13) % 70, i * 0.25, i * 0.25 + 0.2)
             for i in range(length)]
    ids = tokenizer.encode(notes_to_events(notes))
    return np.asarray((ids * (length // len(ids) + 1))[:length], dtype=np.int32)


def stepper(runner, tokens: np.ndarray):
    """A call that feeds `runner` the next token of `tokens` (round and round)."""
    at = {"i": 0}

    def step():
        i = at["i"] = at["i"] + 1
        runner.advance(int(tokens[i % len(tokens)]))

    return step


def float_twin(step, info, tmp: Path):
    """The float32 runner of an int8 model: its Keras step graph (dequantized weights) through
    tf2onnx, as export converts."""
    from improvd.daemon.runner import load_runner
    from improvd.export.to_onnx import convert

    return load_runner(convert(step, tmp / "float32-twin.onnx", info), "cpu", threads=1)


def logits_gap(runner, other, tokens: np.ndarray) -> float:
    """max |logits| difference of two runners fed the same tokens from a fresh state."""
    from improvd.export.verify import runner_logits

    gap = float(np.abs(runner_logits(runner, tokens) - runner_logits(other, tokens)).max())
    runner.reset()
    other.reset()
    return gap


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR) -> dict:
    from improvd.daemon.runner import load_runner

    rounds, onnx_n, eager_n, predict_n = (1, 100, 5, 2) if quick else (5, 400, 40, 10)
    with tempfile.TemporaryDirectory(prefix="improvd-bench-") as tmp:
        path, described = common.model_under_test(Path(tmp))
        runner = load_runner(path, "cpu", threads=1)
        window = runner.info.context_length
        tokens = phrase_tokens(runner.tokenizer, max(window, onnx_n) + 1)

        import tensorflow as tf

        from .keras_weights import check_parity, is_quantized, keras_models

        config, model, step = keras_models(path, runner.info)
        twin = float_twin(step, runner.info, Path(tmp)) if is_quantized(path) else None
    parity = check_parity(twin or runner, config, model, step, tokens[:64])
    if twin is not None:
        parity["int8_vs_float32_twin"] = logits_gap(runner, twin, tokens[:64])

    states = [tf.zeros((1, config.units)) for _ in range(2 * config.layers)]
    eager_state = {"states": states, "i": 0}

    def eager_step():
        i = eager_state["i"] = eager_state["i"] + 1
        token = tf.constant([[int(tokens[i % len(tokens)])]], dtype=tf.int32)
        _, *eager_state["states"] = step([token, *eager_state["states"]], training=False)

    window_batch = tokens[None, -window:]

    def seeds_predict():
        model.predict(window_batch, verbose=0)

    onnx_step, twin_step = stepper(runner, tokens), twin and stepper(twin, tokens)
    for fn in (onnx_step, eager_step, seeds_predict, twin_step):  # first calls build and trace
        if fn is not None:
            common.time_calls(fn, 3)
    onnx_s, eager_s, predict_s, twin_s, stolen = [], [], [], [], []
    preempted = 0  # times this thread (onnxruntime runs on it with one thread) lost the CPU
    for r in range(rounds):  # interleaved, so a load spike hits all three alike
        before = common.involuntary_switches()
        # As the daemon's engine thread steps the model: one core (no migration, a warm cache),
        # SCHED_FIFO where permitted (a normal process waits; the engine would not either).
        with common.as_the_engine_thread(harness.realtime_priority) as (pinned_to, fifo):
            onnx_s += common.time_calls(onnx_step, onnx_n)
            if twin_step is not None:
                twin_s += common.time_calls(twin_step, onnx_n)
            stolen.append(common.stolen_time(0.2))  # what the machine takes, same thread
        preempted += common.involuntary_switches() - before
        eager_s += common.time_calls(eager_step, eager_n)
        predict_s += common.time_calls(seeds_predict, predict_n)
        log.info("round %d/%d done", r + 1, rounds)
    onnx, eager, seeds = (common.stats(s, 1000) for s in (onnx_s, eager_s, predict_s))
    twin_ms = common.stats(twin_s, 1000) if twin_s else None
    gaps_per_s = float(np.mean([g["gaps_per_s"] for g in stolen]))
    big_gaps_per_s = float(np.mean([g["gaps_over_50us_per_s"] for g in stolen]))
    lost_pct = float(np.mean([g["time_lost_pct"] for g in stolen]))
    speedup = seeds["p50"] / onnx["p50"]
    slow = sum(1 for s in onnx_s if s > 1e-3)
    figures = [
        common.figure("1. ONNX step p99 (batch 1, one thread)", onnx["p99"], "ms",
                      f"<= {ONNX_P99_MS} ms", lambda v: v <= ONNX_P99_MS,
                      f"{'int8' if twin else 'float32'} weights; "
                      f"p50 {onnx['p50']:.3f} ms over {onnx['n']} steps; {slow} steps over 1 ms, "
                      f"the thread was preempted {preempted} times while timing them; "
                      + (f"pinned to CPU {pinned_to}" if pinned_to is not None else "not pinned")
                      + (f", SCHED_FIFO {fifo} as the daemon's engine thread" if fifo
                         else ", normal priority (SCHED_FIFO not permitted)")),
        *([] if twin_ms is None else [common.figure(
            "1. ONNX step, int8 vs its float32 twin (p99 ratio)", onnx["p99"] / twin_ms["p99"],
            "x", "report only", None,
            f"float32 twin p50 {twin_ms['p50']:.3f} / p99 {twin_ms['p99']:.3f} ms, interleaved "
            f"with the int8 steps on the same thread; int8 logits within "
            f"{parity['int8_vs_float32_twin']:.3f} of the twin's")]),
        common.figure("1. machine: interruptions of a thread that never sleeps", gaps_per_s,
                      "per s", "report only", None,
                      f"the ONNX steps' thread reading the clock in a tight loop, {len(stolen)} x "
                      f"0.2 s between the steps' rounds: {gaps_per_s:,.0f} gaps over 20 us a "
                      f"second ({big_gaps_per_s:,.0f} over 50 us), {lost_pct:.1f}% of its time "
                      f"lost; a step of p50 {onnx['p50']:.3f} ms is hit by one about "
                      f"{100 * gaps_per_s * onnx['p50'] / 1000:.0f}% of the time"),
        common.figure("1. ONNX step vs seeds' predict-per-note (p50 ratio)", speedup, "x",
                      f">= {MIN_SPEEDUP:.0f}x", lambda v: v >= MIN_SPEEDUP,
                      f"predict on a {window}-token window: p50 {seeds['p50']:.1f} ms, "
                      f"p99 {seeds['p99']:.1f} ms"),
        common.figure("1. ONNX step vs TF eager step (p50 ratio)", eager["p50"] / onnx["p50"],
                      "x", "report only", None,
                      f"TF eager p50 {eager['p50']:.2f} ms, p99 {eager['p99']:.2f} ms"),
    ]
    common.histogram({"onnx step (ms)": np.asarray(onnx_s) * 1000,
                      **({"float32 twin step (ms)": np.asarray(twin_s) * 1000} if twin_s else {}),
                      "TF eager step (ms)": np.asarray(eager_s) * 1000,
                      "Keras predict on the window (ms)": np.asarray(predict_s) * 1000},
                     results_dir / f"{NAME}.png", "per-token inference, batch 1")
    details = {
        "model": described, "recipe": runner.info.recipe,
        "weights": "int8" if twin is not None else "float32",
        "float32_twin_step_ms": twin_ms,
        "config": {"layers": config.layers, "units": config.units, "embed_dim": config.embed_dim},
        "window_tokens": window, "parity_max_abs_diff": parity,
        "onnx_step_ms": onnx, "onnx_steps_over_1ms": slow, "onnx_thread_preempted": preempted,
        "onnx_thread_pinned_to_cpu": pinned_to, "onnx_thread_sched_fifo": fifo,
        "onnx_step_p90_ms": float(np.percentile(onnx_s, 90) * 1000),
        "machine_interruptions": stolen,
        "tf_eager_step_ms": eager, "seeds_predict_ms": seeds,
        "ratios": {"seeds_p50_over_onnx_p50": speedup,
                   "seeds_p99_over_onnx_p99": seeds["p99"] / onnx["p99"],
                   "eager_p50_over_onnx_p50": eager["p50"] / onnx["p50"]},
        "threads": {"onnxruntime_intra_op": 1,
                    "tensorflow_intra_op": tf.config.threading.get_intra_op_parallelism_threads()
                    or "default (all cores)"},
        "rounds": rounds,
    }
    out = common.result(NAME, quick, figures, details)
    common.write_result(NAME, out, results_dir)
    return out
