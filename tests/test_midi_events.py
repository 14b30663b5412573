"""The one Event <-> mido conversion: live messages both ways, MIDI files both ways."""

from __future__ import annotations

import mido
import pytest

from improvd.daemon.events import Event, Note, events_to_notes, notes_to_events
from improvd.daemon.midi_events import read_midi_file, to_event, to_message, write_midi_file


def test_message_conversions():
    on = mido.Message("note_on", note=60, velocity=90, channel=5)
    assert to_event(on, 1.5) == Event(1.5, "note_on", 60, 90, 5)
    cc = mido.Message("control_change", control=64, value=127, channel=1)
    assert to_event(cc, 2.0) == Event(2.0, "control_change", 64, 127, 1)
    assert to_event(mido.Message("pitchwheel", pitch=100), 0.0) is None
    assert to_event(mido.Message("sysex", data=[1, 2]), 0.0) is None
    assert to_message(Event(0, "note_off", 60, 0, channel=9), 2) == \
        mido.Message("note_off", note=60, velocity=0, channel=2)
    assert to_message(Event(0, "note_on", 200, -3), 0) == \
        mido.Message("note_on", note=127, velocity=0)
    assert to_message(Event(0, "control_change", 7, 100, channel=3)) == \
        mido.Message("control_change", control=7, value=100, channel=3)  # the event's channel
    with pytest.raises(ValueError):
        to_message(Event(0, "pitchwheel"), 0)


def test_a_midi_file_round_trip_keeps_notes_pedal_and_channels(tmp_path):
    notes = [Note(60, 90, 0.0, 0.5), Note(60, 80, 0.5, 1.0), Note(64, 70, 0.5, 1.25)]
    pedal = [Event(0.25, "control_change", 64, 127, 0), Event(1.0, "control_change", 64, 0, 0)]
    drum = [Event(0.0, "note_on", 36, 100, 9), Event(0.125, "note_on", 36, 0, 9)]
    path = write_midi_file(notes_to_events(notes) + pedal + drum, tmp_path / "out" / "a.mid")
    back = read_midi_file(path)
    assert events_to_notes(e for e in back if e.channel == 0) == notes
    assert [e for e in back if e.kind == "control_change"] == pedal
    # A velocity-0 note-on is written as the note-off it means; channels survive.
    assert [(e.kind, e.channel) for e in back if e.pitch == 36] == [("note_on", 9),
                                                                    ("note_off", 9)]
    assert [p.name for p in path.parent.iterdir()] == ["a.mid"]  # no temporary left behind
