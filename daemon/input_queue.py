"""The engine's input queue: bounded by hand, so a flood costs notes, never a stuck key.

Past `limit` waiting messages new ones are dropped and counted (the engine logs how many, at most
once a second), except note-offs: past the limit one note-off per (channel, key) may wait, so the
queue stays bounded (limit + 16 x 128) even when note-offs alone outrun the engine. A dropped
note-on only loses a note; a lost note-off would leave the policy thinking a key is held forever,
so the call would never end; a second waiting note-off for the same key adds nothing. A player
never gets near the limit: the queue only fills when input outruns the engine (several thousand
tokens a second). Queue(maxsize) cannot make that exception, hence the hand-made bound.
"""

from __future__ import annotations

import logging
import queue

from .events import Event

log = logging.getLogger(__name__)


def note_off_key(msg) -> tuple[int, int] | None:
    """(channel, key) of a note-off (a mido message or an Event); None for anything else."""
    if isinstance(msg, Event):
        return (msg.channel, msg.pitch) if msg.is_note_off else None
    if msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
        return msg.channel, msg.note
    return None


class InputQueue(queue.Queue):
    """A Queue of (message, time) whose put_input drops past `limit` (note-offs excepted)."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit
        self.dropped = 0
        self._overflow_offs: set[tuple[int, int]] = set()  # note-offs let in past the limit
        self._reported = 0
        self._reported_at = -float("inf")

    def put_input(self, msg, t: float) -> None:
        """MIDI input thread: queue (msg, t) or count it dropped; never blocks, never raises."""
        if self.qsize() >= self.limit:
            key = note_off_key(msg)
            if key is None or key in self._overflow_offs:
                self.dropped += 1
                return
            self._overflow_offs.add(key)  # set.add is atomic under the GIL
        self.put_nowait((msg, t))

    def report_drops(self, now: float) -> None:
        """Engine thread: log the drops so far, at most once a second (a flood must not turn
        into a flood of log lines too)."""
        if self.dropped != self._reported and now - self._reported_at >= 1.0:
            log.warning("input flood: dropped %d messages so far (note-offs are always kept)",
                        self.dropped)
            self._reported, self._reported_at = self.dropped, now

    def taken(self, msg) -> None:
        """Engine thread: `msg` left the queue (a waiting note-off frees its key's place)."""
        if self._overflow_offs:
            key = note_off_key(msg)
            if key is not None:
                self._overflow_offs.discard(key)
