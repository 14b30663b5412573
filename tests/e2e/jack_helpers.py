"""The end-to-end tests' harness: one private JACK server for the whole run, plus the shared parts.

Everything is real: `jackd` with the dummy driver (improvd.daemon.jackd, the launcher
contrib/run_with_jack.py uses too), JACK MIDI ports through python-rtmidi and mido (MidiPeer),
and `improvd run` as a subprocess (Daemon); the last two live in improvd.testsupport, which the
benchmarks share. Each piece stops only the process it started, by PID.
"""

from __future__ import annotations

import atexit
import os

from improvd.daemon.jackd import JackServer, die_with_parent, unique
from improvd.testsupport.daemon_process import PROJECT_ROOT, Daemon
from improvd.testsupport.midi_peer import MidiPeer, left_sounding, sounding

__all__ = ["PROJECT_ROOT", "Daemon", "JackServer", "MidiPeer", "die_with_parent", "left_sounding",
           "shared_server", "sounding", "unique"]

_shared: JackServer | None = None


def shared_server() -> JackServer:
    """One server for the whole test run (JACK allows only a few at once), stopped at exit.
    The test process's own JACK clients (peers) reach it through JACK_DEFAULT_SERVER."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = JackServer(unique("improvd-test"))
        atexit.register(_shared.stop)
        os.environ["JACK_DEFAULT_SERVER"] = _shared.name
    return _shared
