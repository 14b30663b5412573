"""tests/kept_time_plugin.py in a pytest run of its own (pytester): a marked test that failed
while the server fell behind is run again with fresh fixtures; one that failed while it kept time
is not; the report names every try played again. The server here is a scripted count."""

from __future__ import annotations

CONFTEST = """
from kept_time_plugin import KeptTime
import fake_server

def pytest_configure(config):
    config.addinivalue_line("markers", "kept_time: see kept_time_plugin")
    config.pluginmanager.register(KeptTime(lambda: fake_server.SERVER, settle=lambda s: None))
"""

FAKE_SERVER = """
class Server:
    behind = 0

    def times_behind(self):
        return self.behind

SERVER = Server()
SETUPS = []
"""

TESTS = """
import pytest
import fake_server

@pytest.fixture
def daemon():
    fake_server.SETUPS.append("daemon")
    yield len(fake_server.SETUPS)
    fake_server.SETUPS.append("stopped")

@pytest.mark.kept_time
def test_late_while_the_server_fell_behind_then_on_time(daemon):
    if daemon == 1:  # the first try: three late cycles, and a note late through them
        fake_server.SERVER.behind += 3
        assert False, "a note 9 ms late"

@pytest.mark.kept_time
def test_late_while_the_server_kept_time():
    assert False, "a note 4 ms late"

@pytest.mark.kept_time
def test_the_server_behind_in_every_try():
    fake_server.SERVER.behind += 1
    assert False, "a note 30 ms late"

def test_unmarked_is_not_run_again():
    fake_server.SERVER.behind += 1
    assert False, "unmarked"

def test_fixtures_were_fresh_for_the_try_played_again():
    assert fake_server.SETUPS == ["daemon", "stopped", "daemon", "stopped"]
"""


def test_failed_tries_while_the_server_fell_behind_are_run_again(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(fake_server=FAKE_SERVER, test_marked=TESTS)
    pytester.syspathinsert()
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "PASSED test_marked.py::test_late_while_the_server_fell_behind_then_on_time" in out
    assert ("try 1: call failed (AssertionError: a note 9 ms late" in out
            and "fell behind its timetable 3 times" in out)
    assert "a note 4 ms late" in out and "try 1: call failed (AssertionError: a note 4" not in out
    for n in range(1, 6):  # every try of the spoiled one named
        assert f"try {n}: call failed (AssertionError: a note 30 ms late" in out
    assert "try 6:" not in out
    assert "try 1: call failed (AssertionError: unmarked" not in out
