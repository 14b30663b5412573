"""Held-out evaluation of an exported model, next to simple baselines on the same test split.

The model is scored as the daemon runs it: through improvd.daemon.runner, one token at a time,
over whole test pieces with the state carried from the first token (full context). Each piece
scores its tokens 2..n (the first has no context); the baselines score the same tokens.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from improvd.daemon.runner import load_runner

from . import baselines
from .run_dir import load_splits, read_run_info
from .sources import FOLK_FOLDERS, PIANO_WORKS

log = logging.getLogger(__name__)

DEFAULT_MAX_ORDER = 5


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def evaluate_onnx(model_path: Path, seqs) -> dict:
    """-> {"nll": nats/token, "accuracy": top-1, "tokens": scored tokens, "pieces"}."""
    runner = load_runner(model_path)
    total_nll, correct, count, pieces = 0.0, 0, 0, 0
    for seq in seqs:
        if len(seq) < 2:
            continue
        runner.reset()
        logits = np.stack([runner.advance(int(t)).copy() for t in seq[:-1]])
        targets = np.asarray(seq[1:])
        logp = log_softmax(logits.astype(np.float64))
        total_nll -= float(logp[np.arange(len(targets)), targets].sum())
        correct += int((logits.argmax(axis=-1) == targets).sum())
        count += len(targets)
        pieces += 1
    if count == 0:
        raise ValueError("no test piece has 2 or more tokens to score")
    return {"nll": total_nll / count, "accuracy": correct / count, "tokens": count,
            "pieces": pieces}


def evaluate_baselines(train_seqs, test_seqs, vocab_size: int,
                       max_order: int = DEFAULT_MAX_ORDER) -> dict:
    return baselines.evaluate_baselines(train_seqs, test_seqs, vocab_size, max_order)


def evaluate(model_path: Path, train_seqs, test_seqs, max_order: int = DEFAULT_MAX_ORDER) -> dict:
    """The model and the baselines on the same test split; prints a short table."""
    runner = load_runner(model_path)
    result = {"model": evaluate_onnx(model_path, test_seqs),
              "baselines": evaluate_baselines(train_seqs, test_seqs, runner.vocab_size, max_order)}
    print(format_table(result))
    return result


def format_table(result: dict) -> str:
    rows = [("model", result["model"])] + sorted(result["baselines"].items())
    lines = [f"{'':<16}{'NLL (nats/token)':>18}{'accuracy':>10}"]
    for name, m in rows:
        if isinstance(m, dict) and "nll" in m:
            lines.append(f"{name:<16}{m['nll']:>18.4f}{m.get('accuracy', float('nan')):>10.4f}")
    return "\n".join(lines)


def evaluate_run(model_path: Path, run_dir: Path, max_order: int = DEFAULT_MAX_ORDER,
                 by_source: bool = False) -> dict:
    """`improvd evaluate`: the model against the test split stored in a training run; with
    by_source, also per collection of test pieces (bach, folk, piano...), next to Markov."""
    load_runner(model_path)  # a bad model file is reported before the run is read
    splits = load_splits(run_dir)
    result = evaluate(model_path, splits["train"], splits["test"], max_order)
    if by_source:
        result["by_source"] = evaluate_by_source(model_path, run_dir, splits, max_order)
    return result


def collection(piece_name: str) -> str:
    """"music21:bach/bwv66.6" -> "bach"; the folk collections -> "folk", the keyboard works ->
    "piano" (as sources.py groups them); "midi:x.mid" -> "midi"."""
    kind, _, rest = piece_name.partition(":")
    if kind != "music21":
        return kind
    if rest.startswith(PIANO_WORKS):
        return "piano"
    folder = rest.split("/")[0]
    return "folk" if folder in FOLK_FOLDERS else folder


def evaluate_by_source(model_path: Path, run_dir: Path, splits: dict,
                       max_order: int = DEFAULT_MAX_ORDER) -> dict:
    """Held-out NLL per collection of the test split: the model and Markov-<max_order> (fitted
    once on the training split) on the same tokens."""
    names = read_run_info(run_dir).get("data", {}).get("test_pieces")
    if not names or len(names) != len(splits["test"]):
        raise ValueError(f"{run_dir}: its run.json does not name each test piece; "
                         "per-source figures need the names")
    vocab = load_runner(model_path).vocab_size
    markov = baselines.MarkovModel(max_order, vocab_size=vocab).fit(splits["train"])
    groups: dict[str, list] = {}
    for name, seq in zip(names, splits["test"]):
        groups.setdefault(collection(name), []).append(seq)
    out = {}
    for group, seqs in sorted(groups.items()):
        out[group] = {"pieces": len(seqs), "model": evaluate_onnx(model_path, seqs),
                      f"markov-{max_order}": markov.nll(seqs, order=max_order, start=1)}
        print(f"{group:<10}{len(seqs):>6} pieces  model {out[group]['model']['nll']:.4f}  "
              f"markov-{max_order} {out[group][f'markov-{max_order}']:.4f} nats/token")
    return out
