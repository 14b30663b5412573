"""The status line's text and its two modes, on a fake engine (tests/e2e/test_status_line.py runs
the daemon in a pseudo-terminal)."""

from __future__ import annotations

import io
import logging
from types import SimpleNamespace

from improvd.daemon.analysis import analyze
from improvd.daemon.events import Note, notes_to_events
from improvd.daemon.status_line import CLEAR, StatusLine, describe


def fake_engine(**kw):
    values = dict(response=None, last_analysis=None, last_reaction_s=None, answers=0,
                  answers_done=0, dropped=0)
    return SimpleNamespace(**{**values, **kw})


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_describe_says_only_what_is_known():
    assert describe(fake_engine()) == "listening  |  answers 0"
    call = notes_to_events([Note(p, 80, i * 0.5, i * 0.5 + 0.4)
                            for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 55])])
    engine = fake_engine(response=object(), last_analysis=analyze(call), last_reaction_s=0.0123,
                         answers=2, dropped=7)
    assert describe(engine) == ("answering  |  call: 120 bpm, C major  |  reaction 12 ms  |  "
                                "answers 2  |  dropped 7")


def test_on_a_terminal_the_line_is_redrawn_in_place_and_cleared_for_log_records():
    stream, engine = Tty(), fake_engine()
    status = StatusLine(engine, stream)
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        status.start()
        status.update()
        status.update()  # unchanged: not written again
        engine.answers = 1
        status.update()
        logging.getLogger("improvd.test").warning("a log line")
        status.stop()
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue() == (CLEAR + "\u25cf listening  |  answers 0"
                                 + CLEAR + "\u25cf listening  |  answers 1"
                                 + CLEAR + "a log line\n")


def test_elsewhere_one_log_line_per_answer(caplog):
    stream, engine = io.StringIO(), fake_engine()
    status = StatusLine(engine, stream)
    with caplog.at_level(logging.INFO, logger="improvd.daemon.status_line"):
        status.update()
        engine.answers, engine.answers_done, engine.last_reaction_s = 1, 1, 0.02
        status.update()
        status.update()
    assert stream.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == [
        "status: listening  |  reaction 20 ms  |  answers 1"]
