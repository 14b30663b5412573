"""The one jackd launcher (daemon/jackd.py); tests/e2e/ and contrib/run_with_jack.py start real
servers with it."""

from __future__ import annotations

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
    finally:
        server.stop()
    assert server.process.poll() is not None and not server.answers()
