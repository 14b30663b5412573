"""The daemon as a process: signals, what it loads, its command line against real JACK ports."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from improvd.daemon.ports import ANCHOR_WAIT_S

from .jack_helpers import PROJECT_ROOT, sounding, unique

pytestmark = pytest.mark.e2e

SILENCE_S = 0.4
HEAVY = ("tensorflow", "keras", "tf2onnx", "music21")


def wait_sounding(peer, since, timeout=4.0):
    assert peer.wait_for(lambda: sounding(peer.messages(since=since)), timeout=timeout), \
        "the answer never had a note sounding"


def settled_connections(server) -> str:
    """jack_lsp -c once the daemon's input anchor has left: a client of the daemon's own that
    sends its input one message as it opens and leaves once that is read (ports.ANCHOR), or
    after ANCHOR_WAIT_S. On a busy machine it may still be there when the daemon says it
    listens; it is no connection the daemon keeps."""
    deadline = time.monotonic() + ANCHOR_WAIT_S + 5
    while [p for p in server.ports() if "-anchor:" in p]:
        assert time.monotonic() < deadline, "the input's anchor client never left"
        time.sleep(0.05)
    return server.connections()


def test_sigterm_mid_answer_releases_every_note_and_exits_0(jack_server, peer, start_daemon,
                                                            config_file):
    config = config_file({"policy": {"silence_ms": int(SILENCE_S * 1000), "response": 8.0},
                          "sampling": {"seed": 4}})
    daemon = start_daemon(peer, ["--config", str(config)])
    start = time.monotonic()
    peer.play([55, 59, 62, 67])
    wait_sounding(peer, start)
    killed = time.monotonic()
    assert daemon.terminate() == 0, daemon.log()
    time.sleep(0.1)  # the last JACK cycles reach the peer
    heard = peer.messages(since=start)
    assert not sounding(heard), f"left sounding after SIGTERM: {sounding(heard)}"
    after = [m for t, m in heard if t >= killed]
    assert any(m.type == "control_change" and m.control == 123 and m.channel == 0 for m in after)
    ports = jack_server.ports()
    assert daemon.in_name not in ports and daemon.out_name not in ports


def test_sighup_reloads_config_keeping_ports_and_connections(jack_server, peer, start_daemon,
                                                             config_file):
    config = config_file({"policy": {"silence_ms": 300}, "sampling": {"seed": 5}})
    daemon = start_daemon(peer, ["--config", str(config)])
    connections = settled_connections(jack_server)
    # Same file; the call may no longer end by its pulse, so silence_ms alone decides.
    config_file({"policy": {"silence_ms": 1200, "end_on_pulse": False, "answer_start": "now"},
                 "sampling": {"seed": 5}})
    daemon.process.send_signal(signal.SIGHUP)
    assert peer.wait_for(lambda: "reload" in daemon.log().lower(), timeout=10), daemon.log()
    time.sleep(0.5)
    assert jack_server.connections() == connections
    start = time.monotonic()
    ended = peer.play([60, 64, 67, 72])
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=5), daemon.log()
    first = peer.note_ons(since=start)[0][0]
    assert first - ended >= 1.2 - 0.02, "the reloaded silence_ms (1200) was not applied"
    assert daemon.process.poll() is None


def test_daemon_process_loads_no_training_libraries(peer, start_daemon):
    # -X importtime makes Python list every module it imports, on stderr (the daemon's log here).
    daemon = start_daemon(peer, ["--silence-ms", "300", "--seed", "6"],
                          python_args=["-X", "importtime"])
    start = time.monotonic()
    ended = peer.play([62, 65, 69])
    assert peer.wait_for(lambda: peer.note_ons(since=ended), timeout=4)  # model and sampler ran
    maps = Path(f"/proc/{daemon.pid}/maps").read_text()
    assert "onnxruntime" in maps  # the check sees shared libraries...
    assert not [lib for lib in HEAVY if lib in maps]  # ...and no TensorFlow among them
    imported = re.findall(r"import time:.*\|\s+(\S+)$", daemon.log(), flags=re.MULTILINE)
    assert "onnxruntime" in imported and "mido" in imported
    heavy = sorted({m for m in imported if m.split(".")[0] in HEAVY})
    assert heavy == [], f"the daemon imported {heavy}"
    assert start < ended


def test_ports_command_lists_the_peers_ports(jack_server, peer):
    out = subprocess.run([sys.executable, "-m", "improvd.daemon", "ports", "--backend", "jack"],
                         env=jack_server.env, capture_output=True, text=True, timeout=60,
                         cwd=PROJECT_ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert peer.out_name in out.stdout and peer.in_name in out.stdout


def test_missing_port_is_one_clear_error(jack_server, model_path):
    name = unique("no-such-synth")
    out = subprocess.run([sys.executable, "-m", "improvd.daemon", "run", "--backend", "jack",
                          "--model", str(model_path), "--client-name", unique("improvd-e2e"),
                          "--connect-output", name],
                         env=jack_server.env, capture_output=True, text=True, timeout=60,
                         cwd=PROJECT_ROOT, check=False)
    assert out.returncode == 2
    assert name in out.stderr and "Traceback" not in out.stderr
