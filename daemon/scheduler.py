"""The output thread: sends timed events at their due time, and makes sure every note ends.

A heap of (due, seq, event, source) and a Condition: the thread sleeps in Condition.wait until the
earliest due time (or until a push brings an earlier one), never in a sleep-and-poll loop. It
tracks which (channel, pitch) it left sounding, so every note-on it sent gets a note-off on every
path: a normal end (the engine schedules them), a barge-in (cancel_pending_and_release), shutdown
or an error (panic: note-off for each sounding note + CC123 "all notes off").

MIDI on its way to a listener can still be lost (a JACK xrun drops a cycle's messages, a listener
is disconnected for a moment). So an answer that ends or is cut is followed, a few periods later,
by All Notes Off (CC123) on its channel: a note-off lost on the way is made good, and a listener
that heard everything loses nothing. Where a note still sounds on that channel (the player's thru
notes, a new answer) the answer's note-offs are sent again instead, so nothing else is cut. And
reset_output() sends CC123 + CC120 (All Sound Off) to listeners that may hold notes from before:
at start-up (a daemon killed mid-answer) and when the output gains a connection.

All sends happen with the Condition's lock held, so the engine thread may release notes at once
(barge-in) without racing the scheduler thread on the port.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from . import realtime
from .events import Event

log = logging.getLogger(__name__)

ANSWER = "answer"  # notes the model plays
AHEAD = "ahead"  # an answer computed before the call's end (speculation.py), not yet kept
THRU = "thru"  # the player's own notes forwarded (midi.thru); a barge-in must not cut them
ALL_NOTES_OFF = 123
ALL_SOUND_OFF = 120
SAFETY_PERIODS = 8  # the answer's All Notes Off waits this many backend cycles after its end


class Scheduler:
    def __init__(self, output, clock: Callable[[], float] = time.monotonic,
                 panic_channels: tuple[int, ...] = ()):
        """output: anything with send_event(event, channel) (channel 0..15, as in Event).
        panic_channels: channels that get CC123 on panic even when nothing was sent there."""
        self.output = output
        self.clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Event, str]] = []
        self._seq = itertools.count()
        self._sounding: dict[tuple[int, int], str] = {}
        self._channels: set[int] = set(panic_channels)  # channels that get CC123 on panic
        # The answer's note-offs since its last All Notes Off: sent again where CC123 cannot be.
        self._released: set[tuple[int, int]] = set()
        self.safety_delay_s = SAFETY_PERIODS * getattr(output, "period_s", 0.0)
        self._thread: threading.Thread | None = None
        self._running = False
        self.sent = 0
        # on_sent(t, event, source) after each send, on the sending thread with the lock held:
        # it must only hand the event on (the session recorder queues it).
        self.on_sent: Callable[[float, Event, str], None] | None = None
        self.max_late_s = 0.0  # worst lateness of a send since the last reset_stats()

    # --- any thread --------------------------------------------------------------------------
    def push(self, due: float, event: Event, source: str = ANSWER) -> None:
        with self._cond:
            seq = next(self._seq)
            heapq.heappush(self._heap, (due, seq, event, source))
            if self._heap[0][1] == seq:  # the new item is the earliest: wake the thread up
                self._cond.notify()

    def pending(self, source: str | None = None) -> int:
        """Events waiting to be sent, of `source` (None: all that will be, so not AHEAD's)."""
        with self._cond:
            return sum(1 for item in self._heap
                       if item[3] == source or (source is None and item[3] != AHEAD))

    def retag(self, old: str, new: str) -> None:
        """The pending and sounding events of `old` become `new`'s (an answer computed ahead
        is kept: from now on it is the answer)."""
        with self._cond:
            self._heap = [(d, q, e, new if s == old else s) for d, q, e, s in self._heap]
            heapq.heapify(self._heap)
            self._sounding = {k: new if s == old else s for k, s in self._sounding.items()}

    def sounding(self, source: str | None = None) -> set[tuple[int, int]]:
        with self._cond:
            return {k for k, s in self._sounding.items() if source is None or s == source}

    def cancel_pending_and_release(self, source: str = ANSWER,
                                   all_off_channel: int | None = None) -> int:
        """Drop the not-yet-sent events of `source` and end its sounding notes now (barge-in).
        all_off_channel: the cut answer's channel, for all_notes_off_after. Returns how many
        notes were released."""
        with self._cond:
            self._heap = [item for item in self._heap if item[3] != source]
            heapq.heapify(self._heap)
            released = self._release(lambda s: s == source)
        if all_off_channel is not None:
            self.all_notes_off_after(self.clock(), all_off_channel)
        return released

    def all_notes_off_after(self, end: float, channel: int) -> None:
        """The answer on `channel` ends (or was cut) at `end`: All Notes Off a few backend cycles
        later (see the module's docstring). Cancelled with the answer's other pending events."""
        self.push(end + self.safety_delay_s,
                  Event(end, "control_change", ALL_NOTES_OFF, 0, channel), ANSWER)

    def reset_output(self, channels) -> None:
        """All Notes Off + All Sound Off on each channel now: the listeners may hold notes from a
        daemon killed mid-answer, or from a moment they were disconnected."""
        with self._cond:
            for channel in sorted(channels):
                for control in (ALL_NOTES_OFF, ALL_SOUND_OFF):
                    self._send(Event(self.clock(), "control_change", control, 0, channel), THRU)

    def panic(self) -> None:
        """Everything off: drop all pending events, note-off each sounding note, CC123."""
        with self._cond:
            self._heap.clear()
            self._release(lambda s: True)
            for channel in sorted(self._channels):
                self._send(Event(self.clock(), "control_change", ALL_NOTES_OFF, 0, channel))

    def run_due(self, now: float) -> float | None:
        """Send every event due at `now`; returns the next due time (None: nothing pending).
        The thread calls this; tests call it with their own clock instead of starting the thread."""
        with self._cond:
            return self._run_due(now)

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="improvd-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then panic so nothing is left sounding."""
        with self._cond:
            self._running = False
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.panic()

    def reset_stats(self) -> None:
        with self._cond:
            self.max_late_s = 0.0

    # --- the scheduler thread ----------------------------------------------------------------
    def _loop(self) -> None:
        realtime.enter("scheduler")  # SCHED_FIFO where permitted: its lateness is heard
        with self._cond:
            while self._running:
                now = self.clock()
                next_due = self._run_due(now)
                # Wakes at the due time, or earlier when push() notifies an earlier item.
                self._cond.wait(None if next_due is None else max(0.0, next_due - now))

    # --- with the lock held ------------------------------------------------------------------
    def _run_due(self, now: float) -> float | None:
        while self._heap and self._heap[0][0] <= now:
            due, _, event, source = heapq.heappop(self._heap)
            self.max_late_s = max(self.max_late_s, now - due)
            if source == ANSWER and event.kind == "control_change" and event.pitch == ALL_NOTES_OFF:
                self._answer_all_off(event)
            else:
                self._send(event, source)
        return self._heap[0][0] if self._heap else None

    def _answer_all_off(self, event: Event) -> None:
        channel = event.channel
        busy = {p for c, p in self._sounding if c == channel}
        if not busy:
            self._send(event, ANSWER)
        else:  # CC123 would cut notes that still sound: repeat the answer's note-offs instead
            for c, pitch in sorted(self._released):
                if c == channel and pitch not in busy:
                    self._send(Event(event.time, "note_off", pitch, 0, channel), ANSWER)
        self._released = {k for k in self._released if k[0] != channel}

    def _release(self, which: Callable[[str], bool]) -> int:
        keys = sorted((k, s) for k, s in self._sounding.items() if which(s))
        for (channel, pitch), source in keys:
            self._send(Event(self.clock(), "note_off", pitch, 0, channel), source)
        return len(keys)

    def _send(self, event: Event, source: str = ANSWER) -> None:
        key = (event.channel, event.pitch)
        if event.is_note_on:
            self._sounding[key] = source
            self._channels.add(event.channel)
        elif event.is_note_off:
            if self._sounding.pop(key, None) == ANSWER:
                self._released.add(key)
        try:
            self.output.send_event(event, event.channel)
            self.sent += 1
            if self.on_sent is not None:
                self.on_sent(self.clock(), event, source)
        except Exception:  # a vanished port must not kill the thread that owes note-offs
            log.exception("could not send %s", event)
