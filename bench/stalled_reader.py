"""A JACK MIDI reader stalled inside its cycles, on a server in JACK's default (asynchronous) mode
and in synchronous mode (-S, the mode improvd's own launcher starts), side by side.

`python -m bench.stalled_reader --seconds S` (S per mode; the full run is 120). Two processes on
a private server: a python-rtmidi writer sends bursts of 0-8 note pairs every 0.5-3 ms, and a
python-rtmidi reader (a queue read by a thread, as the daemon reads its input) is stopped
(SIGSTOP) for 0.5-4 ms and let go (SIGCONT) again and again: what a preempted thread on a busy
or virtual machine goes through, made frequent. Reported per mode: how long the reader lived,
the stalls it took, and how it ended.

Why: a quiet 60-minute soak died after 32 minutes in python-rtmidi's JACK input callback (a
segfault in RtMidi's unchecked read of an event). In asynchronous mode a reader that is late in
its cycle can find its input buffer rewritten by the writer's next cycle; RtMidi does not check
jack_midi_event_get and reads an event that is not there.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from improvd.daemon.jackd import JackServer, die_with_parent, end_process, unique

from . import common

log = logging.getLogger(__name__)

NAME = "stalled_reader"
FULL_S, QUICK_S = 120.0, 5.0
STALL_S = (0.0005, 0.004)  # how long the reader is stopped each time
GAP_S = (0.0, 0.004)  # how long it runs between stops

# The writer: bursts of note pairs, some cycles with none (a reader that finds its buffer
# emptied under it reads an unset event).
WRITER = """
import random, sys, time, rtmidi
out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=sys.argv[1])
out.open_virtual_port("out")
rng = random.Random(1)
while True:
    for _ in range(rng.choice((0, 0, 1, 3, 8))):
        out.send_message([0x90, 60, 100])
        out.send_message([0x80, 60, 0])
    time.sleep(rng.choice((0.0005, 0.001, 0.003)))
"""
# The reader: rtmidi's queue drained by the main thread, as the daemon's input thread does.
READER = """
import sys, time, rtmidi
inp = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=sys.argv[1], queue_size_limit=16384)
inp.open_virtual_port("in")
while True:
    if inp.get_message() is None:
        time.sleep(0.0005)
"""


def _client(code: str, name: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, name], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl call


def _wait_for_port(server: JackServer, port: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while port not in server.ports():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no JACK port {port} after {timeout_s:.0f} s")
        time.sleep(0.05)


def stall(reader: subprocess.Popen, seconds: float, rng: random.Random) -> tuple[int, float]:
    """Stop and resume the reader until `seconds` pass or it dies; (stalls, seconds lived)."""
    started, stalls = time.monotonic(), 0
    while time.monotonic() - started < seconds and reader.poll() is None:
        os.kill(reader.pid, signal.SIGSTOP)
        time.sleep(rng.uniform(*STALL_S))
        os.kill(reader.pid, signal.SIGCONT)
        stalls += 1
        time.sleep(rng.uniform(*GAP_S))
    return stalls, time.monotonic() - started


def one_mode(synchronous: bool, seconds: float, rng: random.Random) -> dict:
    server = JackServer(unique("improvd-stall"), synchronous=synchronous)
    writer = reader = None
    try:
        writer = _client(WRITER, "stall-writer", server.env)
        reader = _client(READER, "stall-reader", server.env)
        _wait_for_port(server, "stall-writer:out")
        _wait_for_port(server, "stall-reader:in")
        subprocess.run(["jack_connect", "stall-writer:out", "stall-reader:in"], env=server.env,
                       check=True, timeout=10)
        stalls, lived = stall(reader, seconds, rng)
        status = reader.poll()
    finally:
        for p in (writer, reader):
            if p is not None:
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGCONT)  # a stopped process cannot take SIGTERM
                end_process(p, 5.0)
        server.stop()
        # A server whose client crashed may keep its slot in JACK's registry of servers (a few
        # per machine) until one of the same name starts and stops properly.
        JackServer(server.name, synchronous=synchronous).stop()
    crashed = status is not None
    how = ("alive at the end" if not crashed else
           f"killed by {signal.Signals(-status).name}" if status < 0 else f"exited {status}")
    return {"mode": "synchronous (-S)" if synchronous else "asynchronous (jackd's default)",
            "stalls": stalls, "seconds_lived": lived, "crashed": crashed, "how": how}


def run(quick: bool = False, results_dir: Path = common.RESULTS_DIR,
        seconds: float | None = None) -> dict:
    seconds = seconds or (QUICK_S if quick else FULL_S)
    rng = random.Random(7)
    modes = {"async": one_mode(False, seconds, rng), "sync": one_mode(True, seconds, rng)}
    figures = []
    for key, label in (("async", "asynchronous, jackd's default"), ("sync", "synchronous, -S")):
        m = modes[key]
        figures.append(common.figure(
            f"7. stalled reader ({label}): seconds lived", m["seconds_lived"], "s",
            "report only" if key == "async" else f">= {seconds:.0f} s",
            None if key == "async" else (lambda v, s=seconds: v >= s - 0.5),
            f"{m['stalls']:,} stalls of {STALL_S[0] * 1000:g}-{STALL_S[1] * 1000:g} ms; reader "
            f"{m['how']}"))
    details = {"seconds_per_mode": seconds, "stall_s": STALL_S, "gap_s": GAP_S, **modes,
               "jack": "jackd [-S] -d dummy -r 48000 -p 64 (private servers, one per mode)"}
    out = common.result(NAME, seconds < FULL_S, figures, details)
    common.write_result(NAME, out, results_dir)
    return out


def main() -> int:
    return common.run_alone("python -m bench.stalled_reader", __doc__, "seconds", FULL_S, run)


if __name__ == "__main__":
    raise SystemExit(main())
