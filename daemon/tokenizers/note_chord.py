"""Note/Chord tokens, as the music21 seed notebooks make them: one token per onset.

  a single note  -> its pitch name with octave, music21 spelling: "C#4", "E-5", "B#3"
  a chord        -> its pitch classes in music21's normalOrder, joined by '.': "0.4.7", "11.2.5"

The vocabulary (the token strings, id = position) is built from the training data and stored in
the spec, so an exported model rebuilds exactly this tokenizer with no other file.

Timing: the tokens carry no time, no duration and no velocity. At playback every token lasts
`beats_per_token` beats at `tempo_bpm` (default: an eighth note at 120 bpm = 0.25 s, the seeds'
"offset += 0.5" quarter), sounds for `gate` of that span (so a repeated pitch is re-struck, not
merged) at the fixed `velocity`. A chord token's pitch classes sound in octave 4 (MIDI 60 + pc),
which is what the seeds get from music21's `Note(int(pc))`.

Live input: heard note-ons starting within `chord_window_s` of the first onset of a group make
one token; a group closes when an event arrives after the window (or at flush()). One note ->
the note token of that MIDI pitch (any spelling the vocabulary has); several pitch classes -> the
chord token with that pitch-class set. Pitch-class sets determine music21's normalOrder, so the
lookup needs no chord tables. Heard material the vocabulary lacks maps to the nearest token: a
note to the same pitch class in the nearest octave (else the nearest pitch), a chord to the chord
sharing most pitch classes (Jaccard), so the model always gets a token it was trained on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..events import Event
from .base import StreamingTokenizer

_NOTE_RE = re.compile(r"^([A-G])([#\-]*)(\d+)?$")
_STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
CHORD_OCTAVE_BASE = 60  # music21 places an octave-less pitch class in octave 4


def note_name_to_midi(name: str) -> int:
    """music21 pitch name ("C#4", "E-5", "B#3") -> MIDI number; no octave means octave 4."""
    m = _NOTE_RE.match(name)
    if not m:
        raise ValueError(f"not a note name: {name!r}")
    step, accidentals, octave = m.groups()
    alter = accidentals.count("#") - accidentals.count("-")
    midi = 12 * (int(octave if octave is not None else 4) + 1) + _STEP_PC[step] + alter
    if not 0 <= midi <= 127:
        raise ValueError(f"note {name!r} is outside MIDI range")
    return midi


def parse_token(token: str) -> tuple[str, tuple[int, ...]]:
    """token string -> ("note", (midi,)) or ("chord", pitch classes in token order)."""
    if token and all(part.isdigit() for part in token.split(".")):
        pcs = tuple(int(p) for p in token.split("."))
        if any(pc > 11 for pc in pcs) or len(set(pcs)) != len(pcs):
            raise ValueError(f"not a chord token: {token!r}")
        return "chord", pcs
    return "note", (note_name_to_midi(token),)


class NoteChordTokenizer(StreamingTokenizer):
    name = "note_chord"

    def __init__(self, vocabulary: Iterable[str], tempo_bpm: float = 120.0,
                 beats_per_token: float = 0.5, velocity: int = 80, gate: float = 0.9,
                 chord_window_s: float = 0.05):
        self.vocabulary = list(vocabulary)
        if not self.vocabulary:
            raise ValueError("note_chord tokenizer needs a non-empty vocabulary")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("note_chord vocabulary has duplicate tokens")
        if tempo_bpm <= 0 or beats_per_token <= 0 or not 0 < gate <= 1:
            raise ValueError("note_chord timing needs tempo_bpm > 0, beats_per_token > 0, 0 < gate <= 1")
        if not 1 <= velocity <= 127:
            raise ValueError(f"note_chord velocity {velocity} is not in 1..127")
        self.tempo_bpm = float(tempo_bpm)
        self.beats_per_token = float(beats_per_token)
        self.velocity = int(velocity)
        self.gate = float(gate)
        self.chord_window_s = float(chord_window_s)
        self.seconds_per_token = self.beats_per_token * 60.0 / self.tempo_bpm
        self.step_s = self.seconds_per_token  # every token is one grid step of this length
        self.vocab_size = len(self.vocabulary)
        self.ids = {tok: i for i, tok in enumerate(self.vocabulary)}
        self._parsed = [parse_token(t) for t in self.vocabulary]
        # Lookups for live input: MIDI pitch -> note id, pitch-class set -> chord id.
        self._note_ids: dict[int, int] = {}
        self._chord_ids: dict[frozenset[int], int] = {}
        for i, (kind, values) in enumerate(self._parsed):
            if kind == "note":
                self._note_ids.setdefault(values[0], i)  # the first spelling wins (C#4 before D-4)
            else:
                self._chord_ids.setdefault(frozenset(values), i)

    # --- spec (stored in the model's metadata) -------------------------------------------------
    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vocabulary": list(self.vocabulary),
            "tempo_bpm": self.tempo_bpm,
            "beats_per_token": self.beats_per_token,
            "velocity": self.velocity,
            "gate": self.gate,
            "chord_window_s": self.chord_window_s,
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> NoteChordTokenizer:
        if not isinstance(spec.get("vocabulary"), list):
            raise ValueError("note_chord tokenizer spec has no 'vocabulary' list")  # noqa: TRY004
        tok = cls(spec["vocabulary"], spec.get("tempo_bpm", 120.0), spec.get("beats_per_token", 0.5),
                  spec.get("velocity", 80), spec.get("gate", 0.9), spec.get("chord_window_s", 0.05))
        if "vocab_size" in spec and spec["vocab_size"] != tok.vocab_size:
            raise ValueError(f"note_chord spec says vocab_size {spec['vocab_size']} "
                             f"but lists {tok.vocab_size} tokens")
        return tok

    # --- ids -------------------------------------------------------------------------------------
    def describe(self, token: int) -> tuple[str, str]:
        """id -> ("note", "C#4") or ("chord", "0.4.7")."""
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token {token} outside 0..{self.vocab_size - 1}")
        return self._parsed[token][0], self.vocabulary[token]

    def pitches(self, token: int) -> list[int]:
        """The MIDI pitches a token sounds (a chord's pitch classes in octave 4)."""
        kind, values = self._parsed[token]
        return list(values) if kind == "note" else [CHORD_OCTAVE_BASE + pc for pc in values]

    def token_for_pitches(self, pitches: Iterable[int]) -> int:
        """Pitches heard together -> the nearest token the vocabulary has."""
        pitches = sorted(set(pitches))
        if not pitches:
            raise ValueError("no pitches to tokenize")
        pcs = frozenset(p % 12 for p in pitches)
        if len(pitches) == 1 or (len(pcs) == 1 and not self._chord_ids):
            return self._nearest_note(pitches[0])
        if pcs in self._chord_ids:
            return self._chord_ids[pcs]
        if not self._chord_ids:
            return self._nearest_note(pitches[0])
        # Most shared pitch classes relative to the union; ties go to the smaller chord.
        return max(self._chord_ids.items(),
                   key=lambda kv: (len(kv[0] & pcs) / len(kv[0] | pcs), -len(kv[0])))[1]

    def _nearest_note(self, pitch: int) -> int:
        if pitch in self._note_ids:
            return self._note_ids[pitch]
        if not self._note_ids:  # a chords-only vocabulary: the singleton pitch-class "chord"
            return self.token_for_pitches([pitch, pitch + 12])
        same_pc = [p for p in self._note_ids if p % 12 == pitch % 12]
        candidates = same_pc or list(self._note_ids)
        return self._note_ids[min(candidates, key=lambda p: (abs(p - pitch), p))]

    # --- whole sequences -------------------------------------------------------------------------
    def decode(self, ids: Iterable[int], start_time: float = 0.0) -> list[Event]:
        # Chord tokens end and start notes at one instant: offs first, as notes_to_events does.
        events = super().decode(ids, start_time)
        return sorted(events, key=lambda e: (e.time, e.is_note_on, e.pitch))

    def encoder(self) -> NoteChordEncoder:
        return NoteChordEncoder(self)

    def decoder(self, start_time: float = 0.0) -> NoteChordDecoder:
        return NoteChordDecoder(self, start_time)


class NoteChordEncoder:
    """Events -> ids one event at a time (live input): near-simultaneous onsets make one token."""

    def __init__(self, tok: NoteChordTokenizer):
        self.tok = tok
        self.group: list[int] = []
        self.group_start = 0.0

    def push(self, e: Event) -> list[int]:
        ids: list[int] = []
        if self.group and e.time - self.group_start > self.tok.chord_window_s:
            ids = self.flush()
        if e.is_note_on:
            if not self.group:
                self.group_start = e.time
            self.group.append(e.pitch)
        return ids

    def flush(self) -> list[int]:
        """Close the pending group (end of a phrase): its token, or nothing."""
        if not self.group:
            return []
        token = self.tok.token_for_pitches(self.group)
        self.group = []
        return [token]


class NoteChordDecoder:
    """ids -> timed events one token at a time (live output). `time` is the decoder's clock.

    Each push returns the token's note-ons at `time` and their note-offs `gate` of a token later,
    then moves the clock on by one token, so nothing is left sounding between pushes.
    """

    def __init__(self, tok: NoteChordTokenizer, start_time: float = 0.0):
        self.tok = tok
        self.start_time = start_time
        self.steps = 0
        self.sounding: set[int] = set()  # always empty: each push closes its own notes

    @property
    def time(self) -> float:
        return self.start_time + self.steps * self.tok.seconds_per_token

    def push(self, token: int) -> list[Event]:
        start = self.time
        end = start + self.tok.gate * self.tok.seconds_per_token
        pitches = self.tok.pitches(token)
        self.steps += 1
        return ([Event(start, "note_on", p, self.tok.velocity) for p in pitches]
                + [Event(end, "note_off", p, 0) for p in pitches])

    def close_all(self) -> list[Event]:
        return []  # every push already closed its own notes
