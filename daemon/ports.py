"""MIDI ports over python-rtmidi: backend choice, named virtual ports, connections, robust input.

The only module that imports rtmidi (midi_events.py converts Events to and from mido's). Input
bytes are parsed by `mido.Parser`, which drops stray data bytes, unfinished sysex and unknown
status bytes instead of raising: whatever a keyboard or another program sends, input survives.

Input is read from rtmidi's own queue by a thread of ours ("improvd-midi-in", polling every
millisecond while there is input or work, less often when idle: input_timing.py) rather than
through an rtmidi callback: on JACK that callback runs inside JACK's
realtime process cycle and would wait there for Python's GIL; a cycle that overruns lets JACK reuse
the MIDI buffer it is still reading, and we measured duplicated and zeroed messages that way.

Naming: a port other programs see is `<client>:<port>`. rtmidi gives every port object its own
backend client, so on JACK (where client names must be unique) the output port lives in the client
`<client_name>-out`; on ALSA, CoreMIDI and WinMM both use `<client_name>`. `MidiInput.name` and
`MidiOutput.name` hold the full names as other programs see them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable

import mido
import rtmidi

from . import jack, realtime
from .events import Event
from .input_timing import ArrivalStamps, poll_interval
from .midi_events import to_message

log = logging.getLogger(__name__)

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK,
        "coremidi": rtmidi.API_MACOSX_CORE, "winmm": rtmidi.API_WINDOWS_MM}
ALSA_SEQ_DEVICE = "/dev/snd/seq"
NO_BACKEND_HELP = (
    "no MIDI backend is usable: no ALSA sequencer ({dev} missing: `sudo modprobe snd-seq`) and no "
    "JACK server answers (install jackd2 and start one: `jackd -S -d dummy -r 48000 -p 64 &`, "
    "or run the daemon with `python contrib/run_with_jack.py improvd run`)"
)


# Sent once into our own JACK input as it opens (MidiInput._read_loop): a tune request, which
# rtmidi never filters and the daemon has no use for. rtmidi gives the first message a port
# receives no delta, so until one has come the input thread must look every millisecond to stamp
# it (input_timing.py); this one, read at once, anchors the chain, so a daemon waiting for its
# first note idles like one that has heard many.
ANCHOR = [0xF6]
ANCHOR_WAIT_S = 1.0  # given up after this (the thread then looks fast until real input comes)


class PortError(RuntimeError):
    """A MIDI port or backend problem; the message says what is wrong and what to do."""


def _alsa_usable() -> bool:
    return os.access(ALSA_SEQ_DEVICE, os.R_OK | os.W_OK)


def _compiled(backend: str) -> bool:
    return APIS[backend] in rtmidi.get_compiled_api()


def _usable(backend: str) -> bool:
    if not _compiled(backend):
        return False
    if backend == "alsa":
        return _alsa_usable()
    if backend == "jack":
        return jack.server_running()
    return True  # CoreMIDI and WinMM are always there on their systems


def choose_backend(name: str = "auto") -> str:
    """The backend to use: `name` if usable, or for "auto" the first usable one on this system."""
    if name != "auto":
        if name not in APIS:
            raise PortError(f"unknown MIDI backend {name!r}; choose one of auto, {', '.join(APIS)}")
        if not _compiled(name):
            raise PortError(f"python-rtmidi here was built without {name} support")
        if not _usable(name):
            if name == "alsa":
                raise PortError(f"ALSA sequencer {ALSA_SEQ_DEVICE} is not usable: "
                                "`sudo modprobe snd-seq` (and be in the audio group)")
            server = os.environ.get("JACK_DEFAULT_SERVER", "default")
            raise PortError(f"no JACK server named {server!r} answers: start one "
                            "(`jackd -S -d dummy -r 48000 -p 64 &`) or set JACK_DEFAULT_SERVER")
        return name
    if sys.platform == "darwin":
        return "coremidi"
    if sys.platform.startswith("win"):
        return "winmm"
    for candidate in ("alsa", "jack"):
        if _usable(candidate):
            return candidate
    raise PortError(NO_BACKEND_HELP.format(dev=ALSA_SEQ_DEVICE))


INPUT_QUEUE = 16384  # messages rtmidi keeps for the reader thread (a 10,000-event burst fits)


def _new_rt(kind, backend: str, client_name: str):
    extra = {"queue_size_limit": INPUT_QUEUE} if kind is rtmidi.MidiIn else {}
    try:
        return kind(rtapi=APIS[backend], name=client_name, **extra)
    except rtmidi.RtMidiError as exc:
        raise PortError(f"cannot open a {backend} MIDI client: {exc}") from exc


def list_ports(backend: str | None = None) -> dict[str, dict[str, list[str]]]:
    """Ports per usable backend: "inputs" we can receive from, "outputs" we can send to."""
    backends = [choose_backend(backend)] if backend else [b for b in APIS if _usable(b)]
    if not backends:
        raise PortError(NO_BACKEND_HELP.format(dev=ALSA_SEQ_DEVICE))
    listing = {}
    for name in backends:
        listing[name] = {}
        for direction, kind in (("inputs", rtmidi.MidiIn), ("outputs", rtmidi.MidiOut)):
            rt = _new_rt(kind, name, "improvd-list")
            listing[name][direction] = rt.get_ports()
            rt.delete()
    return listing


def match_port(substring: str, available: list[str], warn: bool = True) -> str | None:
    """The port a connect_input/connect_output name means: the exact name, else the first that
    contains it; None when none does."""
    exact = [p for p in available if p == substring]
    matches = exact or [p for p in available if substring in p]
    if len(matches) > 1 and warn:
        log.warning("%r matches several ports (%s); using %s", substring, ", ".join(matches),
                    matches[0])
    return matches[0] if matches else None


def _find(substring: str, available: list[str], what: str, backend: str) -> str:
    found = match_port(substring, available)
    if found is None:
        listed = ", ".join(available) or "none"
        raise PortError(f"no {backend} MIDI {what} port matches {substring!r}; available: {listed}")
    return found


class _Port:
    """One logical port: rtmidi objects (one per connection where the backend needs it)."""

    kind = rtmidi.MidiIn
    direction = "input"  # the word users see: we receive from *their* output ports

    def __init__(self, backend: str, client_name: str, port_name: str, *, virtual: bool = True,
                 connect: Iterable[str] = (), wait_for_missing: bool = False):
        """wait_for_missing: a port to connect to that is not there yet is waited for instead of
        being an error (on JACK the supervisor connects it when it appears, see supervisor.py;
        elsewhere opening waits for it)."""
        self.backend = backend
        self.connect = tuple(connect)
        self.period_s = 0.0  # the backend's processing cycle, where it has one (JACK)
        self._rts = []
        client = self._client_name(client_name)
        self.name = f"{client}:{port_name}"
        first = _new_rt(self.kind, backend, client)
        try:
            # Ports on the other side: sources for an input, destinations for an output.
            other_side = "output" if self.kind is rtmidi.MidiIn else "input"
            available = first.get_ports()
            if wait_for_missing:
                available = self._wait_for_targets(first, available, other_side)
                connect = [s for s in self.connect if match_port(s, available, warn=False)]
            targets = [_find(s, available, other_side, backend) for s in connect]
            if not virtual and not self.connect:
                raise PortError(f"a non-virtual {self.direction} needs ports to connect to")
            if virtual and backend == "winmm":
                raise PortError("WinMM has no virtual ports: set midi.virtual = false and name the "
                                "ports to connect to")
            self._open(first, client, port_name, virtual, targets)
        except BaseException as exc:
            self.close()
            if first not in self._rts:
                first.delete()
            if isinstance(exc, (rtmidi.RtMidiError, OSError)):
                raise PortError(f"cannot open {backend} MIDI {self.direction} {self.name}: "
                                f"{exc}") from exc
            raise
        log.info("%s %s open on %s%s", self.direction, self.name, backend,
                 f", connected to {', '.join(targets)}" if targets else "")

    def _client_name(self, client_name: str) -> str:
        return client_name

    def _wait_for_targets(self, rt, available: list[str], other_side: str) -> list[str]:
        """Ports to connect to that are not there yet: on JACK the supervisor connects them
        when they appear; elsewhere nothing reconnects later, so they are waited for here."""
        logged = set()
        while missing := [s for s in self.connect if match_port(s, available, False) is None]:
            for name in set(missing) - logged:
                log.warning("no %s port matches %r yet: waiting for it", other_side, name)
            logged.update(missing)
            if self.backend == "jack":
                break
            time.sleep(1.0)
            available = rt.get_ports()
        return available

    def _open(self, first, client: str, port_name: str, virtual: bool, targets: list[str]) -> None:
        if self.backend == "jack":
            # One JACK port, connected to every target: libjack can wire any two ports.
            with jack.session() as server:
                if server.port_names(f"^{re.escape(client)}:"):
                    raise PortError(f"JACK already has a client named {client!r} (is another "
                                    "improvd running?); choose another client name")
                self._adopt(first)
                first.open_virtual_port(port_name)
                incoming = self.kind is rtmidi.MidiIn
                for target in targets:
                    server.connect(*((target, self.name) if incoming else (self.name, target)))
                self.period_s = server.period_seconds()
            return
        # Elsewhere an rtmidi object connects to one port: one object per target.
        rt = first
        if virtual:
            self._adopt(rt)
            rt.open_virtual_port(port_name)
            rt = None
        for target in targets:
            rt = rt or _new_rt(self.kind, self.backend, client)
            self._adopt(rt)
            rt.open_port(rt.get_ports().index(target), port_name)
            rt = None

    def _adopt(self, rt) -> None:
        self._rts.append(rt)

    def close(self) -> None:
        for rt in self._rts:
            rt.close_port()
            rt.delete()
        self._rts = []


class MidiInput(_Port):
    kind = rtmidi.MidiIn
    direction = "input"

    def __init__(self, backend: str, client_name: str, port_name: str, *, virtual: bool = True,
                 connect: Iterable[str] = (), wait_for_missing: bool = False,
                 callback: Callable[[mido.Message, float], None], clock: bool = False,
                 busy: Callable[[], bool] | None = None):
        """callback(msg, t) runs on the input thread; t is time.monotonic() at arrival.
        clock: let MIDI clock through (a DAW's tempo, clock_sync.py, and the session recorder's);
        else rtmidi drops it. busy: True while input must be read promptly although none came
        lately (input_timing.py)."""
        self._callback = callback
        self._busy = busy
        self._clock = clock
        self._errors = 0
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None  # none yet if opening the port fails
        super().__init__(backend, client_name, port_name, virtual=virtual, connect=connect,
                         wait_for_missing=wait_for_missing)
        self._thread = threading.Thread(target=self._read_loop, name="improvd-midi-in",
                                        daemon=True)
        self._thread.start()

    def _adopt(self, rt) -> None:
        # Sysex and active sensing are of no use to the daemon: rtmidi drops them, and MIDI
        # clock too unless this port reads a DAW's clock or the session recorder keeps it.
        rt.ignore_types(sysex=True, timing=not self._clock, active_sense=True)
        super()._adopt(rt)

    def _send_anchor(self):
        """JACK: a client of its own sends ANCHOR into this port; returns that client (closed
        once the anchor has been read), or None where it cannot (then nothing changes)."""
        if self.backend != "jack" or len(self._rts) != 1:
            return None
        client = self.name.rsplit(":", 1)[0] + "-anchor"
        rt = None
        try:
            rt = _new_rt(rtmidi.MidiOut, "jack", client)
            rt.open_virtual_port("out")
            with jack.session() as server:
                server.connect(f"{client}:out", self.name)
            rt.send_message(ANCHOR)
            return rt
        except (PortError, rtmidi.RtMidiError, OSError) as exc:
            log.debug("input %s: no anchor message (%s); looking fast until the first", self.name,
                      exc)
            if rt is not None:
                rt.delete()
            return None

    def _read_loop(self) -> None:
        """The input thread: drain rtmidi's queues, parse, stamp, hand over. Never raises."""
        realtime.enter("MIDI input")  # SCHED_FIFO where permitted: it stamps the player's notes
        # Per connection: a parser (no mixing), its stamps, and its last look that found nothing.
        sources = [(rt, mido.Parser(), ArrivalStamps(), [-float("inf")]) for rt in self._rts]
        last_input = -float("inf")
        anchor, anchor_until = self._send_anchor(), time.monotonic() + ANCHOR_WAIT_S
        while not self._closing.is_set():
            busy = False
            if anchor is not None and time.monotonic() > anchor_until:
                anchor.delete()  # given up on: its client leaves JACK
                anchor = None
            for rt, parser, stamper, since in sources:
                looked = time.monotonic()
                batch = []
                while len(batch) < 1024 and (item := rt.get_message()) is not None:
                    batch.append(item)
                if batch:
                    busy = True
                    last_input = time.monotonic()
                    # The anchor is stamped with the rest (input that came first included)
                    # and not delivered; once read, its client leaves JACK.
                    if self._deliver(batch, parser, stamper, since[0],
                                     skip_anchor=anchor is not None):
                        anchor.delete()
                        anchor = None
                # All that comes later arrived after this look, if it emptied the queue.
                since[0] = looked if len(batch) < 1024 else -float("inf")
            if not busy:
                engine_busy = self._busy is not None and self._busy()
                anchored = all(stamper.last is not None for _, _, stamper, _ in sources)
                self._closing.wait(poll_interval(time.monotonic() - last_input, engine_busy,
                                                 anchored))
        if anchor is not None:  # closed before the anchor came
            anchor.delete()

    def _deliver(self, batch, parser, stamper: ArrivalStamps | None = None,
                 since: float = -float("inf"), skip_anchor: bool = False) -> bool:
        """Stamp and hand over a batch; skip_anchor: the first ANCHOR in it is not handed over.
        Returns whether one was skipped."""
        # rtmidi gives each message's delta to the one before: messages that waited in the queue
        # get their real times back (input_timing.py).
        skipped = False
        stamps = (stamper or ArrivalStamps()).stamps([d for _, d in batch], since,
                                                     time.monotonic())
        for (data, _), stamp in zip(batch, stamps, strict=True):
            if skip_anchor and not skipped and data == ANCHOR:
                skipped = True
                continue
            try:
                parser.feed(data)
                for msg in parser:
                    self._callback(msg, stamp)
            except Exception:  # a bug downstream must not kill the input or flood the log
                self._errors += 1
                if self._errors in (1, 10, 100, 1000):
                    log.exception("input %s: message handling failed (%d so far)", self.name,
                                  self._errors)
        return skipped

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        super().close()


class MidiOutput(_Port):
    kind = rtmidi.MidiOut
    direction = "output"

    def __init__(self, backend: str, client_name: str, port_name: str, *, virtual: bool = True,
                 connect: Iterable[str] = (), wait_for_missing: bool = False):
        self._lock = threading.Lock()
        super().__init__(backend, client_name, port_name, virtual=virtual, connect=connect,
                         wait_for_missing=wait_for_missing)

    def _client_name(self, client_name: str) -> str:
        return f"{client_name}-out" if self.backend == "jack" else client_name

    def send(self, msg) -> None:
        """Scheduler thread (and the main thread for a final panic)."""
        data = msg.bytes()
        with self._lock:
            for rt in self._rts:
                try:
                    rt.send_message(data)
                except rtmidi.RtMidiError as exc:
                    log.warning("output %s: could not send %s: %s", self.name, msg, exc)

    def send_event(self, event: Event, channel: int) -> None:
        self.send(to_message(event, channel))

    def close(self) -> None:
        with self._lock:
            if self._rts:  # JACK sends what we wrote on its next cycle: give it two
                time.sleep(2 * self.period_s + 0.005)
            super().close()
