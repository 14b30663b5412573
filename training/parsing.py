"""One input file -> timed events: music21 scores, MIDI files and JSB chorale CSV.

Every function here returns plain `Event` lists with times in seconds from the piece start,
sorted, note-offs before note-ons at equal times. They run inside worker processes (see
sources.py), so they import music21 lazily: a MIDI-only run never loads it.
"""

from __future__ import annotations

import logging

from improvd.daemon.events import SUSTAIN_CC, Event, Note, notes_to_events
from improvd.daemon.midi_events import read_midi_file

from . import jsb

log = logging.getLogger(__name__)

DEFAULT_QPM = 100.0  # quarter notes per minute when a score has no MetronomeMark
DEFAULT_VELOCITY = 80  # when a score has neither note velocities nor dynamics
DRUM_CHANNEL = 9  # MIDI channel 10, counted from zero: no pitches there, only drum sounds

# JSB chorale CSV: one row per 16th note, four voices (soprano, alto, tenor, bass), 0 = rest.
JSB_QPM = 100.0  # the chorales carry no tempo; quarter = 100 bpm -> one 16th = 0.15 s
JSB_STEP_S = 60.0 / JSB_QPM / 4


# --- music21 scores ------------------------------------------------------------------------------
def score_to_events(score) -> list[Event]:
    """A music21 Score (or Part) -> events. Ties merged, chords -> several notes, tempo from
    MetronomeMarks (quarter = 100 without one), velocity from the note or the last dynamic."""
    from music21 import stream

    score = score.stripTies()
    to_seconds = _tempo_map(score)
    parts = list(score.getElementsByClass(stream.Part)) or [score]
    notes: list[Note] = []
    for part in parts:
        notes.extend(_part_notes(part, to_seconds))
    return notes_to_events(one_key_per_pitch(notes))


def one_key_per_pitch(notes: list[Note]) -> list[Note]:
    """Voices in unison share one key, as on a keyboard: notes of a pitch that start together
    become one (the longest); a note struck while the same pitch sounds ends the earlier one
    there and lasts until the later of the two ends. Without this, pairing note-ons with
    note-offs gives zero-length or cut-short notes."""
    out: list[Note] = []
    by_pitch: dict[int, list[Note]] = {}
    for n in notes:
        by_pitch.setdefault(n.pitch, []).append(n)
    for same in by_pitch.values():
        same.sort(key=lambda n: (n.start, -n.end))
        current = same[0]
        for n in same[1:]:
            if n.start >= current.end:  # no overlap
                out.append(current)
                current = n
            elif n.start == current.start:  # unison from the same instant: one note
                current = Note(current.pitch, current.velocity, current.start,
                               max(current.end, n.end))
            else:  # re-struck while sounding
                out.append(Note(current.pitch, current.velocity, current.start, n.start))
                current = Note(n.pitch, n.velocity, n.start, max(current.end, n.end))
        out.append(current)
    return out


def _tempo_map(score):
    """Offset in quarter lengths -> seconds, honouring every MetronomeMark of the score."""
    from music21 import tempo

    flat = score.flatten()
    if not flat.getElementsByClass(tempo.MetronomeMark):
        flat.insert(0, tempo.MetronomeMark(number=DEFAULT_QPM))
    segments = []  # (start offset, start seconds, seconds per quarter)
    seconds = 0.0
    for start, end, mark in flat.metronomeMarkBoundaries():
        spq = mark.secondsPerQuarter()
        segments.append((float(start), seconds, spq))
        seconds += float(end - start) * spq

    def to_seconds(offset: float) -> float:
        offset = float(offset)
        chosen = segments[0]
        for seg in segments:  # few segments per score: a linear scan is plenty
            if seg[0] <= offset:
                chosen = seg
        start, start_s, spq = chosen
        return start_s + (offset - start) * spq

    return to_seconds


def _part_notes(part, to_seconds) -> list[Note]:
    from music21 import chord, dynamics, note

    notes: list[Note] = []
    velocity = DEFAULT_VELOCITY
    for el in part.flatten():  # flattened: offsets are absolute within the piece
        if isinstance(el, dynamics.Dynamic):
            if el.volumeScalar is not None:
                velocity = max(1, min(127, round(el.volumeScalar * 127)))
            continue
        if isinstance(el, note.Note):
            pitches = [el.pitch]
        elif isinstance(el, chord.Chord):
            pitches = list(el.pitches)
        else:  # rests, unpitched percussion, layout and text objects
            continue
        ql = float(el.quarterLength)
        if ql <= 0:  # grace notes carry no duration of their own
            continue
        start = to_seconds(el.offset)
        end = to_seconds(float(el.offset) + ql)
        vel = el.volume.velocity if el.volume.velocity else velocity
        for p in pitches:
            if 0 <= p.midi <= 127:
                notes.append(Note(int(p.midi), int(vel), start, end))
    return notes


def parse_score_file(path: str):
    """A score file (MusicXML, kern, ABC...) -> ([(tune id or None, events)], [(tune id, why)]).
    An ABC file that holds many tunes is an Opus: one entry per tune, named by its position and
    X: number; a tune that fails to convert is reported without losing the others."""
    from music21 import converter, stream

    parsed = converter.parse(path)
    if not isinstance(parsed, stream.Opus):
        return [(None, score_to_events(parsed))], []
    found, failed = [], []
    for i, score in enumerate(parsed.scores):
        number = getattr(score.metadata, "number", None) if score.metadata else None
        tune = f"{i:04d}" + (f"-X{number}" if number else "")
        try:
            found.append((tune, score_to_events(score)))
        except Exception as exc:  # noqa: BLE001 - one broken tune must not cost the others
            failed.append((tune, f"{type(exc).__name__}: {exc}"))
    return found, failed


# --- MIDI files ----------------------------------------------------------------------------------
def parse_midi_file(path: str) -> list[Event]:
    """A standard MIDI file -> events (read_midi_file: tracks merged, every tempo change
    honoured); drums (channel 10) are dropped, of the controllers only sustain (CC64) is kept,
    and note-offs carry no release velocity."""
    events: list[Event] = []
    for e in read_midi_file(path):
        if e.channel == DRUM_CHANNEL or (e.kind == "control_change" and e.pitch != SUSTAIN_CC):
            continue
        events.append(Event(e.time, "note_off", e.pitch, 0, e.channel) if e.kind == "note_off"
                      else e)
    return events


# --- JSB chorales ------------------------------------------------------------------------------
def jsb_grid_to_events(grid) -> list[Event]:
    """One chorale's grid [steps, voices] (see jsb.py) -> events. A pitch repeated in consecutive
    rows of a voice is one held note; 0 is a rest."""
    rows = [[int(v) for v in row] for row in grid]
    if not rows:
        return []
    notes: list[Note] = []
    for voice in range(len(rows[0])):
        start = 0
        for step in range(1, len(rows) + 1):
            pitch = rows[start][voice]
            if step == len(rows) or rows[step][voice] != pitch:
                if pitch > 0:
                    notes.append(Note(pitch, DEFAULT_VELOCITY, start * JSB_STEP_S,
                                      step * JSB_STEP_S))
                start = step
    return notes_to_events(one_key_per_pitch(notes))


def parse_jsb_csv(text: str) -> list[Event]:
    """One chorale CSV (header note0..note3, one row per 16th) -> events."""
    return jsb_grid_to_events(jsb.read_chorale_csv(text, "chorale CSV"))


def parse_jsb_tgz(path: str):
    """The chorales tgz -> ([(name, events)], [(name, why skipped)]), names keeping the tgz's
    split folders ("jsb:train/chorale_000"). Each CSV is its own piece: a bad one skips alone."""
    grids, skipped = jsb.read_chorales(path, strict=False)
    found = []
    for name, grid in grids:
        events = jsb_grid_to_events(grid)
        if has_notes(events):
            found.append((name, events))
        else:
            skipped.append((name, "no notes"))
    return found, sorted(skipped)


def has_notes(events: list[Event]) -> bool:
    return any(e.is_note_on for e in events)
