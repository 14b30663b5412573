"""Timed note events: the one vocabulary shared by the ports, the tokenizers and training.

Times are seconds (float) on whatever clock the producer uses: the daemon's monotonic clock for
live input, seconds from the start of a piece for training data. Nothing here imports mido, so
training code and tokenizers can use it without MIDI libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Kind = Literal["note_on", "note_off", "control_change"]

SUSTAIN_CC = 64  # the damper pedal; the performance tokenizer folds it into durations


@dataclass(frozen=True, slots=True)
class Event:
    time: float
    kind: Kind
    pitch: int = 0  # note number, or controller number for control_change
    velocity: int = 0  # note velocity, or controller value for control_change
    channel: int = 0

    @property
    def is_note_on(self) -> bool:
        # A note-on with velocity 0 is a note-off by the MIDI standard.
        return self.kind == "note_on" and self.velocity > 0

    @property
    def is_note_off(self) -> bool:
        return self.kind == "note_off" or (self.kind == "note_on" and self.velocity == 0)


@dataclass(frozen=True, slots=True)
class Note:
    pitch: int
    velocity: int
    start: float
    end: float


def notes_to_events(notes: Iterable[Note]) -> list[Event]:
    """Note list -> time-ordered note_on/note_off events (offs before ons at equal times)."""
    events = []
    for n in notes:
        events.append(Event(n.start, "note_on", n.pitch, n.velocity))
        events.append(Event(max(n.end, n.start), "note_off", n.pitch, 0))
    # Sorting offs first at a tie lets a repeated pitch end and restart at the same instant.
    events.sort(key=lambda e: (e.time, e.is_note_on, e.pitch))
    return events


def events_to_notes(events: Iterable[Event]) -> list[Note]:
    """Pair note-ons with their note-offs; a note still open at the end closes at the last time."""
    open_notes: dict[int, tuple[float, int]] = {}
    notes: list[Note] = []
    last_time = 0.0
    for e in events:
        last_time = max(last_time, e.time)
        if e.is_note_on:
            if e.pitch in open_notes:  # a re-strike ends the previous note of that pitch
                start, vel = open_notes.pop(e.pitch)
                notes.append(Note(e.pitch, vel, start, e.time))
            open_notes[e.pitch] = (e.time, e.velocity)
        elif e.is_note_off and e.pitch in open_notes:
            start, vel = open_notes.pop(e.pitch)
            notes.append(Note(e.pitch, vel, start, e.time))
    for pitch, (start, vel) in open_notes.items():
        notes.append(Note(pitch, vel, start, last_time))
    notes.sort(key=lambda n: (n.start, n.pitch))
    return notes
