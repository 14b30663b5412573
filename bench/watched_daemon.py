"""The long-run benchmarks' rig: `improvd run` on a private JACK server with a MIDI peer playing
into it and a C client (wire.py) counting what reaches a listener."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from improvd.testsupport.daemon_process import Daemon
from improvd.testsupport.midi_peer import MidiPeer

from . import common
from .harness import private_jack_server
from .wire import CListener


@dataclass
class Watched:
    daemon: Daemon
    peer: MidiPeer
    described: str  # the model under test, in words
    # Filled when the rig closes: what the listener heard, the daemon's and jackd's logs and
    # what the peer heard (the wire figures compare them).
    heard: list = field(default_factory=list)
    daemon_log: str = ""
    server_log: str = ""
    peer_heard: list = field(default_factory=list)


@contextmanager
def watched_daemon(settings: str) -> Iterator[Watched]:
    """`settings`: the daemon's config.toml text. The daemon is stopped at exit."""
    with (tempfile.TemporaryDirectory(prefix="improvd-bench-") as tmp,
          private_jack_server() as server):
        model, described = common.model_under_test(Path(tmp))
        config = Path(tmp) / "config.toml"
        config.write_text(settings)
        listener = CListener(server)
        listener.wait_ready()
        peer = MidiPeer()
        try:
            daemon = Daemon(server, model, peer, ["--config", str(config),
                                                  "--connect-output", listener.port])
            watched = Watched(daemon, peer, described)
            try:
                yield watched
            finally:
                daemon.stop()
            watched.heard = listener.stop()
            watched.daemon_log = daemon.log()
            watched.peer_heard = peer.messages()
        finally:
            peer.close()
        watched.server_log = server.log()
