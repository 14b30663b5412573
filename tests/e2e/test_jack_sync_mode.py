"""The daemon says at start when the JACK server runs asynchronously (the mode in which the MIDI
library's JACK input can crash it: bench/stalled_reader.py), and is silent on a synchronous one."""

from __future__ import annotations

import pytest

from .jack_helpers import Daemon, JackServer, unique

pytestmark = pytest.mark.e2e

WARNING = "runs asynchronously"


def test_an_asynchronous_server_is_named_in_a_warning_at_start(model_path):
    server = JackServer(unique("improvd-async"), synchronous=False)
    try:
        daemon = Daemon(server, model_path, None, ["--seed", "1"])
        try:
            log = daemon.log()
        finally:
            daemon.stop()
    finally:
        server.stop()
    assert f"the JACK server '{server.name}' {WARNING}" in log, log
    assert "jackd -S" in log


def test_a_synchronous_server_gets_no_warning(jack_server, model_path):
    daemon = Daemon(jack_server, model_path, None, ["--seed", "1"])
    try:
        log = daemon.log()
    finally:
        daemon.stop()
    assert "listening on" in log and WARNING not in log, log
