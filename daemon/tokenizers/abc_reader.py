"""A streaming ABC reader: characters in, timed note events out (the abc_chars tokenizer's decoder).

It reads what a character model writes, one character at a time: tune headers (X: starts a tune,
K: sets the key signature, L: the unit note length), notes with accidentals (they last to the bar
line), octave marks and lengths, rests, [chords], ties, broken rhythm (> <) and tuplets ((3).
Quoted chord names, grace notes, decorations and inline fields are skipped. An element is read
once the next character shows where it ends ('c' may still become "c'2").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction

from ..events import Event

log = logging.getLogger(__name__)

_LETTER_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
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
        self.current: _Sounding | None = None
        self._new_tune()

    def _new_tune(self) -> None:
        self.key: dict[str, int] = {}
        self.bar_accidentals: dict[tuple[str, int], int] = {}
        self.unit_beats = Fraction(1, 2)  # L:1/8 -> half a quarter note
        self.tie = False
        self.next_factor = Fraction(1)
        self.tuplet_left, self.tuplet_factor = 0, Fraction(1)
        self.accent_next = True

    @property
    def sounding(self) -> set[int]:
        """Pitches the decoded music holds at `time` (their note-offs are still to come)."""
        return set(self.current.pitches) if self.current is not None else set()

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
        elif kind == "broken" and self.current is not None:
            dotted = Fraction(1, 2 ** len(m.group()))  # '>' moves half, '>>' three quarters
            longer, shorter = 2 - dotted, dotted
            first, second = (longer, shorter) if m.group()[0] == ">" else (shorter, longer)
            self.current.length *= float(first)
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
        if tie and self.current is not None and self.current.pitches == pitches:
            self.current.length += seconds
            return []
        events = self._finish()
        self.current = _Sounding(pitches, self.time, seconds)
        velocity = self.tok.velocity + (self.tok.accent if self.accent_next else 0)
        self.accent_next = False
        return events + [Event(self.time, "note_on", p, min(127, velocity)) for p in pitches]

    def _finish(self) -> list[Event]:
        """Ends the sounding note (or rest) and moves the clock past it."""
        if self.current is None:
            return []
        s, self.current = self.current, None
        self.time = s.start + s.length
        return [Event(self.time, "note_off", p, 0) for p in s.pitches]
