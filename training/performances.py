"""Scores -> performances: random but musical renderings of a training piece, so that the
performance model learns what a player does and the score does not say.

Scores parse into notes with one velocity, exact timing and written lengths, at one tempo. A
performance variant of a piece draws, once for the whole piece:
  transposition    any of the 12 (-6..+5 semitones by default)
  tempo            a stretch factor, log-uniform in a wide range (0.6x to 1.6x the written tempo)
  articulation     sounding length / written length, from staccato (0.35) to legato (1.1; never
                   past the next strike of the same key)
and per note: timing jitter (a few ms, the same for the notes of a chord), and a velocity from
a level, an accent on the beats (the beat from the piece's pulse, daemon/pulse.py), a phrase arc
(a rise and fall over two bars) and a little unevenness. Only the train split is augmented.

With absolute time (10 ms shifts) the wide tempo range lets the model meet every tempo it may have
to continue; with beat-relative time (beat_performance) the tempo is scaled away and what remains
of a variant is its timing, articulation and dynamics.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from improvd.daemon.analysis import analyze_notes
from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events

from .sources import Piece

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranges:
    """What a variant may draw (each pair is low, high)."""

    transpose: tuple[int, int] = (-6, 5)
    tempo: tuple[float, float] = (0.6, 1.6)
    articulation: tuple[float, float] = (0.35, 1.1)
    jitter_s: float = 0.006
    level: tuple[int, int] = (35, 115)
    accent: tuple[int, int] = (0, 24)
    arc: tuple[int, int] = (0, 16)
    unevenness: int = 4


def piece_rng(name: str, variant: int, seed: int) -> np.random.Generator:
    """The same draws for the same piece and variant on every run, whatever the piece order."""
    key = f"performance:{seed}:{name}:{variant}".encode()
    return np.random.default_rng(int(hashlib.sha256(key).hexdigest()[:16], 16))


def perform(notes: Sequence[Note], rng: np.random.Generator, r: Ranges,
            beat_s: float | None, beat_origin: float = 0.0) -> list[Note]:
    """One performance of a piece's notes (written times in seconds)."""
    return performed(notes, rng, r, beat_s, beat_origin)[0]


def performed(notes: Sequence[Note], rng: np.random.Generator, r: Ranges,
              beat_s: float | None, beat_origin: float = 0.0) -> tuple[list[Note], float]:
    """perform(), and the tempo stretch it drew (a beat of the performance lasts beat_s times
    that)."""
    transpose = int(rng.integers(r.transpose[0], r.transpose[1] + 1))
    stretch = math.exp(rng.uniform(math.log(r.tempo[0]), math.log(r.tempo[1])))
    articulation = rng.uniform(*r.articulation)
    level = rng.uniform(*r.level)
    accent = rng.uniform(*r.accent)
    arc = rng.uniform(*r.arc)
    starts = sorted({n.start for n in notes})
    shift = dict(zip(starts, rng.normal(0.0, r.jitter_s, len(starts))))
    next_strike = _next_strikes(notes)
    out = []
    for i, n in enumerate(notes):
        pitch = n.pitch + transpose
        if not 0 <= pitch <= 127:
            continue
        length = (n.end - n.start) * articulation
        if articulation > 1.0:  # legato never runs into the key's next strike
            length = min(length, next_strike[i] - n.start)
        velocity = level + rng.integers(-r.unevenness, r.unevenness + 1)
        if beat_s:
            beats = (n.start - beat_origin) / beat_s
            if abs(beats - round(beats)) < 0.1:
                velocity += accent
            velocity += arc * (math.sin(math.pi * (beats % 8) / 8) - 0.5)
        start = max(0.0, n.start * stretch + shift[n.start])
        out.append(Note(pitch, int(np.clip(round(velocity), 1, 127)), start,
                        start + max(0.03, length * stretch)))
    return out, stretch


def _next_strikes(notes: Sequence[Note]) -> list[float]:
    """For each note, when its key is struck next (inf if never)."""
    later: dict[int, float] = {}
    result = [math.inf] * len(notes)
    for i in sorted(range(len(notes)), key=lambda i: -notes[i].start):
        result[i] = later.get(notes[i].pitch, math.inf)
        later[notes[i].pitch] = notes[i].start
    return result


def performances(pieces: Sequence[Piece], tokenizer, variants: int, ranges: Ranges,
                 seed: int = 0) -> list[np.ndarray]:
    """Token arrays: each piece as written plus `variants` performances of it."""
    sequences = []
    for piece in pieces:
        notes = events_to_notes(e for e in piece.events if e.kind != "control_change")
        events: list[Event] = list(piece.events)
        pulse = analyze_notes(notes[:64]).pulse if len(notes) >= 4 else None
        beat_s, origin = (pulse.beat_s, pulse.origin) if pulse else (None, 0.0)
        for v in range(variants + 1):
            variant_beat_s = beat_s
            if v:
                played, stretch = performed(notes, piece_rng(piece.name, v, seed), ranges,
                                            beat_s, origin)
                events = notes_to_events(played)
                variant_beat_s = beat_s * stretch if beat_s else None
            ids = np.asarray(_encode(tokenizer, events, variant_beat_s), dtype=np.int32)
            if ids.size:
                sequences.append(ids)
    return sequences


def _encode(tokenizer, events: list[Event], beat_s: float | None) -> list[int]:
    """A beat-relative tokenizer is told the beat it would otherwise hear again (a variant's is
    the written beat times its stretch: one pulse analysis per piece, not per variant)."""
    if tokenizer.beat_relative:
        return tokenizer.encode_at(events, beat_s)
    return tokenizer.encode(events)
