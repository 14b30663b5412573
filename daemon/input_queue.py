"""The engine's input queue: bounded by hand, so a flood costs notes, never a stuck key.

Past `limit` waiting messages new ones are dropped and counted (the engine logs how many, at most
once a second), except the note-off of a note-on that was let in: a dropped note-on only loses
a note, but a lost note-off would leave the policy thinking a key is held forever, so the call
would never end. Note-offs of notes that were dropped (or never played) are dropped past the
limit: nothing waits for them. The queue stays bounded (limit + MAX_UNMATCHED x 16 x 128). A
player never gets near the limit: the queue only fills when input outruns the engine (several
thousand tokens a second). Queue(maxsize) cannot make that exception, hence the hand-made bound.

It is a deque, not a queue.Queue: the MIDI input thread puts and the engine thread takes with no
lock of ours between them (deque's append and popleft are atomic), and the engine is woken by an
Event only when it had found the queue empty. queue.Queue takes its mutex on every put, get,
qsize and empty; under a flood the two threads met on it thousands of times a second, and each
meeting costs the thread that waits a GIL hand-over (up to the switch interval).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque

from .events import Event

log = logging.getLogger(__name__)


MAX_UNMATCHED = 4  # note-ons let in per key without their note-off (a re-strike sends two)


def note_on_key(msg) -> tuple[int, int] | None:
    """(channel, key) of a sounding note-on (a mido message or an Event); None otherwise."""
    if isinstance(msg, Event):
        return (msg.channel, msg.pitch) if msg.is_note_on else None
    if msg.type == "note_on" and msg.velocity > 0:
        return msg.channel, msg.note
    return None


def note_off_key(msg) -> tuple[int, int] | None:
    """(channel, key) of a note-off (a mido message or an Event); None for anything else."""
    if isinstance(msg, Event):
        return (msg.channel, msg.pitch) if msg.is_note_off else None
    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
        return msg.channel, msg.note
    return None


class InputQueue:
    """A FIFO of (message, time) items for one consumer, the engine thread; put_input drops past
    `limit` (note-offs excepted). get/get_nowait raise queue.Empty as queue.Queue's do."""

    def __init__(self, limit: int):
        self.limit = limit
        self.dropped = 0
        self.queue: deque = deque()  # the items, oldest first (named as queue.Queue's)
        self._wake = threading.Event()  # set by a put after the consumer found the queue empty
        # Note-ons let in whose note-off has not come yet, per (channel, key). Only the MIDI
        # input thread reads and writes it.
        self._unmatched: dict[tuple[int, int], int] = {}
        self._reported = 0
        self._reported_at = -float("inf")

    def put(self, item) -> None:
        """Any thread: queue item (never blocks, no bound: control items and the clock's)."""
        self.queue.append(item)
        if not self._wake.is_set():  # the consumer may be waiting: one wake-up per burst
            self._wake.set()

    put_nowait = put

    def get_nowait(self):
        try:
            return self.queue.popleft()
        except IndexError:
            raise queue.Empty from None

    def get(self, timeout: float | None = None):
        """The consumer: the oldest item, waiting up to `timeout` seconds (None: for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.queue:
                return self.queue.popleft()
            # Clear, then look again: a put between the look above and the clear is seen by
            # the second look, and a put after the clear sets the event again.
            self._wake.clear()
            if self.queue:
                return self.queue.popleft()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise queue.Empty
            self._wake.wait(left)

    def qsize(self) -> int:
        return len(self.queue)

    def empty(self) -> bool:
        return not self.queue

    def put_input(self, msg, t: float) -> None:
        """MIDI input thread: queue (msg, t) or count it dropped; never blocks, never raises."""
        off = note_off_key(msg)
        waited = self._unmatched.get(off, 0) if off is not None else 0
        if self.qsize() >= self.limit and not waited:
            self.dropped += 1
            return
        if waited:
            self._unmatched[off] = waited - 1
        elif off is None and (on := note_on_key(msg)) is not None:
            self._unmatched[on] = min(MAX_UNMATCHED, self._unmatched.get(on, 0) + 1)
        self.put((msg, t))

    def report_drops(self, now: float) -> None:
        """Engine thread: log the drops so far, at most once a second (a flood must not turn
        into a flood of log lines too)."""
        if self.dropped != self._reported and now - self._reported_at >= 1.0:
            log.warning("input flood: dropped %d messages so far (note-offs are always kept)",
                        self.dropped)
            self._reported, self._reported_at = self.dropped, now

