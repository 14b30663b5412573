"""One call and its answer under a DAW's clock, as the JACK tests and the clock benchmark play
it: start the transport, let the clock settle, play the call, wait for the whole answer (the
daemon's log says when: an answer may rest a while, so silence at the listener is no end),
stop, and read the grid the listener received."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence

from improvd.daemon.events import Note

from . import clock_grid

SETTLE_S = 1.0  # a couple of beats for the clock follower before the call


def wait_answer_over(ears, daemon, timeout: float = 15.0) -> bool:
    """Until the daemon logs one more finished answer than when this was called."""
    done = daemon.log().count("response done")
    return ears.wait_for(lambda: daemon.log().count("response done") > done, timeout)


def subdivision_of_last_call(daemon) -> int:
    """The grid the daemon put its last answer on: tatums a beat, from its "call ended" line."""
    found = re.findall(r"call ended .*? bpm, (\d) per beat", daemon.log())
    if not found:
        raise AssertionError(f"no call with a pulse in the log:\n{daemon.log()[-2000:]}")
    return int(found[-1])


def clocked_answer(ears, source, daemon, call: Sequence[Note],
                   during: Callable[[], None] | None = None):
    """-> (when the call ended, the listener's tempo segments: one, or two with `during`,
    which runs once the answer has begun, e.g. a tempo change)."""
    source.command("start")
    time.sleep(SETTLE_S)
    ended = max(n.end for n in ears.play_notes(call))
    if not ears.wait_for(lambda: ears.note_ons(since=ended), timeout=4):
        raise AssertionError(f"no answer:\n{daemon.log()[-3000:]}")
    if during is not None:
        during()
    if not wait_answer_over(ears, daemon, timeout=20):
        raise AssertionError(f"the answer did not end:\n{daemon.log()[-3000:]}")
    source.command("stop")
    time.sleep(0.2)
    ticks = clock_grid.ticks_after_start(ears.messages())
    return ended, clock_grid.segments(ticks, jumps=1 if during is not None else 0)
