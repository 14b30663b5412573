"""daemon/jack_sync_mode.py: the JACK server's mode read from how it was started. The real
servers (synchronous and not) are in tests/e2e/test_jack_sync_mode.py."""

from __future__ import annotations

import logging

import pytest

from improvd.daemon import jack_sync_mode as mode


@pytest.mark.parametrize("argv, expected", [
    (["jackd", "-d", "alsa"], ("default", False)),
    (["/usr/bin/jackd", "-S", "-d", "alsa", "-p", "64"], ("default", True)),
    (["jackd", "-R", "-n", "studio", "-d", "dummy"], ("studio", False)),
    (["jackd", "-RS", "--name=studio", "-ddummy"], ("studio", True)),
    (["jackd", "--sync", "-nstudio", "-P", "70", "-d", "alsa"], ("studio", True)),
    (["jackd", "-d", "dummy", "-S"], ("default", False)),  # the driver's option, not the server's
    (["jackd", "-X", "seq", "-d", "alsa"], ("default", False)),  # a value with an S in it
])
def test_a_jackd_command_line_gives_its_name_and_mode(argv, expected):
    assert mode.jackd_synchronous(argv) == expected


def fake_proc(tmp_path, *argvs):
    proc = tmp_path / "proc"
    for pid, argv in enumerate(argvs, start=100):
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (proc / "self").mkdir()  # not a process: skipped
    return proc


def test_the_server_of_that_name_is_the_one_read(tmp_path):
    proc = fake_proc(tmp_path, ["bash"], ["jackd", "-n", "other", "-d", "dummy"],
                     ["jackd", "-S", "-n", "ours", "-d", "dummy"])
    assert mode.server_synchronous("ours", proc) is True
    assert mode.server_synchronous("other", proc) is False
    assert mode.server_synchronous("default", proc) is None  # not started here


def test_jackdbus_is_read_from_its_settings(tmp_path):
    proc = fake_proc(tmp_path, ["/usr/bin/jackdbus", "auto"])
    home = tmp_path / "home"
    settings = home / ".config/jack/conf.xml"
    settings.parent.mkdir(parents=True)
    assert mode.server_synchronous("default", proc, home) is False  # no file: JACK's default
    settings.write_text('<?xml version="1.0"?>\n<jack><engine>'
                        '<option name="realtime">true</option><option name="sync">true</option>'
                        '</engine></jack>')
    assert mode.server_synchronous("default", proc, home) is True
    settings.write_text("<jack><engine><option name='sync'>false</option></engine></jack>")
    assert mode.server_synchronous("default", proc, home) is False
    settings.write_text("<jack><engine")  # broken: as if not set
    assert mode.server_synchronous("default", proc, home) is False


def test_one_warning_for_an_asynchronous_server_and_none_otherwise(tmp_path, caplog):
    proc = fake_proc(tmp_path, ["jackd", "-n", "async", "-d", "dummy"],
                     ["jackd", "-S", "-n", "sync", "-d", "dummy"])
    with caplog.at_level(logging.DEBUG, logger=mode.__name__):
        assert mode.check({"JACK_DEFAULT_SERVER": "async"}, proc) is False
        assert mode.check({"JACK_DEFAULT_SERVER": "sync"}, proc) is True
        assert mode.check({"JACK_DEFAULT_SERVER": "elsewhere"}, proc) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'async' runs asynchronously" in warnings[0]
    assert "jackd -S" in warnings[0]
