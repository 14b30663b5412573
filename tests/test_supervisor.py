"""The supervisor's watchdog and the notify protocol, with fakes (the JACK duties are tested
through a real server in tests/e2e)."""

from __future__ import annotations

import socket
from types import SimpleNamespace

from improvd.daemon.config import MidiConfig
from improvd.daemon.sd_notify import Notifier
from improvd.daemon.supervisor import Supervisor, played_channels


class Recorder:
    watchdog_s = 2.0

    def __init__(self):
        self.sent = []

    def send(self, *fields):
        self.sent.extend(fields)


def supervisor(now, alive_at):
    engine = SimpleNamespace(alive_at=alive_at, scheduler=None)
    port = SimpleNamespace(name="x:y", connect=())
    clock = lambda: now[0]  # noqa: E731
    return Supervisor(MidiConfig(), port, port, engine, Recorder(), clock=clock), engine


def test_watchdog_pings_every_half_period_while_the_engine_loop_turns():
    now = [100.0]
    s, engine = supervisor(now, alive_at=100.0)
    for _ in range(8):
        engine.alive_at = now[0]
        s.check()
        now[0] += 0.5
    assert s.notifier.sent.count("WATCHDOG=1") == 4


def test_a_wedged_engine_gets_no_watchdog_ping(caplog):
    now = [100.0]
    s, engine = supervisor(now, alive_at=100.0)
    s.check()
    now[0] = 106.0  # the engine loop has not turned for 6 s (it wakes every second)
    s.check()
    s.check()
    assert s.notifier.sent == ["WATCHDOG=1"]
    assert caplog.text.count("the engine loop has not turned") == 1


def test_played_channels_are_the_answers_and_with_thru_the_players():
    assert played_channels(MidiConfig(output_channel=3)) == {2}
    assert played_channels(MidiConfig(thru=True, input_channels=(1, 10))) == {0, 9}
    assert played_channels(MidiConfig(thru=True)) == set(range(16))


def test_notifier_speaks_to_abstract_sockets_and_reads_the_watchdog_period():
    name = f"improvd-test-{id(object())}"
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind("\0" + name)
    try:
        n = Notifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "3000000"})
        assert n.watchdog_s == 3.0
        n.send("READY=1", "STATUS=ok")
        assert manager.recv(100) == b"READY=1\nSTATUS=ok"
    finally:
        manager.close()
    assert Notifier({"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_s is None
    Notifier({}).send("READY=1")  # outside systemd: nothing, no error
