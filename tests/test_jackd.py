"""The one jackd launcher (daemon/jackd.py); tests/e2e/ and contrib/run_with_jack.py start real
servers with it."""

from __future__ import annotations

import os
import signal
import struct
import time

import pytest

from improvd.daemon import jackd


def test_no_jackd_is_an_error_that_says_what_to_install(monkeypatch):
    monkeypatch.setattr(jackd.shutil, "which", lambda name: None)
    with pytest.raises(jackd.JackError, match="apt-get install jackd2"):
        jackd.JackServer("improvd-never-started")
    assert not jackd.jack_answers({"JACK_DEFAULT_SERVER": "improvd-never-started"})


def test_a_server_comes_up_under_its_name_and_stops_with_its_process():
    server = jackd.JackServer(jackd.unique("improvd-jackd-test"))
    try:
        assert server.answers() and "system:playback_1" in server.ports()
        assert server.env["JACK_DEFAULT_SERVER"] == server.name
        # Synchronous mode, as the running server's command line says: in JACK's default mode a
        # late reader's input is rewritten under it and python-rtmidi crashes
        # (bench/stalled_reader.py).
        cmdline = open(f"/proc/{server.process.pid}/cmdline").read().split("\0")
        assert "-S" in cmdline
    finally:
        server.stop()
    assert server.process.poll() is not None and not server.answers()



def _open_files() -> list[str]:
    return [os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")]


def test_the_cpus_wake_up_request_is_zero_microseconds_held_open(tmp_path, monkeypatch):
    device = tmp_path / "cpu_dma_latency"
    device.write_bytes(b"")
    monkeypatch.setattr(jackd, "CPU_DMA_LATENCY", str(device))
    fd = jackd.hold_cpus_awake()
    try:
        assert fd is not None and device.read_bytes() == struct.pack("i", 0)
        assert str(device) in _open_files()  # the request lasts as long as the descriptor
    finally:
        os.close(fd)


def test_no_permission_for_the_request_is_one_log_line_not_an_error(tmp_path, monkeypatch,
                                                                     caplog):
    monkeypatch.setattr(jackd, "CPU_DMA_LATENCY", str(tmp_path / "missing"))
    with caplog.at_level("INFO", logger=jackd.__name__):
        assert jackd.hold_cpus_awake() is None
    assert "CPUs may sleep deeply" in caplog.text and "missing" in caplog.text


def test_a_server_holds_the_cpus_awake_while_it_runs_where_permitted():
    def held() -> int:  # other servers of this test session may hold theirs
        return _open_files().count(jackd.CPU_DMA_LATENCY)

    permitted = os.access(jackd.CPU_DMA_LATENCY, os.W_OK)
    before = held()
    server = jackd.JackServer(jackd.unique("improvd-jackd-test"))
    try:
        assert held() == before + permitted
    finally:
        server.stop()
    assert held() == before


def test_a_server_stopped_for_a_moment_counts_falling_behind_its_timetable():
    server = jackd.JackServer(jackd.unique("improvd-jackd-test"))
    try:
        time.sleep(0.3)  # past start-up, which may fall behind on its own
        before = server.times_behind()
        # 50 ms without the CPU, as a host that takes a virtual machine's core away does to it.
        os.kill(server.process.pid, signal.SIGSTOP)
        time.sleep(0.05)
        os.kill(server.process.pid, signal.SIGCONT)
        deadline = time.monotonic() + 2
        while server.times_behind() == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.times_behind() > before, server.log()
    finally:
        server.stop()
