"""A DAW stand-in: a JACK MIDI client that sends MIDI clock on a precise timer, in a process of its
own (so the test's threads and its GIL never delay a tick).

Why not Debian's jack-midi-clock: it follows JACK transport, so a tempo jump needs a timebase
master to drive it, and a test could not say at which tick the tempo changes. This sends ticks at
absolute deadlines (sleep to a millisecond before, then spin), so timing errors never add up, and
takes its transport commands from stdin:

    start | stop | continue | bpm <float> | spp <16ths> | quit

Ticks go out only while the transport rolls (as a DAW's clock does). Run it with
`python -m improvd.testsupport.clock_source --name NAME --bpm 120`; it prints "ready" once its
port `NAME:clock` exists. ClockSource (below) starts and drives it from a test.
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import time

SPIN_S = 0.0005  # the last stretch before a tick is spun, not slept: sleep overshoots
RT_PRIORITY = 2


def serve(name: str, bpm: float) -> None:
    import rtmidi

    try:  # a DAW's clock runs in a realtime thread; a busy machine must not stall it. Below
        # jackd's own realtime threads (priority 10 and up): spinning above them would make
        # JACK's cycles overrun, and MIDI get lost or doubled for every client.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except (AttributeError, OSError):
        pass  # not allowed here: ticks may come late under load (the listener sees that)
    out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=name)
    out.open_virtual_port("clock")
    print("ready", flush=True)
    period = 60.0 / bpm / 24
    rolling, next_tick = False, None
    pending, closed = [], False  # commands read but not yet acted on
    while not closed or pending:
        now = time.monotonic()
        wait = 0.05 if not rolling else max(0.0, next_tick - now - SPIN_S)
        # os.read, not readline: Python's buffered stdin would sit on a second command that
        # select() no longer sees.
        if not pending and not closed and select.select([sys.stdin], [], [], min(wait, 0.05))[0]:
            data = os.read(sys.stdin.fileno(), 4096).decode()
            closed = not data
            pending += data.splitlines()
        if pending:
            words = pending.pop(0).split()
            if not words:
                continue
            if words[0] == "quit":
                break
            command = words[0]
            if command in ("start", "continue"):
                out.send_message([0xFA if command == "start" else 0xFB])
                # The first tick after Start is the song's first beat: it follows at once.
                rolling, next_tick = True, time.monotonic() + 0.0005
            elif command == "stop":
                out.send_message([0xFC])
                rolling = False
            elif command == "bpm":
                period = 60.0 / float(words[1]) / 24  # from the next tick on
            elif command == "spp":
                value = int(words[1])
                out.send_message([0xF2, value & 0x7F, value >> 7])
            continue
        if rolling and next_tick - time.monotonic() <= 2 * SPIN_S:
            while time.monotonic() < next_tick:
                pass
            out.send_message([0xF8])
            next_tick += period
    out.close_port()
    out.delete()


class ClockSource:
    """The stand-in as a subprocess on the given JACK server's environment."""

    def __init__(self, env: dict, name: str, bpm: float):
        self.name = name
        self.port = f"{name}:clock"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "improvd.testsupport.clock_source", "--name", name,
             "--bpm", str(bpm)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError("the clock source did not come up")

    def command(self, line: str) -> float:
        """Send one command; returns when it was sent (this process's monotonic clock)."""
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return time.monotonic()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.command("quit")
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--bpm", type=float, default=120.0)
    args = parser.parse_args()
    serve(args.name, args.bpm)


if __name__ == "__main__":
    main()
