"""contrib/run_with_jack.py, the `make run` wrapper: a private JACK server only when none runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from .jack_helpers import PROJECT_ROOT, unique

pytestmark = pytest.mark.e2e

SCRIPT = PROJECT_ROOT / "contrib" / "run_with_jack.py"
ALSA = os.access("/dev/snd/seq", os.R_OK | os.W_OK)


def jack_answers(server: str) -> bool:
    env = {**os.environ, "JACK_DEFAULT_SERVER": server}
    probe = subprocess.run(["jack_lsp"], env=env, capture_output=True, timeout=10, check=False)
    return probe.returncode == 0


def no_server_env(private: str) -> dict:
    """An environment where no JACK server answers, and the private one will be `private`."""
    return {**os.environ, "JACK_DEFAULT_SERVER": unique("nobody-home"),
            "IMPROVD_JACK_NAME": private}


def test_runs_the_command_directly_when_a_server_answers(jack_server):
    out = subprocess.run([sys.executable, str(SCRIPT), "sh", "-c", "echo $JACK_DEFAULT_SERVER"],
                         env=jack_server.env, capture_output=True, text=True, timeout=30,
                         check=False)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines() == [jack_server.name]  # no "started" line


def test_starts_a_private_server_passes_the_status_and_stops_it():
    private = unique("improvd-rwj")
    out = subprocess.run([sys.executable, str(SCRIPT), "sh", "-c",
                          "echo server=$JACK_DEFAULT_SERVER; jack_lsp; exit 3"],
                         env=no_server_env(private), capture_output=True, text=True, timeout=60,
                         check=False)
    if ALSA:  # the ALSA sequencer is usable: the command ran as it is
        assert out.returncode == 3 and "started JACK server" not in out.stdout
        return
    assert out.returncode == 3, out.stderr
    assert f"JACK_DEFAULT_SERVER={private} jack_lsp" in out.stdout  # tells how to reach it
    assert f"server={private}" in out.stdout and "system:playback_1" in out.stdout
    assert not jack_answers(private)  # stopped with the command


def test_make_run_brings_the_daemon_up_with_ports_others_see(model_path):
    private = unique("improvd-rwj")
    client = unique("improvd-run")
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, str(SCRIPT), sys.executable, "-m", "improvd.daemon",
                             "run", "--model", str(model_path), "--client-name", client],
                            env=no_server_env(private), stdout=log, stderr=subprocess.STDOUT,
                            cwd=PROJECT_ROOT, process_group=0)

    def output() -> str:
        log.seek(0)
        return log.read()

    try:
        deadline = time.monotonic() + 40
        while "listening on" not in output():
            assert proc.poll() is None and time.monotonic() < deadline, output()
            time.sleep(0.1)
        if not ALSA:
            env = {**os.environ, "JACK_DEFAULT_SERVER": private}
            ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True,
                                   timeout=10, check=True).stdout.split("\n")
            assert f"{client}:in" in ports and f"{client}-out:out" in ports
        proc.send_signal(signal.SIGTERM)  # forwarded to the daemon, which exits cleanly
        assert proc.wait(timeout=20) == 0, output()
        assert not jack_answers(private)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
