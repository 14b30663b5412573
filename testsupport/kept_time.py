"""Timing checks through a JACK server are judged on the tries in which the server kept time.

The dummy driver wakes on a timer every period. When a wake-up comes late (the machine was busy
elsewhere, or its hypervisor took the CPU), the server logs that it fell behind and restarts its
timetable from then: whatever that cycle carried (a clock tick, a note, audio) reached every client
late, whoever sent it. A check of milliseconds that fails through such cycles says nothing about
the daemon. So a failed try is played again while the server fell behind during it; a failure
while it kept time is the verdict, as is a pass. Before a try played again, the server is given a
while to keep time again (a busy spell on a shared machine tends to pass). A check whose every try
the server spoiled ends failed, with each try's reason: the machine could not keep time, which is
said, not passed.

Used by the clock-grid tests (clocked_answer.judged_clocked_answer) and, for whole tests, by the
`kept_time` marker (tests/kept_time_plugin.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

TRIES = 5  # a check is tried at most this often
QUIET_S = 2.0  # the server keeps time again once it has gone this long without falling behind
SETTLE_MAX_S = 60.0  # ...waited for at most this long before the next try (then it goes ahead)
# A busy spell on a shared machine has lasted minutes; waiting it out is worth a longer run, but
# all the waits of one test run together stay within this, so a machine that never settles
# still ends the run (failed, each try named) in bounded time.
SETTLE_BUDGET_S = 900.0

T = TypeVar("T")
_waited_s = 0.0  # what wait_until_it_keeps_time has spent of SETTLE_BUDGET_S in this process


def wait_until_it_keeps_time(server, quiet_s: float = QUIET_S,
                             within_s: float = SETTLE_MAX_S, poll_s: float = 0.25) -> bool:
    """Until the server has gone quiet_s without falling behind (True) or within_s, or what is
    left of SETTLE_BUDGET_S, has passed (False: the next try goes ahead anyway, and is judged
    the same way)."""
    global _waited_s
    start = time.monotonic()
    within_s = min(within_s, max(0.0, SETTLE_BUDGET_S - _waited_s))
    count, since = server.times_behind(), start
    try:
        while True:
            now = time.monotonic()
            if now - since >= quiet_s:
                return True
            if now - start >= within_s:
                return False
            time.sleep(poll_s)
            latest = server.times_behind()
            if latest != count:
                count, since = latest, time.monotonic()
    finally:
        _waited_s += time.monotonic() - start


def cpu_times() -> list[int] | None:
    """/proc/stat's machine-wide line: user nice system idle iowait irq softirq steal (ticks)."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    except (OSError, ValueError):
        return None


def cpu_use(before: list[int] | None, after: list[int] | None) -> str:
    """What the machine's CPUs did between two cpu_times(): the share busy, and the share its
    hypervisor took (steal), which no process here can see or avoid."""
    if before is None or after is None:
        return "CPU use unknown"
    d = [b - a for a, b in zip(before, after)]
    total = sum(d) or 1
    busy = total - d[3] - d[4] - d[7]
    return f"CPUs {100 * busy / total:.0f}% busy, {100 * d[7] / total:.0f}% stolen"


def judged_tries(server, run_once: Callable[[], T], failed: Callable[[T], bool],
                 describe: Callable[[T], str], tries: int = TRIES,
                 settle: Callable[[object], object] = wait_until_it_keeps_time
                 ) -> tuple[T, list[str]]:
    """run_once() until its result passes, fails while the server kept time, or `tries` ran.
    -> (the last result, one line per try played again: describe(result), how often the server
    fell behind, and what the CPUs did meanwhile). The caller judges the last result; when it
    failed and every try is in the list, no try could be judged."""
    excused: list[str] = []
    for n in range(1, tries + 1):
        before, cpu = server.times_behind(), cpu_times()
        result = run_once()
        behind = server.times_behind() - before
        if not failed(result) or not behind:
            return result, excused
        excused.append(f"try {n}: {describe(result)} while the JACK server fell behind its "
                       f"timetable {behind} times ({cpu_use(cpu, cpu_times())})")
        if n < tries:
            settle(server)
    return result, excused


def every_try_spoiled(excused: list[str], tries: int = TRIES) -> bool:
    return len(excused) >= tries
