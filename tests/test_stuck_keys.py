"""A lost note-off never wedges the policy: stale held keys, All Notes Off from the player."""

from __future__ import annotations

import dataclasses
import logging

from improvd.daemon.analysis import CallAnalyzer
from improvd.daemon.config import PolicyConfig
from improvd.daemon.events import Event
from improvd.daemon.policy import CallResponsePolicy, Respond


def policy(**kw):
    analyzer = CallAnalyzer()
    config = dataclasses.replace(PolicyConfig(), end_on_pulse=False, **kw)
    return CallResponsePolicy(config, analyzer), analyzer


def phrase(p, a, pitches, start, lose_off=None):
    """A phrase whose note-off of `lose_off` never arrives; returns the last event's time."""
    t = start
    for pitch in pitches:
        for e in (Event(t, "note_on", pitch, 90), Event(t + 0.2, "note_off", pitch, 0)):
            if e.is_note_off and pitch == lose_off:
                continue
            a.update(e)
            p.on_event(e)
        t += 0.25
    return t - 0.05


def test_a_lost_note_off_holds_the_call_only_until_the_key_is_stale(caplog):
    p, a = policy(silence_ms=500, stuck_key_s=3.0)
    end = phrase(p, a, [60, 62, 64], 0.0, lose_off=62)
    assert p.poll(end + 2.0) is None, "a key down for less than stuck_key_s keeps the call open"
    assert p.held and a.held == 1
    with caplog.at_level(logging.WARNING):
        decision = p.poll(0.25 + 3.0)  # 62 went down at 0.25
    assert isinstance(decision, Respond) and decision.notes == 3
    assert not p.held and a.held == 0
    assert "1 held keys counted as released (62/ch1)" in caplog.text


def test_a_stale_key_releases_only_once_the_rest_of_the_call_is_silent():
    p, a = policy(silence_ms=500, stuck_key_s=1.0)
    phrase(p, a, [60], 0.0, lose_off=60)
    end = phrase(p, a, [62, 64, 65, 67, 69, 71], 0.5)  # still playing when 60 turns stale
    assert p.poll(1.2) is None and p.poll(end + 0.49) is None
    assert isinstance(p.poll(end + 0.5), Respond)


def test_all_notes_off_or_all_sound_off_from_the_player_releases_every_key():
    for control in (123, 120):
        p, a = policy(silence_ms=300)
        end = phrase(p, a, [60, 62, 64], 0.0, lose_off=64)
        assert p.poll(end + 5) is None
        off = Event(end + 5, "control_change", control, 0)
        a.update(off)
        p.on_event(off)
        assert not p.held and a.held == 0
        assert isinstance(p.poll(end + 5.3), Respond)


def test_a_duplicated_note_on_in_place_of_its_note_off_is_harmless():
    # python-rtmidi's JACK input can queue the previous message again in place of a lost one.
    p, a = policy(silence_ms=300, stuck_key_s=2.0)
    on = Event(0.0, "note_on", 60, 90)
    for e in (on, on, Event(0.2, "note_on", 60, 90), Event(0.3, "note_on", 62, 90),
              Event(0.5, "note_off", 62, 0)):
        a.update(e)
        p.on_event(e)
    assert p.poll(2.1) is None  # 60 was struck again at 0.2: stale at 2.2
    assert isinstance(p.poll(2.2), Respond)
