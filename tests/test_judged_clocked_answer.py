"""testsupport/clocked_answer.py judged_clocked_answer: which missed answers are played again.
The JACK tests run it for real (tests/e2e/test_midi_clock.py); here the server's log and the
answers are scripted, so that each branch is taken on purpose."""

from __future__ import annotations

import pytest

from improvd.testsupport import clocked_answer as ca
from improvd.testsupport import kept_time

TOLERANCE_S = 0.002


class Scripted:
    """Each try: (how often the server fell behind during it, the answer's note errors)."""

    def __init__(self, tries):
        self.tries = list(tries)
        self.behind = 0
        self.played = 0
        self.tempi = []

    def times_behind(self):
        return self.behind

    def command(self, text):
        self.tempi.append(text)

    def clocked_answer(self, ears, source, daemon, call, during=None):
        behind, self.errors = self.tries[self.played]
        self.behind += behind
        self.played += 1
        return float(self.played), []

    def judge(self, ended, segs):
        return self.errors


def judged(monkeypatch, tries):
    script = Scripted(tries)
    monkeypatch.setattr(ca, "clocked_answer", script.clocked_answer)
    answer = ca.judged_clocked_answer(script, None, script, None, [], 120, script.judge,
                                      TOLERANCE_S, settle=lambda server: None)
    return script, answer


def test_an_answer_on_time_is_kept_though_the_server_fell_behind(monkeypatch):
    script, answer = judged(monkeypatch, [(3, [0.001, -0.0015])])
    assert script.played == 1 and answer.errors_s == [0.001, -0.0015] and not answer.excused


def test_a_miss_while_the_server_kept_time_is_returned_for_the_caller_to_fail(monkeypatch):
    script, answer = judged(monkeypatch, [(0, [0.001, 0.004]), (0, [0.0, 0.0])])
    assert script.played == 1 and answer.errors_s == [0.001, 0.004] and not answer.excused


def test_a_miss_while_the_server_fell_behind_is_played_again_at_the_same_tempo(monkeypatch):
    script, answer = judged(monkeypatch, [(2, [0.009]), (0, [0.0005])])
    assert script.played == 2 and answer.ended == 2.0 and answer.errors_s == [0.0005]
    assert script.tempi == ["bpm 120", "bpm 120"]  # a tempo jump in the first try is undone
    assert len(answer.excused) == 1 and answer.excused[0].startswith(
        "try 1: 120 bpm: a note 9.00 ms off while the JACK server fell behind its timetable "
        "2 times (CPUs ")


def test_a_miss_after_one_excused_is_not_excused_without_the_server_falling_behind(monkeypatch):
    script, answer = judged(monkeypatch, [(1, [0.009]), (0, [0.003])])
    assert script.played == 2 and answer.errors_s == [0.003] and len(answer.excused) == 1


def test_a_server_behind_in_every_try_is_an_error_that_says_so(monkeypatch):
    with pytest.raises(AssertionError, match="fell behind its timetable in every try"):
        judged(monkeypatch, [(1, [0.01])] * kept_time.TRIES)
