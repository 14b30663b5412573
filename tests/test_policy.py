"""Call-and-response decisions from events and times alone (no threads, no clock)."""

from __future__ import annotations

import dataclasses

import pytest

from improvd.daemon.config import PolicyConfig
from improvd.daemon.events import Event
from improvd.daemon.policy import LISTENING, RESPONDING, CallResponsePolicy, Respond, Stop


def policy(**kw) -> CallResponsePolicy:
    return CallResponsePolicy(dataclasses.replace(PolicyConfig(), **kw))


def play(p, notes, start=0.0, length=0.2, gap=0.05, channel=0):
    """Feed a monophonic phrase; returns the decisions and the time of the last note-off."""
    decisions, t = [], start
    for pitch in notes:
        decisions.append(p.on_event(Event(t, "note_on", pitch, 90, channel)))
        t += length
        decisions.append(p.on_event(Event(t, "note_off", pitch, 0, channel)))
        t += gap
    return [d for d in decisions if d is not None], t - gap


def test_call_ends_after_silence_with_every_key_up():
    p = policy(silence_ms=500)
    decisions, end = play(p, [60, 62, 64, 65])
    assert decisions == []
    assert p.next_deadline() == pytest.approx(end + 0.5)
    assert p.poll(end + 0.499) is None
    d = p.poll(end + 0.5)
    assert d == Respond(call_seconds=pytest.approx(end), notes=4,
                        response_seconds=pytest.approx(end))
    assert p.state == RESPONDING and p.poll(end + 5) is None


def test_a_held_key_keeps_the_call_open():
    p = policy(silence_ms=300)
    p.on_event(Event(0.0, "note_on", 48, 80))
    play(p, [60], start=0.1)
    assert p.next_deadline() is None and p.poll(30.0) is None
    p.on_event(Event(31.0, "note_on", 48, 0))  # velocity-0 note-on = note-off
    assert p.poll(31.3) == Respond(31.0, 2, 16.0)  # capped by max_response_s


def test_short_calls_are_ignored():
    p = policy(min_call_ms=150)
    _, end = play(p, [60], length=0.1)
    assert p.poll(end + 1) is None and p.state == LISTENING
    _, end = play(p, [60, 62], start=5.0)  # the next real phrase is a call of its own
    assert p.poll(end + 1).notes == 2


def test_end_call_controller_ends_the_call_at_once():
    p = policy(end_call_cc=67, silence_ms=2000)
    play(p, [60, 62, 64])
    assert p.on_event(Event(0.8, "control_change", 67, 10)) is None  # not pressed
    assert p.on_event(Event(0.9, "control_change", 66, 127)) is None  # another pedal
    d = p.on_event(Event(1.0, "control_change", 67, 127))
    assert d == Respond(1.0, 3, 1.0)


def test_end_call_controller_off_by_default():
    p = policy()
    play(p, [60, 62])
    assert p.on_event(Event(1.0, "control_change", 127, 127)) is None  # -1: no controller


def test_fixed_response_length_and_cap():
    p = policy(response=3.0)
    _, end = play(p, [60, 62])
    assert p.poll(end + 1).response_seconds == 3.0
    p = policy(response=30.0, max_response_s=8.0)
    _, end = play(p, [60, 62])
    assert p.poll(end + 1).response_seconds == 8.0


def test_barge_in_stop_stops_and_starts_a_new_call():
    p = policy(barge_in="stop", silence_ms=400)
    _, end = play(p, [60, 62])
    assert isinstance(p.poll(end + 0.4), Respond)
    assert p.on_event(Event(end + 1.0, "note_off", 99, 0)) is None  # noise is not a barge-in
    assert p.on_event(Event(end + 1.0, "note_on", 67, 90)) == Stop()
    assert p.state == LISTENING and p.call_start == end + 1.0
    p.on_event(Event(end + 1.3, "note_off", 67, 0))
    assert p.poll(end + 1.7) == Respond(pytest.approx(0.3), 1, pytest.approx(0.3))


def test_barge_in_continue_lets_the_answer_finish_then_answers_the_new_call():
    p = policy(barge_in="continue", silence_ms=400)
    _, end = play(p, [60, 62])
    p.poll(end + 0.4)
    decisions, end2 = play(p, [64, 65], start=end + 1.0)
    assert decisions == [] and p.state == RESPONDING
    assert p.poll(end2 + 1.0) is None  # still answering
    p.response_done()
    assert p.poll(end2 + 1.0).notes == 2


def test_note_off_without_note_on_is_ignored():
    p = policy()
    assert p.on_event(Event(0.0, "note_off", 60, 0)) is None
    assert p.next_deadline() is None and p.call_start is None
    play(p, [60], start=1.0, length=0.3)
    p.on_event(Event(9.0, "note_off", 61, 0))  # must not move the silence deadline
    assert p.next_deadline() == pytest.approx(1.8)


def test_channels_are_told_apart():
    p = policy(silence_ms=300)
    p.on_event(Event(0.0, "note_on", 60, 90, channel=1))
    p.on_event(Event(0.2, "note_off", 60, 0, channel=0))  # another channel's note-off
    assert p.poll(5.0) is None
    p.on_event(Event(5.0, "note_off", 60, 0, channel=1))
    assert isinstance(p.poll(5.3), Respond)
