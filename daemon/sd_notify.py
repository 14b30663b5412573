"""systemd's notify protocol without a dependency: one datagram to $NOTIFY_SOCKET per message.

With `Type=notify` the service manager counts the daemon as started at READY=1, and with
`WatchdogSec=` it restarts a daemon whose WATCHDOG=1 pings stop (supervisor.py pings only while
the engine loop turns). Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket: a leading NUL byte on Linux
            address = "\0" + address[1:]
        self._address = address or None
        self._failed = False
        # WATCHDOG_PID names the process the watchdog is meant for (absent: this one).
        pid = environ.get("WATCHDOG_PID")
        usec = environ.get("WATCHDOG_USEC", "")
        meant_for_us = pid is None or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and meant_for_us else None

    @property
    def active(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> None:
        """Send "READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1"; a failure is logged once."""
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify the service manager at %s: %s", self._address, exc)
            self._failed = True
