"""How often the MIDI input thread looks for input, and the time each message it finds gets.

python-rtmidi has no blocking read, and its callback would run inside JACK's realtime cycle and
wait there for Python's GIL (ports.py). So the input thread polls, but only fast (every
millisecond) while something is going on: input came in the last ACTIVE_S, or the engine wants
prompt input (a call is open, an answer is playing and may be barged in on, or midi.thru
forwards the player's notes). Otherwise it looks every IDLE_POLL_S, which keeps an idle daemon's
CPU near zero: only the first note of a call can be read up to IDLE_POLL_S late, with its time
kept (below), and nothing is played in reply to a first note.

A slower look must not blur the timing the call analysis and the policy read: each message is
stamped from rtmidi's delta to the message before it, chained from the previous message's stamp,
and kept inside the window it must have arrived in: after the last look that found the queue
empty, and before now. When rtmidi's deltas hold (they are the backend's own arrival times), the
stamps are as exact as with a 1 ms poll; when they do not (a message the backend dropped in
between, such as active sensing), the error stays below one poll interval. The first message of
a connection has no delta: until it has come, the thread looks every millisecond. On JACK the
port sends itself one (ports.ANCHOR, not handed on) as it opens, so the fast looks last a moment
and a daemon waiting for its first note idles too; elsewhere they last until the first input.
"""

from __future__ import annotations

FAST_POLL_S = 0.001
# Each look costs the thread ~0.1 ms of CPU on a VM (waking a sleeping thread, not the look
# itself: a bare Event.wait loop costs as much), so an idle daemon's input thread took 0.65% of a
# core at 20 ms and 0.25% at 50 ms. Only the first note of a call waits for it (its time kept).
IDLE_POLL_S = 0.05
ACTIVE_S = 2.0  # after the last input the thread keeps looking fast this long


def poll_interval(since_input_s: float, engine_busy: bool, anchored: bool = True) -> float:
    """How long the input thread may sleep before it looks again. anchored: every connection
    has stamped a message; until then a message cannot be placed by its delta (rtmidi gives the
    first one none), only by when it was read, so the thread looks fast."""
    if engine_busy or not anchored or since_input_s < ACTIVE_S:
        return FAST_POLL_S
    return IDLE_POLL_S


class ArrivalStamps:
    """Stamps for the messages of one connection, batch after batch (the input thread only)."""

    def __init__(self):
        self.last: float | None = None  # the stamp of the previous message

    def stamps(self, deltas: list[float], since: float, now: float) -> list[float]:
        """Times for a batch of messages with these rtmidi deltas (each to the one before), read
        at `now`; `since`: the last look that found the queue empty (-inf if none did)."""
        if self.last is None:  # nothing to chain from: the newest arrived just now
            t, backwards = now, []
            for delta in reversed(deltas):
                backwards.append(t)
                t -= max(0.0, delta)
            chained = backwards[::-1]
        else:
            t, chained = self.last, []
            for delta in deltas:
                t += max(0.0, delta)
                chained.append(t)
        earliest = since if self.last is None else max(since, self.last)
        # Clamping a rising sequence into [earliest, now] keeps it rising.
        out = [min(now, max(earliest, t)) for t in chained]
        if out:
            self.last = out[-1]
        return out
