"""Figure 5: a peer side by side, the Continuator-style variable-order Markov responder
(training/baselines.py MarkovModel) against our model, with the same harness.

Both are fitted/evaluated on the default model's own split (bench/data.py): the Markov model is
fitted on the train pieces, and both are scored on the same held-out test tokens (tokens 2..n of
each piece, as `improvd export` scores them). Per-token latency is one next-token distribution
over the whole vocabulary each: runner.advance(token) for ours, next_distribution(last tokens)
for the Markov model, measured in interleaved rounds on the same test tokens.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from . import common, data

log = logging.getLogger(__name__)

NAME = "markov_peer"


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR) -> dict:
    from improvd.daemon.runner import load_runner
    from improvd.training.baselines import MarkovModel
    from improvd.training.evaluate import DEFAULT_MAX_ORDER, evaluate_onnx

    rounds, per_round, test_cap = (1, 100, 300) if quick else (5, 1000, None)
    with tempfile.TemporaryDirectory(prefix="improvd-bench-") as tmp:
        path, described = common.model_under_test(Path(tmp))
        runner = load_runner(path, "cpu", threads=1)
        config = data.recipe_config(runner.info)
        seqs, source = data.splits(config, quick)
        test = [s[:test_cap] for s in seqs["test"]]
        started = time.monotonic()
        markov = MarkovModel(DEFAULT_MAX_ORDER, vocab_size=runner.vocab_size).fit(seqs["train"])
        fit_s = time.monotonic() - started
        ours = evaluate_onnx(path, test)
    markov_nll = markov.nll(test, start=1)
    metadata_nll = ((runner.info.metrics or {}).get("model") or {}).get("nll")

    stream = np.concatenate(test)
    order = markov.max_order
    position = {"onnx": 0, "markov": 0}

    def onnx_step():
        i = position["onnx"] = (position["onnx"] + 1) % len(stream)
        runner.advance(int(stream[i]))

    def markov_step():
        i = position["markov"] = (position["markov"] + 1) % len(stream)
        markov.next_distribution(stream[max(0, i - order):i + 1])

    runner.reset()
    onnx_s, markov_s = [], []
    for _ in range(rounds):
        onnx_s += common.time_calls(onnx_step, per_round)
        markov_s += common.time_calls(markov_step, per_round)
    onnx, peer = common.stats(onnx_s, 1000), common.stats(markov_s, 1000)
    figures = [
        common.figure(f"5. held-out NLL, ours vs Markov-{order} (nats/token)", ours["nll"],
                      "nats", f"< Markov ({markov_nll:.3f})", lambda v: v < markov_nll,
                      f"Markov-{order} {markov_nll:.3f} on the same {ours['tokens']:,} tokens"
                      + (f"; export metadata says {metadata_nll:.3f}" if metadata_nll else "")),
        common.figure(f"5. per-token p50, ours vs Markov-{order}", onnx["p50"], "ms",
                      "report only", None,
                      f"Markov p50 {peer['p50']:.3f} ms, p99 {peer['p99']:.3f} ms; "
                      f"ours p99 {onnx['p99']:.3f} ms"),
    ]
    common.histogram({"ours: onnx step (ms)": np.asarray(onnx_s) * 1000,
                      f"Markov-{order} next distribution (ms)": np.asarray(markov_s) * 1000},
                     results_dir / f"{NAME}.png", "per-token latency, same harness")
    details = {
        "model": described, "data": source, "test_tokens_scored": ours["tokens"],
        "test_capped_at": test_cap,
        "ours": {"nll": ours["nll"], "accuracy": ours["accuracy"],
                 "nll_in_metadata": metadata_nll, "per_token_ms": onnx},
        "markov": {"max_order": order, "nll": markov_nll, "fit_s": fit_s,
                   "train_tokens": int(sum(len(s) for s in seqs["train"])),
                   "per_token_ms": peer},
        "latency_ratio_markov_p50_over_ours_p50": peer["p50"] / onnx["p50"],
    }
    out = common.result(NAME, quick, figures, details)
    common.write_result(NAME, out, results_dir)
    return out
