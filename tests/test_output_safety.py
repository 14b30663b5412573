"""The output safety net: All Notes Off after each answer, a reset for listeners that may hold
notes from before (scheduler.py)."""

from __future__ import annotations

from test_scheduler import FakeOutput, off, on

from improvd.daemon.events import Event
from improvd.daemon.scheduler import ANSWER, THRU, Scheduler


class JackLikeOutput(FakeOutput):
    period_s = 64 / 48000


def cc(events, control):
    return [e for e in events if e.kind == "control_change" and e.pitch == control]


def test_all_notes_off_follows_the_answers_end_a_few_backend_cycles_later():
    out = JackLikeOutput(clock=lambda: now)
    s = Scheduler(out, clock=lambda: now)
    now = 0.0
    s.push(0.0, on(0.0, 60))
    s.push(1.0, off(1.0, 60))
    s.all_notes_off_after(1.0, 0)
    assert s.safety_delay_s == 8 * 64 / 48000
    now = 1.0
    s.run_due(now)
    assert cc(out.events(), 123) == [], "not in the same cycle as the note-off it backs up"
    now = 1.0 + s.safety_delay_s
    s.run_due(now)
    assert cc(out.events(), 123) == [Event(1.0, "control_change", 123, 0, 0)]


def test_where_a_note_still_sounds_the_answers_note_offs_are_repeated_instead():
    out = FakeOutput(clock=lambda: 2.0)
    s = Scheduler(out, clock=lambda: 2.0)
    s.push(0.0, on(0.0, 60))
    s.push(0.0, on(0.0, 62))
    s.push(0.0, on(0.0, 48), THRU)  # the player's thru note on the answer's channel
    s.push(1.0, off(1.0, 60))
    s.push(1.0, off(1.0, 62))
    s.all_notes_off_after(1.0, 0)
    s.run_due(2.0)
    events = out.events()
    assert cc(events, 123) == []
    assert [e.pitch for e in events[5:]] == [60, 62] and all(e.is_note_off for e in events[5:])
    assert s.sounding() == {(0, 48)}


def test_a_cut_answer_cancels_its_pending_all_notes_off():
    out = FakeOutput(clock=lambda: 1.0)
    s = Scheduler(out, clock=lambda: 1.0)
    s.push(0.0, on(0.0, 60))
    s.all_notes_off_after(5.0, 0)
    s.run_due(1.0)
    s.cancel_pending_and_release(ANSWER)
    assert s.pending() == 0


def test_reset_output_sends_all_notes_off_and_all_sound_off_on_each_channel():
    out = FakeOutput(clock=lambda: 0.0)
    s = Scheduler(out, clock=lambda: 0.0)
    s.reset_output({0, 9})
    assert [(e.channel, e.pitch) for e in out.events()] == [(0, 123), (0, 120), (9, 123), (9, 120)]


def test_a_cut_answer_gets_its_own_all_notes_off_a_few_cycles_after_the_cut():
    now = 1.0
    out = JackLikeOutput(clock=lambda: now)
    s = Scheduler(out, clock=lambda: now)
    s.push(0.0, on(0.0, 60))
    s.all_notes_off_after(5.0, 0)  # the answer's planned end
    s.run_due(now)
    assert s.cancel_pending_and_release(ANSWER, all_off_channel=0) == 1
    assert s.pending(ANSWER) == 1  # the planned one is gone, the cut's own is waiting
    now = 1.0 + s.safety_delay_s
    s.run_due(now)
    assert [e.time for e in cc(out.events(), 123)] == [1.0]
    assert s.pending() == 0
