"""Counting on the wire with a C JACK client: what reached a listener, what was lost, xruns.

`jack_midi_dump` (jackd2's example clients) reads every event in its process callback, with no
Python or GIL between JACK and the count. Messages lost on the wire are the daemon's own count of
what it sent (its "sent N MIDI messages" line at exit) minus what the C client heard; jackd's log
(not softmode) has a line for each xrun, the usual cause of a loss.
"""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile

import mido

from improvd.daemon.jackd import unique

_SENT = re.compile(r"sent (\d+) MIDI messages in all")
_HEX = re.compile(r"^[0-9a-f]{2}$")


def daemon_sent(daemon_log: str) -> int | None:
    found = _SENT.findall(daemon_log)
    return int(found[-1]) if found else None


def xrun_lines(server_log: str) -> list[str]:
    return [line for line in server_log.splitlines() if "xrun" in line.lower()]


class CListener:
    """`jack_midi_dump <name>` as a listener; port `<name>:input`."""

    def __init__(self, server):
        self.name = unique("c-listener")
        self.port = f"{self.name}:input"
        # A file, not a pipe: nobody reads it until stop(), and a pipe full at 64 KiB (about a
        # thousand messages) would block the client's printing, so it heard no more.
        self._out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the client
        self._process = subprocess.Popen(["jack_midi_dump", self.name], env=server.env,
                                         stdout=self._out, stderr=subprocess.DEVNULL, text=True)
        self._server = server
        self.messages: list[mido.Message] = []

    def wait_ready(self, timeout: float = 10) -> None:
        import time

        deadline = time.monotonic() + timeout
        while self.port not in self._server.ports():
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("jack_midi_dump did not come up")
            time.sleep(0.05)

    def stop(self) -> list[mido.Message]:
        """Stop the client (SIGINT: it flushes) and parse what it printed."""
        self._process.send_signal(signal.SIGINT)
        self._process.wait(timeout=30)
        self._out.seek(0)
        parser = mido.Parser()
        for line in self._out.read().splitlines():
            if ":" not in line:
                continue
            for token in line.split(":", 1)[1].split():
                if not _HEX.match(token):
                    break
                parser.feed_byte(int(token, 16))
        self.messages = list(parser)
        return self.messages


def wire_figures(prefix: str, daemon_log: str, server_log: str, heard: list[mido.Message],
                 peer_heard) -> tuple[list[dict], dict]:
    """The rows every long run reports: notes left sounding at both listeners (the C client and
    the Python peer) and messages lost between the daemon and the C client."""
    from improvd.testsupport.midi_peer import left_sounding

    from . import common

    sent = daemon_sent(daemon_log)
    lost = None if sent is None else sent - len(heard)
    left_c = left_sounding([(0.0, m) for m in heard])
    left_peer = left_sounding(peer_heard)
    lines = xrun_lines(server_log)
    runs = len(lines)
    figures = [
        common.figure(f"{prefix}: notes left sounding at the listeners", len(left_c) +
                      len(left_peer), "notes", "0", lambda v: v == 0,
                      f"C client {sorted(left_c)}, Python peer {sorted(left_peer)}"),
        common.figure(f"{prefix}: messages lost on the wire (daemon -> C client)", lost,
                      "messages", "report only", None,
                      f"daemon sent {sent}, jack_midi_dump heard {len(heard)}; jackd logged "
                      f"{runs} xrun lines" if sent is not None else "the daemon's count is missing"),
    ]
    return figures, {"daemon_sent": sent, "c_client_heard": len(heard), "xrun_lines": runs,
                     "xrun_line_examples": sorted(set(lines))[:5]}
