"""daemon/jack.py: its ctypes calls go through the libjack python-rtmidi already loaded, so a
process holds one copy of libjack and maps the server's shared segment once."""

from __future__ import annotations

import json
import subprocess
import sys

from e2e.jack_helpers import shared_server

PROBE = """
import json
import re
import rtmidi
from improvd.daemon import jack
port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="one-libjack-probe")
port.open_virtual_port("in")
with jack.session() as server:
    seen = server.port_names()
maps = [line.split()[-1] for line in open("/proc/self/maps")]
shm = [path for path in maps if path.startswith("/dev/shm/jack-")]
libjacks = {path for path in maps if re.search(r"/libjack(-[0-9a-f]+)?\\.so", path)}
print(json.dumps({"libjacks": sorted(libjacks), "ports": seen,
                  "shm_mappings": len(shm), "shm_segments": len(set(shm))}))
port.close_port()
"""


def test_one_libjack_for_the_midi_ports_and_the_daemons_own_calls():
    server = shared_server()
    out = subprocess.run([sys.executable, "-c", PROBE], env=server.env, capture_output=True,
                         text=True, timeout=60, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "one-libjack-probe:in" in got["ports"]  # the session saw rtmidi's client: one server
    assert len(got["libjacks"]) == 1, got["libjacks"]
    assert got["shm_segments"] >= 1 and got["shm_mappings"] == got["shm_segments"], got
