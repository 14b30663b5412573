"""`Type=notify` as systemd runs it: READY=1 once the ports are up, WATCHDOG=1 pings while the
engine loop turns, STOPPING=1 on SIGTERM; a datagram socket plays the service manager."""

from __future__ import annotations

import socket
import time

import pytest

pytestmark = pytest.mark.e2e

WATCHDOG_S = 0.4


def test_ready_watchdog_pings_and_stopping_reach_the_service_manager(tmp_path, start_daemon):
    path = tmp_path / "notify"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(path))
    manager.settimeout(10)
    try:
        daemon = start_daemon(None, ["--seed", "1"], env={
            "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6))})
        first = manager.recv(4096).decode().split("\n")
        assert first[0] == "READY=1" and first[1].startswith("STATUS=listening on")
        pings, start = [], time.monotonic()
        while time.monotonic() - start < 5 * WATCHDOG_S:
            pings.append((time.monotonic(), manager.recv(4096).decode()))
        assert {m for _, m in pings} == {"WATCHDOG=1"}
        gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
        assert len(pings) >= 6 and max(gaps) < WATCHDOG_S, gaps  # every half WatchdogSec
        assert daemon.terminate() == 0
        last = []
        manager.settimeout(0.5)
        try:
            while True:
                last.append(manager.recv(4096).decode())
        except TimeoutError:
            pass
        assert "STOPPING=1" in last
    finally:
        manager.close()


# Loaded by the daemon's interpreter through PYTHONPATH: its engine thread hangs for good on the
# first note-on of pitch 1, as a wedged engine would (a deadlock, a stuck library call).
WEDGE = '''
import threading
from improvd.daemon import engine

_handle = engine.Engine.handle

def handle(self, msg, t):
    if getattr(msg, "type", None) == "note_on" and msg.note == 1 and msg.velocity:
        threading.Event().wait()
    return _handle(self, msg, t)

engine.Engine.handle = handle
'''


def test_a_wedged_engine_stops_the_watchdog_pings(tmp_path, peer, start_daemon):
    import mido

    (tmp_path / "sitecustomize.py").write_text(WEDGE)
    path = tmp_path / "notify"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(path))
    manager.settimeout(10)
    try:
        daemon = start_daemon(peer, ["--seed", "1"], env={
            "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": str(int(WATCHDOG_S * 1e6)),
            "PYTHONPATH": str(tmp_path)})
        assert manager.recv(4096).startswith(b"READY=1")
        assert manager.recv(4096) == b"WATCHDOG=1"
        peer.send(mido.Message("note_on", note=1, velocity=90))
        wedged = time.monotonic()
        manager.settimeout(0.5)
        last = wedged
        while time.monotonic() - wedged < 10:
            try:
                if manager.recv(4096) == b"WATCHDOG=1":
                    last = time.monotonic()
            except TimeoutError:
                if time.monotonic() - last > 3 * WATCHDOG_S + 1:
                    break
        stopped = last - wedged
        assert stopped < 7, f"pings went on {stopped:.1f} s after the engine wedged"
        assert time.monotonic() - last > 3 * WATCHDOG_S, "the pings never stopped"
        assert "the engine loop has not turned" in daemon.log()
        assert daemon.process.poll() is None  # the service manager kills it, not itself
        stopping = time.monotonic()
        assert daemon.terminate(timeout=10) == 0  # a stop still releases the notes and exits
        assert time.monotonic() - stopping < 8
        assert "releasing the notes without it" in daemon.log()
    finally:
        manager.close()
