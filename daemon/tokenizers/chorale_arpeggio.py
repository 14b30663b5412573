"""Chorale arpeggio tokens (seed 001, the JSB chorale WaveNet): 47 ids.

The chorales are four voices on a sixteenth-note grid. Each grid step is flattened into four
tokens, soprano, alto, tenor, bass (highest first, as in the data): 0 = that voice is silent,
1..46 = MIDI notes 36..81 (`min_note`..`max_note`).

Timing lives in the spec: one grid step lasts `step_s` seconds (0.25 s: a sixteenth at quarter =
60, a chorale pace; the seed's WAVs used 0.375 s per step).

  decode  every 4 tokens make one step; a voice that repeats its pitch on the next step is held
      (the data writes a half note as eight equal steps), a new pitch ends the old note and
      starts the new one at the step's time. Velocities per voice (`velocities`, outer voices
      louder) give the answer some shape.
  encode  heard notes are laid on the grid from the first note-on: a step holds every note that
      sounded during it (a short note is never lost), highest four kept and sorted highest
      first; fewer than four notes leave the lower voices silent. Notes outside 36..81 are moved
      by octaves into range. A step is written once the clock has passed it, or when the last
      held note is released. Silence is written up to `max_rest_steps` steps (a beat); a longer
      one starts a new grid at the next note-on, so each phrase starts on a grid line.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Iterable

from ..events import Event
from .base import StreamingTokenizer

log = logging.getLogger(__name__)

VOICES = 4


class ChoraleArpeggioTokenizer(StreamingTokenizer):
    name = "chorale_arpeggio"

    def __init__(self, step_s: float = 0.25, min_note: int = 36, max_note: int = 81,
                 velocities: tuple[int, ...] = (90, 70, 70, 80), max_rest_steps: int = 4):
        if max_note - min_note < 11:
            raise ValueError("chorale_arpeggio needs a range of at least an octave")
        if len(velocities) != VOICES:
            raise ValueError(f"chorale_arpeggio needs {VOICES} velocities, got {velocities}")
        self.step_s = float(step_s)
        self.min_note, self.max_note = int(min_note), int(max_note)
        self.velocities = tuple(int(v) for v in velocities)
        self.max_rest_steps = int(max_rest_steps)
        self.vocab_size = self.max_note - self.min_note + 2

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "step_s": self.step_s, "min_note": self.min_note,
                "max_note": self.max_note, "velocities": list(self.velocities),
                "max_rest_steps": self.max_rest_steps, "vocab_size": self.vocab_size}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "ChoraleArpeggioTokenizer":
        tok = cls(spec.get("step_s", 0.25), spec.get("min_note", 36), spec.get("max_note", 81),
                  tuple(spec.get("velocities", (90, 70, 70, 80))), spec.get("max_rest_steps", 4))
        if spec.get("vocab_size", tok.vocab_size) != tok.vocab_size:
            raise ValueError(f"chorale_arpeggio tokenizer spec is inconsistent: {spec}")
        return tok

    # --- ids <-> pitches ---------------------------------------------------------------------------
    def pitch_id(self, pitch: int) -> int:
        """MIDI pitch -> id, moved by octaves into range; 0 stays silence."""
        if pitch <= 0:
            return 0
        while pitch < self.min_note:
            pitch += 12
        while pitch > self.max_note:
            pitch -= 12
        return pitch - self.min_note + 1

    def id_pitch(self, token: int) -> int:
        """id -> MIDI pitch, 0 for silence."""
        return 0 if token == 0 else token + self.min_note - 1

    def pitches(self, token: int) -> list[int]:
        """The MIDI pitches a token sounds (none for silence), for the daemon's pitch masks."""
        return [self.id_pitch(token)] if token else []

    def chords_to_ids(self, chords: Iterable[Iterable[int]]) -> list[int]:
        """[[S, A, T, B], ...] MIDI notes (0 = silent) -> the arpeggio ids."""
        return [self.pitch_id(int(p)) for chord in chords for p in chord]

    def describe(self, token: int) -> tuple[str, int]:
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token {token} outside 0..{self.vocab_size - 1}")
        return ("rest", 0) if token == 0 else ("note", self.id_pitch(token))

    # --- events <-> ids ----------------------------------------------------------------------------

    def encoder(self) -> "ChoraleEncoder":
        return ChoraleEncoder(self)

    def decoder(self, start_time: float = 0.0) -> "ChoraleDecoder":
        return ChoraleDecoder(self, start_time)


class ChoraleEncoder:
    """Heard events -> arpeggio ids, whole grid steps at a time."""

    def __init__(self, tok: ChoraleArpeggioTokenizer):
        self.tok = tok
        self.origin: float | None = None
        self.next_step = 0  # index of the first grid step not yet written
        self.sounding: set[int] = set()
        self.struck: set[int] = set()  # sounded in the step being filled, though maybe released

    def _step_of(self, time: float) -> int:
        return math.floor((time - self.origin) / self.tok.step_s + 1e-9)

    def _write_until(self, step: int) -> list[int]:
        """Writes steps next_step..step-1; long silences are cut to max_rest_steps."""
        ids: list[int] = []
        silent = 0
        while self.next_step < step:
            notes = self.sounding | self.struck
            self.struck = set()
            silent = 0 if notes else silent + 1
            if silent <= self.tok.max_rest_steps:
                ids += self._chord(notes)
            self.next_step += 1
        return ids

    def _chord(self, notes: set[int]) -> list[int]:
        ids = sorted({self.tok.pitch_id(p) for p in notes}, reverse=True)[:VOICES]
        return ids + [0] * (VOICES - len(ids))

    def push(self, e: Event) -> list[int]:
        if not (e.is_note_on or e.is_note_off):
            return []
        if self.origin is None:
            if not e.is_note_on:
                return []
            self.origin = e.time
        step = self._step_of(e.time)
        if e.is_note_on and not (self.sounding or self.struck) and \
                step - self.next_step > self.tok.max_rest_steps:
            # A long silence: a beat of rest, then a new grid from this note-on.
            ids = self._write_until(self.next_step + self.tok.max_rest_steps)
            self.origin, self.next_step, step = e.time, 0, 0
        else:
            ids = []
        # An event inside an already written step counts for the next one.
        ids += self._write_until(max(step, self.next_step))
        if e.is_note_on:
            self.sounding.add(e.pitch)
            self.struck.add(e.pitch)
            return ids
        self.sounding.discard(e.pitch)
        into_step = (e.time - self.origin) / self.tok.step_s - self.next_step
        if e.pitch in self.struck or into_step > 0.25:
            # It sounded in this step; a release just after a grid line belongs to the last one.
            self.struck.add(e.pitch)
        if not self.sounding and self.struck:
            # The phrase may end here: write the step now rather than wait for the next event.
            ids += self._write_until(self.next_step + 1)
        return ids

    def flush(self) -> list[int]:
        if self.origin is None or not (self.sounding or self.struck):
            return []
        return self._write_until(self.next_step + 1)


class ChoraleDecoder:
    """Arpeggio ids -> timed events. A step's events come out when its fourth token arrives (the
    four notes of a step start together); `time` is the start of the step being filled."""

    def __init__(self, tok: ChoraleArpeggioTokenizer, start_time: float = 0.0):
        self.tok = tok
        self.start_time = start_time
        self.step = 0
        self.voices: list[int] = []  # pitches of the step being filled, 0 = silent
        self.held: set[int] = set()

    @property
    def time(self) -> float:
        return self.start_time + self.step * self.tok.step_s

    @property
    def sounding(self) -> set[int]:
        """Pitches held at `time` (their note-offs are still to come)."""
        return set(self.held)

    def push(self, token: int) -> list[Event]:
        self.tok.describe(token)  # range check
        self.voices.append(self.tok.id_pitch(token))
        return self._end_step() if len(self.voices) == VOICES else []

    def _end_step(self) -> list[Event]:
        # Pitch by pitch, not voice by voice: a key held on stays held even where two voices
        # swap or double it, so a doubled note never cuts itself off.
        velocity: dict[int, int] = {}
        for voice, pitch in enumerate(self.voices):
            if pitch:
                velocity.setdefault(pitch, self.tok.velocities[voice])
        now = self.time
        events = [Event(now, "note_off", p, 0) for p in sorted(self.held - set(velocity))]
        events += [Event(now, "note_on", p, v) for p, v in velocity.items() if p not in self.held]
        self.held = set(velocity)
        self.voices = []
        self.step += 1
        return events

    def close_all(self) -> list[Event]:
        events: list[Event] = []
        if self.voices:  # an unfinished step: its voices so far, silence for the rest
            self.voices += [0] * (VOICES - len(self.voices))
            events = self._end_step()
        events += [Event(self.time, "note_off", p, 0) for p in sorted(self.held)]
        self.held = set()
        return events
