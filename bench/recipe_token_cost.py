"""Milliseconds per generated token of each seed recipe's exported model, in the daemon's runner.

    python -m bench.recipe_token_cost --model abc-char-lstm=runs/abc.onnx \\
        --model chorale-wavenet=runs/chorale.onnx [--tokens 300] [--threads 1]

Each recipe has one function: it builds the prompt the recipe is used with (a tune header and a
phrase for ABC characters; the seed's 16 chords for the chorales) and hands it to `token_cost`,
which samples --tokens tokens through improvd.daemon.runner (onnxruntime, one thread by default)
and times each `advance` call. A window model re-reads its last N tokens on every call, so its
cost is measured once the window is full as well. Prints the figures and writes
bench/results/recipe_token_cost.json.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path

import numpy as np

from improvd.daemon.runner import load_runner

from . import common

log = logging.getLogger(__name__)


def token_cost(runner, prompt: list[int], tokens: int, seed: int = 0) -> dict:
    """Feeds the prompt, then samples `tokens` tokens timing each runner.advance (ms)."""
    rng = np.random.default_rng(seed)
    runner.reset()
    for t in prompt:
        runner.advance(int(t))
    costs = []
    for _ in range(tokens):
        z = runner.logits.astype(np.float64)
        p = np.exp(z - z.max())
        token = int(rng.choice(len(p), p=p / p.sum()))
        started = time.perf_counter()
        runner.advance(token)
        costs.append((time.perf_counter() - started) * 1e3)
    window = getattr(runner.info, "context_length", 0)
    full = costs[max(0, window - len(prompt)):] if runner.info.kind == "window" else costs
    return {"kind": runner.info.kind, "tokens": len(costs), "prompt_tokens": len(prompt),
            "median_ms": statistics.median(costs), "p90_ms": float(np.percentile(costs, 90)),
            "median_ms_full_window": statistics.median(full) if full else None,
            "full_window_tokens": len(full)}


def abc_char_lstm(model: Path, tokens: int, threads: int) -> dict:
    runner = load_runner(model, threads=threads)
    tok = runner.tokenizer
    prompt = tok.text_to_ids(tok.header + "GABc dedB|dcBA G2")
    return token_cost(runner, prompt, tokens)


def chorale_wavenet(model: Path, tokens: int, threads: int) -> dict:
    from improvd.training.recipes.chorale_wavenet import Config, load_chorales, to_ids

    runner = load_runner(model, threads=threads)
    prompt = to_ids(load_chorales(Config.source)["test"][2][:16]).tolist()  # the seed's prompt
    return token_cost(runner, prompt, tokens)


def _heard_phrase(tok) -> list[int]:
    """A played C major phrase (a chord, then a melody) as the daemon hears it: the streaming
    encoder groups the chord's near-simultaneous onsets into one token."""
    from improvd.daemon.events import Note, notes_to_events

    notes = [Note(60, 90, 0.0, 0.45), Note(64, 85, 0.01, 0.45), Note(67, 80, 0.02, 0.45)] + [
        Note(p, 80, 0.5 + 0.25 * i, 0.7 + 0.25 * i)
        for i, p in enumerate([72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 65, 67])]
    enc = tok.encoder()
    return [i for e in notes_to_events(notes) for i in enc.push(e)] + enc.flush()


def note_chord(model: Path, tokens: int, threads: int) -> dict:
    """Seeds 002-004 (note-chord-lstm, -wavenet, -composer): window models over Note/Chord tokens."""
    runner = load_runner(model, threads=threads)
    return token_cost(runner, _heard_phrase(runner.tokenizer), tokens)


RECIPES = {"abc-char-lstm": abc_char_lstm, "chorale-wavenet": chorale_wavenet,
           "note-chord-lstm": note_chord, "note-chord-wavenet": note_chord,
           "note-chord-composer": note_chord}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="RECIPE=PATH",
                        help=f"a recipe ({', '.join(RECIPES)}) and its exported .onnx")
    parser.add_argument("--tokens", type=int, default=300, help="tokens to time (>= 200)")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument("--results", type=Path, default=common.RESULTS_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    figures, details = [], {}
    for item in args.model:
        recipe, _, path = item.partition("=")
        if recipe not in RECIPES or not path:
            parser.error(f"--model {item!r}: expected RECIPE=PATH with RECIPE in {list(RECIPES)}")
        r = RECIPES[recipe](Path(path), args.tokens, args.threads)
        details[recipe] = {**r, "model": path, "threads": args.threads}
        print(f"{recipe:16s} {r['kind']:9s} median {r['median_ms']:.3f} ms/token, p90 "
              f"{r['p90_ms']:.3f} ms over {r['tokens']} tokens ({args.threads} thread)")
        figures.append(common.figure(f"{recipe} ms per generated token (median)",
                                     r["median_ms"], "ms", "", None))
    out = common.write_result("recipe_token_cost", {
        "benchmark": "recipe_token_cost", "date": common.now_utc(), "machine": common.machine(),
        "figures": figures, "details": details}, args.results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
