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
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from ..events import Event

log = logging.getLogger(__name__)

DEFAULT_HEADER = "X:1\nM:4/4\nL:1/8\nK:C\n"
_LETTER_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ["C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B"]
_ACCIDENTAL = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
# Key signatures: the tonic's place on the circle of fifths plus the mode's shift.
_FIFTHS = {"F": -1, "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5}
_MODE_SHIFT = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "dor": -2, "mix": -1,
               "lyd": 1, "phr": -4, "loc": -5}
_SHARP_ORDER, _FLAT_ORDER = "FCGDAEB", "BEADGCF"
_TUPLET_Q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}

_LEN = r"\d*/*\d*"
_NOTE = rf"(?:\^\^|\^|__|_|=)?[A-Ga-g][,']*{_LEN}"
_ELEMENT = re.compile(rf"""
   (?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<len>{_LEN}))
 | (?P<rest>[zxZ](?P<rlen>{_LEN}))
 | (?P<chord>\[(?P<cbody>(?:{_NOTE})+)\](?P<clen>{_LEN}))
 | (?P<bar>::|:*\|+[:\]]*\d?)
 | (?P<tuplet>\((?P<p>[2-9])(?::\d*){{0,2}})
 | (?P<broken>[<>]+)
 | (?P<tie>-)
 | (?P<skip>"[^"\n]*"|\{{[^}}\n]*\}}|![^!\n]*!|\+[^+\n]*\+|\[[A-Za-z]:[^\]\n]*\])
 | (?P<other>[^\n]|\n)
""", re.X)
_OPENERS = {'"': '"', "{": "}", "!": "!", "+": "+", "[": "]"}
_HEADER = re.compile(r"[A-Za-z]:")


def key_signature(value: str) -> dict[str, int]:
    """'D' -> {'F': 1, 'C': 1}; 'Ador' -> {'F': 1}; 'Bb' -> {'B': -1, 'E': -1}; unknown -> {}."""
    m = re.match(r"\s*([A-G])([#b]?)\s*([A-Za-z]*)", value)
    if not m:
        return {}
    mode = m.group(3).lower()[:3] if m.group(3).lower() != "m" else "m"
    if mode not in _MODE_SHIFT:
        return {}
    n = _FIFTHS[m.group(1)] + {"#": 7, "b": -7, "": 0}[m.group(2)] + _MODE_SHIFT[mode]
    if n >= 0:
        return {letter: 1 for letter in _SHARP_ORDER[:min(n, 7)]}
    return {letter: -1 for letter in _FLAT_ORDER[:min(-n, 7)]}


def parse_length(text: str) -> Fraction:
    """ABC note length in units: '' -> 1, '3' -> 3, '/' -> 1/2, '//' -> 1/4, '3/2' -> 3/2."""
    num_text, slashes, den_text = re.fullmatch(r"(\d*)(/*)(\d*)", text).groups()
    num = int(num_text) if num_text else 1
    if not slashes:
        return Fraction(max(num, 1))
    den = int(den_text) if den_text else 2 ** len(slashes)
    return Fraction(num, max(den, 1))


def pitch_to_abc(pitch: int) -> str:
    """MIDI pitch -> ABC note in C with explicit sharps: 60 -> 'C', 73 -> '^c', 47 -> 'B,'."""
    octave, pc = divmod(pitch, 12)
    name = _SHARP_NAMES[pc]
    if octave >= 6:  # 72 and up: lower-case letters, then apostrophes
        return name.lower() + "'" * (octave - 6)
    return name + "," * (5 - octave)


class AbcCharsTokenizer:
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
        # Encoding always writes L:1/8: one unit is an eighth note, half a beat.
        self.unit_s = 30.0 / self.quarter_bpm

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
    def encode(self, events: Iterable[Event]) -> list[int]:
        enc = self.encoder()
        ids: list[int] = []
        for e in sorted(events, key=lambda e: e.time):
            ids.extend(enc.push(e))
        return ids + enc.flush()

    def decode(self, ids: Iterable[int], start_time: float = 0.0) -> list[Event]:
        dec = self.decoder(start_time)
        events = [e for i in ids for e in dec.push(int(i))]
        return events + dec.close_all()

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


@dataclass
class _Sounding:
    pitches: tuple[int, ...]
    start: float
    length: float  # seconds


class AbcDecoder:
    """Characters -> timed events, one character at a time. A note's note-on comes out as soon
    as its element is complete (the next character shows where it ends); its note-off when the
    next note, rest or tune starts, since ties and broken rhythm can still change its length."""

    def __init__(self, tok: AbcCharsTokenizer, start_time: float = 0.0):
        self.tok = tok
        self.time = start_time
        self.buffer = ""
        self.line_start = True
        self.sounding: _Sounding | None = None
        self._new_tune()

    def _new_tune(self) -> None:
        self.key: dict[str, int] = {}
        self.bar_accidentals: dict[tuple[str, int], int] = {}
        self.unit_beats = Fraction(1, 2)  # L:1/8 -> half a quarter note
        self.tie = False
        self.next_factor = Fraction(1)
        self.tuplet_left, self.tuplet_factor = 0, Fraction(1)
        self.accent_next = True

    def push(self, token: int) -> list[Event]:
        self.buffer += self.tok.chars[int(token)]
        return self._consume(final=False)

    def close_all(self) -> list[Event]:
        events = self._consume(final=True)
        return events + self._finish()

    # --- parsing ---------------------------------------------------------------------------------
    def _consume(self, final: bool) -> list[Event]:
        events: list[Event] = []
        while self.buffer:
            if self.line_start and (self.buffer[0] == "%" or _HEADER.match(self.buffer)):
                end = self.buffer.find("\n")
                if end < 0 and not final:
                    return events  # wait for the whole header line
                line = self.buffer if end < 0 else self.buffer[:end]
                self.buffer = "" if end < 0 else self.buffer[end + 1:]
                events += self._header(line)
                continue
            if self.line_start and len(self.buffer) < 2 and not final and self.buffer[0].isalpha():
                return events  # 'K' could start a header 'K:' or be a note
            opener = self.buffer[0]
            if (opener in _OPENERS and not final and len(self.buffer) < 64
                    and _OPENERS[opener] not in self.buffer[1:] and "\n" not in self.buffer):
                return events  # a quoted name, grace group or chord still open
            m = _ELEMENT.match(self.buffer)
            if m.end() == len(self.buffer) and not final:
                return events  # the element may still grow ('c' -> "c'2", '(' -> '(3')
            self.buffer = self.buffer[m.end():]
            self.line_start = m.group() == "\n"
            events += self._element(m)
        return events

    def _header(self, line: str) -> list[Event]:
        self.line_start = True
        field, value = line[0], line[2:].strip()
        events: list[Event] = []
        if field == "X":
            events = self._finish()
            self._new_tune()
        elif field == "K":
            self.key = key_signature(value)
        elif field == "L":
            m = re.match(r"(\d+)/(\d+)", value)
            if m and int(m.group(2)):
                self.unit_beats = Fraction(int(m.group(1)) * 4, int(m.group(2)))
        return events

    def _element(self, m: re.Match) -> list[Event]:
        kind = m.lastgroup
        if kind == "note":
            return self._sound((self._pitch(m.group("acc"), m.group("letter"), m.group("oct")),),
                               parse_length(m.group("len")))
        if kind == "rest":
            return self._sound((), parse_length(m.group("rlen")))
        if kind == "chord":
            notes = re.findall(r"(\^\^|\^|__|_|=)?([A-Ga-g])([,']*)(\d*/*\d*)", m.group("cbody"))
            pitches = tuple(sorted({self._pitch(a, letter, o) for a, letter, o, _ in notes}))
            return self._sound(pitches, parse_length(notes[0][3]) * parse_length(m.group("clen")))
        if kind == "bar":
            self.bar_accidentals.clear()
            self.accent_next = True
        elif kind == "tuplet":
            p = int(m.group("p"))
            self.tuplet_left, self.tuplet_factor = p, Fraction(_TUPLET_Q.get(p, 2), p)
        elif kind == "broken" and self.sounding is not None:
            dotted = Fraction(1, 2 ** len(m.group()))  # '>' moves half, '>>' three quarters
            longer, shorter = 2 - dotted, dotted
            first, second = (longer, shorter) if m.group()[0] == ">" else (shorter, longer)
            self.sounding.length *= float(first)
            self.next_factor = second
        elif kind == "tie":
            self.tie = True
        return []

    def _pitch(self, acc: str, letter: str, octave_marks: str) -> int:
        octave = 5 + (1 if letter.islower() else 0)
        octave += octave_marks.count("'") - octave_marks.count(",")
        upper = letter.upper()
        if acc:
            self.bar_accidentals[(upper, octave)] = _ACCIDENTAL[acc]
        shift = self.bar_accidentals.get((upper, octave), self.key.get(upper, 0))
        return max(0, min(127, 12 * octave + _LETTER_SEMITONE[upper] + shift))

    def _sound(self, pitches: tuple[int, ...], units: Fraction) -> list[Event]:
        factor = self.next_factor
        self.next_factor = Fraction(1)
        if self.tuplet_left:
            factor *= self.tuplet_factor
            self.tuplet_left -= 1
        seconds = float(units * self.unit_beats * factor) * 60.0 / self.tok.quarter_bpm
        tie, self.tie = self.tie, False
        if tie and self.sounding is not None and self.sounding.pitches == pitches:
            self.sounding.length += seconds
            return []
        events = self._finish()
        self.sounding = _Sounding(pitches, self.time, seconds)
        velocity = self.tok.velocity + (self.tok.accent if self.accent_next else 0)
        self.accent_next = False
        return events + [Event(self.time, "note_on", p, min(127, velocity)) for p in pitches]

    def _finish(self) -> list[Event]:
        """Ends the sounding note (or rest) and moves the clock past it."""
        if self.sounding is None:
            return []
        s, self.sounding = self.sounding, None
        self.time = s.start + s.length
        return [Event(self.time, "note_off", p, 0) for p in s.pitches]
