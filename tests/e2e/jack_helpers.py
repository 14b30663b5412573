"""Test harness: a private JACK server, a MIDI peer that plays and listens, and the daemon process.

Everything here is real: `jackd` with the dummy driver, JACK MIDI ports through python-rtmidi and
mido, and `improvd run` as a subprocess. Each piece stops only the process it started, by PID.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import mido
import rtmidi

PROJECT_ROOT = Path(__file__).resolve().parents[2]


_LIBC = ctypes.CDLL(None)  # loaded here: a forked child must not import


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, however it dies, so a killed
    run leaves no server behind (JACK allows only a few servers at once)."""
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux, like the rest of this harness)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class JackServer:
    """`jackd -d dummy` under a unique name; `env` reaches it."""

    def __init__(self, name: str | None = None):
        self.name = name or unique("improvd-test")
        self.env = {**os.environ, "JACK_DEFAULT_SERVER": self.name}
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the server
        # Realtime mode (the default): MIDI then arrives on time even on a busy machine; without
        # the privilege jackd says so and runs without it.
        self.process = subprocess.Popen(
            ["jackd", "-n", self.name, "-d", "dummy", "-r", "48000", "-p", "64"],
            stdout=self._log, stderr=subprocess.STDOUT, process_group=0,
            preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl call, nothing to lock
        deadline = time.monotonic() + 15
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jackd -n {self.name} did not come up:\n{self.log()}")
            time.sleep(0.05)

    def answers(self) -> bool:
        return subprocess.run(["jack_lsp"], env=self.env, capture_output=True, timeout=10,
                              check=False).returncode == 0

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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_shared: JackServer | None = None


def shared_server() -> JackServer:
    """One server for the whole test run (JACK allows only a few at once), stopped at exit.
    The test process's own JACK clients (peers) reach it through JACK_DEFAULT_SERVER."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = JackServer()
        atexit.register(_shared.stop)
        os.environ["JACK_DEFAULT_SERVER"] = _shared.name
    return _shared


class MidiPeer:
    """A keyboard and a listener on JACK: plays phrases with real timing, records what it hears.

    Ports: `<name>:keys` (we play into it) and `<name>-ears:in` (the daemon's answers land here).
    python-rtmidi for the ports (the output can send raw, malformed bytes), mido for messages. The
    input is read from rtmidi's queue by a thread, not by an rtmidi callback: a callback runs in
    JACK's realtime cycle and waits there for the GIL, and an overrun cycle garbles what it reads.
    """

    def __init__(self, name: str | None = None):
        self.name = name or unique("peer")
        self._rt = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name=self.name)
        self._rt.open_virtual_port("keys")
        self.out_name = f"{self.name}:keys"
        self.received: list[tuple[float, mido.Message]] = []
        self.sent: list[float] = []  # when each message left, by this process's clock
        self._lock = threading.Lock()
        self._in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{self.name}-ears",
                                 queue_size_limit=16384)
        self._in.ignore_types(sysex=False, timing=True, active_sense=True)
        self._in.open_virtual_port("in")
        self.in_name = f"{self.name}-ears:in"
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._listen, daemon=True)
        self._reader.start()

    def _listen(self) -> None:  # the reader thread
        parser = mido.Parser()
        while not self._closing.is_set():
            item = self._in.get_message()
            if item is None:
                self._closing.wait(0.0005)
                continue
            parser.feed(item[0])
            now = time.monotonic()
            with self._lock:
                self.received.extend((now, msg) for msg in parser)

    def send(self, msg: mido.Message) -> None:
        self.send_raw(msg.bytes())

    def send_raw(self, data: list[int]) -> None:
        self._rt.send_message(data)
        self.sent.append(time.monotonic())

    def last_sent_before(self, t: float) -> float:
        return max((s for s in self.sent if s < t), default=float("-inf"))

    def play(self, pitches, note_s: float = 0.12, gap_s: float = 0.03, velocity: int = 90,
             channel: int = 0) -> float:
        """Play a monophonic phrase in real time; returns the time of the last note-off."""
        for pitch in pitches:
            self.send(mido.Message("note_on", note=pitch, velocity=velocity, channel=channel))
            time.sleep(note_s)
            self.send(mido.Message("note_off", note=pitch, velocity=0, channel=channel))
            ended = time.monotonic()
            time.sleep(gap_s)
        return ended

    def messages(self, since: float = 0.0, until: float = float("inf")):
        with self._lock:
            return [(t, m) for t, m in self.received if since <= t < until]

    def note_ons(self, since: float = 0.0, until: float = float("inf")):
        return [(t, m) for t, m in self.messages(since, until)
                if m.type == "note_on" and m.velocity > 0]

    def wait_for(self, predicate, timeout: float, poll_s: float = 0.01) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(poll_s)
        return predicate()

    def wait_quiet(self, quiet_s: float, timeout: float, since: float = 0.0) -> bool:
        """Wait until no note sounds and nothing arrived for quiet_s seconds (an answer may hold
        a note longer than quiet_s: that is not its end)."""
        def quiet():
            msgs = self.messages(since)
            return not msgs or (time.monotonic() - msgs[-1][0] >= quiet_s and not sounding(msgs))
        return self.wait_for(quiet, timeout)

    def close(self) -> None:
        self._closing.set()
        self._reader.join()
        self._in.close_port()
        self._in.delete()
        self._rt.close_port()
        self._rt.delete()


def sounding(messages) -> dict[tuple[int, int], int]:
    """(channel, pitch) -> note-ons not yet matched by a note-off, from explicit note messages."""
    open_notes: dict[tuple[int, int], int] = {}
    for _, m in messages:
        if m.type not in ("note_on", "note_off"):
            continue
        key = (m.channel, m.note)
        if m.type == "note_on" and m.velocity > 0:
            open_notes[key] = open_notes.get(key, 0) + 1
        elif open_notes.get(key):
            open_notes[key] -= 1
    return {k: n for k, n in open_notes.items() if n}


class Daemon:
    """`improvd run` as a subprocess on the given JACK server, wired to a peer by name."""

    def __init__(self, server: JackServer, model: Path, peer: MidiPeer | None = None,
                 args: list[str] = (), client_name: str | None = None, ready_timeout: float = 30,
                 python_args: list[str] = ()):
        self.client_name = client_name or unique("improvd-e2e")
        # The daemon writes it for as long as it runs; removed when this object is collected.
        self.log_file = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115
        self.in_name = f"{self.client_name}:in"
        self.out_name = f"{self.client_name}-out:out"  # JACK: the output has its own client
        cmd = [sys.executable, *python_args, "-m", "improvd.daemon", "run", "--backend", "jack",
               "--model", str(model), "--client-name", self.client_name, *args]
        if peer is not None:
            cmd += ["--connect-input", peer.out_name, "--connect-output", peer.in_name]
        self.process = subprocess.Popen(
            cmd, cwd=PROJECT_ROOT, env=server.env, stdout=self.log_file,
            stderr=subprocess.STDOUT, process_group=0,
            preexec_fn=die_with_parent)  # noqa: PLW1509 - one prctl call, nothing to lock
        deadline = time.monotonic() + ready_timeout
        while "listening on" not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"improvd run did not come up (exit {self.process.returncode})"
                                   f":\n{self.log()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def terminate(self, timeout: float = 15) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
