"""Calls to answer in an evaluation: hand-written phrases and the openings of held-out pieces.

  hand     tests/data/calls/*.mid: short phrases written to test one thing each (swing, chords,
           odd meters, fast runs, legato, staccato, accents, a crescendo, triplets); their tempo,
           key and meter are in tests/data/calls/make_calls.py and in each file's meta messages
  bach     openings of the test split of music21's Bach collection (the default model's data)
  folk     ... of music21's folk collections (Essen, O'Neill's, Ryan's, Nottingham, ...)
  piano    ... of music21's keyboard works

Only test-split pieces are used (dataset.split_pieces, the rule training uses), so no call comes
from a piece a model was trained on. An opening is the first `seconds` of a piece, cut at the
first onset from there on (so its last notes end where the next would start).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events

log = logging.getLogger(__name__)

HAND_CALLS = Path(__file__).resolve().parents[1] / "tests" / "data" / "calls"
CORPUS_STYLES = {"bach": "music21:bach", "folk": "music21:folk", "piano": "music21:piano"}
STYLES = ("hand",) + tuple(CORPUS_STYLES)
MIN_NOTES = 4


@dataclass(frozen=True)
class Call:
    name: str
    style: str
    events: tuple[Event, ...]  # seconds from the call's first note

    @property
    def notes(self) -> list[Note]:
        return events_to_notes(self.events)


def opening(events: Sequence[Event], seconds: float) -> tuple[Event, ...]:
    """The first `seconds` of a piece as a call: notes starting before the first onset at or
    after `seconds`, ended there at the latest, shifted to start at 0. Controllers dropped."""
    notes = events_to_notes(e for e in events if e.kind != "control_change")
    if not notes:
        return ()
    first = notes[0].start
    later = [n.start for n in notes if n.start - first >= seconds]
    cut = min(later) if later else max(n.end for n in notes)
    kept = [Note(n.pitch, n.velocity, n.start - first, min(n.end, cut) - first)
            for n in notes if n.start < cut]
    return tuple(notes_to_events(kept))


def hand_calls(folder: Path = HAND_CALLS, limit: int | None = None) -> list[Call]:
    from .parsing import parse_midi_file

    paths = sorted(Path(folder).glob("*.mid"))[:limit]
    if not paths:
        raise FileNotFoundError(f"{folder}: no hand-written calls (*.mid); run make_calls.py")
    calls = []
    for path in paths:
        events = [e for e in parse_midi_file(str(path)) if e.kind != "control_change"]
        start = min(e.time for e in events)
        calls.append(Call(path.stem, "hand", tuple(
            Event(e.time - start, e.kind, e.pitch, e.velocity, e.channel) for e in events)))
    return calls


def corpus_calls(style: str, count: int, seconds: float,
                 limit: int | None = None) -> list[Call]:
    """Openings of up to `count` test-split pieces of one corpus style. `limit` bounds how many
    input files are parsed (a deterministic subset; the split rule is per piece name, so a test
    piece of the subset is a test piece of the whole source too)."""
    from .markov_runner import held_out_pieces

    calls = []
    for piece in held_out_pieces(CORPUS_STYLES[style], limit=limit):
        events = opening(piece.events, seconds)
        if sum(e.is_note_on for e in events) >= MIN_NOTES:
            calls.append(Call(piece.name, style, events))
        if len(calls) >= count:
            break
    log.info("%d %s calls from the test split of %s", len(calls), style, CORPUS_STYLES[style])
    return calls


def collect(styles: Sequence[str], count: int, seconds: float = 6.0,
            corpus_limit: int | None = 120, hand_folder: Path = HAND_CALLS) -> list[Call]:
    """Up to `count` calls of each style. The Bach collection is read whole (it is the default
    model's data, parsed once and cached); folk and piano through `corpus_limit` input files."""
    unknown = sorted(set(styles) - set(STYLES))
    if unknown:
        raise ValueError(f"unknown call styles {unknown}; known: {', '.join(STYLES)}")
    calls: list[Call] = []
    for style in styles:
        if style == "hand":
            calls += hand_calls(hand_folder, count)
        else:
            calls += corpus_calls(style, count, seconds,
                                  None if style == "bach" else corpus_limit)
    return calls
