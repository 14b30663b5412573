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

from .generate import ABC_SUFFIXES, MIDI_SUFFIXES, GenerateError

log = logging.getLogger(__name__)


def prompt_events(path: Path) -> list[Event]:
    """A MIDI file (mido) or an ABC tune (music21, its first tune) -> note events from 0 s."""
    from .parsing import parse_midi_file, parse_score_file

    path = Path(path)
    if not path.is_file():
        raise GenerateError(f"prompt {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in MIDI_SUFFIXES:
        try:
            events = parse_midi_file(str(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
            raise GenerateError(f"prompt {path}: not a readable MIDI file ({exc})") from exc
    elif suffix in ABC_SUFFIXES:
        try:
            found, _ = parse_score_file(str(path))
        except Exception as exc:  # music21 raises many unrelated types for bad ABC
            raise GenerateError(f"prompt {path}: music21 cannot read it ({exc})") from exc
        events = found[0][1] if found else []
    else:
        raise GenerateError(f"prompt {path}: format {suffix or '(none)'} is not one this model "
                            f"reads; give a {'/'.join(MIDI_SUFFIXES + ABC_SUFFIXES)} file")
    events = [e for e in events if e.kind != "control_change" or e.pitch == 64]
    if not any(e.is_note_on for e in events):
        raise GenerateError(f"prompt {path}: no notes in it")
    start = min(e.time for e in events)
    return [Event(e.time - start, e.kind, e.pitch, e.velocity, e.channel) for e in events]


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
