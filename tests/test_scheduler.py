"""Scheduler: due order, note-offs on every path, a thread that waits on its Condition."""

from __future__ import annotations

import threading
import time

from improvd.daemon.events import Event
from improvd.daemon.scheduler import ANSWER, THRU, Scheduler


class FakeOutput:
    """Records (time sent, event); the time comes from the clock the test gives it."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.sent: list[tuple[float, Event]] = []
        self.lock = threading.Lock()

    def send_event(self, event, channel):
        assert channel == event.channel
        with self.lock:
            self.sent.append((self.clock(), event))

    def events(self):
        with self.lock:
            return [e for _, e in self.sent]


def on(t, pitch, channel=0):
    return Event(t, "note_on", pitch, 80, channel)


def off(t, pitch, channel=0):
    return Event(t, "note_off", pitch, 0, channel)


def test_sends_in_due_order_and_not_before_due():
    out = FakeOutput()
    s = Scheduler(out, clock=lambda: 0.0)
    for due, pitch in [(0.3, 62), (0.1, 60), (0.2, 61), (0.1, 59)]:
        s.push(due, on(due, pitch))
    assert s.run_due(0.05) == 0.1 and out.sent == []
    assert s.run_due(0.1) == 0.2
    assert [e.pitch for e in out.events()] == [60, 59]  # equal due times: pushed order
    assert s.run_due(1.0) is None
    assert [e.pitch for e in out.events()] == [60, 59, 61, 62]


def test_tracks_sounding_notes():
    out = FakeOutput()
    s = Scheduler(out, clock=lambda: 0.0)
    s.push(0.0, on(0, 60))
    s.push(0.0, on(0, 64, channel=2))
    s.push(0.1, off(0.1, 60))
    s.run_due(0.0)
    assert s.sounding() == {(0, 60), (2, 64)}
    s.run_due(0.1)
    assert s.sounding() == {(2, 64)}


def test_cancel_releases_answer_notes_and_keeps_the_players_thru_notes():
    out = FakeOutput()
    s = Scheduler(out, clock=lambda: 1.0)
    s.push(0.0, on(0, 60))
    s.push(0.0, on(0, 48, channel=1), THRU)
    s.push(2.0, off(2.0, 60))
    s.push(2.0, on(2.0, 67))
    s.push(2.0, off(2.0, 48, channel=1), THRU)
    s.run_due(1.0)
    assert s.cancel_pending_and_release(ANSWER) == 1
    assert out.events()[-1] == Event(1.0, "note_off", 60, 0, 0)  # released at once
    assert s.pending(ANSWER) == 0 and s.pending(THRU) == 1
    assert s.sounding() == {(1, 48)}
    s.run_due(3.0)
    assert s.sounding() == set()
    assert 67 not in [e.pitch for e in out.events() if e.is_note_on]


def test_panic_ends_everything_and_sends_all_notes_off():
    out = FakeOutput()
    s = Scheduler(out, clock=lambda: 5.0, panic_channels=(3,))
    s.push(0.0, on(0, 60, channel=0))
    s.push(0.0, on(0, 61, channel=1), THRU)
    s.push(9.0, on(9.0, 62))
    s.run_due(1.0)
    s.panic()
    tail = out.events()[2:]
    assert {(e.channel, e.pitch) for e in tail if e.is_note_off} == {(0, 60), (1, 61)}
    cc123 = {e.channel for e in tail if e.kind == "control_change" and e.pitch == 123}
    assert cc123 == {0, 1, 3}
    assert s.pending() == 0 and s.sounding() == set()


def test_thread_sends_at_due_time_and_an_earlier_push_wakes_it():
    out = FakeOutput()
    s = Scheduler(out)
    s.start()
    try:
        t0 = time.monotonic()
        s.push(t0 + 5.0, on(t0 + 5.0, 72))  # the thread now waits ~5 s...
        time.sleep(0.05)
        s.push(t0 + 0.15, on(t0 + 0.15, 60))  # ...and must wake for this one
        deadline = time.monotonic() + 3
        while not out.sent and time.monotonic() < deadline:
            time.sleep(0.005)
        sent_at, event = out.sent[0]
        assert event.pitch == 60
        assert t0 + 0.15 <= sent_at < t0 + 0.15 + 1.0  # far below 5 s; generous for shared CI
    finally:
        s.stop()
    # stop() panicked: the note it sent has its note-off; the 5 s one was never played.
    events = out.events()
    assert Event(events[1].time, "note_off", 60, 0, 0) in events
    assert 72 not in [e.pitch for e in events]


def test_idle_thread_waits_instead_of_polling():
    calls = []

    def counting_clock():
        calls.append(1)
        return time.monotonic()

    s = Scheduler(FakeOutput(), clock=counting_clock)
    s.start()
    time.sleep(0.3)
    s.push(counting_clock() + 10, on(0, 60))
    time.sleep(0.3)
    idle_calls = len(calls)
    s.stop()
    assert idle_calls <= 5, f"the clock was read {idle_calls} times while idle"


def test_a_failing_output_does_not_kill_the_thread():
    class Flaky(FakeOutput):
        def send_event(self, event, channel):
            if event.pitch == 13:
                raise OSError("port vanished")
            super().send_event(event, channel)

    out = Flaky()
    s = Scheduler(out)
    s.start()
    now = time.monotonic()
    s.push(now, on(now, 13))
    s.push(now + 0.05, on(now + 0.05, 60))
    deadline = time.monotonic() + 3
    while not out.sent and time.monotonic() < deadline:
        time.sleep(0.005)
    s.stop()
    assert [e.pitch for e in out.events() if e.is_note_on] == [60]
    assert (0, 60) not in s.sounding()
