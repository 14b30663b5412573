"""realtime.py: SCHED_FIFO asked for by the thread itself, one log line when refused."""

from __future__ import annotations

import logging
import os
import sys
import threading

import pytest

from improvd.daemon import realtime


@pytest.fixture(autouse=True)
def _restore_interpreter():
    interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(interval)
    realtime.configure(0, lock_memory=False)


def in_thread(fn):
    got = {}
    t = threading.Thread(target=lambda: got.update(value=fn()))
    t.start()
    t.join()
    return got["value"]


def fifo_permitted() -> bool:
    def probe():
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except (OSError, AttributeError):
            return False
        return True
    return in_thread(probe)


def test_nothing_is_asked_when_the_priority_is_zero():
    realtime.configure(0, lock_memory=False)
    assert in_thread(lambda: (realtime.enter("test"), os.sched_getscheduler(0))) == (
        False, os.SCHED_OTHER)
    assert sys.getswitchinterval() == pytest.approx(realtime.GIL_SWITCH_S)


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler") or not fifo_permitted(),
                    reason="SCHED_FIFO is not permitted to this user here")
def test_the_calling_thread_alone_becomes_fifo_at_the_priority():
    realtime.configure(7, lock_memory=False)
    entered, policy, priority = in_thread(lambda: (realtime.enter("test"),
                                                   os.sched_getscheduler(0),
                                                   os.sched_getparam(0).sched_priority))
    assert (entered, policy, priority) == (True, os.SCHED_FIFO, 7)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # this thread was left alone


def test_a_refusal_is_one_log_line_for_all_threads(monkeypatch, caplog):
    def refuse(*args):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    realtime.configure(20, lock_memory=False)
    with caplog.at_level(logging.INFO, logger="improvd.daemon.realtime"):
        assert in_thread(lambda: realtime.enter("scheduler")) is False
        assert in_thread(lambda: realtime.enter("MIDI input")) is False
    lines = [r for r in caplog.records if "not permitted" in r.getMessage()]
    assert len(lines) == 1 and "LimitRTPRIO" in lines[0].getMessage()


def test_memory_is_locked_only_under_an_unlimited_memlock_limit(caplog):
    import resource
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY:
        pytest.skip("an unlimited memlock limit: locking would lock this test process")
    with caplog.at_level(logging.INFO, logger="improvd.daemon.realtime"):
        assert realtime.lock_all_memory() is False
    assert "not unlimited" in caplog.text


LOCK_PROBE = """
import json, mmap, resource
from improvd.daemon import realtime
# An unlimited limit, as the systemd unit grants (LimitMEMLOCK=infinity); locking itself needs
# that limit or the right to exceed it (root).
resource.getrlimit = lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
untouched = mmap.mmap(-1, 256 * 2**20)  # like a thread's stack or a library's unused code
locked = realtime.lock_all_memory()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
kb = lambda key: int(status[key].split()[0])
print(json.dumps({"locked": locked, "rss_kb": kb("VmRSS"), "locked_kb": kb("VmLck")}))
"""


def test_locked_memory_is_what_the_process_touched_not_all_it_mapped():
    """Plain mlockall reads every mapping in whole: the daemon's VmRSS went from 291 to 491 MB
    (thread stacks, libraries' unused code). Locked on fault, a 256 MB mapping never touched
    stays out of memory, though it is locked as soon as it is used."""
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", LOCK_PROBE], capture_output=True, text=True,
                         timeout=60, check=True)
    got = json.loads(out.stdout)
    if os.geteuid() != 0 and not got["locked"]:  # not root: the real limit said no
        assert got["locked_kb"] == 0
        return
    assert got["locked"] is True
    assert got["locked_kb"] >= 256 * 1024  # the mapping is locked...
    assert got["rss_kb"] < 128 * 1024  # ...and not read in
