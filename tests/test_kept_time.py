"""testsupport/kept_time.py: which failed tries are played again, and how long the server is
given to keep time before one. The JACK tests use it for real; here the server's count of late
cycles is scripted, so that each branch is taken on purpose."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from improvd.testsupport import kept_time


class Server:
    """A server whose count of late cycles a test moves by hand."""

    def __init__(self):
        self.behind = 0

    def times_behind(self):
        return self.behind


def run(server, outcomes):
    """Tries scripted as (late cycles during the try, passed?); -> (tries run, result, excused)."""
    ran = []

    def once():
        behind, passed = outcomes[len(ran)]
        server.behind += behind
        ran.append(passed)
        return passed

    result, excused = kept_time.judged_tries(server, once, lambda passed: not passed,
                                             lambda passed: "a note late",
                                             settle=lambda s: None)
    return len(ran), result, excused


def test_a_pass_is_kept_though_the_server_fell_behind():
    assert run(Server(), [(4, True)]) == (1, True, [])


def test_a_failure_while_the_server_kept_time_is_the_verdict():
    assert run(Server(), [(0, False), (0, True)]) == (1, False, [])


def test_a_failure_while_the_server_fell_behind_is_tried_again():
    tries, result, excused = run(Server(), [(3, False), (0, True)])
    assert (tries, result) == (2, True)
    assert len(excused) == 1 and excused[0].startswith(
        "try 1: a note late while the JACK server fell behind its timetable 3 times (CPUs ")


def test_a_second_failure_with_the_server_on_time_is_not_excused():
    tries, result, excused = run(Server(), [(1, False), (0, False), (0, True)])
    assert (tries, result, len(excused)) == (2, False, 1)
    assert not kept_time.every_try_spoiled(excused)


def test_every_try_spoiled_ends_failed_with_each_reason():
    tries, result, excused = run(Server(), [(1, False)] * (kept_time.TRIES + 1))
    assert (tries, result) == (kept_time.TRIES, False)
    assert kept_time.every_try_spoiled(excused) and len(excused) == kept_time.TRIES


def test_the_wait_ends_once_the_server_went_quiet_long_enough():
    server = Server()

    def late_twice():  # late cycles 0.1 s and 0.2 s in: the quiet spell starts after the second
        for _ in range(2):
            time.sleep(0.1)
            server.behind += 1

    threading.Thread(target=late_twice).start()
    start = time.monotonic()
    assert kept_time.wait_until_it_keeps_time(server, quiet_s=0.3, within_s=5, poll_s=0.01)
    assert 0.2 + 0.3 - 0.02 <= time.monotonic() - start < 2.0


@contextmanager
def falling_behind_all_along():
    """A server that falls behind every 50 ms until the block ends."""
    server, stop = Server(), threading.Event()

    def late():
        while not stop.wait(0.05):
            server.behind += 1

    threading.Thread(target=late).start()
    try:
        yield server
    finally:
        stop.set()


def test_the_wait_gives_up_on_a_server_that_keeps_falling_behind():
    with falling_behind_all_along() as server:
        start = time.monotonic()
        assert not kept_time.wait_until_it_keeps_time(server, quiet_s=0.3, within_s=0.6,
                                                      poll_s=0.01)
    assert 0.6 <= time.monotonic() - start < 2.0


def test_cpu_use_names_the_busy_and_the_stolen_share():
    #         user nice system idle iowait irq softirq steal
    before = [100, 0, 50, 800, 10, 0, 0, 40]
    after = [160, 0, 70, 820, 10, 0, 0, 90]  # +60 user +20 system +20 idle +50 steal = 150
    assert kept_time.cpu_use(before, after) == "CPUs 53% busy, 33% stolen"
    assert kept_time.cpu_use(None, after) == "CPU use unknown"
    now = kept_time.cpu_times()
    assert now is None or (len(now) == 8 and all(v >= 0 for v in now))


def test_the_waits_of_a_run_share_one_budget(monkeypatch):
    monkeypatch.setattr(kept_time, "SETTLE_BUDGET_S", 0.5)
    monkeypatch.setattr(kept_time, "_waited_s", 0.0)
    with falling_behind_all_along() as server:
        start = time.monotonic()
        assert not kept_time.wait_until_it_keeps_time(server, quiet_s=0.3, within_s=5,
                                                      poll_s=0.01)
        first = time.monotonic() - start
        start = time.monotonic()
        assert not kept_time.wait_until_it_keeps_time(server, quiet_s=0.3, within_s=5,
                                                      poll_s=0.01)
        second = time.monotonic() - start
    assert 0.5 <= first < 1.5 and second < 0.05  # the budget spent, the next try goes at once
