"""Real-time scheduling for the threads whose lateness is heard, where the system allows it.

The scheduler thread (it sends the answer's notes at their due times) and the MIDI input thread
(it stamps what the player plays) ask for SCHED_FIFO when they start: a normal process on a
loaded machine then waits no time slice before them. The engine thread asks for one step less:
all three are Python threads and share the GIL, and a normal-priority engine thread preempted
while it holds the GIL would keep the sender waiting for as long as the load keeps it off the
CPU (measured: tens of ms beside a busy loop per core). The default priority stays below JACK's
own threads, so a flood that keeps the engine busy never takes a core from the audio server. Without the right (RLIMIT_RTPRIO: the
systemd unit's LimitRTPRIO, or the audio group's rtprio limit on a desktop, see the README) they
run as before, and one log line says so.

Both are Python threads, so they also need the GIL: the engine thread holds it between its model
steps, and a waiting thread only gets it after the interpreter's switch interval (5 ms by
default), a delay as long as the whole target. The interval is made GIL_SWITCH_S here.

Memory is locked (mlockall: no page fault in a hot path) only where the memlock limit is
unlimited: with a finite limit, MCL_FUTURE would make later allocations fail instead. Pages are
locked as they are first touched (MCL_ONFAULT, Linux 4.4 on; plain mlockall where the kernel lacks
it): what the daemon uses stays in memory once used, but no mapping is read in whole. Plain
mlockall read in every thread's whole stack and every library's unused code: the daemon's VmRSS
after answering was 491 MB locked that way (RssAnon 194 MB), 291 MB locked on fault (36 MB),
the same as unlocked. (210 MB of either was JACK's shared segment, mapped then by two copies of
libjack; jack.py now uses python-rtmidi's, and its size follows the server's port-max.)

Python's cyclic garbage collector is the other stall: a full collection walks every object the
process holds (modules, onnxruntime, the ports: ~30,000) in ~10 ms with the GIL held, and whatever
thread is due to send waits for it. Once started, settle_heap() collects once and freezes what
lives on (gc.freeze): later collections walk only what was made since.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import gc
import logging
import os
import resource
import sys
import threading

log = logging.getLogger(__name__)

GIL_SWITCH_S = 0.0005
MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT = 1, 2, 4  # <sys/mman.h> on Linux
PR_SET_NAME = 15  # <sys/prctl.h>

_priority = 0  # 0: real-time scheduling not asked for
_refused = False
_lock = threading.Lock()


def configure(priority: int, lock_memory: bool) -> None:
    """At start (the main thread): the SCHED_FIFO priority threads ask for in enter() (0: none),
    the GIL switch interval (whatever the priority), and mlockall where permitted."""
    global _priority, _refused
    _priority, _refused = priority, False
    sys.setswitchinterval(GIL_SWITCH_S)
    if lock_memory:
        lock_all_memory()


def enter(what: str, below: int = 0) -> bool:
    """Called by a thread as it starts: SCHED_FIFO at the configured priority (less `below`)
    for this thread (on Linux, pid 0 means the calling thread). False when not asked for, not
    permitted, or the priority less `below` is under 1. Either way the thread's Python name
    becomes its name in the kernel too (`top -H`, /proc/<pid>/task/*/comm)."""
    name_this_thread()
    priority = _priority - below
    if _priority <= 0 or priority < 1:
        return False
    if not hasattr(os, "sched_setscheduler"):  # macOS, Windows: not offered by Python
        return _refuse(what, "not available on this system")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except OSError as exc:
        return _refuse(what, exc.strerror or str(exc))
    log.info("%s thread runs real-time (SCHED_FIFO, priority %d)", what, priority)
    return True


@functools.cache
def _libc():
    """The C library on Linux (mlockall, prctl); None elsewhere."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None or not sys.platform.startswith("linux"):
        return None
    return ctypes.CDLL(libc_name, use_errno=True)


def name_this_thread() -> None:
    """Linux: the calling thread's kernel name (15 bytes at most) from its Python name."""
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_NAME, threading.current_thread().name.encode()[:15], 0, 0, 0)


def _refuse(what: str, why: str) -> bool:
    global _refused
    with _lock:
        first, _refused = not _refused, True
    if first:  # one line for all threads: the cause and the fix are the same
        log.warning("real-time priority %d not permitted (%s): the %s thread (and any other) runs "
                    "at normal priority; raise the rtprio limit (LimitRTPRIO in the systemd unit, "
                    "the audio group's rtprio on a desktop)", _priority, why, what)
    return False


def settle_heap(collect: bool = True) -> None:
    """Start-up (or a model swap) is over: collect once, then move every object that lives on out
    of the collector's sight, so no later collection holds the GIL for ~10 ms walking them.
    collect=False (while music may play): freeze only, which costs no walk; a little garbage of
    the swap may be frozen with the rest."""
    if collect:
        gc.collect()
    gc.freeze()


def lock_all_memory() -> bool:
    """mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) when the memlock limit is unlimited
    (without MCL_ONFAULT where the kernel does not know it); else one line."""
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft != resource.RLIM_INFINITY:
        log.info("memory not locked: the memlock limit is %d kB, not unlimited "
                 "(LimitMEMLOCK=infinity in the systemd unit, memlock unlimited for the audio "
                 "group on a desktop)", soft // 1024)
        return False
    libc = _libc()
    if libc is None:
        log.info("memory not locked: mlockall is only used on Linux")
        return False
    if libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0:
        log.info("memory locked as it is used (mlockall, on fault): no page faults on the hot "
                 "path once it has run")
        return True
    if ctypes.get_errno() == errno.EINVAL and libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0:
        log.info("memory locked (mlockall; this kernel has no MCL_ONFAULT, so every mapping "
                 "is read in whole)")
        return True
    log.info("memory not locked: mlockall failed (%s)", os.strerror(ctypes.get_errno()))
    return False
