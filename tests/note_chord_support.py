"""What the three Note/Chord recipe tests share: a played phrase, and the whole real pipeline
(`improvd train` tiny -> export with parity and card -> verify -> `improvd generate` -> the
daemon's runner)."""

from __future__ import annotations

from pathlib import Path

import mido
import numpy as np
from driver_support import train_export_verify

from improvd.daemon.events import Event
from improvd.daemon.runner import load_runner
from improvd.training.generate import generate_model

# A C major phrase as a player would play it: a slightly spread chord, then a melody (ticks of 480).
PHRASE = [(60, 90, 0, 900), (64, 85, 10, 900), (67, 80, 20, 900),
          (72, 90, 960, 1400), (71, 80, 1440, 1900), (69, 85, 1920, 2400), (67, 90, 2400, 3300)]


def phrase_events() -> list[Event]:
    """PHRASE as live events in seconds (120 bpm: 480 ticks = 0.5 s)."""
    events = []
    for pitch, velocity, start, end in PHRASE:
        events += [Event(start / 960, "note_on", pitch, velocity), Event(end / 960, "note_off", pitch)]
    return sorted(events, key=lambda e: (e.time, e.is_note_on))


def midi_notes(path: Path) -> list[int]:
    return [m.note for m in mido.MidiFile(path) if m.type == "note_on" and m.velocity > 0]


def train_export_generate(recipe_name: str, tmp_path: Path, midi_writer) -> dict:
    """Runs the real pipeline on the recipe's tiny config; returns paths and what it produced."""
    made = train_export_verify(recipe_name, tmp_path)
    onnx = made["onnx"]
    phrase = midi_writer(tmp_path / "phrase.mid", PHRASE)
    out = tmp_path / "answer.mid"
    # `improvd generate`'s path for a model that does not play live, from its metadata alone.
    report = generate_model(onnx, phrase, out, tokens=12, greedy=True)
    # Every token sounds at least one note: the file holds the prompt's and the answer's notes.
    assert report["generated_tokens"] == 12 and report["answer_notes"] >= 12
    assert len(midi_notes(out)) >= report["prompt_tokens"] + 12
    return {**made, "phrase": phrase, "out": out, "report": report}


def answer_live(onnx: Path, n: int = 8):
    """The daemon's path: heard events -> tokens -> runner -> greedy answer -> timed events."""
    runner = load_runner(onnx)
    tok = runner.tokenizer
    enc = tok.encoder()
    heard = [i for e in phrase_events() for i in enc.push(e)] + enc.flush()
    for token in heard:
        runner.advance(token)
    dec, answer = tok.decoder(start_time=2.0), []
    for _ in range(n):
        token = int(np.argmax(runner.logits))
        answer += dec.push(token)
        runner.advance(token)
    return heard, answer, runner
