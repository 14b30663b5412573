"""The JACK server lost under the daemon: it exits non-zero at once (a service manager restarts
it), and started with --wait-for-ports before any server it comes up when one does."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from improvd.daemon.errors import EXIT_BACKEND_LOST

from .jack_helpers import PROJECT_ROOT, Daemon, JackServer, die_with_parent, unique

pytestmark = pytest.mark.e2e


def test_killing_the_jack_server_makes_the_daemon_exit_69_within_5_s(model_path):
    server = JackServer(unique("improvd-doomed"))
    try:
        daemon = Daemon(server, model_path, None, ["--seed", "1"])
        server.process.kill()
        killed = time.monotonic()
        status = daemon.process.wait(timeout=15)
        took = time.monotonic() - killed
    finally:
        server.stop()
        # A killed jackd keeps its slot in JACK's registry of servers (a few at most per
        # machine) until a server of the same name starts: one does, and stops properly.
        JackServer(server.name).stop()
    assert status == EXIT_BACKEND_LOST, daemon.log()
    assert took < 5, f"exited {took:.1f} s after the server died"
    assert "the JACK server is gone" in daemon.log()
    assert "Traceback" not in daemon.log()


def test_with_wait_for_ports_a_daemon_started_before_jack_comes_up_with_it(model_path):
    name = unique("improvd-late")
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115
    env = {**os.environ, "JACK_DEFAULT_SERVER": name}
    process = subprocess.Popen(
        [sys.executable, "-m", "improvd.daemon", "run", "--backend", "jack", "--wait-for-ports",
         "--model", str(model_path), "--client-name", unique("improvd-e2e")],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent)  # noqa: PLW1509
    server = None
    try:
        text = lambda: Path(log.name).read_text(errors="replace")  # noqa: E731
        deadline = time.monotonic() + 30
        while "waiting for a usable MIDI backend" not in text():
            assert process.poll() is None and time.monotonic() < deadline, text()
            time.sleep(0.1)
        server = JackServer(name)
        deadline = time.monotonic() + 15
        while "listening on" not in text():
            assert process.poll() is None and time.monotonic() < deadline, text()
            time.sleep(0.1)
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
        if server is not None:
            server.stop()
