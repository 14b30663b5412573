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
