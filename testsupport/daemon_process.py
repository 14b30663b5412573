"""`improvd run` as a subprocess on a private JACK server, for the end-to-end tests and benchmarks.
It stops only the process it started, by PID."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from improvd.daemon.jackd import JackServer, die_with_parent, unique

from .midi_peer import MidiPeer

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Daemon:
    """`improvd run` as a subprocess on the given JACK server, wired to a peer by name."""

    def __init__(self, server: JackServer, model: Path, peer: MidiPeer | None = None,
                 args: list[str] = (), client_name: str | None = None, ready_timeout: float = 30,
                 python_args: list[str] = (), env: dict | None = None):
        """env: variables added to the server's (e.g. a service manager's NOTIFY_SOCKET)."""
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
            cmd, cwd=PROJECT_ROOT, env={**server.env, **(env or {})}, stdout=self.log_file,
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
