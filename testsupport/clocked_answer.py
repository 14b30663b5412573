"""One call and its answer under a DAW's clock, as the JACK tests and the clock benchmark play
it: start the transport, let the clock settle, play the call, wait for the whole answer (the
daemon's log says when: an answer may rest a while, so silence at the listener is no end),
stop, and read the grid the listener received."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from improvd.daemon.events import Note

from . import clock_grid, kept_time

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


@dataclass
class JudgedAnswer:
    ended: float  # when the call ended (the listener's clock)
    segments: list  # the listener's tempo segments (clock_grid.Segment)
    errors_s: list[float]  # judge's errors of the answer's notes
    excused: list[str] = field(default_factory=list)  # the tries played again, and why


def judged_clocked_answer(server, ears, source, daemon, call: Sequence[Note], bpm: float,
                          judge: Callable[[float, list], list[float]], tolerance_s: float,
                          during: Callable[[], None] | None = None,
                          settle: Callable[[object], object] = kept_time.wait_until_it_keeps_time
                          ) -> JudgedAnswer:
    """clocked_answer at `bpm` (set before each try), judged by judge(ended, segments) -> each
    note's error in seconds, and played again (kept_time.judged_tries) while a note misses
    tolerance_s and the JACK server fell behind its own timetable during the try: that cycle
    reached every client late, the clock's ticks and the answer's notes alike, and no client can
    be on time through it. (On a synchronous server a client's late process callback holds the
    cycle too; the daemon's are the MIDI library's compiled code, which no thread of the daemon's
    Python holds up: what holds them is the machine.) A miss while the server kept time is
    returned as it is, for the caller's assert to fail on; so is none. A miss excused in every
    try raises: the machine could not keep time for this check, and that is said, not passed."""
    def play() -> JudgedAnswer:
        source.command(f"bpm {bpm}")
        ended, segs = clocked_answer(ears, source, daemon, call, during)
        return JudgedAnswer(ended, segs, judge(ended, segs))

    def missed(answer: JudgedAnswer) -> bool:
        return worst_ms(answer) > 1000 * tolerance_s

    def worst_ms(answer: JudgedAnswer) -> float:
        return 1000 * max((abs(e) for e in answer.errors_s), default=0.0)

    answer, excused = kept_time.judged_tries(
        server, play, missed, lambda a: f"{bpm:g} bpm: a note {worst_ms(a):.2f} ms off",
        settle=settle)
    if missed(answer) and kept_time.every_try_spoiled(excused):
        raise AssertionError("the JACK server fell behind its timetable in every try, so no try "
                             "could be judged:\n" + "\n".join(excused))
    answer.excused = excused
    return answer
