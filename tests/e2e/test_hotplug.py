"""Hot-plug on JACK: a --connect-input keyboard missing at start is waited for, and connected
again within 2 s each time it is replugged; a missing one without --wait-for-ports stays an error
(test_process.py)."""

from __future__ import annotations

import time

import pytest

from .jack_helpers import MidiPeer, left_sounding, unique

pytestmark = [pytest.mark.e2e, pytest.mark.kept_time]  # judged where JACK kept time

REPLUG_S = 2.0


def connected(server, source, destination) -> bool:
    """jack_lsp -c lists each port followed by its connections, indented."""
    lines = server.connections().split("\n")
    for i, line in enumerate(lines):
        if line == source:
            for other in lines[i + 1:]:
                if not other.startswith(" "):
                    break
                if other.strip() == destination:
                    return True
    return False


def plug(server, daemon, name):
    """A keyboard named `name` appears: it must be wired to the daemon within REPLUG_S."""
    keyboard = MidiPeer(name)
    plugged = time.monotonic()
    assert keyboard.wait_for(lambda: connected(server, keyboard.out_name, daemon.in_name)
                             and connected(server, daemon.out_name, keyboard.in_name),
                             timeout=REPLUG_S + 1), daemon.log()
    took = time.monotonic() - plugged
    assert took < REPLUG_S, f"connected {took:.2f} s after the keyboard appeared"
    return keyboard


def plays_and_is_answered(keyboard, daemon):
    start = time.monotonic()
    keyboard.play([60, 64, 67, 72])
    assert keyboard.wait_for(lambda: keyboard.note_ons(since=start), timeout=5), daemon.log()
    keyboard.wait_quiet(0.5, timeout=10, since=start)
    assert not left_sounding(keyboard.messages(since=start))


def test_a_keyboard_missing_at_start_is_waited_for_and_reconnected_when_replugged(
        jack_server, start_daemon):
    name = unique("keyboard")
    daemon = start_daemon(None, ["--wait-for-ports", "--connect-input", f"{name}:keys",
                                 "--connect-output", f"{name}-ears:in", "--silence-ms", "400",
                                 "--response", "1.5", "--seed", "2"])
    assert "waiting for it" in daemon.log()
    keyboard = plug(jack_server, daemon, name)
    plays_and_is_answered(keyboard, daemon)
    for _ in range(2):
        keyboard.close()  # unplugged
        assert keyboard.wait_for(lambda: "unplugged?" in daemon.log(), timeout=REPLUG_S), \
            daemon.log()
        time.sleep(0.3)
        keyboard = plug(jack_server, daemon, name)
        assert "connected to" in daemon.log()
    plays_and_is_answered(keyboard, daemon)
    keyboard.close()
