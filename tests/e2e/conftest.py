"""End-to-end fixtures: one private JACK server for the session, a MIDI peer, daemons on demand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model_fixtures import model_for_tests

from improvd.daemon import jack
from improvd.testsupport.clock_source import ClockSource

from .jack_helpers import Daemon, JackServer, MidiPeer, shared_server, unique


@pytest.fixture(scope="session")
def jack_server() -> JackServer:
    return shared_server()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """models/default.onnx when it exists, else a random-weights model of the same contract."""
    return model_for_tests(tmp_path_factory.mktemp("model"))


@pytest.fixture
def peer(jack_server):
    p = MidiPeer()
    yield p
    p.close()


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings and numbers are spelt the same in JSON and TOML


@pytest.fixture
def config_file(tmp_path):
    """Writes a config.toml from {section: {key: value}}; returns its path."""
    def write(sections: dict) -> Path:
        lines = []
        for section, values in sections.items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                lines.append(f"{key} = {toml_value(value)}")
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines) + "\n")
        return path
    return write


@pytest.fixture
def start_daemon(jack_server, model_path):
    """start_daemon(peer, args) -> a running `improvd run`; all are stopped at teardown."""
    started = []

    def start(peer=None, args=(), **kwargs) -> Daemon:
        daemon = Daemon(jack_server, model_path, peer, list(args), **kwargs)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def ears(jack_server):
    """A peer that also hears a DAW's clock, stamped with JACK's cycle times."""
    p = MidiPeer(hear_clock=True)
    yield p
    p.close()


@pytest.fixture
def daw(jack_server):
    """daw(bpm, *ports) -> a DAW stand-in clock (testsupport/clock_source.py) wired to ports."""
    sources = []

    def start(bpm: float, *destinations: str) -> ClockSource:
        source = ClockSource(jack_server.env, unique("daw"), bpm)
        sources.append(source)
        with jack.session() as server:
            for port in destinations:
                server.connect(source.port, port)
        return source

    yield start
    for source in sources:
        source.close()
