"""The listeners' bookkeeping of the e2e tests and benchmarks: what a synth is left playing."""

from __future__ import annotations

import mido

from improvd.testsupport.midi_peer import left_sounding, sounding


def heard(*messages):
    return [(float(i), m) for i, m in enumerate(messages)]


def test_all_notes_off_and_all_sound_off_end_their_channels_notes_only():
    msgs = heard(mido.Message("note_on", note=60, velocity=90),
                 mido.Message("note_on", note=62, velocity=90, channel=1),
                 mido.Message("note_on", note=64, velocity=90),
                 mido.Message("control_change", control=123, value=0))
    assert sounding(msgs) == {(0, 60): 1, (0, 64): 1, (1, 62): 1}
    assert left_sounding(msgs) == {(1, 62): 1}
    msgs += heard(mido.Message("control_change", control=120, value=0, channel=1))
    assert left_sounding(msgs) == {}
    later = heard(mido.Message("note_on", note=65, velocity=90))  # after the reset: sounds
    assert left_sounding(msgs + later) == {(0, 65): 1}
