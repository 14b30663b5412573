"""`improvd run` on a real JACK server: its sending and input threads run SCHED_FIFO at the
configured priority where the system permits it (the engine thread one lower)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def fifo_threads(pid: int) -> list[int]:
    """Priorities of the process's SCHED_FIFO threads."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if os.sched_getscheduler(int(task.name)) == os.SCHED_FIFO:
                found.append(os.sched_getparam(int(task.name)).sched_priority)
        except OSError:  # the thread ended meanwhile
            continue
    return found


def rtprio_permitted() -> bool:
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (OSError, AttributeError):
        return False
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    return True


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler") or not rtprio_permitted(),
                    reason="SCHED_FIFO is not permitted to this user here")
def test_the_sending_and_input_threads_run_fifo_at_the_configured_priority(
        peer, start_daemon, config_file):
    fifo = {}
    for priority in (13, 0):
        config = config_file({"realtime": {"priority": priority}})
        daemon = start_daemon(peer, ["--config", str(config)])
        since = time.monotonic()
        peer.play([60, 64])  # an answer: the daemon is through its start
        assert peer.wait_for(lambda since=since: peer.note_ons(since=since), timeout=5), \
            daemon.log()
        fifo[priority] = sorted(fifo_threads(daemon.pid))
        log = daemon.log()
        daemon.stop()
        if priority:
            assert f"scheduler thread runs real-time (SCHED_FIFO, priority {priority})" in log
            assert "MIDI input thread runs real-time" in log
            assert f"engine thread runs real-time (SCHED_FIFO, priority {priority - 1})" in log
        else:
            assert "real-time" not in log
    # JACK's own client threads run FIFO at the server's choice either way; the daemon adds its
    # scheduler and MIDI input threads at the configured priority and its engine thread one
    # lower, and nothing at priority 0.
    assert fifo[13] == sorted(fifo[0] + [12, 13, 13]), fifo
