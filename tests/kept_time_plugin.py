"""The `kept_time` marker: a test that bounds times through the JACK server to a few
milliseconds is run again, fixtures and all, when it failed while the server fell behind its own
timetable (testsupport/kept_time.py says why such a try judges nothing). A failure while the
server kept time is reported as it is. Each try played again is named in the report's "kept
time" section, so a pass after one is visible (`pytest -rA`), and so is a test whose every try
the machine spoiled. Registered by tests/conftest.py with the session's JACK server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _pytest.runner import runtestprotocol

from improvd.testsupport import kept_time

MARKER = "kept_time"


def _failure(reports) -> str:
    for report in reports:
        if report.failed:
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            return f"{report.when} failed ({message.splitlines()[0][:200]})"
    return "passed"


class KeptTime:
    """Runs marked tests through kept_time.judged_tries; server() -> the JACK server they use."""

    def __init__(self, server: Callable[[], object],
                 settle: Callable[[object], object] = kept_time.wait_until_it_keeps_time):
        self.server = server
        self.settle = settle

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        if item.get_closest_marker(MARKER) is None:
            return None
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        tries = []

        def once():
            if tries:
                item._initrequest()  # fresh fixtures for the next try, as pytest-rerunfailures
            tries.append(runtestprotocol(item, nextitem=nextitem, log=False))
            return tries[-1]

        reports, excused = kept_time.judged_tries(
            self.server(), once, lambda rs: any(r.failed for r in rs), _failure,
            settle=self.settle)
        for report in reports:
            if excused:
                report.sections.append(("kept time", "\n".join(excused)))
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True
