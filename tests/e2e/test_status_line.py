"""The status line of `improvd run`: redrawn in place on a terminal (a real pseudo-terminal here),
one plain log line per answer anywhere else."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from .jack_helpers import PROJECT_ROOT, die_with_parent, unique

pytestmark = pytest.mark.e2e

CLEAR = "\r\x1b[K"
PHRASE = [60, 62, 64, 65, 67, 65, 64, 62]
KEY = "[A-G][#b]? m(?:aj|in)or"


class Terminal:
    """A pseudo-terminal: what a program writes to it is collected by a reader thread."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # the other side closed
                return
            if not data:
                return
            self._chunks.append(data)

    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, self.text())):
            assert time.monotonic() < deadline, f"no {pattern!r} on the terminal:\n{self.text()}"
            time.sleep(0.02)
        return found

    def close(self) -> None:
        os.close(self.slave)
        os.close(self.master)


def test_status_line_on_a_terminal(jack_server, peer, model_path):
    term = Terminal()
    cmd = [sys.executable, "-m", "improvd.daemon", "run", "--backend", "jack", "--model",
           str(model_path), "--client-name", unique("improvd-tty"), "--connect-input",
           peer.out_name, "--connect-output", peer.in_name, "--silence-ms", "300", "--seed", "3"]
    process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=jack_server.env, stdin=term.slave,
                               stdout=term.slave, stderr=term.slave, start_new_session=True,
                               preexec_fn=die_with_parent)  # noqa: PLW1509
    try:
        term.wait_for("listening on", timeout=30)
        term.wait_for(re.escape(CLEAR) + "\u25cf listening  [|]  answers 0", timeout=5)
        start = time.monotonic()
        peer.play(PHRASE)
        assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=5), term.text()
        term.wait_for(f"\u25cf answering  [|]  call: [0-9]+ bpm, {KEY}  [|]  reaction [0-9]+ ms"
                      "  [|]  answers 1", timeout=5)
        peer.wait_quiet(0.8, timeout=10, since=start)
        line = term.wait_for(f"\u25cf listening  [|]  call: ([0-9]+) bpm, ({KEY})  [|]  "
                             "reaction ([0-9]+) ms  [|]  answers 1", timeout=5)
        # The tempo and key the engine understood and logged at the handover.
        logged = re.search(f"call ended \\(.*; ([0-9]+) bpm, .*; ({KEY});", term.text())
        assert logged and logged.groups() == line.groups()[:2], term.text()[-2000:]
        # A log line never runs into the status line: the line is cleared before it.
        log_line = r"\d\d:\d\d:\d\d INFO improvd\.daemon\.engine: call ended"
        assert re.search(re.escape(CLEAR) + log_line, term.text()), term.text()[-2000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        term.close()


def test_plain_log_lines_without_a_terminal(peer, start_daemon):
    daemon = start_daemon(peer, ["--silence-ms", "300", "--seed", "3"])
    start = time.monotonic()
    peer.play(PHRASE)
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=5), daemon.log()
    peer.wait_quiet(0.8, timeout=10, since=start)
    deadline = time.monotonic() + 5
    while "status:" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    status = [line for line in daemon.log().splitlines() if "status:" in line]
    assert len(status) == 1, daemon.log()
    assert re.search(rf"status: listening \| call: \d+ bpm, {KEY} \| reaction \d+ ms \| "
                     r"answers 1$", status[0].replace("  |  ", " | ")), status
    assert "\x1b" not in daemon.log()
