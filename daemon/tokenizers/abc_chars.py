"""ABC characters as tokens (seed 000, the char-level LSTM): one id per character of ABC text.

The vocabulary is the set of characters of the training text, stored in the spec (`chars`), so a
model's metadata rebuilds exactly its own mapping. ABC carries no absolute time, so the spec also
fixes how characters become sound and back:

  decode (model -> events)  a small streaming ABC reader: tune headers (X: starts a tune, K: sets
      the key signature, L: the unit note length), notes with accidentals (bar-scoped), octave
      marks and lengths, rests, [chords], ties, broken rhythm (> <) and tuplets ((3). Quoted chord
      names, grace notes and decorations are skipped. A unit note of L:1/8 lasts half a beat at
      `quarter_bpm`; notes play at `velocity`, the first note of a bar `accent` louder.
  encode (heard events -> characters)  a phrase is written as a tune in C: the `header` first
      (X:, M:4/4, L:1/8, K:C), then each note as its letter with explicit sharps and octave marks
      (MIDI 60 = C, 72 = c), its length in eighth notes at `quarter_bpm` (rounded, at least one;
      the length runs to the next onset, a gap becomes a rest `z`), a bar line every `bar_units`
      eighths and a line break every four bars. ABC tunes here are melodies: of notes struck
      together (within half a unit) only the highest is kept.

Characters missing from the vocabulary are dropped with a debug message.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from ..events import Event
from .abc_reader import AbcDecoder
from .base import StreamingTokenizer

log = logging.getLogger(__name__)

DEFAULT_HEADER = "X:1\nM:4/4\nL:1/8\nK:C\n"
_SHARP_NAMES = ["C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B"]


def pitch_to_abc(pitch: int) -> str:
    """MIDI pitch -> ABC note in C with explicit sharps: 60 -> 'C', 73 -> '^c', 47 -> 'B,'."""
    octave, pc = divmod(pitch, 12)
    name = _SHARP_NAMES[pc]
    if octave >= 6:  # 72 and up: lower-case letters, then apostrophes
        return name.lower() + "'" * (octave - 6)
    return name + "," * (5 - octave)


class AbcCharsTokenizer(StreamingTokenizer):
    name = "abc_chars"

    def __init__(self, chars: str, quarter_bpm: float = 120.0, velocity: int = 80,
                 accent: int = 16, header: str = DEFAULT_HEADER, bar_units: int = 8):
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError("abc_chars tokenizer needs a non-empty string of distinct characters")
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.vocab_size = len(chars)
        self.quarter_bpm = float(quarter_bpm)
        self.velocity = int(velocity)
        self.accent = int(accent)
        self.header = header
        self.bar_units = int(bar_units)
        # Encoding always writes L:1/8: one unit is an eighth note, half a beat; it is also the
        # grid step players see (`step_s`).
        self.unit_s = self.step_s = 30.0 / self.quarter_bpm

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "chars": self.chars, "quarter_bpm": self.quarter_bpm,
                "velocity": self.velocity, "accent": self.accent, "header": self.header,
                "bar_units": self.bar_units, "vocab_size": self.vocab_size}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> "AbcCharsTokenizer":
        tok = cls(spec["chars"], spec.get("quarter_bpm", 120.0), spec.get("velocity", 80),
                  spec.get("accent", 16), spec.get("header", DEFAULT_HEADER),
                  spec.get("bar_units", 8))
        if spec.get("vocab_size", tok.vocab_size) != tok.vocab_size:
            raise ValueError(f"abc_chars tokenizer spec is inconsistent: {spec}")
        return tok

    # --- text <-> ids ----------------------------------------------------------------------------
    def text_to_ids(self, text: str) -> list[int]:
        ids = [self.index[c] for c in text if c in self.index]
        if len(ids) != len(text):
            log.debug("dropped %d characters outside the vocabulary", len(text) - len(ids))
        return ids

    def ids_to_text(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def describe(self, token: int) -> tuple[str, str]:
        if not 0 <= token < self.vocab_size:
            raise ValueError(f"token {token} outside 0..{self.vocab_size - 1}")
        return "char", self.chars[token]

    # --- events <-> ids --------------------------------------------------------------------------

    def encoder(self) -> "AbcEncoder":
        return AbcEncoder(self)

    def decoder(self, start_time: float = 0.0) -> "AbcDecoder":
        return AbcDecoder(self, start_time)


class AbcEncoder:
    """Heard events -> ABC characters. A note is written once its length is known: at the next
    onset, or at flush() (end of phrase) from its note-off."""

    def __init__(self, tok: AbcCharsTokenizer):
        self.tok = tok
        self.started = False
        self.pending: list = []  # [pitch, start, end or None] of the note not yet written
        self.units_in_bar = 0
        self.bars_in_line = 0

    def push(self, e: Event) -> list[int]:
        text = ""
        if not self.started and e.is_note_on:
            self.started, text = True, self.tok.header
        if e.is_note_on:
            if self.pending and e.time - self.pending[1] < self.tok.unit_s / 2:
                if e.pitch > self.pending[0]:  # struck together: keep the melody (top) note
                    self.pending[0] = e.pitch
                return self.tok.text_to_ids(text)
            text += self._write_pending(e.time)
            self.pending = [e.pitch, e.time, None]
        elif e.is_note_off and self.pending and e.pitch == self.pending[0]:
            self.pending[2] = e.time
        return self.tok.text_to_ids(text)

    def flush(self) -> list[int]:
        text = self._write_pending(None)
        return self.tok.text_to_ids(text)

    def _write_pending(self, next_onset: float | None) -> str:
        if not self.pending:
            return ""
        pitch, start, end = self.pending
        self.pending = []
        unit = self.tok.unit_s
        sounding_end = end if end is not None else next_onset
        if sounding_end is None:
            sounding_end = start + unit
        units = min(16, max(1, round((sounding_end - start) / unit)))
        text = pitch_to_abc(pitch) + (str(units) if units > 1 else "") + self._count(units)
        if next_onset is not None:
            rest = min(self.tok.bar_units, round((next_onset - start) / unit) - units)
            if rest >= 1:
                text += "z" + (str(rest) if rest > 1 else "") + self._count(rest)
        return text

    def _count(self, units: int) -> str:
        self.units_in_bar += units
        if self.units_in_bar < self.tok.bar_units:
            return ""
        self.units_in_bar %= self.tok.bar_units
        self.bars_in_line += 1
        if self.bars_in_line == 4:
            self.bars_in_line = 0
            return "|\n"
        return "|"
