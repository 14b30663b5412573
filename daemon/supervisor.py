"""What the daemon's main thread does between signals: keep the configured connections, notice a
lost JACK server, reset listeners that connect, and ping the service manager's watchdog.

  JACK lost      the watch client's shutdown callback (jack_watch.py) -> check() returns
                 EXIT_BACKEND_LOST; serve() releases what it can and exits with it at once, so a
                 service manager restarts the daemon (with --wait-for-ports the new one waits for
                 the server to come back). Reconnecting in-process was not chosen: python-rtmidi's
                 clients die with the server and cannot be reopened in place.
  hot-plug       a port named in connect_input / connect_output that appears (again) is connected
                 at once (JACK's port registration callback wakes us; a rescan every RESCAN_S
                 backs it up), with a log line; one that goes away is logged too.
  new listeners  the output gaining a connection gets All Notes Off + All Sound Off (a listener
                 that was away for a moment may hold notes whose note-offs it missed).
  watchdog       WATCHDOG=1 every half WatchdogSec, but only while the engine loop turns (it wakes
                 at least every HEARTBEAT_S): a wedged engine gets the daemon restarted.
"""

from __future__ import annotations

import logging
import threading
import time

from .engine import HEARTBEAT_S
from .errors import EXIT_BACKEND_LOST
from . import ports
from .jack_watch import PORT_IS_INPUT, PORT_IS_OUTPUT, JackWatch
from .ports import match_port

log = logging.getLogger(__name__)

RESCAN_S = 1.0
STALLED_S = 5 * HEARTBEAT_S  # an engine loop this late is wedged


def played_channels(midi) -> set[int]:
    """0-based channels improvd sends notes on: the answer's, and the player's with thru."""
    channels = {midi.output_channel - 1}
    if midi.thru:
        channels |= {c - 1 for c in midi.input_channels} or set(range(16))
    return channels


class Supervisor:
    def __init__(self, midi, midi_in, midi_out, engine, notifier, watch=None,
                 clock=time.monotonic):
        """watch: a JackWatch on the daemon's JACK server (None on other backends)."""
        self.midi_in, self.midi_out, self.engine = midi_in, midi_out, engine
        self.notifier, self.watch, self.clock = notifier, watch, clock
        self.channels = played_channels(midi)
        self._present: dict[tuple[str, str], bool] = {}
        self._listeners: set[str] = set()
        self._next_scan = self._next_ping = 0.0
        self._stall_logged = False

    @property
    def wait_s(self) -> float:
        """The longest the main thread may sleep between two check() calls."""
        ping = self.notifier.watchdog_s
        return RESCAN_S if ping is None else min(RESCAN_S, ping / 4)

    def start(self) -> None:
        """The ports are open and the engine runs: reset the listeners, tell the manager."""
        self.engine.scheduler.reset_output(self.channels)
        if self.watch is not None:
            self._listeners = set(self.watch.connections(self.midi_out.name))
        self.notifier.send("READY=1", f"STATUS=listening on {self.midi_in.name}, answering on "
                                      f"{self.midi_out.name}")

    def check(self) -> int | None:
        """One round of duties; an exit status when the daemon must exit now."""
        now = self.clock()
        if self.watch is not None and self.watch.lost.is_set():
            log.error("the JACK server is gone: releasing the notes and exiting with status %d "
                      "so that the service manager starts improvd again", EXIT_BACKEND_LOST)
            return EXIT_BACKEND_LOST
        self._ping(now)
        if self.watch is not None and (self.watch.changed.is_set() or now >= self._next_scan):
            self.watch.changed.clear()
            self._next_scan = now + RESCAN_S
            self._reconnect(self.midi_in, PORT_IS_OUTPUT, incoming=True)
            self._reconnect(self.midi_out, PORT_IS_INPUT, incoming=False)
            self._reset_new_listeners()
        return None

    def _ping(self, now: float) -> None:
        if self.notifier.watchdog_s is None or now < self._next_ping:
            return
        self._next_ping = now + self.notifier.watchdog_s / 2
        stalled = now - self.engine.alive_at
        if stalled > STALLED_S:
            if not self._stall_logged:
                log.error("the engine loop has not turned for %.0f s: no watchdog ping, so the "
                          "service manager restarts improvd", stalled)
            self._stall_logged = True
            return
        self.notifier.send("WATCHDOG=1")

    def _reconnect(self, port, flags: int, incoming: bool) -> None:
        if not port.connect:
            return
        ours = {self.midi_in.name, self.midi_out.name}
        available = [p for p in self.watch.port_names("", flags) if p not in ours]
        connected = set(self.watch.connections(port.name))
        for name in port.connect:
            target = match_port(name, available, warn=False)
            key = (port.name, name)
            if target is None:
                if self._present.get(key):  # it was there (one missing at start: ports.py says)
                    log.warning("%s: no port matches %r (unplugged?): waiting for it", port.name,
                                name)
                self._present[key] = False
                continue
            if target not in connected:
                try:
                    self.watch.connect(*((target, port.name) if incoming else (port.name, target)))
                except OSError as exc:
                    log.warning("%s: cannot connect %s: %s", port.name, target, exc)
                    continue
                log.info("%s connected to %s (it appeared)", port.name, target)
            self._present[key] = True

    def _reset_new_listeners(self) -> None:
        now = set(self.watch.connections(self.midi_out.name))
        new = now - self._listeners
        self._listeners = now
        if new:
            self.engine.scheduler.reset_output(self.channels)
            log.info("%s gained a listener (%s): All Notes Off + All Sound Off sent",
                     self.midi_out.name, ", ".join(sorted(new)))


def wait_for(condition, what: str, stop: threading.Event, poll_s: float = 1.0) -> bool:
    """Wait until condition() holds (a service started before JACK or the keyboard), logging
    once; False when `stop` is set first."""
    if condition():
        return True
    log.warning("waiting for %s", what)
    while not stop.wait(poll_s):
        if condition():
            log.info("%s is there", what)
            return True
    return False


def choose_backend(name: str, wait: bool) -> str:
    """ports.choose_backend, first waiting for the backend when asked to (a JACK server that
    starts after the daemon's service)."""
    def usable() -> bool:
        try:
            ports.choose_backend(name)
            return True
        except ports.PortError:
            return False
    if wait:
        wait_for(usable, f"a usable MIDI backend ({name})", threading.Event())
    return ports.choose_backend(name)


def watch(backend: str, client_name: str, wake: threading.Event):
    """The JACK watch client (jack_watch.py) on JACK, None elsewhere; PortError if it fails."""
    if backend != "jack":
        return None
    try:
        return JackWatch(f"{client_name}-watch", wake)
    except OSError as exc:
        raise ports.PortError(f"cannot watch the JACK server: {exc}") from exc
