"""`improvd generate --prompt phrase.mid` for performance models: the prompt is played as a call
into the daemon's own answer path (daemon/offline.py: engine, policy, call analysis, steering,
sampler with top-p and the legality mask, on a virtual clock), so what is written is the answer
`improvd run` would play to that phrase with the same config and seed.

The MIDI file gets two tracks, "call" (the prompt as read) and "answer" (the daemon's answer, at
the time it would have played it), so a DAW shows them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from improvd.daemon.events import Event
from improvd.daemon.midi_events import write_midi_file

from .generate import GenerateError, prompt_events

log = logging.getLogger(__name__)


def write_call_and_answer(call: Sequence[Event], answer: Sequence[Event], path: Path, *,
                          ticks_per_beat: int = 480, bpm: float = 120.0) -> Path:
    return write_midi_file((), path, ticks_per_beat=ticks_per_beat, bpm=bpm,
                           tracks={"call": call, "answer": answer})


def generate_answer(model_path: Path, prompt: Path | None, out: Path, *, config=None,
                    seed: int | None = 0, wav: Path | None = None, runner=None) -> dict:
    """Prompt -> the daemon's answer -> MIDI (+ WAV). Returns a report."""
    from improvd.daemon.config import Config
    from improvd.daemon.offline import answer_call
    from improvd.daemon.runner import load_runner

    if prompt is None:
        raise GenerateError("no prompt: give --prompt phrase.mid (the call to answer)")
    config = config or Config()
    runner = runner or load_runner(model_path, config.model.provider, config.model.threads)
    call = prompt_events(prompt)
    heard = len(runner.tokenizer.encode(call))
    answer = answer_call(config, runner, call, seed=seed)
    if not answer.notes:
        raise GenerateError(f"{model_path}: no answer to {prompt} (a call too short to answer?)")
    write_call_and_answer(call, answer.events, out)
    report = {
        "model": str(model_path), "out": str(out), "prompt_notes": len(answer.call_notes),
        "answer_notes": len(answer.notes), "seed": answer.seed,
        "generated_tokens": max(0, (getattr(runner, "steps", 0) or 0) - heard),
        "call_ended": answer.call_ended, "answer_started": answer.started,
        "first_note": answer.first_note, "reaction_s": answer.reaction_s,
        "handover_s": answer.first_note - answer.call_last_onset,
        "premature_answers": answer.premature,
    }
    if wav:
        from .render import render_midi

        report["wav"], report["renderer"] = str(wav), render_midi(out, wav)
    log.info("wrote %s: a %d-note call and its %d-note answer", out, report["prompt_notes"],
             report["answer_notes"])
    return report
