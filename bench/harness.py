"""The real-parts harness of the end-to-end benchmarks: a private JACK server, the daemon's timing
lines, its settings file, and what /proc says about its process.

The JACK server, the MIDI peer and the daemon process are the end-to-end tests' own classes
(tests/e2e/jack_helpers.py), imported, not copied. The daemon run with `--log-level debug` writes
"timing:" lines on the monotonic clock (daemon/engine.py), which this process shares:
  timing: heard <stamp> in state <t> queue <n>    an input event, stamped by the MIDI callback,
                                                  is in the model's state at t; n still queued
  timing: call over <t>                           the policy declared the call over at t
  timing: note_on <pitch> due <t>                 the answer's note is scheduled for t
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

_HEARD = re.compile(r"timing: heard ([\d.]+) in state ([\d.]+) queue (\d+)")
_CALL = re.compile(r"timing: call over ([\d.]+)")
_DUE = re.compile(r"timing: note_on (\d+) due ([\d.]+)")
_DROPPED = re.compile(r"dropped (\d+) messages")


@dataclass
class Timing:
    heard: list[tuple[float, float, int]] = field(default_factory=list)  # stamp, in state, queue
    calls: list[float] = field(default_factory=list)  # call-over instants
    dues: list[list[tuple[int, float]]] = field(default_factory=list)  # per call: (pitch, due)
    dropped: int = 0


def parse_timing(text: str) -> Timing:
    """The daemon's log -> its timing lines, in log order (due times grouped by call)."""
    t = Timing()
    for line in text.splitlines():
        if m := _HEARD.search(line):
            t.heard.append((float(m[1]), float(m[2]), int(m[3])))
        elif m := _CALL.search(line):
            t.calls.append(float(m[1]))
            t.dues.append([])
        elif (m := _DUE.search(line)) and t.dues:
            t.dues[-1].append((int(m[1]), float(m[2])))
        elif m := _DROPPED.search(line):
            t.dropped = max(t.dropped, int(m[1]))
    return t


def calls_over_after(log_path: Path, after: float, tail_bytes: int = 1 << 16) -> list[float]:
    """Call-over instants later than `after` in the last `tail_bytes` of a daemon's log (cheap
    enough to poll while a flood writes megabytes of timing lines)."""
    with open(log_path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - tail_bytes))
        tail = f.read().decode(errors="replace")
    return [t for t in map(float, _CALL.findall(tail)) if t > after]


@contextlib.contextmanager
def private_jack_server() -> Iterator[object]:
    """A private `jackd -d dummy -r 48000 -p 64` under a unique name; this process's MIDI clients
    (the peer, the port probes) reach it through JACK_DEFAULT_SERVER while it runs."""
    from tests.e2e.jack_helpers import JackServer

    server = JackServer()
    before = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = server.name
    try:
        yield server
    finally:
        if before is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = before
        server.stop()


def write_config(path: Path, *, silence_ms: int = 60, response_s: float = 0.5,
                 seed: int = 1) -> Path:
    """Settings for timing runs: short calls count, a fixed short answer, no initial wait (so the
    first answer note is due at the instant the call ends: reaction is all system latency)."""
    path.write_text(
        "[policy]\n"
        f"silence_ms = {silence_ms}\nmin_call_ms = 0\nresponse = {response_s}\n"
        "barge_in = \"continue\"\n"
        "[sampling]\n"
        f"seed = {seed}\nmax_initial_wait_ms = 0\n"
        "[log]\nlevel = \"debug\"\n")
    return path


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS of a process and its parts, MB. RssShmem counts shared memory mapped in, e.g. the
    JACK server's segment that every JACK client maps; RssAnon is the process's own heap."""
    keys = ("VmRSS", "RssAnon", "RssFile", "RssShmem")
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in keys:
            found[key] = int(value.split()[0]) / 1024
    if "VmRSS" not in found:
        raise RuntimeError(f"/proc/{pid}/status has no VmRSS")
    return found


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a process, MB."""
    return memory_mb(pid)["VmRSS"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class PortProbe:
    """One long-lived libjack client that lists the server's ports on demand: probing every few
    milliseconds must not open and close a client each time (the server would see hundreds)."""

    def __init__(self, name: str):
        import ctypes

        from improvd.daemon import jack
        from tests.e2e.jack_helpers import unique

        self._lib = jack.library()
        status = ctypes.c_int(0)
        self._handle = self._lib.jack_client_open(unique(name).encode(), 0x01,  # no server start
                                                  ctypes.byref(status))
        if not self._handle:
            raise RuntimeError(f"no JACK server answers (status 0x{status.value:x})")

    def ports(self, pattern: str) -> list[str]:
        import ctypes

        found = self._lib.jack_get_ports(self._handle, pattern.encode(), None, 0)
        if not found:
            return []
        names, i = [], 0
        while found[i]:
            names.append(found[i].decode())
            i += 1
        self._lib.jack_free(ctypes.cast(found, ctypes.c_void_p))
        return names

    def close(self) -> None:
        self._lib.jack_client_close(self._handle)
