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

from improvd.daemon.atomic import atomic_path
from improvd.daemon.events import Event

from .generate import GenerateError, prompt_events

log = logging.getLogger(__name__)


def write_call_and_answer(call: Sequence[Event], answer: Sequence[Event], path: Path, *,
                          ticks_per_beat: int = 480, bpm: float = 120.0) -> Path:
    import mido

    seconds_per_tick = 60.0 / bpm / ticks_per_beat
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    for name, events in (("call", call), ("answer", answer)):
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        if name == "call":
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        now = 0
        for e in sorted(events, key=lambda e: e.time):  # stable: same-time order kept
            tick = max(now, round(e.time / seconds_per_tick))
            if e.is_note_on:
                msg = mido.Message("note_on", note=e.pitch, velocity=e.velocity,
                                   channel=e.channel)
            elif e.is_note_off:
                msg = mido.Message("note_off", note=e.pitch, velocity=0, channel=e.channel)
            else:
                msg = mido.Message("control_change", control=e.pitch, value=e.velocity,
                                   channel=e.channel)
            track.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    path = Path(path)
    with atomic_path(path) as tmp:
        midi.save(str(tmp))
    return path


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
