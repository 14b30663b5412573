"""The one jackd launcher: a private JACK server with the dummy driver, for machines with no sound
card (contrib/run_with_jack.py), the end-to-end tests and the benchmarks.

    server = JackServer("improvd-jack")      # waits until the server answers, or raises JackError
    subprocess.run(cmd, env=server.env)      # JACK clients in env reach it (JACK_DEFAULT_SERVER)
    server.stop()                            # stops this server, the one it started, by PID

Standard library only: it runs before anything else of the daemon is needed.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid

log = logging.getLogger(__name__)

# 64-frame periods at 48 kHz are 1.3 ms, MIDI's timing grain.
SAMPLE_RATE = 48000
PERIOD_FRAMES = 64
# PM QoS: while a descriptor of this device holds 0 written to it, no CPU goes into an idle state
# it cannot leave at once (the kernel takes the lowest request held; closing it withdraws it).
CPU_DMA_LATENCY = "/dev/cpu_dma_latency"
TIMED_DRIVER_XRUN = "JackTimedDriver::Process XRun"  # the dummy driver's log line when behind
INSTALL_HINT = ("install JACK (Debian/Ubuntu: apt-get install jackd2) or load snd-seq for the "
                "ALSA sequencer")

_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None  # not in a forked child


class JackError(RuntimeError):
    """jackd is missing, exited, or did not answer in time; the message has its log."""


def die_with_parent() -> None:
    """preexec_fn of a child (Linux): SIGTERM when the process that started it dies, even by
    SIGKILL, so a killed run leaves no server behind (JACK allows only a few at once)."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def hold_cpus_awake() -> int | None:
    """Ask that every CPU wake at once for as long as the returned descriptor stays open (PM QoS,
    0 us), where permitted (root, or the device's group); None and one log line otherwise.

    Why: the dummy driver wakes every 1.3 ms on a timer, and the MIDI clients after it. On a
    virtual machine an idle CPU halts and its host may give the core to another guest; waking it
    then takes milliseconds, and JACK's cycles run late or drop (xruns). On the 2-core test VM the
    same eleven timing tests took 20-37 % steal time and failed three (notes 3 to 64 ms off);
    with this held: no steal, all passed. It is what a low-latency audio setup does anyway
    (tuned's realtime profile); the cost is that idle CPUs poll instead of sleeping."""
    try:
        fd = os.open(CPU_DMA_LATENCY, os.O_WRONLY)
    except OSError as e:
        log.info("CPUs may sleep deeply: %s not writable (%s); JACK's cycles may run late on a "
                 "busy or virtual machine", CPU_DMA_LATENCY, e.strerror)
        return None
    os.write(fd, struct.pack("i", 0))
    return fd


def end_process(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM, and SIGKILL if it is still there after timeout_s; waits for it either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def unique(prefix: str) -> str:
    """A name no other run uses at the same time (servers, clients)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def jack_answers(env: dict) -> bool:
    """True when the JACK server named in env answers (jack_lsp fails fast when none runs)."""
    if not shutil.which("jack_lsp"):
        return False
    return subprocess.run(["jack_lsp"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, timeout=10, check=False).returncode == 0


class JackServer:
    """`jackd -S -n <name> -d dummy -r 48000 -p 64`, started and waited for; `env` reaches it.

    softmode (jackd -s): xruns are ignored and not logged one line each, for a server that lives
    as long as a daemon. Tests leave it off, so that log() shows the xruns of a lossy run.

    synchronous (jackd -S, the default here): each cycle waits for every client to finish before
    the next begins. In JACK's own default (asynchronous) a client still reading its input when
    the next cycle starts finds the buffer rewritten under it, and python-rtmidi's JACK input
    (RtMidi, which does not check jack_midi_event_get) then reads an event that is not there and
    crashes the process. bench/stalled_reader.py shows both side by side.
    """

    def __init__(self, name: str | None = None, *, softmode: bool = False,
                 synchronous: bool = True, timeout_s: float = 15.0):
        if not shutil.which("jackd"):
            raise JackError(f"no jackd: {INSTALL_HINT}")
        self.name = name or unique("improvd-jack")
        self._awake = hold_cpus_awake()  # withdrawn by stop() or when this process ends
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name}
        # jackd logs for as long as it runs: a file, not a pipe nobody drains.
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the server
        cmd = ["jackd", *(["-s"] if softmode else []), *(["-S"] if synchronous else []),
               "-n", self.name, "-d", "dummy",
               "-r", str(SAMPLE_RATE), "-p", str(PERIOD_FRAMES)]
        # Realtime mode (jackd's default) keeps MIDI on time on a busy machine; without the
        # privilege jackd says so and runs without it. Its own process group, so a terminal's
        # Ctrl-C reaches the command using it and not the server under it.
        self.process = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, process_group=0,
            preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl call, nothing to lock
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if self.process.poll() is not None:
                self.stop()  # withdraws the CPUs' wake-up request
                raise JackError(f"jackd exited with status {self.process.returncode}:\n"
                                f"{self.log().strip()}")
            if time.monotonic() > deadline:
                self.stop()
                raise JackError(f"jackd -n {self.name} did not answer within {timeout_s:.0f} s:"
                                f"\n{self.log().strip()}")
            time.sleep(0.05)
        log.info("started JACK server %r (dummy driver, pid %d)", self.name, self.process.pid)

    def answers(self) -> bool:
        return jack_answers(self.env)

    def ports(self) -> list[str]:
        out = subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True,
                             timeout=10, check=True).stdout
        return out.split("\n")

    def connections(self) -> str:
        return subprocess.run(["jack_lsp", "-c"], env=self.env, capture_output=True, text=True,
                              timeout=10, check=True).stdout

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def times_behind(self) -> int:
        """How often so far the server fell behind its own timetable: the dummy driver found a
        cycle's start already past when the one before ended (a late wake-up, or a cycle that ran
        long), logged "XRun" and restarted its timetable from then. Whatever that cycle carried
        (a clock tick, a note) reached every client late, whoever sent it. Not counted in
        softmode, which does not log them."""
        return self.log().count(TIMED_DRIVER_XRUN)

    def stop(self, timeout_s: float = 10.0) -> None:
        end_process(self.process, timeout_s)
        if self._awake is not None:
            os.close(self._awake)
            self._awake = None
