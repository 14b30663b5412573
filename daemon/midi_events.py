"""The one Event <-> mido conversion, for live messages (ports, engine) and MIDI files (training's
sources, `improvd generate`). Event channels are 0-based, as mido's.

    to_event(msg, t)         a mido message -> Event, or None for what improvd ignores
    to_message(event, ch)    an Event -> a mido message on channel ch, values clamped to 0..127
    read_midi_file(path)     a standard MIDI file -> Events in seconds, every tempo change honoured
    read_midi_tracks(path)   ... the same, one list per named track (a recorded session's parts)
    write_midi_file(events, path)   Events -> a one-track MIDI file, written atomically
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import mido

from .atomic import atomic_path
from .events import Event

log = logging.getLogger(__name__)


def to_event(msg: mido.Message, t: float) -> Event | None:
    """A mido message -> Event (channel kept, 0-based), or None for what the daemon ignores."""
    if msg.type in ("note_on", "note_off"):
        return Event(t, msg.type, msg.note, msg.velocity, msg.channel)
    if msg.type == "control_change":
        return Event(t, "control_change", msg.control, msg.value, msg.channel)
    return None


def _clamp(value: int) -> int:
    return min(127, max(0, int(value)))


def to_message(event: Event, channel: int | None = None) -> mido.Message:
    """Event -> mido message on `channel` (0-based, 0..15; default the event's own); values
    clamped to 0..127."""
    channel = event.channel if channel is None else channel
    if event.kind == "control_change":
        return mido.Message("control_change", channel=channel, control=_clamp(event.pitch),
                            value=_clamp(event.velocity))
    if event.kind in ("note_on", "note_off"):
        return mido.Message(event.kind, channel=channel, note=_clamp(event.pitch),
                            velocity=_clamp(event.velocity))
    raise ValueError(f"cannot send an event of kind {event.kind!r}")


def read_midi_file(path: str | Path) -> list[Event]:
    """Every note and controller event of a standard MIDI file, in seconds from its start. mido
    merges the tracks and turns ticks into seconds with every tempo change honoured."""
    events: list[Event] = []
    now = 0.0
    for msg in mido.MidiFile(str(path)):  # delta times in seconds
        now += msg.time
        if not msg.is_meta and (event := to_event(msg, now)) is not None:
            events.append(event)
    return events


def read_midi_tracks(path: str | Path) -> dict[str, list[Event]]:
    """Track name (or "track N" when it has none) -> its note and controller events in seconds.
    The tempo map is every set_tempo of every track, as players read a type-1 file."""
    midi = mido.MidiFile(str(path))
    tempo_map = sorted((tick, msg.tempo) for track in midi.tracks
                       for tick, msg in _absolute(track) if msg.type == "set_tempo")

    def seconds(tick: int) -> float:
        elapsed, last_tick, tempo = 0.0, 0, mido.midifiles.midifiles.DEFAULT_TEMPO
        for change_tick, change_tempo in tempo_map:
            if change_tick >= tick:
                break
            elapsed += mido.tick2second(change_tick - last_tick, midi.ticks_per_beat, tempo)
            last_tick, tempo = change_tick, change_tempo
        return elapsed + mido.tick2second(tick - last_tick, midi.ticks_per_beat, tempo)

    tracks: dict[str, list[Event]] = {}
    for i, track in enumerate(midi.tracks):
        name = next((m.name for m in track if m.type == "track_name"), f"track {i}")
        tracks[name] = [e for tick, msg in _absolute(track) if not msg.is_meta
                        and (e := to_event(msg, seconds(tick))) is not None]
    return tracks


def _absolute(track: mido.MidiTrack):
    tick = 0
    for msg in track:
        tick += msg.time
        yield tick, msg


def with_delta_times(timed: Iterable[tuple[int, mido.Message]]) -> list[mido.Message]:
    """(absolute tick, message) pairs in time order -> the messages with .time set to the ticks
    since the one before, as a MIDI track stores them."""
    out, last = [], 0
    for tick, msg in timed:
        out.append(msg.copy(time=tick - last))
        last = tick
    return out


def events_track(events: Iterable[Event], seconds_per_tick: float, head=()) -> mido.MidiTrack:
    """Events (times in seconds) -> a MIDI track after the `head` meta messages; offs before
    ons at a tie, so a repeated pitch ends and restarts at the same instant; a note-on of
    velocity 0 is written as the note-off it means."""
    track = mido.MidiTrack(head)
    now = 0
    for e in sorted(events, key=lambda e: (e.time, e.is_note_on, e.pitch)):
        tick = max(now, round(e.time / seconds_per_tick))
        if e.is_note_off:
            e = Event(e.time, "note_off", e.pitch, 0, e.channel)
        track.append(to_message(e).copy(time=tick - now))
        now = tick
    return track


def write_midi_file(events: Iterable[Event], path: str | Path, *, ticks_per_beat: int = 480,
                    bpm: float = 120.0, tracks: dict[str, Iterable[Event]] | None = None) -> Path:
    """Events (times in seconds) -> a MIDI file at `bpm`, atomically. With `tracks`, one named
    track each (e.g. {"call": ..., "answer": ...}) and `events` ignored."""
    seconds_per_tick = 60.0 / bpm / ticks_per_beat
    tempo = mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0)
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    if tracks is None:
        midi.tracks.append(events_track(events, seconds_per_tick, [tempo]))
    for i, (name, part) in enumerate((tracks or {}).items()):
        head = [mido.MetaMessage("track_name", name=name)] + ([tempo] if i == 0 else [])
        midi.tracks.append(events_track(part, seconds_per_tick, head))
    with atomic_path(path) as tmp:
        midi.save(str(tmp))
    return Path(path)