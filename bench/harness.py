"""The real-parts harness of the end-to-end benchmarks: a private JACK server, the daemon's
measurements, its settings file, and what /proc says about its process.

The JACK server is the one launcher (improvd.daemon.jackd); the MIDI peer and the daemon process
are the end-to-end tests' own (improvd.testsupport), shared, not copied. The daemon run with
`--metrics FILE` writes its measurements there on the monotonic clock, which this process shares
(daemon/metrics.py says what each record means); read_metrics reads them back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from improvd.daemon.jackd import JackServer, unique

log = logging.getLogger(__name__)

_DROPPED = re.compile(r"dropped (\d+) messages")
_THINNED = re.compile(r"\((\d+) tokens left out so far\)")


def dropped_messages(daemon_log: str) -> int:
    """The daemon's count of input messages dropped in a flood (its warning line, for people)."""
    return max((int(n) for n in _DROPPED.findall(daemon_log)), default=0)


def thinned_tokens(daemon_log: str) -> int:
    """The daemon's count of a flood's tokens the model did not hear (its warning line; logged
    at most once a second, so the last second's are not in it)."""
    return max((int(n) for n in _THINNED.findall(daemon_log)), default=0)


def stale_key_releases(daemon_log: str) -> int:
    """How often the daemon counted held keys as released (a note-off it never got)."""
    return daemon_log.count("held keys counted as released")


def calls_over_after(metrics_path: Path, after: float, tail_bytes: int = 1 << 16) -> list[float]:
    """Call-over instants later than `after` in the last `tail_bytes` of a daemon's metrics file
    (cheap enough to poll while a flood writes megabytes of records)."""
    with open(metrics_path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - tail_bytes))
        lines = f.read().decode(errors="replace").splitlines()
    found = []
    for line in lines:
        if '"call_over"' not in line:
            continue
        with contextlib.suppress(json.JSONDecodeError):  # the first line may be cut in half
            t = json.loads(line)["call_over"]
            if t > after:
                found.append(t)
    return found


@contextlib.contextmanager
def private_jack_server() -> Iterator[object]:
    """A private `jackd -S -d dummy -r 48000 -p 64` under a unique name; this process's MIDI clients
    (the peer, the port probes) reach it through JACK_DEFAULT_SERVER while it runs."""
    server = JackServer(unique("improvd-bench"))
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


# The daemon's [realtime] priority in timing runs (`python -m bench --priority N`); None: its
# default. The trade-off it sets is measured, not assumed (README, "Real-time priority").
realtime_priority: int | None = None


def write_config(path: Path, *, silence_ms: int = 60, response_s: float = 0.5,
                 seed: int = 1) -> Path:
    """Settings for timing runs: short calls count, a fixed short answer, the answer at once
    (not on the call's next beat) with no initial wait, and the call ended by silence alone: the
    first answer note is due at the instant the call ends, so reaction is all system latency."""
    path.write_text(
        "[policy]\n"
        f"silence_ms = {silence_ms}\nmin_call_ms = 0\nresponse = {response_s}\n"
        "barge_in = \"continue\"\nanswer_start = \"now\"\nend_on_pulse = false\n"
        "[sampling]\n"
        f"seed = {seed}\nmax_initial_wait_ms = 0\n"
        + ("" if realtime_priority is None else f"[realtime]\npriority = {realtime_priority}\n"))
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


def _stat_cpu_seconds(stat: str) -> float:
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), seconds."""
    return _stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a process's threads, summed by kernel thread name (the daemon names its
    own: improvd-midi-in, improvd-schedul, improvd-engine; libjack's client threads keep the
    process's name). A thread that ends while it is read is left out."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        out[name] = out.get(name, 0.0) + _stat_cpu_seconds(stat)
    return out


class PortProbe:
    """One long-lived libjack client that lists the server's ports on demand: probing every few
    milliseconds must not open and close a client each time (the server would see hundreds)."""

    def __init__(self, name: str):
        import ctypes

        from improvd.daemon import jack

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
